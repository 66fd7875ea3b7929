//! A rootfs as a comparable map: path → type, mode, owner, size, content hash or symlink
//! target, hardlink group. Mtimes are left out on purpose: the two builders stamp them
//! differently and neither docker nor BuildKit promises them.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use rbuild_store::digest::HashingWriter;

/// One filesystem entry, as far as the differential test compares it.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    /// `file`, `dir`, `symlink`, `char`, `block`, `fifo` or `socket`.
    pub kind: &'static str,
    /// Permission bits plus setuid/setgid/sticky (`mode & 0o7777`).
    pub mode: u32,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Size of regular files; 0 for everything else.
    pub size: u64,
    /// sha256 of a regular file's content, a symlink's target, empty otherwise.
    pub content: String,
    /// For a file with several links: the smallest path of its inode group.
    pub hardlink: Option<String>,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:04o} {}:{}",
            self.kind, self.mode, self.uid, self.gid
        )?;
        match self.kind {
            "file" => write!(f, " {}B {}", self.size, short(&self.content))?,
            "symlink" => write!(f, " -> {}", self.content)?,
            _ => {}
        }
        if let Some(group) = &self.hardlink {
            write!(f, " (hardlinked with {group})")?;
        }
        Ok(())
    }
}

fn short(digest: &str) -> &str {
    digest.get(..19).unwrap_or(digest)
}

/// A whole rootfs: absolute in-image path → entry.
pub type Tree = BTreeMap<String, Entry>;

/// Walks `root` (not following symlinks) into a [`Tree`]; `root` itself is `/`.
pub fn walk(root: &Path) -> io::Result<Tree> {
    let mut tree = Tree::new();
    let mut inodes: HashMap<(u64, u64), Vec<String>> = HashMap::new();
    walk_dir(root, "", &mut tree, &mut inodes)?;
    for paths in inodes.values().filter(|p| p.len() > 1) {
        let first = paths.iter().min().cloned();
        for p in paths {
            if let Some(e) = tree.get_mut(p) {
                e.hardlink = first.clone();
            }
        }
    }
    Ok(tree)
}

fn walk_dir(
    dir: &Path,
    rel: &str,
    tree: &mut Tree,
    inodes: &mut HashMap<(u64, u64), Vec<String>>,
) -> io::Result<()> {
    let meta = fs::symlink_metadata(dir)?;
    tree.insert(
        if rel.is_empty() {
            "/".into()
        } else {
            rel.into()
        },
        entry(dir, &meta)?,
    );
    for item in fs::read_dir(dir)? {
        let item = item?;
        let path = item.path();
        let name = format!("{rel}/{}", item.file_name().to_string_lossy());
        let meta = fs::symlink_metadata(&path)?;
        if meta.is_dir() {
            walk_dir(&path, &name, tree, inodes)?;
            continue;
        }
        if meta.is_file() && meta.nlink() > 1 {
            inodes
                .entry((meta.dev(), meta.ino()))
                .or_default()
                .push(name.clone());
        }
        tree.insert(name, entry(&path, &meta)?);
    }
    Ok(())
}

fn entry(path: &Path, meta: &fs::Metadata) -> io::Result<Entry> {
    let ft = meta.file_type();
    let (kind, size, content) = if ft.is_file() {
        ("file", meta.len(), hash_file(path)?)
    } else if ft.is_symlink() {
        (
            "symlink",
            0,
            fs::read_link(path)?.to_string_lossy().into_owned(),
        )
    } else if ft.is_dir() {
        ("dir", 0, String::new())
    } else if ft.is_char_device() {
        ("char", 0, format!("{}", meta.rdev()))
    } else if ft.is_block_device() {
        ("block", 0, format!("{}", meta.rdev()))
    } else if ft.is_fifo() {
        ("fifo", 0, String::new())
    } else {
        ("socket", 0, String::new())
    };
    Ok(Entry {
        kind,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        size,
        content,
        hardlink: None,
    })
}

fn hash_file(path: &Path) -> io::Result<String> {
    let mut w = HashingWriter::new(io::sink());
    io::copy(&mut fs::File::open(path)?, &mut w)?;
    let (_, digest, _) = w.into_parts();
    Ok(digest.to_string())
}

/// Lines describing every path whose entry differs between the two trees.
pub fn diff(rbuild: &Tree, buildah: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    let paths: std::collections::BTreeSet<&String> = rbuild.keys().chain(buildah.keys()).collect();
    for path in paths {
        let (a, b) = (rbuild.get(path), buildah.get(path));
        if a != b {
            out.push(format!(
                "  rootfs {path}\n    rbuild : {}\n    buildah: {}",
                show(a),
                show(b)
            ));
        }
    }
    out
}

fn show(e: Option<&Entry>) -> String {
    e.map_or_else(|| "(absent)".to_string(), Entry::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_records_types_hardlinks_and_diff_names_the_path() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::create_dir(root.join("d")).unwrap();
        fs::write(root.join("d/a"), "x").unwrap();
        fs::hard_link(root.join("d/a"), root.join("b")).unwrap();
        std::os::unix::fs::symlink("d/a", root.join("l")).unwrap();
        let tree = walk(root).unwrap();
        assert_eq!(tree["/l"].content, "d/a");
        assert_eq!(tree["/b"].hardlink.as_deref(), Some("/b"));
        assert_eq!(tree["/d/a"].hardlink.as_deref(), Some("/b"));
        assert_eq!(tree["/d/a"].size, 1);
        let mut other = tree.clone();
        other.remove("/l");
        let lines = diff(&tree, &other);
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].contains("rootfs /l") && lines[0].contains("(absent)"),
            "{lines:?}"
        );
    }
}

//! [`LayerTree`]: what one layer tar contains, read from its headers in one pass.
//!
//! Only metadata is kept: path, kind, size, mode, owner, link target and a 32-bit
//! CRC of a regular file's bytes (dive keeps an xxhash for the same purpose: telling a
//! rewrite with identical content from a modification). File contents stream through
//! the CRC and are never held, so memory grows with the number of entries, not bytes.

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;

use serde::Serialize;

use super::InspectError;
use crate::layer::whiteout::{classify, TarName};

/// What an entry of a layer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A hard link to another entry of the layer.
    Hardlink,
    /// A character or block device, or a FIFO.
    Special,
    /// A whiteout: the entry's path is the path it deletes (`.wh.` already removed).
    Whiteout,
    /// An opaque marker: the entry's path is the directory whose lower contents are hidden.
    Opaque,
}

/// One entry of a layer, with its path normalized (`etc/conf`: no leading `/` or `./`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Normalized path relative to the root, `/`-separated.
    pub path: String,
    /// What it is.
    pub kind: Kind,
    /// The size the tar header gives (0 for everything but regular files).
    pub size: u64,
    /// Permission bits (and setuid/setgid/sticky).
    pub mode: u32,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Target of a symlink or hard link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// CRC-32 of a regular file's bytes (0 for other kinds).
    #[serde(skip)]
    pub crc: u32,
}

impl Entry {
    /// True when `self` and `other` have the same type, content, mode, owner and link
    /// (dive's `FileInfo.Compare`: equal means "unmodified").
    pub fn same_as(&self, other: &Entry) -> bool {
        self.kind == other.kind
            && self.crc == other.crc
            && self.size == other.size
            && self.mode == other.mode
            && self.uid == other.uid
            && self.gid == other.gid
            && self.link == other.link
    }
}

/// The entries of one layer in tar order, and the sum of their sizes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LayerTree {
    /// Every entry (aufs `.wh..wh.` metadata entries dropped).
    pub entries: Vec<Entry>,
    /// Sum of the header sizes (dive's layer size: what the layer adds, uncompressed).
    pub size: u64,
}

impl LayerTree {
    /// Reads a plain (already decompressed) tar stream. `layer` names the layer in errors.
    pub fn read(reader: impl Read, layer: &str) -> Result<LayerTree, InspectError> {
        let tar_err = |source| InspectError::Tar {
            layer: layer.to_string(),
            source,
        };
        let mut archive = tar::Archive::new(reader);
        let mut tree = LayerTree::default();
        let mut buf = vec![0u8; 64 * 1024];
        for entry in archive.entries().map_err(tar_err)? {
            let mut entry = entry.map_err(tar_err)?;
            if let Some(e) = to_entry(&mut entry, &mut buf).map_err(tar_err)? {
                tree.size += e.size;
                tree.entries.push(e);
            }
        }
        Ok(tree)
    }

    /// Builds a tree from entries (tests and synthetic layers).
    pub fn from_entries(entries: Vec<Entry>) -> LayerTree {
        let size = entries.iter().map(|e| e.size).sum();
        LayerTree { entries, size }
    }
}

/// Converts one tar entry; `None` for entries that are not files (PAX globals, aufs
/// metadata, the root itself).
fn to_entry<R: Read>(entry: &mut tar::Entry<R>, buf: &mut [u8]) -> std::io::Result<Option<Entry>> {
    let header = entry.header();
    let kind = match header.entry_type() {
        tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File,
        tar::EntryType::Directory => Kind::Dir,
        tar::EntryType::Symlink => Kind::Symlink,
        tar::EntryType::Link => Kind::Hardlink,
        tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => Kind::Special,
        _ => return Ok(None),
    };
    // Lenient: a malformed numeric field reads as 0 rather than failing the whole layer.
    let (mode, uid, gid) = (
        header.mode().unwrap_or(0),
        header.uid().unwrap_or(0),
        header.gid().unwrap_or(0),
    );
    let size = if kind == Kind::File { entry.size() } else { 0 };
    let raw_path = entry.path_bytes().into_owned();
    let link = entry
        .link_name_bytes()
        .map(|l| String::from_utf8_lossy(&l).into_owned());
    let Some((path, kind)) = classify_path(&raw_path, kind) else {
        return Ok(None);
    };
    let crc = if kind == Kind::File {
        crc_of(entry, buf)?
    } else {
        0
    };
    Ok(Some(Entry {
        path,
        kind,
        size,
        mode: mode & 0o7777,
        uid,
        gid,
        link,
        crc,
    }))
}

/// Normalizes `raw` and recognizes whiteouts; `None` for the root and aufs metadata.
fn classify_path(raw: &[u8], kind: Kind) -> Option<(String, Kind)> {
    let path = normalize(&String::from_utf8_lossy(raw));
    let (parent, name) = match path.rsplit_once('/') {
        Some((p, n)) => (p, n),
        None => ("", path.as_str()),
    };
    if name.is_empty() {
        return None;
    }
    let join = |n: &str| {
        if parent.is_empty() {
            n.to_string()
        } else {
            format!("{parent}/{n}")
        }
    };
    match classify(OsStr::new(name)) {
        TarName::Plain | TarName::Invalid => Some((path.clone(), kind)),
        TarName::Meta => None,
        TarName::Opaque if parent.is_empty() => None,
        TarName::Opaque => Some((parent.to_string(), Kind::Opaque)),
        TarName::Whiteout(target) => Some((
            join(&String::from_utf8_lossy(target.as_bytes())),
            Kind::Whiteout,
        )),
    }
}

/// `path.Clean` without the leading slash: drops empty and `.` components, resolves `..`.
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

fn crc_of(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<u32> {
    let mut crc = flate2::Crc::new();
    loop {
        match reader.read(buf) {
            Ok(0) => return Ok(crc.sum()),
            Ok(n) => crc.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(items: &[(&str, tar::EntryType, &[u8], u32)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, kind, data, mode) in items {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(*kind);
            h.set_size(data.len() as u64);
            h.set_mode(*mode);
            b.append_data(&mut h, path, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn reads_kinds_whiteouts_and_sizes() {
        let tar = tar_of(&[
            ("./", tar::EntryType::Directory, b"", 0o755),
            ("./etc/", tar::EntryType::Directory, b"", 0o755),
            ("./etc/conf", tar::EntryType::Regular, b"hello", 0o644),
            ("etc/.wh.old", tar::EntryType::Regular, b"", 0o644),
            ("usr/.wh..wh..opq", tar::EntryType::Regular, b"", 0o644),
            ("usr/.wh..wh.plnk", tar::EntryType::Regular, b"", 0o644),
        ]);
        let tree = LayerTree::read(&tar[..], "l0").unwrap();
        let got: Vec<(&str, Kind, u64)> = tree
            .entries
            .iter()
            .map(|e| (e.path.as_str(), e.kind, e.size))
            .collect();
        assert_eq!(
            got,
            [
                ("etc", Kind::Dir, 0),
                ("etc/conf", Kind::File, 5),
                ("etc/old", Kind::Whiteout, 0),
                ("usr", Kind::Opaque, 0),
            ]
        );
        assert_eq!(tree.size, 5);
        assert_eq!(tree.entries[1].crc, {
            let mut c = flate2::Crc::new();
            c.update(b"hello");
            c.sum()
        });
    }

    #[test]
    fn same_content_new_mode_differs() {
        let a = tar_of(&[("f", tar::EntryType::Regular, b"x", 0o644)]);
        let b = tar_of(&[("f", tar::EntryType::Regular, b"x", 0o600)]);
        let c = tar_of(&[("f", tar::EntryType::Regular, b"y", 0o644)]);
        let read = |t: &[u8]| LayerTree::read(t, "l").unwrap().entries.remove(0);
        assert!(read(&a).same_as(&read(&a)));
        assert!(!read(&a).same_as(&read(&b)));
        assert!(!read(&a).same_as(&read(&c)));
    }

    #[test]
    fn normalizes_like_path_clean() {
        assert_eq!(normalize("./a//b/./c/"), "a/b/c");
        assert_eq!(normalize("/a/../b"), "b");
        assert_eq!(normalize("./"), "");
    }

    #[test]
    fn truncated_tar_is_an_error_naming_the_layer() {
        let tar = tar_of(&[("f", tar::EntryType::Regular, &[7u8; 4000], 0o644)]);
        let err = LayerTree::read(&tar[..1000], "sha256:abc").unwrap_err();
        assert!(err.to_string().contains("sha256:abc"), "{err}");
    }
}

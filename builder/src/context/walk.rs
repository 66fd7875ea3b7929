//! Walking a directory tree after `.dockerignore` rules, never following symlinks.

use std::fs::Metadata;
use std::path::{Path, PathBuf};

use super::{ContextError, IgnoreMatcher};

/// One entry found by [`walk`].
#[derive(Debug, Clone)]
pub struct WalkEntry {
    /// Slash-separated path relative to the walk root (the context), e.g. `src/main.rs`.
    pub rel: String,
    /// The host path.
    pub path: PathBuf,
    /// `lstat` metadata (symlinks are not followed).
    pub meta: Metadata,
}

/// Lists everything below `root/start` (not `start` itself), depth first, children sorted
/// by name. `start` is slash-separated and relative to `root` (`"."` for the whole tree).
///
/// Paths excluded by `ignore` are left out. An excluded directory is not entered unless an
/// exception could re-include something below it; it is then listed only when something
/// below it is included, so every listed entry's parents are listed too.
pub fn walk(
    root: &Path,
    start: &str,
    ignore: &IgnoreMatcher,
) -> Result<Vec<WalkEntry>, ContextError> {
    let mut out = Vec::new();
    let start = super::ignore::clean_path(start);
    walk_dir(root, &start, ignore, &mut out)?;
    Ok(out)
}

/// Appends the included entries below `rel_dir` to `out`.
fn walk_dir(
    root: &Path,
    rel_dir: &str,
    ignore: &IgnoreMatcher,
    out: &mut Vec<WalkEntry>,
) -> Result<(), ContextError> {
    let dir = if rel_dir == "." {
        root.to_path_buf()
    } else {
        root.join(rel_dir)
    };
    for name in sorted_names(&dir)? {
        let rel = match rel_dir {
            "." => name.to_string_lossy().into_owned(),
            d => format!("{d}/{}", name.to_string_lossy()),
        };
        let path = dir.join(&name);
        let meta = lstat(&path)?;
        let excluded = ignore.is_excluded(&rel);
        let is_dir = meta.is_dir();
        if excluded && !(is_dir && ignore.must_descend(&rel)) {
            continue;
        }
        let entry = WalkEntry {
            rel: rel.clone(),
            path,
            meta,
        };
        if !is_dir {
            out.push(entry);
            continue;
        }
        let mut below = Vec::new();
        walk_dir(root, &rel, ignore, &mut below)?;
        if !excluded || !below.is_empty() {
            out.push(entry);
            out.append(&mut below);
        }
    }
    Ok(())
}

/// The names in `dir`, sorted bytewise.
fn sorted_names(dir: &Path) -> Result<Vec<std::ffi::OsString>, ContextError> {
    let io = |source| ContextError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        names.push(entry.map_err(io)?.file_name());
    }
    names.sort();
    Ok(names)
}

/// `lstat` with the path in the error.
pub(crate) fn lstat(path: &Path) -> Result<Metadata, ContextError> {
    std::fs::symlink_metadata(path).map_err(|source| ContextError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn rels(entries: &[WalkEntry]) -> Vec<&str> {
        entries.iter().map(|e| e.rel.as_str()).collect()
    }

    #[test]
    fn walk_applies_ignore_and_keeps_parents_of_exceptions() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        for d in ["src", "vendor/keep", "vendor/drop", "node_modules/x"] {
            fs::create_dir_all(r.join(d)).unwrap();
        }
        for f in [
            "src/a.rs",
            "src/b.log",
            "vendor/keep/k.go",
            "vendor/drop/d.go",
            "node_modules/x/i.js",
            "Dockerfile",
        ] {
            fs::write(r.join(f), f).unwrap();
        }
        std::os::unix::fs::symlink("/etc", r.join("src/etc-link")).unwrap();
        let ig =
            IgnoreMatcher::parse("**/*.log\nvendor\n!vendor/keep/*.go\nnode_modules\nDockerfile")
                .unwrap();
        let got = walk(r, ".", &ig).unwrap();
        assert_eq!(
            rels(&got),
            [
                "src",
                "src/a.rs",
                "src/etc-link",
                "vendor",
                "vendor/keep",
                "vendor/keep/k.go"
            ]
        );
        let link = got.iter().find(|e| e.rel == "src/etc-link").unwrap();
        assert!(
            link.meta.file_type().is_symlink(),
            "symlinks are not followed"
        );
        let sub = walk(r, "vendor", &ig).unwrap();
        assert_eq!(rels(&sub), ["vendor/keep", "vendor/keep/k.go"]);
    }
}

//! Resolving a path inside a root directory as if the root were `/` (a chroot).
//!
//! Every component is looked up with `lstat` under the root; a symlink is replaced by its
//! target (an absolute target restarts at the root, `..` stops at the root), so the result
//! never points outside the root. The result has no symlink in it except, when asked, the
//! last component, so the host kernel never follows a link the image controls.

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::CopyError;
use crate::context::IgnoreMatcher;

/// The most symlinks followed while resolving one path (Linux's limit is 40).
const MAX_LINKS: u32 = 40;

/// A path resolved inside a root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InRoot {
    /// Clean absolute path inside the root (`/` for the root itself).
    pub(crate) inner: String,
    /// The host path (`root` joined with `inner`).
    pub(crate) host: PathBuf,
    /// Whether the resolved path exists (checked without following a last symlink).
    pub(crate) exists: bool,
}

/// Joins a clean inner path onto the root.
pub(crate) fn host_path(root: &Path, inner: &str) -> PathBuf {
    let rel = inner.trim_start_matches('/');
    if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    }
}

/// Joins a child name onto a clean inner path.
pub(crate) fn join_inner(inner: &str, name: &str) -> String {
    if inner == "/" {
        format!("/{name}")
    } else {
        format!("{inner}/{name}")
    }
}

/// Resolves `path` (slash-separated, taken from the root) inside `root`.
///
/// `follow_last` also follows a symlink in the last component. With `ignore`, a symlink or
/// final path excluded by the rules counts as missing (context semantics).
pub(crate) fn resolve(
    root: &Path,
    path: &str,
    follow_last: bool,
    ignore: Option<&IgnoreMatcher>,
) -> Result<InRoot, CopyError> {
    let mut pending: VecDeque<String> = components(path).collect();
    let mut done: Vec<String> = Vec::new();
    let mut links = 0;
    let mut exists = true;
    while let Some(part) = pending.pop_front() {
        if part == ".." {
            done.pop();
            continue;
        }
        done.push(part);
        if !exists {
            continue;
        }
        let inner = format!("/{}", done.join("/"));
        let host = host_path(root, &inner);
        let meta = match std::fs::symlink_metadata(&host) {
            Ok(m) => m,
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                exists = false;
                continue;
            }
            Err(e) => return Err(CopyError::io("lstat", &host, e)),
        };
        let excluded = ignore.is_some_and(|ig| ig.is_excluded(&inner[1..]));
        let is_last = pending.is_empty();
        if meta.file_type().is_symlink() && (follow_last || !is_last) {
            if excluded {
                exists = false;
                continue;
            }
            links += 1;
            if links > MAX_LINKS {
                return Err(CopyError::SymlinkLoop {
                    path: path.to_string(),
                });
            }
            splice_link(&host, &mut done, &mut pending)?;
        } else if (is_last && excluded) || (!is_last && !meta.is_dir()) {
            exists = false;
        }
    }
    let inner = format!("/{}", done.join("/"));
    let host = host_path(root, &inner);
    Ok(InRoot {
        inner,
        host,
        exists,
    })
}

/// Replaces the symlink at the end of `done` by its target's components.
fn splice_link(
    host: &Path,
    done: &mut Vec<String>,
    pending: &mut VecDeque<String>,
) -> Result<(), CopyError> {
    let target = std::fs::read_link(host).map_err(|e| CopyError::io("readlink", host, e))?;
    let target = target.to_string_lossy();
    done.pop();
    if target.starts_with('/') {
        done.clear();
    }
    for (i, c) in components(&target).enumerate() {
        pending.insert(i, c);
    }
    Ok(())
}

/// The non-empty, non-`.` components of a slash path.
fn components(path: &str) -> impl Iterator<Item = String> + '_ {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    #[test]
    fn symlinks_are_clamped_to_the_root() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fs::create_dir_all(r.join("etc")).unwrap();
        fs::create_dir_all(r.join("a/b")).unwrap();
        symlink("/etc", r.join("abs")).unwrap();
        symlink("../../../../etc", r.join("a/b/rel")).unwrap();
        symlink("loop2", r.join("loop1")).unwrap();
        symlink("loop1", r.join("loop2")).unwrap();
        let got = resolve(r, "/abs/passwd", false, None).unwrap();
        assert_eq!(got.inner, "/etc/passwd");
        assert_eq!(got.host, r.join("etc/passwd"));
        assert!(!got.exists);
        let got = resolve(r, "a/b/rel/x", false, None).unwrap();
        assert_eq!(got.inner, "/etc/x");
        let got = resolve(r, "/../../a/./b/..", true, None).unwrap();
        assert_eq!((got.inner.as_str(), got.exists), ("/a", true));
        let last = resolve(r, "/abs", false, None).unwrap();
        assert_eq!((last.inner.as_str(), last.exists), ("/abs", true));
        assert!(matches!(
            resolve(r, "/loop1/x", true, None),
            Err(CopyError::SymlinkLoop { .. })
        ));
    }

    #[test]
    fn excluded_symlinks_count_as_missing() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fs::create_dir_all(r.join("real")).unwrap();
        fs::write(r.join("real/f"), "x").unwrap();
        symlink("real", r.join("link")).unwrap();
        let ig = IgnoreMatcher::parse("link").unwrap();
        assert!(!resolve(r, "/link/f", true, Some(&ig)).unwrap().exists);
        assert!(resolve(r, "/real/f", true, Some(&ig)).unwrap().exists);
    }
}

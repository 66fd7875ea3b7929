//! Extended attributes: which ones a layer carries, reading them from a file.

use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::whiteout;

/// A file's xattrs as `(name, value)` pairs.
pub type Xattrs = Vec<(String, Vec<u8>)>;

/// Reading or writing an xattr failed.
#[derive(Debug, Error)]
pub enum XattrError {
    /// Listing or reading the xattrs of a file failed.
    #[error("reading xattrs of {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// True when an xattr called `name` belongs in a layer.
///
/// Overlayfs' private state (`trusted.overlay.*`, `user.overlay.*`) never does, nor
/// `security.selinux`, which is a label of the host's policy, not of the image.
pub fn is_archived(name: &str) -> bool {
    !whiteout::is_overlay_private_xattr(name) && name != "security.selinux"
}

/// All xattrs of `path` (not following a symlink), in the order the kernel lists them.
pub fn list(path: &Path) -> Result<Xattrs, XattrError> {
    let err = |source: rustix::io::Errno| XattrError::Read {
        path: path.into(),
        source: source.into(),
    };
    let names = match read_grow(|buf| rustix::fs::llistxattr(path, buf)) {
        Ok(names) => names,
        Err(e) if e == rustix::io::Errno::NOTSUP => return Ok(Vec::new()),
        Err(e) => return Err(err(e)),
    };
    let mut out = Vec::new();
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        match read_grow(|buf| rustix::fs::lgetxattr(path, name.as_str(), buf)) {
            Ok(value) => out.push((name, value)),
            Err(e) if e == rustix::io::Errno::NODATA => {} // removed meanwhile
            Err(e) => return Err(err(e)),
        }
    }
    Ok(out)
}

/// Calls a size-returning xattr syscall with a buffer that grows on `ERANGE`.
fn read_grow(
    mut call: impl FnMut(&mut [u8]) -> rustix::io::Result<usize>,
) -> rustix::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    loop {
        match call(&mut buf[..]) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(e) if e == rustix::io::Errno::RANGE && buf.len() < 1 << 20 => {
                let len = buf.len() * 4;
                buf.resize(len, 0);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Sets `name=value` on the open file `fd`.
///
/// Returns `Ok(false)` when the filesystem or our privileges do not allow this
/// xattr (layers are applied "where possible", as docker does).
pub fn set(fd: impl AsFd, name: &str, value: &[u8]) -> io::Result<bool> {
    use rustix::io::Errno;
    match rustix::fs::fsetxattr(fd, name, value, rustix::fs::XattrFlags::empty()) {
        Ok(()) => Ok(true),
        Err(e) if e == Errno::NOTSUP || e == Errno::PERM || e == Errno::ACCESS => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archived_names() {
        assert!(is_archived("security.capability"));
        assert!(is_archived("user.comment"));
        assert!(!is_archived("trusted.overlay.opaque"));
        assert!(!is_archived("security.selinux"));
    }

    #[test]
    fn set_then_list() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let file = std::fs::File::create(&path).expect("create");
        assert!(list(&path).expect("list").is_empty());
        let long = vec![7u8; 1000];
        if !set(&file, "user.long", &long).expect("set") {
            eprintln!("skipped: user xattrs not supported here");
            return;
        }
        assert_eq!(
            list(&path).expect("list"),
            vec![("user.long".to_string(), long)]
        );
    }
}

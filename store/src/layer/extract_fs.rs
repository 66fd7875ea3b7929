//! File system primitives for extraction, all relative to directory fds.
//!
//! Every path is walked one component at a time from the target's root fd with
//! `O_NOFOLLOW | O_DIRECTORY`: a symlink already on disk is never followed, so no
//! entry can be written through one, whatever it points at. Final components are
//! created with `O_EXCL` / `mknodat` / `symlinkat` after removing what was there,
//! never opened for writing in place.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Stat, Timespec, Timestamps, Uid};
use rustix::io::Errno;
use thiserror::Error;

/// A file system operation during extraction failed.
#[derive(Debug, Error)]
pub enum FsError {
    /// A directory on the entry's path is a symlink on disk.
    #[error("{component:?} on its path is a symlink; refusing to write through it")]
    ThroughSymlink {
        /// The offending path component.
        component: String,
    },
    /// A directory on the entry's path is a file.
    #[error("{component:?} on its path is not a directory")]
    NotADirectory {
        /// The offending path component.
        component: String,
    },
    /// A system call failed.
    #[error("{op}: {source}")]
    Io {
        /// The operation (`mkdirat`, `linkat`, …).
        op: &'static str,
        /// The underlying error.
        source: io::Error,
    },
}

/// Wraps an errno from the syscall `op`.
pub fn io(op: &'static str) -> impl Fn(Errno) -> FsError {
    move |e| FsError::Io {
        op,
        source: e.into(),
    }
}

fn lossy(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

/// Opens the directory of `root` named by `comps`, one component at a time,
/// without following symlinks. Missing directories are created (`0755`, root-owned
/// like docker's implicit parents) when `create`; otherwise `Ok(None)`.
pub fn open_dir(root: &OwnedFd, comps: &[&[u8]], create: bool) -> Result<Option<OwnedFd>, FsError> {
    let mut cur = rustix::io::dup(root).map_err(io("dup"))?;
    for comp in comps {
        match open_child_dir(&cur, comp, create)? {
            Some(next) => cur = next,
            None => return Ok(None),
        }
    }
    Ok(Some(cur))
}

fn open_child_dir(parent: &OwnedFd, name: &[u8], create: bool) -> Result<Option<OwnedFd>, FsError> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let name_os = std::ffi::OsStr::from_bytes(name);
    for _ in 0..2 {
        match rustix::fs::openat(parent, name_os, flags, Mode::empty()) {
            Ok(fd) => return Ok(Some(fd)),
            Err(Errno::NOENT) if create => {
                match rustix::fs::mkdirat(parent, name_os, Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(Errno::EXIST) => continue,
                    Err(e) => return Err(io("mkdirat")(e)),
                }
            }
            Err(Errno::NOENT) => return Ok(None),
            Err(Errno::LOOP | Errno::NOTDIR) => return Err(not_a_dir(parent, name)),
            Err(e) => return Err(io("openat")(e)),
        }
    }
    Err(FsError::Io {
        op: "openat",
        source: io::Error::from(io::ErrorKind::NotFound),
    })
}

/// The precise error for a component that could not be opened as a directory.
fn not_a_dir(parent: &OwnedFd, name: &[u8]) -> FsError {
    match lstat(parent, name) {
        Ok(Some(st)) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
            FsError::ThroughSymlink {
                component: lossy(name),
            }
        }
        _ => FsError::NotADirectory {
            component: lossy(name),
        },
    }
}

/// `lstat` of `name` in `dir`; `None` when it does not exist.
pub fn lstat(dir: &impl AsFd, name: &[u8]) -> Result<Option<Stat>, FsError> {
    match rustix::fs::statat(
        dir,
        std::ffi::OsStr::from_bytes(name),
        AtFlags::SYMLINK_NOFOLLOW,
    ) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(io("fstatat")(e)),
    }
}

/// True when `st` is a directory.
pub fn is_dir(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::Directory
}

/// Makes room for a new `name` in `dir`: removes what is there, except a directory
/// when `keep_dir` (a directory entry over an existing directory merges into it).
/// Returns true when an existing directory was kept.
pub fn clear(dir: &OwnedFd, name: &[u8], keep_dir: bool) -> Result<bool, FsError> {
    match lstat(dir, name)? {
        None => Ok(false),
        Some(st) if is_dir(&st) && keep_dir => Ok(true),
        Some(st) if is_dir(&st) => remove_all(dir, name).map(|()| false),
        Some(_) => unlink(dir, name, AtFlags::empty()).map(|()| false),
    }
}

/// Removes `name` from `dir` whatever it is (recursively for directories); a
/// missing `name` is not an error.
pub fn remove(dir: &OwnedFd, name: &[u8]) -> Result<(), FsError> {
    clear(dir, name, false).map(|_| ())
}

fn unlink(dir: &OwnedFd, name: &[u8], flags: AtFlags) -> Result<(), FsError> {
    match rustix::fs::unlinkat(dir, std::ffi::OsStr::from_bytes(name), flags) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(io("unlinkat")(e)),
    }
}

/// Removes the directory `name` in `dir` and everything below it, never following
/// a symlink.
fn remove_all(dir: &OwnedFd, name: &[u8]) -> Result<(), FsError> {
    if let Some(child) = open_child_dir(dir, name, false)? {
        remove_children(&child, |_| false)?;
    }
    unlink(dir, name, AtFlags::REMOVEDIR)
}

/// Removes every child of `dir` for which `keep(name)` is false.
pub fn remove_children(dir: &OwnedFd, keep: impl Fn(&[u8]) -> bool) -> Result<(), FsError> {
    for name in child_names(dir)? {
        if !keep(&name) {
            remove(dir, &name)?;
        }
    }
    Ok(())
}

/// The names in `dir` except `.` and `..`.
fn child_names(dir: &OwnedFd) -> Result<Vec<Vec<u8>>, FsError> {
    let mut names = Vec::new();
    let mut reader = rustix::fs::Dir::read_from(dir).map_err(io("opendir"))?;
    while let Some(entry) = reader.read() {
        let entry = entry.map_err(io("readdir"))?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(name.to_vec());
        }
    }
    Ok(names)
}

/// Creates the regular file `name` in `dir` (which must not exist), open for writing.
pub fn create_file(dir: &OwnedFd, name: &[u8]) -> Result<File, FsError> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(
        dir,
        std::ffi::OsStr::from_bytes(name),
        flags,
        Mode::from_raw_mode(0o600),
    )
    .map_err(io("openat(O_CREAT|O_EXCL)"))?;
    Ok(File::from(fd))
}

/// Creates the directory `name` in `dir` (private until its final mode is set).
pub fn mkdir(dir: &OwnedFd, name: &[u8]) -> Result<(), FsError> {
    rustix::fs::mkdirat(
        dir,
        std::ffi::OsStr::from_bytes(name),
        Mode::from_raw_mode(0o700),
    )
    .map_err(io("mkdirat"))
}

/// Creates the symlink `name` → `target` in `dir`.
pub fn symlink(dir: &OwnedFd, name: &[u8], target: &[u8]) -> Result<(), FsError> {
    let target = std::ffi::OsStr::from_bytes(target);
    rustix::fs::symlinkat(target, dir, std::ffi::OsStr::from_bytes(name)).map_err(io("symlinkat"))
}

/// Hard-links `from_name` in `from_dir` (never following a symlink) as `name` in `dir`.
pub fn hardlink(
    from_dir: &OwnedFd,
    from_name: &[u8],
    dir: &OwnedFd,
    name: &[u8],
) -> Result<(), FsError> {
    let from = std::ffi::OsStr::from_bytes(from_name);
    rustix::fs::linkat(
        from_dir,
        from,
        dir,
        std::ffi::OsStr::from_bytes(name),
        AtFlags::empty(),
    )
    .map_err(io("linkat"))
}

/// Creates a device node or fifo `name` in `dir`.
pub fn mknod(dir: &OwnedFd, name: &[u8], kind: FileType, dev: u64) -> Result<(), FsError> {
    let name = std::ffi::OsStr::from_bytes(name);
    rustix::fs::mknodat(dir, name, kind, Mode::from_raw_mode(0o600), dev).map_err(io("mknodat"))
}

/// Converts tar ids into kernel ids (`u32::MAX` is "no change" to the kernel).
pub fn ids(uid: u64, gid: u64) -> Option<(Uid, Gid)> {
    let uid = u32::try_from(uid).ok().filter(|u| *u != u32::MAX)?;
    let gid = u32::try_from(gid).ok().filter(|g| *g != u32::MAX)?;
    Some((Uid::from_raw(uid), Gid::from_raw(gid)))
}

/// The timestamps that give a file the mtime `secs` (atime set to the same).
pub fn times(secs: i64) -> Timestamps {
    let t = Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// `lchown` + `utimensat(AT_SYMLINK_NOFOLLOW)` + (not for symlinks) `chmod` of
/// `name` in `dir`: for the entries that cannot be opened (symlinks, devices, fifos).
pub fn set_meta_at(
    dir: &OwnedFd,
    name: &[u8],
    owner: Option<(Uid, Gid)>,
    mode: Option<u32>,
    mtime: i64,
) -> Result<(), FsError> {
    let path = std::ffi::OsStr::from_bytes(name);
    if let Some((uid, gid)) = owner {
        rustix::fs::chownat(dir, path, Some(uid), Some(gid), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(io("fchownat"))?;
    }
    if let Some(mode) = mode {
        // Not a symlink (we just created the node), so no link is followed here.
        rustix::fs::chmodat(dir, path, Mode::from_raw_mode(mode), AtFlags::empty())
            .map_err(io("fchmodat"))?;
    }
    rustix::fs::utimensat(dir, path, &times(mtime), AtFlags::SYMLINK_NOFOLLOW)
        .map_err(io("utimensat"))
}

/// `fchown` (when `owner`) then `fchmod` of an open file or directory.
pub fn set_owner_mode(fd: &impl AsFd, owner: Option<(Uid, Gid)>, mode: u32) -> Result<(), FsError> {
    if let Some((uid, gid)) = owner {
        rustix::fs::fchown(fd, Some(uid), Some(gid)).map_err(io("fchown"))?;
    }
    rustix::fs::fchmod(fd, Mode::from_raw_mode(mode)).map_err(io("fchmod"))
}

/// `futimens` of an open file or directory.
pub fn set_mtime(fd: &impl AsFd, mtime: i64) -> Result<(), FsError> {
    rustix::fs::futimens(fd, &times(mtime)).map_err(io("futimens"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_fd(path: &std::path::Path) -> OwnedFd {
        OwnedFd::from(File::open(path).expect("open root"))
    }

    #[test]
    fn open_dir_refuses_symlinks_and_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outside = tempfile::tempdir().expect("outside");
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).expect("symlink");
        std::fs::write(dir.path().join("file"), b"").expect("file");
        let root = root_fd(dir.path());
        let err = open_dir(&root, &[b"link", b"x"], true).expect_err("symlink");
        assert!(
            matches!(err, FsError::ThroughSymlink { ref component } if component == "link"),
            "{err}"
        );
        let err = open_dir(&root, &[b"file"], true).expect_err("file");
        assert!(matches!(err, FsError::NotADirectory { .. }), "{err}");
        assert!(open_dir(&root, &[b"missing"], false)
            .expect("lookup")
            .is_none());
        assert!(open_dir(&root, &[b"new", b"deeper"], true)
            .expect("create")
            .is_some());
        assert!(dir.path().join("new/deeper").is_dir());
        assert_eq!(std::fs::read_dir(outside.path()).expect("ls").count(), 0);
    }

    #[test]
    fn remove_does_not_follow_symlinks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outside = tempfile::tempdir().expect("outside");
        std::fs::write(outside.path().join("keep"), b"k").expect("write");
        std::fs::create_dir_all(dir.path().join("d/e")).expect("mkdir");
        std::os::unix::fs::symlink(outside.path(), dir.path().join("d/e/out")).expect("symlink");
        let root = root_fd(dir.path());
        remove(&root, b"d").expect("remove");
        assert!(!dir.path().join("d").exists());
        assert!(outside.path().join("keep").exists());
    }
}

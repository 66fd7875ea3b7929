//! Filesystem primitives for writing into a rootfs: create without following symlinks,
//! replace what is in the way, and set owner, mode, xattrs and times.

use std::ffi::OsStr;
use std::fs::{File, Metadata};
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, Timespec, Timestamps, XattrFlags, CWD};
use rustix::io::Errno;

use super::owner::Owner;
use super::CopyError;

/// Removes whatever non-directory is at `path`; a directory is removed only when `dirs_too`.
/// Returns true when a directory is (still) there.
pub(crate) fn clear(path: &Path, dirs_too: bool) -> Result<bool, CopyError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(CopyError::io("lstat", path, e)),
    };
    if !meta.is_dir() {
        std::fs::remove_file(path).map_err(|e| CopyError::io("remove", path, e))?;
        return Ok(false);
    }
    if dirs_too {
        std::fs::remove_dir_all(path).map_err(|e| CopyError::io("remove", path, e))?;
        return Ok(false);
    }
    Ok(true)
}

/// Creates a new regular file, refusing to follow a symlink or reuse an existing file.
pub(crate) fn create_file(path: &Path) -> Result<File, CopyError> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| CopyError::io("create", path, e))
}

/// Creates a directory (mode fixed up later by [`set_mode`]).
pub(crate) fn mkdir(path: &Path) -> Result<(), CopyError> {
    std::fs::create_dir(path).map_err(|e| CopyError::io("mkdir", path, e))
}

/// Creates a symlink.
pub(crate) fn symlink(target: &Path, path: &Path) -> Result<(), CopyError> {
    std::os::unix::fs::symlink(target, path).map_err(|e| CopyError::io("symlink", path, e))
}

/// Creates a fifo or device node like the source `meta`.
pub(crate) fn mknod(path: &Path, meta: &Metadata) -> Result<(), CopyError> {
    let kind = FileType::from_raw_mode(meta.mode());
    let mode = Mode::from_raw_mode(meta.mode() & 0o7777);
    rustix::fs::mknodat(CWD, path, kind, mode, meta.rdev())
        .map_err(|e| CopyError::io("mknod", path, e.into()))
}

/// Sets the owner without following a symlink at `path`.
pub(crate) fn set_owner(path: &Path, owner: Owner) -> Result<(), CopyError> {
    std::os::unix::fs::lchown(path, Some(owner.uid), Some(owner.gid))
        .map_err(|e| CopyError::io("chown", path, e))
}

/// Sets permission bits (call only on entries that are not symlinks).
pub(crate) fn set_mode(path: &Path, mode: u32) -> Result<(), CopyError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| CopyError::io("chmod", path, e))
}

/// Sets access and modification times (seconds, nanoseconds) without following symlinks.
pub(crate) fn set_times(
    path: &Path,
    atime: (i64, i64),
    mtime: (i64, i64),
) -> Result<(), CopyError> {
    rustix::fs::utimensat(
        CWD,
        path,
        &timestamps(atime, mtime),
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(|e| CopyError::io("utimensat", path, e.into()))
}

fn timestamps(atime: (i64, i64), mtime: (i64, i64)) -> Timestamps {
    let ts = |(s, ns): (i64, i64)| Timespec {
        tv_sec: s,
        tv_nsec: ns,
    };
    Timestamps {
        last_access: ts(atime),
        last_modification: ts(mtime),
    }
}

/// The (atime, mtime) of `meta` as (seconds, nanoseconds).
pub(crate) fn times_of(meta: &Metadata) -> ((i64, i64), (i64, i64)) {
    (
        (meta.atime(), meta.atime_nsec()),
        (meta.mtime(), meta.mtime_nsec()),
    )
}

/// Owner, mode, xattrs (from the open source `src`) and times of a regular file written
/// through `file`: the same as the path-based calls, without walking `path` four more times.
/// `path` only names the file in errors.
pub(crate) fn finish_file(
    file: &File,
    path: &Path,
    owner: Owner,
    mode: u32,
    src: &File,
    meta: &Metadata,
) -> Result<(), CopyError> {
    let err = |op: &'static str| move |e: Errno| CopyError::io(op, path, e.into());
    let (uid, gid) = (
        rustix::fs::Uid::from_raw(owner.uid),
        rustix::fs::Gid::from_raw(owner.gid),
    );
    rustix::fs::fchown(file, Some(uid), Some(gid)).map_err(err("chown"))?;
    rustix::fs::fchmod(file, Mode::from_raw_mode(mode)).map_err(err("chmod"))?;
    copy_xattrs_between((Node::File(src), path), (Node::File(file), path))?;
    let (atime, mtime) = times_of(meta);
    rustix::fs::futimens(file, &timestamps(atime, mtime)).map_err(err("utimensat"))
}

/// Copies the times of `meta` onto `path`.
pub(crate) fn copy_times(path: &Path, meta: &Metadata) -> Result<(), CopyError> {
    let (atime, mtime) = times_of(meta);
    set_times(path, atime, mtime)
}

/// Copies extended attributes from `src` to `dst` (neither followed if a symlink).
/// Host-specific `security.selinux` labels are not copied; a filesystem without xattr
/// support is not an error.
pub(crate) fn copy_xattrs(src: &Path, dst: &Path) -> Result<(), CopyError> {
    copy_xattrs_between((Node::Path(src), src), (Node::Path(dst), dst))
}

/// Where extended attributes are read or written: a path (a symlink itself, not followed) or
/// an open file.
#[derive(Clone, Copy)]
enum Node<'a> {
    Path(&'a Path),
    File(&'a File),
}

impl Node<'_> {
    /// The NUL-separated names; none where the file system has no xattrs.
    fn names(self) -> Result<Vec<u8>, Errno> {
        let read = match self {
            Node::Path(p) => sized(
                || rustix::fs::llistxattr_query(p),
                |b| rustix::fs::llistxattr(p, b),
            ),
            Node::File(f) => sized(
                || rustix::fs::flistxattr_query(f),
                |b| rustix::fs::flistxattr(f, b),
            ),
        };
        match read {
            Err(Errno::NOTSUP) => Ok(Vec::new()),
            other => other,
        }
    }

    fn get(self, name: &OsStr) -> Result<Vec<u8>, Errno> {
        match self {
            Node::Path(p) => sized(
                || rustix::fs::lgetxattr_query(p, name),
                |b| rustix::fs::lgetxattr(p, name, b),
            ),
            Node::File(f) => sized(
                || rustix::fs::fgetxattr_query(f, name),
                |b| rustix::fs::fgetxattr(f, name, b),
            ),
        }
    }

    fn set(self, name: &OsStr, value: &[u8]) -> Result<(), Errno> {
        match self {
            Node::Path(p) => rustix::fs::lsetxattr(p, name, value, XattrFlags::empty()),
            Node::File(f) => rustix::fs::fsetxattr(f, name, value, XattrFlags::empty()),
        }
    }
}

/// Asks for the size, then reads that much.
fn sized(
    query: impl Fn() -> Result<usize, Errno>,
    fill: impl Fn(&mut [u8]) -> Result<usize, Errno>,
) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; query()?];
    let n = fill(&mut buf[..])?;
    buf.truncate(n);
    Ok(buf)
}

/// Copies every xattr but `security.selinux` from `src` to `dst`; each side comes with the
/// path its errors name. A destination without xattr support is not an error.
fn copy_xattrs_between(
    (src, src_path): (Node<'_>, &Path),
    (dst, dst_path): (Node<'_>, &Path),
) -> Result<(), CopyError> {
    let read_err = |op: &'static str| move |e: Errno| CopyError::io(op, src_path, e.into());
    let names = src.names().map_err(read_err("listxattr"))?;
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        if name == b"security.selinux" {
            continue;
        }
        let name = OsStr::from_bytes(name);
        let value = src.get(name).map_err(read_err("getxattr"))?;
        match dst.set(name, &value) {
            Ok(()) | Err(Errno::NOTSUP) => {}
            Err(e) => return Err(CopyError::io("setxattr", dst_path, e.into())),
        }
    }
    Ok(())
}

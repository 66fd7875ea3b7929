//! Filesystem primitives for writing into a rootfs: create without following symlinks,
//! replace what is in the way, and set owner, mode, xattrs and times.

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
    let ts = |(s, ns): (i64, i64)| Timespec {
        tv_sec: s,
        tv_nsec: ns,
    };
    let times = Timestamps {
        last_access: ts(atime),
        last_modification: ts(mtime),
    };
    rustix::fs::utimensat(CWD, path, &times, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| CopyError::io("utimensat", path, e.into()))
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
    fcopy_xattrs(src, file, path)?;
    let ts = |s: i64, ns: i64| Timespec {
        tv_sec: s,
        tv_nsec: ns,
    };
    let times = Timestamps {
        last_access: ts(meta.atime(), meta.atime_nsec()),
        last_modification: ts(meta.mtime(), meta.mtime_nsec()),
    };
    rustix::fs::futimens(file, &times).map_err(err("utimensat"))
}

/// [`copy_xattrs`] between open files.
fn fcopy_xattrs(src: &File, dst: &File, path: &Path) -> Result<(), CopyError> {
    let err = |op: &'static str| move |e: Errno| CopyError::io(op, path, e.into());
    let size = match rustix::fs::flistxattr_query(src) {
        Ok(0) | Err(Errno::NOTSUP) => return Ok(()),
        Ok(n) => n,
        Err(e) => return Err(err("listxattr")(e)),
    };
    let mut names = vec![0u8; size];
    let n = rustix::fs::flistxattr(src, &mut names[..]).map_err(err("listxattr"))?;
    names.truncate(n);
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        if name == b"security.selinux" {
            continue;
        }
        let name = std::ffi::OsStr::from_bytes(name);
        let size = rustix::fs::fgetxattr_query(src, name).map_err(err("getxattr"))?;
        let mut value = vec![0u8; size];
        let n = rustix::fs::fgetxattr(src, name, &mut value[..]).map_err(err("getxattr"))?;
        value.truncate(n);
        match rustix::fs::fsetxattr(dst, name, &value, XattrFlags::empty()) {
            Ok(()) | Err(Errno::NOTSUP) => {}
            Err(e) => return Err(err("setxattr")(e)),
        }
    }
    Ok(())
}

/// Copies the times of `meta` onto `path`.
pub(crate) fn copy_times(path: &Path, meta: &Metadata) -> Result<(), CopyError> {
    set_times(
        path,
        (meta.atime(), meta.atime_nsec()),
        (meta.mtime(), meta.mtime_nsec()),
    )
}

/// Copies extended attributes from `src` to `dst` (neither followed if a symlink).
/// Host-specific `security.selinux` labels are not copied; a filesystem without xattr
/// support is not an error.
pub(crate) fn copy_xattrs(src: &Path, dst: &Path) -> Result<(), CopyError> {
    let names = list_xattrs(src)?;
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        if name == b"security.selinux" {
            continue;
        }
        let name = std::ffi::OsStr::from_bytes(name);
        let value = get_xattr(src, name)?;
        match rustix::fs::lsetxattr(dst, name, &value, XattrFlags::empty()) {
            Ok(()) | Err(Errno::NOTSUP) => {}
            Err(e) => return Err(CopyError::io("setxattr", dst, e.into())),
        }
    }
    Ok(())
}

/// The NUL-separated xattr names of `path`.
fn list_xattrs(path: &Path) -> Result<Vec<u8>, CopyError> {
    let size = match rustix::fs::llistxattr_query(path) {
        Ok(n) => n,
        Err(Errno::NOTSUP) => return Ok(Vec::new()),
        Err(e) => return Err(CopyError::io("listxattr", path, e.into())),
    };
    let mut buf = vec![0u8; size];
    let n = rustix::fs::llistxattr(path, &mut buf[..])
        .map_err(|e| CopyError::io("listxattr", path, e.into()))?;
    buf.truncate(n);
    Ok(buf)
}

/// One xattr value.
fn get_xattr(path: &Path, name: &std::ffi::OsStr) -> Result<Vec<u8>, CopyError> {
    let err = |e: Errno| CopyError::io("getxattr", path, e.into());
    let size = rustix::fs::lgetxattr_query(path, name).map_err(err)?;
    let mut buf = vec![0u8; size];
    let n = rustix::fs::lgetxattr(path, name, &mut buf[..]).map_err(err)?;
    buf.truncate(n);
    Ok(buf)
}

//! [`RealOps`]: the kernel behind [`MountOps`], as raw `libc` calls that never allocate.

use std::ffi::CStr;
use std::os::fd::RawFd;
use std::ptr;

use super::{Errno, FileKind, MntFlags, MountOps, MsFlags};

/// The real implementation of [`MountOps`]: each method is one system call (or a few), with no
/// allocation, so it is safe in the child of a multi-threaded process.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealOps;

/// Turns a `-1` return into the current `errno`.
fn check(ret: libc::c_int) -> Result<(), Errno> {
    if ret == -1 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

impl MountOps for RealOps {
    fn mount(
        &self,
        source: &CStr,
        target: &CStr,
        fstype: &CStr,
        flags: MsFlags,
        data: Option<&CStr>,
    ) -> Result<(), Errno> {
        let data = data.map_or(ptr::null(), |d| d.as_ptr().cast());
        // SAFETY: all pointers come from live C strings (or are null for `data`).
        check(unsafe {
            libc::mount(
                source.as_ptr(),
                target.as_ptr(),
                fstype.as_ptr(),
                flags.bits(),
                data,
            )
        })
    }

    fn mount_in(
        &self,
        cwd: &CStr,
        source: &CStr,
        target: &CStr,
        fstype: &CStr,
        data: &CStr,
    ) -> Result<(), Errno> {
        // SAFETY: the forked child only makes async-signal-safe calls and then `_exit`s.
        let pid = unsafe { libc::fork() };
        if pid == -1 {
            return Err(Errno::last());
        }
        if pid == 0 {
            let res = self
                .chdir(cwd)
                .and_then(|()| self.mount(source, target, fstype, MsFlags::empty(), Some(data)));
            // SAFETY: terminating the forked child without running any destructor.
            unsafe { libc::_exit(res.err().map_or(0, |e| e as i32)) };
        }
        wait_errno(pid)
    }

    fn umount(&self, target: &CStr, flags: MntFlags) -> Result<(), Errno> {
        // SAFETY: `target` is a live C string.
        check(unsafe { libc::umount2(target.as_ptr(), flags.bits()) })
    }

    fn pivot_root(&self, new_root: &CStr, put_old: &CStr) -> Result<(), Errno> {
        // SAFETY: both pointers are live C strings.
        let ret =
            unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) };
        check(ret as libc::c_int)
    }

    fn chdir(&self, path: &CStr) -> Result<(), Errno> {
        // SAFETY: `path` is a live C string.
        check(unsafe { libc::chdir(path.as_ptr()) })
    }

    fn mkdir(&self, path: &CStr, mode: u32) -> Result<(), Errno> {
        // SAFETY: `path` is a live C string.
        check(unsafe { libc::mkdir(path.as_ptr(), mode) })
    }

    fn mknod_char(&self, path: &CStr, mode: u32, major: u32, minor: u32) -> Result<(), Errno> {
        let dev = libc::makedev(major, minor);
        // SAFETY: `path` is a live C string.
        check(unsafe { libc::mknod(path.as_ptr(), libc::S_IFCHR | mode, dev) })
    }

    fn symlink(&self, target: &CStr, link: &CStr) -> Result<(), Errno> {
        // SAFETY: both pointers are live C strings.
        check(unsafe { libc::symlink(target.as_ptr(), link.as_ptr()) })
    }

    fn lstat_kind(&self, path: &CStr) -> Result<Option<FileKind>, Errno> {
        // SAFETY: `st` is plain old data that lstat fills in.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `path` is a live C string and `st` a valid out pointer.
        match check(unsafe { libc::lstat(path.as_ptr(), &mut st) }) {
            Ok(()) => Ok(Some(kind_of(st.st_mode))),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn create_file(&self, path: &CStr, mode: u32) -> Result<(), Errno> {
        let flags =
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        // SAFETY: `path` is a live C string.
        let fd = unsafe { libc::open(path.as_ptr(), flags, mode) };
        check(fd)?;
        // SAFETY: `fd` was just opened by us.
        check(unsafe { libc::close(fd) })
    }

    fn write_file(&self, path: &CStr, data: &[u8], mode: u32) -> Result<(), Errno> {
        let flags =
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        // SAFETY: `path` is a live C string.
        let fd = unsafe { libc::open(path.as_ptr(), flags, mode) };
        check(fd)?;
        let res = write_all(fd, data);
        // SAFETY: `fd` was opened above and is closed exactly once.
        unsafe { libc::close(fd) };
        res
    }

    fn lchown(&self, path: &CStr, uid: u32, gid: u32) -> Result<(), Errno> {
        // SAFETY: `path` is a live C string.
        check(unsafe { libc::lchown(path.as_ptr(), uid, gid) })
    }

    fn sethostname(&self, name: &CStr) -> Result<(), Errno> {
        let bytes = name.to_bytes();
        // SAFETY: the pointer and length describe `bytes`.
        check(unsafe { libc::sethostname(bytes.as_ptr().cast(), bytes.len()) })
    }

    fn open_tree(&self, root: &CStr, path: &CStr) -> Result<RawFd, Errno> {
        open_tree_in(root, path)
    }

    fn fd_is_dir(&self, fd: RawFd) -> Result<bool, Errno> {
        // SAFETY: `st` is plain old data that fstat fills in.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `st` is a valid out pointer; a bad fd is reported as EBADF.
        check(unsafe { libc::fstat(fd, &mut st) })?;
        Ok(kind_of(st.st_mode) == FileKind::Dir)
    }

    fn move_mount(&self, fd: RawFd, target: &CStr) -> Result<(), Errno> {
        // SAFETY: `fd` is a tree fd, both paths are live C strings.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_move_mount,
                fd,
                c"".as_ptr(),
                libc::AT_FDCWD,
                target.as_ptr(),
                libc::MOVE_MOUNT_F_EMPTY_PATH,
            )
        } as libc::c_int;
        let res = check(ret);
        // SAFETY: the tree fd is ours and closed exactly once.
        unsafe { libc::close(fd) };
        res
    }

    fn loopback_up(&self) -> Result<(), Errno> {
        // SAFETY: a plain socket call; the fd is closed below.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        check(fd)?;
        let res = set_lo_up(fd);
        // SAFETY: `fd` was opened above and is closed exactly once.
        unsafe { libc::close(fd) };
        res
    }
}

/// `openat2(root, path, O_PATH, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` then
/// `open_tree(OPEN_TREE_CLONE | AT_RECURSIVE)` on the result.
fn open_tree_in(root: &CStr, path: &CStr) -> Result<RawFd, Errno> {
    let dir_flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
    // SAFETY: `root` is a live C string.
    let root_fd = unsafe { libc::open(root.as_ptr(), dir_flags) };
    check(root_fd)?;
    // SAFETY: `open_how` is plain old data; all-zero is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_PATH | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: `path` is a live C string, `how` a valid open_how of the size passed.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root_fd,
            path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    } as libc::c_int;
    let err = Errno::last();
    // SAFETY: `root_fd` was opened above and is closed exactly once.
    unsafe { libc::close(root_fd) };
    if fd < 0 {
        return Err(err);
    }
    let flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH;
    // SAFETY: `fd` is open; the empty path is a static C string.
    let tree = unsafe { libc::syscall(libc::SYS_open_tree, fd, c"".as_ptr(), flags) } as RawFd;
    let err = Errno::last();
    // SAFETY: `fd` was opened above and is closed exactly once.
    unsafe { libc::close(fd) };
    if tree < 0 {
        return Err(err);
    }
    Ok(tree)
}

/// `AT_RECURSIVE` and `AT_EMPTY_PATH` as the `c_uint` flags of `open_tree`.
const AT_RECURSIVE: libc::c_uint = libc::AT_RECURSIVE as libc::c_uint;
const AT_EMPTY_PATH: libc::c_uint = libc::AT_EMPTY_PATH as libc::c_uint;

/// Sets `IFF_UP` on `lo` through the socket `fd`.
fn set_lo_up(fd: libc::c_int) -> Result<(), Errno> {
    // SAFETY: `ifreq` is plain old data; all-zero is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: `ifr` is a valid ifreq for both ioctls; the union member read is the flags one
    // that SIOCGIFFLAGS fills in.
    unsafe {
        check(libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut ifr))?;
        ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        check(libc::ioctl(fd, libc::SIOCSIFFLAGS, &ifr))
    }
}

/// Writes all of `data` to `fd`, retrying on short writes and `EINTR`.
fn write_all(fd: libc::c_int, mut data: &[u8]) -> Result<(), Errno> {
    while !data.is_empty() {
        // SAFETY: the pointer and length describe `data`.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n < 0 {
            match Errno::last() {
                Errno::EINTR => continue,
                e => return Err(e),
            }
        }
        data = &data[n as usize..];
    }
    Ok(())
}

/// Waits for the helper `pid` and turns its exit code back into an `Errno`.
fn wait_errno(pid: libc::pid_t) -> Result<(), Errno> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out pointer.
        let ret = unsafe { libc::waitpid(pid, &mut status, 0) };
        if ret == pid {
            break;
        }
        if Errno::last() != Errno::EINTR {
            return Err(Errno::last());
        }
    }
    match libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)) {
        Some(0) => Ok(()),
        Some(code) => Err(Errno::from_raw(code)),
        None => Err(Errno::ECHILD),
    }
}

/// Maps an `st_mode` to a [`FileKind`].
fn kind_of(mode: libc::mode_t) -> FileKind {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => FileKind::Dir,
        libc::S_IFREG => FileKind::File,
        libc::S_IFLNK => FileKind::Symlink,
        _ => FileKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lstat_kind_distinguishes_files_dirs_links_and_absence() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = dir.path();
        std::fs::write(base.join("f"), b"x").expect("write");
        std::os::unix::fs::symlink("nowhere", base.join("l")).expect("symlink");
        let c = |name: &str| {
            std::ffi::CString::new(base.join(name).into_os_string().into_encoded_bytes())
                .expect("cstr")
        };
        assert_eq!(
            RealOps.lstat_kind(&c("")).expect("dir"),
            Some(FileKind::Dir)
        );
        assert_eq!(
            RealOps.lstat_kind(&c("f")).expect("file"),
            Some(FileKind::File)
        );
        assert_eq!(
            RealOps.lstat_kind(&c("l")).expect("link"),
            Some(FileKind::Symlink)
        );
        assert_eq!(RealOps.lstat_kind(&c("missing")).expect("missing"), None);
    }

    #[test]
    fn create_file_refuses_to_follow_a_dangling_symlink() {
        let dir = tempfile::tempdir().expect("tempdir");
        let link = dir.path().join("hosts");
        std::os::unix::fs::symlink(dir.path().join("target"), &link).expect("symlink");
        let c = std::ffi::CString::new(link.into_os_string().into_encoded_bytes()).expect("cstr");
        assert_eq!(RealOps.create_file(&c, 0o644), Err(Errno::EEXIST));
        assert!(!dir.path().join("target").exists());
    }

    #[test]
    fn write_file_writes_the_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hosts");
        let c = std::ffi::CString::new(path.clone().into_os_string().into_encoded_bytes())
            .expect("cstr");
        RealOps
            .write_file(&c, b"127.0.0.1 localhost\n", 0o644)
            .expect("write");
        assert_eq!(
            std::fs::read(&path).expect("read"),
            b"127.0.0.1 localhost\n"
        );
    }
}

//! The OS seam: every mount-namespace syscall the snapshotter and the step executor make goes
//! through [`MountOps`], so the logic that *decides* what to mount can be tested without root
//! against [`RecordingOps`], and only [`RealOps`] touches the kernel.
//!
//! All arguments are borrowed C strings prepared by the caller. That is deliberate: the step
//! executor calls these methods in a freshly cloned child of a multi-threaded process, where
//! allocating is not allowed (another thread may have held the allocator lock at clone time).
//! [`RealOps`] therefore never allocates and only makes async-signal-safe system calls.

mod fake;
mod real;

use std::ffi::CStr;
use std::os::fd::RawFd;

pub use fake::RecordingOps;
pub use nix::errno::Errno;
pub use nix::mount::{MntFlags, MsFlags};
pub use real::RealOps;

/// What `lstat` found at a path (symlinks are not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link (possibly dangling).
    Symlink,
    /// Anything else: device, fifo, socket.
    Other,
}

/// Mount-namespace operations, one method per system call.
///
/// Implementations: [`RealOps`] (the kernel) and [`RecordingOps`] (records each call as a line
/// of text and answers `lstat` from an in-memory tree, for tests).
pub trait MountOps {
    /// `mount(2)`: `source` on `target` with filesystem type `fstype`, `flags` and `data`.
    fn mount(
        &self,
        source: &CStr,
        target: &CStr,
        fstype: &CStr,
        flags: MsFlags,
        data: Option<&CStr>,
    ) -> Result<(), Errno>;
    /// `mount(2)` with relative paths in `data` resolved against `cwd`. The real implementation
    /// forks a helper that changes directory first, so the caller's working directory (shared by
    /// all its threads) is never touched. Only for use outside the step child.
    fn mount_in(
        &self,
        cwd: &CStr,
        source: &CStr,
        target: &CStr,
        fstype: &CStr,
        data: &CStr,
    ) -> Result<(), Errno>;
    /// `umount2(2)`.
    fn umount(&self, target: &CStr, flags: MntFlags) -> Result<(), Errno>;
    /// `pivot_root(2)`.
    fn pivot_root(&self, new_root: &CStr, put_old: &CStr) -> Result<(), Errno>;
    /// `chdir(2)`.
    fn chdir(&self, path: &CStr) -> Result<(), Errno>;
    /// `mkdir(2)`.
    fn mkdir(&self, path: &CStr, mode: u32) -> Result<(), Errno>;
    /// `mknod(2)` for a character device.
    fn mknod_char(&self, path: &CStr, mode: u32, major: u32, minor: u32) -> Result<(), Errno>;
    /// `symlink(2)`: a link at `link` pointing to `target`.
    fn symlink(&self, target: &CStr, link: &CStr) -> Result<(), Errno>;
    /// `lstat(2)` reduced to the kind of file, `None` when nothing is there.
    fn lstat_kind(&self, path: &CStr) -> Result<Option<FileKind>, Errno>;
    /// Creates an empty regular file; fails if anything (even a dangling symlink) is there.
    fn create_file(&self, path: &CStr, mode: u32) -> Result<(), Errno>;
    /// Creates (or truncates) a regular file holding `data`.
    fn write_file(&self, path: &CStr, data: &[u8], mode: u32) -> Result<(), Errno>;
    /// `lchown(2)`.
    fn lchown(&self, path: &CStr, uid: u32, gid: u32) -> Result<(), Errno>;
    /// `sethostname(2)`.
    fn sethostname(&self, name: &CStr) -> Result<(), Errno>;
    /// Brings the loopback interface `lo` up in the current network namespace.
    fn loopback_up(&self) -> Result<(), Errno>;
    /// A detached copy of the mount tree at `path`, resolved inside `root` the way a chroot
    /// would (`openat2(RESOLVE_IN_ROOT)`: `..` and symlinks never leave `root`), as a
    /// close-on-exec fd (`open_tree(OPEN_TREE_CLONE | AT_RECURSIVE)`).
    fn open_tree(&self, root: &CStr, path: &CStr) -> Result<RawFd, Errno>;
    /// Whether the tree `fd` (from [`MountOps::open_tree`]) is a directory.
    fn fd_is_dir(&self, fd: RawFd) -> Result<bool, Errno>;
    /// Attaches the detached tree `fd` on `target` (`move_mount`), then closes `fd`.
    fn move_mount(&self, fd: RawFd, target: &CStr) -> Result<(), Errno>;
}

/// Moves the calling process into its own mount namespace with private propagation, so the
/// mounts a build makes on the host side (COPY targets, `--from` views) are never seen by
/// other processes and vanish with rbuild if it is killed. Must be called while the process
/// is still single-threaded (unshare(CLONE_NEWNS) refuses threads that share their fs).
pub fn private_mount_namespace() -> Result<(), Errno> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)?;
    let flags = MsFlags::MS_REC | MsFlags::MS_PRIVATE;
    nix::mount::mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
}

//! The child's setup as data: a list of [`Op`]s built before the clone (all strings already C
//! strings), executed in the child by [`execute`] against a [`MountOps`]. Tests run the same
//! list against [`crate::sys::RecordingOps`] to check what would be mounted where.

use std::ffi::CString;
use std::os::fd::RawFd;

use crate::sys::{Errno, FileKind, MntFlags, MountOps, MsFlags};

/// Bit numbers of the mount points the child may have to create in the rootfs. The parent
/// removes the created ones from the upper dir after the step (see `stubs.rs`).
pub(crate) mod stub {
    /// `/proc`.
    pub const PROC: u8 = 0;
    /// `/dev`.
    pub const DEV: u8 = 1;
    /// `/sys`.
    pub const SYS: u8 = 2;
    /// `/etc`.
    pub const ETC: u8 = 3;
    /// `/etc/hosts`.
    pub const HOSTS: u8 = 4;
    /// `/etc/resolv.conf`.
    pub const RESOLV: u8 = 5;
    /// Rootfs-relative path and "is a directory" of each bit.
    pub const PATHS: [(&str, bool); 6] = [
        ("proc", true),
        ("dev", true),
        ("sys", true),
        ("etc", true),
        ("etc/hosts", false),
        ("etc/resolv.conf", false),
    ];
}

/// One setup step of the child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    /// `mount(2)`; skipped when the stub `guard` is unusable; `optional` tolerates `ENOENT`.
    Mount {
        source: CString,
        target: CString,
        fstype: CString,
        flags: MsFlags,
        data: Option<CString>,
        guard: Option<u8>,
        optional: bool,
    },
    /// Bind `source` on `target`, then remount the bind read-only.
    ReadOnlyBind {
        source: CString,
        target: CString,
        guard: Option<u8>,
        optional: bool,
    },
    /// `chdir(2)`.
    Chdir(CString),
    /// `pivot_root(".", ".")`, stacking the old root on top of the new one.
    PivotRoot,
    /// `umount2(path, MNT_DETACH)`.
    Detach(CString),
    /// `mkdir(2)`, tolerating an existing directory.
    Mkdir { path: CString, mode: u32 },
    /// `mknod(2)` of a character device.
    Mknod {
        path: CString,
        mode: u32,
        major: u32,
        minor: u32,
    },
    /// `symlink(2)`.
    Symlink { target: CString, link: CString },
    /// Writes a file.
    WriteFile {
        path: CString,
        data: Vec<u8>,
        mode: u32,
    },
    /// Makes sure a mount point exists: creates it (setting `bit` in the created mask) when
    /// missing, marks `bit` unusable when something of the wrong kind is there. Skipped (and
    /// marked unusable) when `guard` is unusable.
    Stub {
        path: CString,
        dir: bool,
        bit: u8,
        guard: Option<u8>,
    },
    /// `sethostname(2)`.
    SetHostname(CString),
    /// Brings `lo` up.
    LoopbackUp,
    /// `lchown(2)`.
    Chown { path: CString, uid: u32, gid: u32 },
    /// Keeps a detached copy of the tree at `path` inside `root` in tree slot `slot` (run
    /// before the pivot for host sources; see [`MountOps::open_tree`]).
    OpenTree {
        root: CString,
        path: CString,
        slot: u8,
    },
    /// Makes sure a RUN mount's target exists: a directory, or an empty file when the tree
    /// in slot `file_if` is a file. Parents are separate [`Op::Mkdir`]s.
    MountPoint { path: CString, file_if: Option<u8> },
    /// Attaches the tree in `slot` on `target`, then makes it read-only if asked.
    AttachTree {
        slot: u8,
        target: CString,
        read_only: bool,
    },
}

/// Tree slots a setup list may use (RUN mounts of one step).
pub(crate) const MAX_TREES: usize = 32;

/// What the stubs did: bits of [`stub`] created by the child, and bits that are unusable;
/// and the trees opened by [`Op::OpenTree`], by slot.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StubState {
    /// Mount points the child created.
    pub created: u8,
    /// Mount points that could not be used (wrong kind of file there).
    pub unusable: u8,
    /// Tree fds by slot (valid where `opened` has the slot's bit).
    pub trees: [RawFd; MAX_TREES],
    /// Bits of the slots holding a tree.
    pub opened: u32,
}

impl StubState {
    /// The tree in `slot`.
    fn tree(&self, slot: u8) -> Result<RawFd, Errno> {
        match self.opened & (1 << slot) {
            0 => Err(Errno::EBADF),
            _ => Ok(self.trees[usize::from(slot)]),
        }
    }
}

impl StubState {
    /// Whether `guard` allows the op to run.
    fn allows(&self, guard: Option<u8>) -> bool {
        guard.is_none_or(|b| self.unusable & (1 << b) == 0)
    }
}

/// Runs `ops` in order. On failure returns the index of the failing op and its errno.
/// Allocation-free: safe in the cloned child.
pub(crate) fn execute(
    ops: &dyn MountOps,
    plan: &[Op],
    state: &mut StubState,
) -> Result<(), (usize, Errno)> {
    for (i, op) in plan.iter().enumerate() {
        run_op(ops, op, state).map_err(|e| (i, e))?;
    }
    Ok(())
}

/// Runs one op.
fn run_op(ops: &dyn MountOps, op: &Op, state: &mut StubState) -> Result<(), Errno> {
    match op {
        Op::Mount { guard, .. } | Op::ReadOnlyBind { guard, .. } if !state.allows(*guard) => Ok(()),
        Op::Mount {
            source,
            target,
            fstype,
            flags,
            data,
            optional,
            ..
        } => tolerate(
            ops.mount(source, target, fstype, *flags, data.as_deref()),
            *optional,
        ),
        Op::ReadOnlyBind {
            source,
            target,
            optional,
            ..
        } => tolerate(read_only_bind(ops, source, target), *optional),
        Op::Chdir(path) => ops.chdir(path),
        Op::PivotRoot => ops.pivot_root(c".", c"."),
        Op::Detach(path) => ops.umount(path, MntFlags::MNT_DETACH),
        Op::Mkdir { path, mode } => match ops.mkdir(path, *mode) {
            Err(Errno::EEXIST) => Ok(()),
            other => other,
        },
        Op::Mknod {
            path,
            mode,
            major,
            minor,
        } => ops.mknod_char(path, *mode, *major, *minor),
        Op::Symlink { target, link } => ops.symlink(target, link),
        Op::WriteFile { path, data, mode } => ops.write_file(path, data, *mode),
        Op::Stub {
            path,
            dir,
            bit,
            guard,
        } => run_stub(ops, path, *dir, *bit, *guard, state),
        Op::SetHostname(name) => ops.sethostname(name),
        Op::LoopbackUp => ops.loopback_up(),
        Op::Chown { path, uid, gid } => ops.lchown(path, *uid, *gid),
        Op::OpenTree { root, path, slot } => {
            let slot = *slot;
            if usize::from(slot) >= MAX_TREES {
                return Err(Errno::EINVAL);
            }
            state.trees[usize::from(slot)] = ops.open_tree(root, path)?;
            state.opened |= 1 << slot;
            Ok(())
        }
        Op::MountPoint { path, file_if } => mount_point(ops, path, *file_if, state),
        Op::AttachTree {
            slot,
            target,
            read_only,
        } => {
            let fd = state.tree(*slot)?;
            state.opened &= !(1 << slot);
            ops.move_mount(fd, target)?;
            match read_only {
                true => ops.mount(c"none", target, c"none", read_only_flags(), None),
                false => Ok(()),
            }
        }
    }
}

/// The [`Op::MountPoint`] logic: an existing entry of the right kind is used as it is.
fn mount_point(
    ops: &dyn MountOps,
    path: &CString,
    file_if: Option<u8>,
    state: &StubState,
) -> Result<(), Errno> {
    let dir = match file_if {
        Some(slot) => ops.fd_is_dir(state.tree(slot)?)?,
        None => true,
    };
    match (ops.lstat_kind(path)?, dir) {
        (None, true) => ops.mkdir(path, 0o755),
        (None, false) => ops.create_file(path, 0o644),
        (Some(FileKind::Dir), true) | (Some(FileKind::File), false) => Ok(()),
        (Some(FileKind::Dir), false) => Err(Errno::EISDIR),
        (Some(_), _) => Err(Errno::ENOTDIR),
    }
}

/// The flags that remount a bind read-only (and nosuid, nodev).
fn read_only_flags() -> MsFlags {
    MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_RDONLY
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV
}

/// Treats `ENOENT` as success for optional mounts (a dangling symlink, a missing /proc entry).
fn tolerate(res: Result<(), Errno>, optional: bool) -> Result<(), Errno> {
    match res {
        Err(Errno::ENOENT) if optional => Ok(()),
        other => other,
    }
}

/// Bind mount, then remount read-only.
fn read_only_bind(ops: &dyn MountOps, source: &CString, target: &CString) -> Result<(), Errno> {
    ops.mount(
        source,
        target,
        c"none",
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;
    ops.mount(c"none", target, c"none", read_only_flags(), None)
}

/// The [`Op::Stub`] logic.
fn run_stub(
    ops: &dyn MountOps,
    path: &CString,
    dir: bool,
    bit: u8,
    guard: Option<u8>,
    state: &mut StubState,
) -> Result<(), Errno> {
    if !state.allows(guard) {
        state.unusable |= 1 << bit;
        return Ok(());
    }
    match (ops.lstat_kind(path)?, dir) {
        (None, true) => ops.mkdir(path, 0o755)?,
        (None, false) => ops.create_file(path, 0o644)?,
        (Some(FileKind::Dir), true) | (Some(FileKind::File | FileKind::Symlink), false) => {
            return Ok(())
        }
        (Some(_), _) => {
            state.unusable |= 1 << bit;
            return Ok(());
        }
    }
    state.created |= 1 << bit;
    Ok(())
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = |c: &CString| c.to_string_lossy().into_owned();
        match self {
            Op::Mount { fstype, target, .. } => write!(f, "mount {} on {}", s(fstype), s(target)),
            Op::ReadOnlyBind { source, target, .. } => {
                write!(f, "bind {} on {} read-only", s(source), s(target))
            }
            Op::Chdir(p) => write!(f, "chdir {}", s(p)),
            Op::PivotRoot => write!(f, "pivot_root into the rootfs"),
            Op::Detach(p) => write!(f, "unmount {}", s(p)),
            Op::Mkdir { path, .. } => write!(f, "mkdir {}", s(path)),
            Op::Mknod { path, .. } => write!(f, "mknod {}", s(path)),
            Op::Symlink { link, .. } => write!(f, "symlink {}", s(link)),
            Op::WriteFile { path, .. } => write!(f, "write {}", s(path)),
            Op::Stub { path, .. } => write!(f, "create mount point {}", s(path)),
            Op::SetHostname(h) => write!(f, "sethostname {}", s(h)),
            Op::LoopbackUp => write!(f, "bring up the loopback interface"),
            Op::Chown { path, .. } => write!(f, "chown {}", s(path)),
            Op::OpenTree { root, path, .. } => {
                write!(f, "open {} inside {} for mounting", s(path), s(root))
            }
            Op::MountPoint { path, .. } => write!(f, "create mount point {}", s(path)),
            Op::AttachTree { target, .. } => write!(f, "mount on {}", s(target)),
        }
    }
}

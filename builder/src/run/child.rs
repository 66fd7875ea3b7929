//! The cloned child: runs the setup [`Op`]s, reports to the parent, waits for the user's
//! credentials, then drops privileges and `execve`s the step. Everything here runs between
//! `clone` and `execve` in a copy of a multi-threaded process, so it must not allocate, lock or
//! print: it only reads data prepared before the clone and makes async-signal-safe calls.

use std::ffi::{c_char, CString};
use std::os::fd::RawFd;

use super::plan::{execute, Op, StubState};
use crate::sys::{Errno, MountOps, RealOps};

/// Status message tags (child → parent, 8 bytes: tag, mask, index u16, errno i32).
pub(crate) mod tag {
    /// Setup done; the mask byte holds the created stubs.
    pub const READY: u8 = 1;
    /// A setup op failed; the index names it.
    pub const SETUP: u8 = 2;
    /// A privilege/workdir step failed; the index is a [`super::Stage`].
    pub const STAGE: u8 = 3;
    /// `execve` failed for every candidate.
    pub const EXEC: u8 = 4;
}

/// The steps after the credentials arrive, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Creating the working directory.
    Workdir = 0,
    /// Changing into it.
    Chdir = 1,
    /// Dropping capabilities.
    Caps = 2,
    /// `setgroups`.
    Setgroups = 3,
    /// `setgid`.
    Setgid = 4,
    /// `setuid`.
    Setuid = 5,
}

impl Stage {
    /// The stage with index `i`.
    pub(crate) fn from_index(i: u16) -> &'static str {
        [
            "create the working directory",
            "change into the working directory",
            "drop capabilities",
            "setgroups",
            "setgid",
            "setuid",
        ]
        .get(usize::from(i))
        .copied()
        .unwrap_or("prepare the process")
    }
}

/// Most supplementary groups passed to the child.
pub(crate) const MAX_GROUPS: usize = 64;
/// Longest home directory passed to the child.
pub(crate) const MAX_HOME: usize = 1024;
/// Size of the credentials message (parent → child).
pub(crate) const CRED_LEN: usize = 16 + 4 * MAX_GROUPS + MAX_HOME;

/// Docker's default capability set (bits): CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID,
/// SETUID, SETPCAP, NET_BIND_SERVICE, NET_RAW, SYS_CHROOT, MKNOD, AUDIT_WRITE, SETFCAP.
pub(crate) const DEFAULT_CAPS: u64 = (1 << 0)
    | (1 << 1)
    | (1 << 3)
    | (1 << 4)
    | (1 << 5)
    | (1 << 6)
    | (1 << 7)
    | (1 << 8)
    | (1 << 10)
    | (1 << 13)
    | (1 << 18)
    | (1 << 27)
    | (1 << 29)
    | (1 << 31);

/// Everything the child needs, prepared by the parent before the clone.
#[derive(Debug)]
pub(crate) struct ChildPlan {
    /// Setup ops.
    pub ops: Vec<Op>,
    /// `/a`, `/a/b`, … of the working directory, to create when missing.
    pub workdir_prefixes: Vec<CString>,
    /// The working directory.
    pub workdir: CString,
    /// argv strings.
    pub argv: Vec<CString>,
    /// `KEY=VALUE` strings.
    pub env: Vec<CString>,
    /// Whether `env` already sets `HOME`.
    pub has_home: bool,
    /// Paths to try `execve` on.
    pub candidates: Vec<CString>,
    /// Fds the child uses.
    pub fds: ChildFds,
}

/// The child's fds (the parent keeps the other pipe ends).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChildFds {
    /// `/dev/null`, for stdin.
    pub stdin: RawFd,
    /// Write end of the stdout pipe.
    pub stdout: RawFd,
    /// Write end of the stderr pipe.
    pub stderr: RawFd,
    /// Write end of the status pipe (close-on-exec).
    pub status: RawFd,
    /// Read end of the credentials pipe.
    pub cred: RawFd,
}

/// Credentials decoded from the parent's message.
struct Cred {
    uid: u32,
    gid: u32,
    ngroups: usize,
    groups: [libc::gid_t; MAX_GROUPS],
    home_len: usize,
    home: [u8; MAX_HOME],
}

/// Exits the child without running destructors or atexit handlers.
fn exit(code: i32) -> ! {
    // SAFETY: `_exit` is async-signal-safe and never returns.
    unsafe { libc::_exit(code) }
}

/// Writes one status message.
fn report(fd: RawFd, tag: u8, mask: u8, index: u16, errno: Errno) {
    let mut msg = [0u8; 8];
    msg[0] = tag;
    msg[1] = mask;
    msg[2..4].copy_from_slice(&index.to_le_bytes());
    msg[4..8].copy_from_slice(&(errno as i32).to_le_bytes());
    // SAFETY: writing a stack buffer; 8 bytes is below PIPE_BUF, so the write is atomic.
    unsafe { libc::write(fd, msg.as_ptr().cast(), msg.len()) };
}

/// The child's entry point (called on the clone's stack).
pub(crate) fn child_main(plan: &ChildPlan) -> isize {
    prepare_process(&plan.fds);
    let mut state = StubState::default();
    if let Err((i, e)) = execute(&RealOps, &plan.ops, &mut state) {
        report(plan.fds.status, tag::SETUP, 0, i as u16, e);
        exit(127);
    }
    report(
        plan.fds.status,
        tag::READY,
        state.created,
        0,
        Errno::UnknownErrno,
    );
    let Some(cred) = read_cred(plan.fds.cred) else {
        exit(127)
    };
    if let Err((stage, e)) = become_user(plan, &cred) {
        report(plan.fds.status, tag::STAGE, 0, stage as u16, e);
        exit(127);
    }
    let e = exec(plan, &cred);
    report(plan.fds.status, tag::EXEC, 0, 0, e);
    exit(127)
}

/// New session, parent-death signal, default signal handling, stdio on the pipes.
fn prepare_process(fds: &ChildFds) {
    // SAFETY: plain async-signal-safe calls on fds and numbers owned by this process.
    unsafe {
        libc::setsid();
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        for sig in 1..32 {
            libc::signal(sig, libc::SIG_DFL);
        }
        libc::dup2(fds.stdin, 0);
        libc::dup2(fds.stdout, 1);
        libc::dup2(fds.stderr, 2);
        libc::umask(0);
    }
}

/// Reads the credentials message; `None` if the parent went away.
fn read_cred(fd: RawFd) -> Option<Cred> {
    let mut buf = [0u8; CRED_LEN];
    let mut got = 0;
    while got < CRED_LEN {
        // SAFETY: reading into the unfilled part of a stack buffer.
        let n = unsafe { libc::read(fd, buf[got..].as_mut_ptr().cast(), CRED_LEN - got) };
        match n {
            0 => return None,
            n if n < 0 && Errno::last() == Errno::EINTR => continue,
            n if n < 0 => return None,
            n => got += n as usize,
        }
    }
    Some(decode_cred(&buf))
}

/// Reads a little-endian u32 at `at`.
fn u32_at(buf: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    u32::from_le_bytes(b)
}

/// Decodes the fixed-size credentials message (layout in `spawn::encode_cred`).
fn decode_cred(buf: &[u8; CRED_LEN]) -> Cred {
    let mut cred = Cred {
        uid: u32_at(buf, 0),
        gid: u32_at(buf, 4),
        ngroups: (u32_at(buf, 8) as usize).min(MAX_GROUPS),
        groups: [0; MAX_GROUPS],
        home_len: (u32_at(buf, 12) as usize).min(MAX_HOME),
        home: [0; MAX_HOME],
    };
    for (i, g) in cred.groups.iter_mut().enumerate() {
        *g = u32_at(buf, 16 + 4 * i);
    }
    cred.home.copy_from_slice(&buf[16 + 4 * MAX_GROUPS..]);
    cred
}

/// Creates the working directory, changes into it, drops capabilities and switches user.
fn become_user(plan: &ChildPlan, cred: &Cred) -> Result<(), (Stage, Errno)> {
    for p in &plan.workdir_prefixes {
        if RealOps
            .lstat_kind(p)
            .map_err(|e| (Stage::Workdir, e))?
            .is_none()
        {
            RealOps.mkdir(p, 0o755).map_err(|e| (Stage::Workdir, e))?;
            RealOps
                .lchown(p, cred.uid, cred.gid)
                .map_err(|e| (Stage::Workdir, e))?;
        }
    }
    RealOps
        .chdir(&plan.workdir)
        .map_err(|e| (Stage::Chdir, e))?;
    drop_caps().map_err(|e| (Stage::Caps, e))?;
    // Raw syscalls, not glibc's wrappers: in a clone of a multi-threaded process glibc still
    // believes the parent's threads exist and its set*id wrappers signal them all and wait
    // (`__nptl_setxid`) — forever. The child really is single-threaded, so the per-thread
    // kernel calls are exactly right.
    // SAFETY: async-signal-safe syscalls with data on the stack.
    unsafe {
        let groups = cred.groups.as_ptr();
        check_sys(libc::syscall(
            libc::SYS_setgroups,
            cred.ngroups as libc::c_long,
            groups,
        ))
        .map_err(|e| (Stage::Setgroups, e))?;
        let (g, u) = (cred.gid as libc::c_long, cred.uid as libc::c_long);
        check_sys(libc::syscall(libc::SYS_setresgid, g, g, g)).map_err(|e| (Stage::Setgid, e))?;
        check_sys(libc::syscall(libc::SYS_setresuid, u, u, u)).map_err(|e| (Stage::Setuid, e))?;
        libc::umask(0o022);
    }
    Ok(())
}

/// A raw `syscall` result: `-1` → errno.
fn check_sys(ret: libc::c_long) -> Result<(), Errno> {
    if ret == -1 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// `-1` → errno.
fn check(ret: libc::c_int) -> Result<(), Errno> {
    if ret == -1 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// Limits the bounding set, inheritable and ambient capabilities to docker's default set, so
/// that the step (even as root) cannot remount `/proc/sys` writable or load modules.
fn drop_caps() -> Result<(), Errno> {
    for cap in 0..64 {
        if DEFAULT_CAPS & (1 << cap) == 0 {
            // SAFETY: prctl with integer arguments.
            match check(unsafe {
                libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0)
            }) {
                Err(Errno::EINVAL) => break, // past the kernel's last capability
                other => other?,
            }
        }
    }
    // SAFETY: prctl with integer arguments.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    };
    clear_inheritable()
}

/// `capget` + `capset` keeping only default capabilities in the inheritable set.
fn clear_inheritable() -> Result<(), Errno> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut header = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let mut data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: header and a two-element data array as the v3 capability ABI requires.
    check(
        unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) } as libc::c_int,
    )?;
    data[0].inheritable &= DEFAULT_CAPS as u32;
    data[1].inheritable &= (DEFAULT_CAPS >> 32) as u32;
    // SAFETY: as above.
    check(unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) } as libc::c_int)
}

/// Tries each candidate; returns the most telling errno when none could be executed.
fn exec(plan: &ChildPlan, cred: &Cred) -> Errno {
    const MAX_PTRS: usize = 4096;
    let mut argv: [*const c_char; MAX_PTRS] = [std::ptr::null(); MAX_PTRS];
    let mut envp: [*const c_char; MAX_PTRS] = [std::ptr::null(); MAX_PTRS];
    if plan.argv.len() >= MAX_PTRS || plan.env.len() + 1 >= MAX_PTRS {
        return Errno::E2BIG;
    }
    for (slot, a) in argv.iter_mut().zip(&plan.argv) {
        *slot = a.as_ptr();
    }
    for (slot, e) in envp.iter_mut().zip(&plan.env) {
        *slot = e.as_ptr();
    }
    let mut home = [0u8; MAX_HOME + 6];
    if !plan.has_home {
        home[..5].copy_from_slice(b"HOME=");
        home[5..5 + cred.home_len].copy_from_slice(&cred.home[..cred.home_len]);
        envp[plan.env.len()] = home.as_ptr().cast();
    }
    let mut best = Errno::ENOENT;
    for cand in &plan.candidates {
        // SAFETY: argv and envp are NULL-terminated arrays of live C strings.
        unsafe { libc::execve(cand.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
        match Errno::last() {
            Errno::ENOENT | Errno::ENOTDIR => {}
            e => best = e,
        }
    }
    best
}

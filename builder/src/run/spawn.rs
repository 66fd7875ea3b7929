//! The parent side: pipes, the `clone` into new namespaces, and the status/credentials
//! protocol with the child.

use std::os::fd::{AsRawFd, OwnedFd};

use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

use super::child::{child_main, tag, ChildFds, ChildPlan, CRED_LEN, MAX_GROUPS, MAX_HOME};
use super::user::ExecUser;
use super::RunError;
use crate::sys::Errno;

/// Stack size of the cloned child (it uses ~70 KiB; the rest is margin).
const STACK_SIZE: usize = 1 << 20;

/// A running child and the parent's ends of its pipes.
#[derive(Debug)]
pub(crate) struct Child {
    /// Its pid (in rbuild's pid namespace).
    pub pid: Pid,
    /// Status messages; closes when the step execs.
    pub status: OwnedFd,
    /// Where the credentials go.
    pub cred: OwnedFd,
    /// The step's stdout.
    pub stdout: OwnedFd,
    /// The step's stderr.
    pub stderr: OwnedFd,
}

/// What the child said on the status pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Setup done; bits of the stubs it created.
    Ready(u8),
    /// A setup op (by index) failed.
    SetupFailed(usize, Errno),
    /// A stage after the credentials failed.
    StageFailed(u16, Errno),
    /// No candidate could be executed.
    ExecFailed(Errno),
}

/// A pipe with both ends close-on-exec.
fn pipe() -> Result<(OwnedFd, OwnedFd), RunError> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|source| RunError::Sys {
        call: "pipe2",
        source,
    })
}

/// Clones the child into new mount, pid, uts and ipc namespaces (and net when `isolated_net`).
pub(crate) fn spawn(plan: &mut ChildPlan, isolated_net: bool) -> Result<Child, RunError> {
    let (status_r, status_w) = pipe()?;
    let (cred_r, cred_w) = pipe()?;
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let null = std::fs::File::open("/dev/null").map_err(|e| RunError::Sys {
        call: "open /dev/null",
        source: Errno::from_raw(e.raw_os_error().unwrap_or(0)),
    })?;
    plan.fds = ChildFds {
        stdin: null.as_raw_fd(),
        stdout: out_w.as_raw_fd(),
        stderr: err_w.as_raw_fd(),
        status: status_w.as_raw_fd(),
        cred: cred_r.as_raw_fd(),
    };
    let mut flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC;
    if isolated_net {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    let mut stack = vec![0u8; STACK_SIZE];
    let plan_ref: &ChildPlan = plan;
    // SAFETY: the child runs `child_main`, which only makes async-signal-safe calls on data
    // prepared above and ends in `execve` or `_exit`; it never returns into Rust code that
    // shares state with the parent (no CLONE_VM: it has its own copy of the memory).
    let pid = unsafe {
        nix::sched::clone(
            Box::new(|| child_main(plan_ref)),
            &mut stack,
            flags,
            Some(libc::SIGCHLD),
        )
    }
    .map_err(|source| RunError::Sys {
        call: "clone",
        source,
    })?;
    // The child's ends (status_w, cred_r, out_w, err_w, null) are dropped here: only the
    // child holds them now, so EOF means the child is done with them.
    Ok(Child {
        pid,
        status: status_r,
        cred: cred_w,
        stdout: out_r,
        stderr: err_r,
    })
}

/// Reads one status message; `None` at end of file (the child exec'd or died).
pub(crate) fn read_status(fd: &OwnedFd) -> Result<Option<Status>, RunError> {
    let mut msg = [0u8; 8];
    let mut got = 0;
    while got < msg.len() {
        match nix::unistd::read(fd, &mut msg[got..]) {
            Ok(0) => return Ok(None),
            Ok(n) => got += n,
            Err(Errno::EINTR) => continue,
            Err(source) => {
                return Err(RunError::Sys {
                    call: "read status pipe",
                    source,
                })
            }
        }
    }
    let index = u16::from_le_bytes([msg[2], msg[3]]);
    let errno = Errno::from_raw(i32::from_le_bytes([msg[4], msg[5], msg[6], msg[7]]));
    Ok(Some(match msg[0] {
        tag::READY => Status::Ready(msg[1]),
        tag::SETUP => Status::SetupFailed(usize::from(index), errno),
        tag::STAGE => Status::StageFailed(index, errno),
        _ => Status::ExecFailed(errno),
    }))
}

/// Encodes the credentials message: uid, gid, group count, home length (u32 LE each), the
/// groups (u32 LE, `MAX_GROUPS` slots), then the home bytes (`MAX_HOME` slots).
pub(crate) fn encode_cred(user: &ExecUser) -> Result<Vec<u8>, RunError> {
    if user.groups.len() > MAX_GROUPS || user.home.len() > MAX_HOME || user.home.contains('\0') {
        let value = format!("{} groups, home {:?}", user.groups.len(), user.home);
        return Err(RunError::InvalidSpec {
            field: "user",
            value,
        });
    }
    let mut buf = Vec::with_capacity(CRED_LEN);
    for v in [
        user.uid,
        user.gid,
        user.groups.len() as u32,
        user.home.len() as u32,
    ] {
        buf.extend_from_slice(&v.to_le_bytes());
    }
    for i in 0..MAX_GROUPS {
        buf.extend_from_slice(&user.groups.get(i).copied().unwrap_or(0).to_le_bytes());
    }
    buf.extend_from_slice(user.home.as_bytes());
    buf.resize(CRED_LEN, 0);
    Ok(buf)
}

/// Sends the credentials (one atomic pipe write) and closes the pipe.
pub(crate) fn send_cred(fd: OwnedFd, user: &ExecUser) -> Result<(), RunError> {
    let msg = encode_cred(user)?;
    let n = nix::unistd::write(&fd, &msg).map_err(|source| RunError::Sys {
        call: "write credentials",
        source,
    })?;
    if n != msg.len() {
        return Err(RunError::Sys {
            call: "write credentials",
            source: Errno::EIO,
        });
    }
    Ok(())
}

/// Kills the child's whole pid namespace.
pub(crate) fn kill(pid: Pid) {
    let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
}

/// Waits for the child to exit.
pub(crate) fn wait(pid: Pid) -> Result<WaitStatus, RunError> {
    loop {
        match nix::sys::wait::waitpid(pid, None) {
            Err(Errno::EINTR) => continue,
            Ok(s @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => return Ok(s),
            Ok(_) => continue,
            Err(source) => {
                return Err(RunError::Sys {
                    call: "waitpid",
                    source,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cred_message_has_the_fixed_size_and_layout() {
        let user = ExecUser {
            uid: 65534,
            gid: 65533,
            groups: vec![10, 29],
            home: "/home/x".into(),
        };
        let msg = encode_cred(&user).expect("encode");
        assert_eq!(msg.len(), CRED_LEN);
        assert_eq!(&msg[0..4], &65534u32.to_le_bytes());
        assert_eq!(&msg[8..12], &2u32.to_le_bytes());
        assert_eq!(&msg[20..24], &29u32.to_le_bytes());
        assert_eq!(
            &msg[16 + 4 * MAX_GROUPS..16 + 4 * MAX_GROUPS + 7],
            b"/home/x"
        );
        let too_many = ExecUser {
            groups: vec![1; MAX_GROUPS + 1],
            ..user
        };
        assert!(encode_cred(&too_many).is_err());
    }
}

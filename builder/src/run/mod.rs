//! Running one RUN step in an isolated rootfs.
//!
//! # Process model
//!
//! [`run_step`] `clone`s a child directly into new mount, pid, uts and ipc namespaces (plus a
//! network namespace for [`Network::None`]). The child is pid 1 of its pid namespace and
//! eventually `execve`s the step's command, so — as with BuildKit's runc — **the step is
//! pid 1**. When it exits, the kernel kills everything else in the namespace, so no process of
//! the step outlives it; killing it (SIGKILL from rbuild's namespace) kills them all, which is
//! what the signal handlers in [`install_signal_handlers`] do on Ctrl-C.
//!
//! Why not `std::process::Command` + `pre_exec`: `unshare(CLONE_NEWPID)` only moves *later*
//! children into the new namespace, so the exec'd step could not be pid 1 without a second
//! fork and a shim; re-exec'ing `/proc/self/exe` as the shim does not work from test binaries.
//! `clone(CLONE_NEWPID)` gives pid 1 in one step. The child runs in a copy of a multi-threaded
//! process, so between `clone` and `execve` it never allocates: every string is a C string
//! prepared beforehand ([`child`] documents the rules) and setup is data (a list of ops) run
//! through the [`crate::sys::MountOps`] seam, which tests drive with a recording fake.
//!
//! # Sequence
//!
//! 1. Parent: build the op list and argv/env; create the cgroup (when limits are set).
//! 2. Child: new session, `PR_SET_PDEATHSIG`, stdio on pipes; make `/` private; mount the
//!    snapshot's overlay on its mount point; `pivot_root(".", ".")` and detach the old root.
//!    Then, with every path resolving inside the new root: `/proc` (with `/proc/sys` and
//!    friends read-only), `/etc/hosts` and `/etc/resolv.conf` bound read-only from a scratch
//!    tmpfs, a fresh `/dev` tmpfs (null zero full random urandom tty, devpts `newinstance`
//!    with `ptmx`, `/dev/shm`), `/sys` read-only, the hostname, `lo` up. Mount points missing
//!    in the image are created and reported to the parent (one bit each). Last, the step's
//!    `--mount`s ([`StepMount`]): host trees opened before the pivot are attached, tmpfs
//!    mounted, secrets bound from the scratch tmpfs (see `mounts`).
//! 3. Parent: put the child in the cgroup; resolve USER by reading `/etc/passwd` and
//!    `/etc/group` through `/proc/<pid>/root` with `openat2(RESOLVE_IN_ROOT)`; send uid, gid,
//!    groups and home to the child.
//! 4. Child: create the WORKDIR if missing (owned by the user), `chdir`, limit capabilities to
//!    docker's default set, `setgroups`/`setgid`/`setuid`, `execve` (looking the program up in
//!    the step's `PATH`).
//! 5. Parent: stream stdout/stderr lines to the callback, wait, detect OOM kills through the
//!    cgroup, remove the cgroup, and remove the mount points the child created from the upper
//!    dir (for `--mount` targets, those no layer had before the step: `target_stubs`). All mounts lived in the child's mount namespace, which died with it: nothing is
//!    ever mounted in rbuild's own namespace.

mod cgroup;
mod child;
mod env;
mod error;
mod mounts;
mod output;
mod plan;
mod setup;
mod signals;
mod spawn;
mod spec;
mod stubs;
mod target_stubs;
pub mod user;

#[cfg(test)]
mod tests;

use nix::sys::wait::WaitStatus;

pub use cgroup::{CgroupError, CgroupRoot, Limits};
pub use env::DEFAULT_PATH;
pub use error::RunError;
pub use mounts::StepMount;
pub use output::{OutputTail, Stream, TAIL_LINES};
pub use signals::{install_signal_handlers, interrupted};
pub use spec::{Network, RunSpec, StepCommand};
pub use user::{ExecUser, UserError};

use crate::snapshot::Rootfs;
use spawn::{Child, Status};

/// Runs `spec` in the active snapshot `rootfs`, calling `on_line` for every line the step
/// prints. `Ok` when the command exits with 0; otherwise the error carries the exit code or
/// signal (or says the memory limit killed it) and the last [`TAIL_LINES`] lines of output.
pub fn run_step(
    rootfs: &Rootfs,
    spec: &RunSpec,
    on_line: &mut dyn FnMut(Stream, &str),
) -> Result<(), RunError> {
    let hostname = spec.hostname.clone().unwrap_or_else(env::random_hostname);
    let mut plan = spec::child_plan(rootfs, spec, &hostname)?;
    let cgroup = match spec.limits.is_empty() {
        true => None,
        false => CgroupRoot::host()?.create(&spec.limits, &format!("rbuild-{hostname}"))?,
    };
    let before = stubs::before(&rootfs.upper);
    let targets: Vec<String> = spec
        .mounts
        .iter()
        .filter_map(|m| mounts::checked_target(m.target()).ok())
        .collect();
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    let target_stubs = target_stubs::before(&rootfs.upper, &rootfs.lowers, &targets);
    let (created, outcome) = supervise(&mut plan, spec, cgroup.as_ref(), on_line);
    let oom_kills = cgroup.as_ref().map_or(0, |cg| cg.oom_kills());
    if let Some(cg) = &cgroup {
        cg.remove();
    }
    stubs::cleanup(&rootfs.upper, &rootfs.lowers, created, before)?;
    target_stubs::cleanup(&rootfs.upper, &rootfs.lowers, &target_stubs)?;
    let (status, tail) = outcome?;
    judge(spec, status, tail, oom_kills)
}

/// Spawns the child and drives it to the end. Returns the created-stubs mask (also on error,
/// so the caller can clean up) and the wait status with the output tail.
fn supervise(
    plan: &mut child::ChildPlan,
    spec: &RunSpec,
    cgroup: Option<&cgroup::StepCgroup>,
    on_line: &mut dyn FnMut(Stream, &str),
) -> (u8, Result<(WaitStatus, OutputTail), RunError>) {
    let child = match spawn::spawn(plan, spec.network == Network::None) {
        Ok(child) => child,
        Err(e) => return (0, Err(e)),
    };
    let _registration = signals::register(child.pid.as_raw());
    let pid = child.pid;
    let (created, res) = drive(child, plan, spec, cgroup, on_line);
    if res.is_err() {
        spawn::kill(pid);
    }
    let status = spawn::wait(pid);
    (created, res.and_then(|tail| Ok((status?, tail))))
}

/// The protocol after the clone: setup report, cgroup, user, output, exec report.
fn drive(
    child: Child,
    plan: &child::ChildPlan,
    spec: &RunSpec,
    cgroup: Option<&cgroup::StepCgroup>,
    on_line: &mut dyn FnMut(Stream, &str),
) -> (u8, Result<OutputTail, RunError>) {
    let created = match spawn::read_status(&child.status) {
        Ok(Some(Status::Ready(mask))) => mask,
        Ok(other) => return (0, Err(status_error(other, plan, child.pid))),
        Err(e) => return (0, Err(e)),
    };
    let res = (|| {
        if let Some(cg) = cgroup {
            cg.add(child.pid.as_raw())?;
        }
        let root = std::path::PathBuf::from(format!("/proc/{}/root", child.pid));
        let user = user::resolve_in_root(&root, &spec.user)?;
        spawn::send_cred(child.cred, &user)?;
        let tail =
            output::pump(child.stdout, child.stderr, on_line).map_err(|source| RunError::Sys {
                call: "read step output",
                source,
            })?;
        match spawn::read_status(&child.status)? {
            None => Ok(tail),
            other => Err(status_error(other, plan, child.pid)),
        }
    })();
    (created, res)
}

/// The error for an unexpected status message (or none).
fn status_error(
    status: Option<Status>,
    plan: &child::ChildPlan,
    pid: nix::unistd::Pid,
) -> RunError {
    match status {
        Some(Status::SetupFailed(i, source)) => {
            let step = plan
                .ops
                .get(i)
                .map_or_else(|| format!("op {i}"), ToString::to_string);
            RunError::Setup { step, source }
        }
        Some(Status::StageFailed(i, source)) => RunError::Setup {
            step: child::Stage::from_index(i).to_string(),
            source,
        },
        Some(Status::ExecFailed(source)) => {
            let program = plan
                .argv
                .first()
                .map(|a| a.to_string_lossy().into_owned())
                .unwrap_or_default();
            RunError::Exec { program, source }
        }
        Some(Status::Ready(_)) | None => RunError::ChildVanished { pid: pid.as_raw() },
    }
}

/// Turns the wait status into the step's result.
fn judge(
    spec: &RunSpec,
    status: WaitStatus,
    tail: OutputTail,
    oom_kills: u64,
) -> Result<(), RunError> {
    let command = spec.argv().join(" ");
    if let WaitStatus::Exited(_, 0) = status {
        return Ok(());
    }
    if let Some(signal) = interrupted() {
        return Err(RunError::Interrupted { signal });
    }
    if let (true, Some(limit)) = (oom_kills > 0, spec.limits.memory) {
        return Err(RunError::OutOfMemory {
            command,
            limit,
            tail,
        });
    }
    match status {
        WaitStatus::Signaled(_, sig, _) => Err(RunError::Signal {
            command,
            signal: sig as i32,
            tail,
        }),
        WaitStatus::Exited(_, code) => Err(RunError::ExitCode {
            command,
            code,
            tail,
        }),
        _ => Err(RunError::ChildVanished { pid: 0 }),
    }
}

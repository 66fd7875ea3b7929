//! [`RunError`]: why a RUN step did not complete.

use std::path::PathBuf;

use super::cgroup::CgroupError;
use super::output::OutputTail;
use super::user::UserError;
use crate::sys::Errno;

/// Errors from running a step. The failure variants carry the command and the output tail;
/// their message is what the build prints.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The command ran and exited with a non-zero code.
    #[error("process {command:?} did not complete successfully: exit code: {code}{tail}")]
    ExitCode {
        /// The command line.
        command: String,
        /// The exit code.
        code: i32,
        /// The last lines of output.
        tail: OutputTail,
    },
    /// The command was killed by a signal.
    #[error("process {command:?} did not complete successfully: killed by signal {signal}{tail}")]
    Signal {
        /// The command line.
        command: String,
        /// The signal number.
        signal: i32,
        /// The last lines of output.
        tail: OutputTail,
    },
    /// The kernel's OOM killer killed a process of the step.
    #[error("process {command:?} ran out of memory: the {limit}-byte memory limit was exceeded and the kernel killed it (OOM){tail}")]
    OutOfMemory {
        /// The command line.
        command: String,
        /// The memory limit in bytes.
        limit: u64,
        /// The last lines of output.
        tail: OutputTail,
    },
    /// The program could not be executed (not found, not executable).
    #[error("cannot execute {program:?} in the rootfs: {source}")]
    Exec {
        /// The program (argv[0]).
        program: String,
        /// The errno of the last attempt.
        source: Errno,
    },
    /// Setting up the step's namespaces or file systems failed.
    #[error("setting up the step failed at {step}: {source}")]
    Setup {
        /// The setup step, e.g. `mount proc on /proc`.
        step: String,
        /// The errno.
        source: Errno,
    },
    /// A system call of the parent (clone, pipe, wait) failed.
    #[error("{call} failed: {source}")]
    Sys {
        /// The call.
        call: &'static str,
        /// The errno.
        source: Errno,
    },
    /// The step's process died before telling the parent how setup went.
    #[error("the step process {pid} exited during setup")]
    ChildVanished {
        /// Its pid.
        pid: i32,
    },
    /// USER could not be resolved.
    #[error(transparent)]
    User(#[from] UserError),
    /// The cgroup for the limits could not be set up.
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    /// A spec field cannot be passed to the kernel (a NUL byte, too many entries).
    #[error("invalid {field}: {value:?}")]
    InvalidSpec {
        /// Which field.
        field: &'static str,
        /// The offending value.
        value: String,
    },
    /// Removing a placeholder mount point from the upper dir failed.
    #[error("cleaning up {path}: {source}")]
    Cleanup {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The build was interrupted by a signal; the step was killed.
    #[error("interrupted by signal {signal}")]
    Interrupted {
        /// The signal number.
        signal: i32,
    },
}

//! Ctrl-C and `kill`: while steps run, SIGINT/SIGTERM/SIGHUP kill every running step's pid
//! namespace (SIGKILL to its pid 1 takes the whole namespace down), and the step returns
//! [`super::RunError::Interrupted`] so the caller can clean up and exit. With no step running,
//! the signal's default action ends the process as usual.

use std::sync::atomic::{AtomicI32, Ordering};

/// How many steps can run at once (parallel stages); more just are not signal-tracked.
const SLOTS: usize = 64;

/// Pids of running steps (0 = free slot).
static RUNNING: [AtomicI32; SLOTS] = [const { AtomicI32::new(0) }; SLOTS];
/// The signal that interrupted the build, 0 if none.
static INTERRUPTED: AtomicI32 = AtomicI32::new(0);

/// Installs the SIGINT, SIGTERM and SIGHUP handlers. Call once from the binary's `main`.
pub fn install_signal_handlers() -> std::io::Result<()> {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: `handler` only makes async-signal-safe calls (atomics, kill, signal, raise).
        let prev = unsafe { libc::signal(sig, handler as *const () as libc::sighandler_t) };
        if prev == libc::SIG_ERR {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The signal that interrupted the build, if one did.
pub fn interrupted() -> Option<i32> {
    match INTERRUPTED.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(sig),
    }
}

/// The signal handler.
extern "C" fn handler(sig: libc::c_int) {
    let first = INTERRUPTED.swap(sig, Ordering::SeqCst) == 0;
    let killed = kill_all();
    if !first || killed == 0 {
        // SAFETY: restoring the default action and re-raising are async-signal-safe.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    }
}

/// SIGKILLs every registered step; returns how many there were.
fn kill_all() -> usize {
    let mut n = 0;
    for slot in &RUNNING {
        let pid = slot.load(Ordering::SeqCst);
        if pid > 0 {
            // SAFETY: kill(2) is async-signal-safe.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            n += 1;
        }
    }
    n
}

/// A registered running step; unregisters on drop.
#[derive(Debug)]
pub(crate) struct Registration {
    slot: Option<usize>,
}

/// Registers `pid` so a signal kills it.
pub(crate) fn register(pid: i32) -> Registration {
    let slot = RUNNING.iter().position(|s| {
        s.compare_exchange(0, pid, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    });
    Registration { slot }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(i) = self.slot {
            RUNNING[i].store(0, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_takes_and_frees_a_slot() {
        let pid = i32::MAX - 7;
        let count = || {
            RUNNING
                .iter()
                .filter(|s| s.load(Ordering::SeqCst) == pid)
                .count()
        };
        let reg = register(pid);
        assert_eq!(count(), 1);
        drop(reg);
        assert_eq!(count(), 0);
    }
}

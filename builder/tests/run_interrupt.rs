//! Ctrl-C during a RUN step kills the step's pid namespace and the step reports the
//! interruption. A test binary of its own: the handler acts on the whole process.

use std::path::Path;
use std::time::{Duration, Instant};

use rbuild_builder::run::{
    install_signal_handlers, interrupted, run_step, RunError, RunSpec, StepCommand,
};
use rbuild_builder::snapshot::Snapshotter;

#[test]
fn sigint_kills_the_running_step() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || !Path::new("/bin/busybox").exists() {
        eprintln!("skipped: needs root and /bin/busybox");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("bb");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/busybox/make-rootfs.sh");
    let made = std::process::Command::new("bash")
        .arg(script)
        .arg(&out)
        .output()
        .expect("make-rootfs");
    assert!(made.status.success());
    let snaps = Snapshotter::open(&dir.path().join("store")).expect("open");
    snaps
        .create_committed_from("base", None, |fs| std::fs::rename(out.join("rootfs"), fs))
        .expect("base");
    snaps.prepare("k", Some("base")).expect("prepare");
    let rootfs = snaps.rootfs("k").expect("rootfs");
    install_signal_handlers().expect("handlers");
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(1500));
        // SAFETY: sending a signal to ourselves.
        unsafe { libc::kill(libc::getpid(), libc::SIGINT) };
    });
    let start = Instant::now();
    let spec = RunSpec::new(StepCommand::Shell("echo started; sleep 60".into()));
    let err = run_step(&rootfs, &spec, &mut |_, _| {}).expect_err("interrupted");
    assert!(
        matches!(
            err,
            RunError::Interrupted {
                signal: libc::SIGINT
            }
        ),
        "{err}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "the step was not killed"
    );
    assert_eq!(interrupted(), Some(libc::SIGINT));
    let mounts = std::fs::read_to_string("/proc/mounts").expect("mounts");
    assert!(!mounts.contains(&dir.path().display().to_string()));
}

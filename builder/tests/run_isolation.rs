//! Root-only integration tests of RUN steps: real overlay snapshots of a busybox rootfs,
//! real namespaces, cgroups and mounts. Each test skips with a printed reason when it cannot
//! run here (not root, no overlayfs, no busybox).

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rbuild_builder::run::{
    run_step, Limits, Network, RunError, RunSpec, StepCommand, DEFAULT_PATH,
};
use rbuild_builder::snapshot::Snapshotter;

/// A store root with a committed busybox base snapshot named `base`.
struct Fixture {
    dir: tempfile::TempDir,
    snaps: Snapshotter,
}

/// Why this machine cannot run the tests, if it cannot.
fn skip_reason() -> Option<&'static str> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root");
    }
    let fs = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    if !fs.lines().any(|l| l.ends_with("\toverlay")) {
        return Some("overlayfs is not available");
    }
    if !Path::new("/bin/busybox").exists() {
        return Some("/bin/busybox missing (apt-get install busybox-static)");
    }
    None
}

macro_rules! fixture {
    () => {
        match skip_reason() {
            Some(why) => {
                eprintln!("skipped: {why}");
                return;
            }
            None => Fixture::new(),
        }
    };
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/busybox/make-rootfs.sh");
        let out = dir.path().join("bb");
        let status = std::process::Command::new("bash")
            .arg(&script)
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .status();
        assert!(status.expect("run make-rootfs.sh").success());
        let snaps = Snapshotter::open(&dir.path().join("store")).expect("open snapshotter");
        snaps
            .create_committed_from("base", None, |fs| std::fs::rename(out.join("rootfs"), fs))
            .expect("base snapshot");
        Fixture { dir, snaps }
    }

    /// Runs `spec` on a fresh active snapshot of `parent`; returns the result, the output
    /// lines and the upper dir.
    fn run_on(&self, parent: &str, spec: &RunSpec) -> (Result<(), RunError>, Vec<String>, PathBuf) {
        let key = format!("step-{}", rand_key());
        self.snaps.prepare(&key, Some(parent)).expect("prepare");
        let rootfs = self.snaps.rootfs(&key).expect("rootfs");
        let mut lines = Vec::new();
        let res = run_step(&rootfs, spec, &mut |_, l| lines.push(l.to_string()));
        assert_no_mounts_under(self.dir.path());
        (res, lines, rootfs.upper)
    }

    fn run(&self, spec: &RunSpec) -> (Result<(), RunError>, Vec<String>, PathBuf) {
        self.run_on("base", spec)
    }
}

fn rand_key() -> String {
    format!("{:?}", Instant::now()).replace(|c: char| !c.is_ascii_alphanumeric(), "")
}

fn sh(line: &str) -> RunSpec {
    RunSpec::new(StepCommand::Shell(line.to_string()))
}

/// No mount anywhere under the fixture's directory is left in the host's mount table.
fn assert_no_mounts_under(dir: &Path) {
    let mounts = std::fs::read_to_string("/proc/mounts").expect("read /proc/mounts");
    let dir = dir.display().to_string();
    assert!(!mounts.contains(&dir), "mounts left under {dir}:\n{mounts}");
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .map(|e| {
            e.expect("walk")
                .path()
                .strip_prefix(dir)
                .expect("prefix")
                .display()
                .to_string()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn writes_land_in_the_upper_dir_and_nothing_else_does() {
    let f = fixture!();
    let (res, _, upper) = f.run(&sh("true"));
    res.expect("RUN true");
    assert_eq!(
        entries(&upper),
        Vec::<String>::new(),
        "RUN true must leave the upper dir empty"
    );
    let (res, _, upper) = f.run(&sh(
        "echo hi > /x && cat /etc/hosts /etc/resolv.conf >/dev/null",
    ));
    res.expect("RUN echo");
    assert_eq!(entries(&upper), ["x"]);
    assert_eq!(
        std::fs::read_to_string(upper.join("x")).expect("read"),
        "hi\n"
    );
}

#[test]
fn deleting_a_base_file_makes_a_whiteout() {
    let f = fixture!();
    let (res, _, upper) = f.run(&sh("rm /bin/ls"));
    res.expect("RUN rm");
    let meta = std::fs::symlink_metadata(upper.join("bin/ls")).expect("whiteout");
    assert!(
        meta.file_type().is_char_device() && meta.rdev() == 0,
        "{meta:?}"
    );
}

#[test]
fn the_step_is_pid_1_and_sees_only_its_own_processes() {
    let f = fixture!();
    let (res, lines, _) = f.run(&sh("echo pid=$$; ps -o pid,args; true"));
    res.expect("RUN ps");
    assert_eq!(lines[0], "pid=1");
    let pids: Vec<&str> = lines[2..]
        .iter()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(pids.len(), 2, "only the shell and ps: {lines:?}");
    assert_eq!(pids[0], "1");
}

#[test]
fn hostname_is_private_and_proc_sys_is_read_only() {
    let f = fixture!();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    let script = "hostname; if echo 1 > /proc/sys/vm/drop_caches; then echo WROTE; fi; \
                  mount -o remount,rw /proc/sys 2>/dev/null && echo REMOUNTED; grep -c . /etc/hosts";
    let (res, lines, _) = f.run(&sh(script));
    res.expect("RUN");
    // stdout and stderr are separate pipes: their relative order is not fixed.
    let name = lines
        .iter()
        .find(|l| l.len() == 12 && l.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(name.is_some_and(|n| n != host.trim()), "{lines:?}");
    assert!(
        lines.iter().any(|l| l.contains("Read-only file system")),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l == "WROTE" || l == "REMOUNTED"),
        "{lines:?}"
    );
}

#[test]
fn network_none_has_only_loopback_and_it_is_up() {
    let f = fixture!();
    let spec = RunSpec {
        network: Network::None,
        ..sh("cat /proc/net/dev; ip link show lo")
    };
    let (res, lines, _) = f.run(&spec);
    res.expect("RUN");
    let ifaces: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.split_once(':'))
        .map(|(n, _)| n.trim())
        .filter(|n| !n.contains(' ') && !n.contains('|'))
        .collect();
    assert!(ifaces.starts_with(&["lo"]), "{lines:?}");
    assert!(
        !lines.iter().any(|l| l.trim_start().starts_with("eth")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("lo:") && l.contains("UP")),
        "{lines:?}"
    );
}

#[test]
fn a_memory_hog_is_killed_and_the_error_says_so() {
    let f = fixture!();
    let spec = RunSpec {
        limits: Limits {
            memory: Some(32 << 20),
            cpus: Some(1.0),
        },
        ..sh("echo start; head -c 100m /dev/zero | tail -c 90m > /dev/null")
    };
    let (res, _, _) = f.run(&spec);
    let err = res.expect_err("the hog must fail");
    assert!(
        matches!(
            err,
            RunError::OutOfMemory {
                limit: 33554432,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("memory limit") && err.to_string().contains("start"),
        "{err}"
    );
    let (res, _, _) = f.run(&RunSpec {
        limits: Limits {
            memory: Some(64 << 20),
            cpus: Some(0.5),
        },
        ..sh("echo small")
    });
    res.expect("a small step fits in the limit");
}

#[test]
fn user_names_uids_and_groups_resolve_in_the_image() {
    let f = fixture!();
    let spec = RunSpec {
        user: "nobody".into(),
        ..sh("id -u; id -g; echo $HOME; echo $PATH")
    };
    let (res, lines, _) = f.run(&spec);
    res.expect("RUN as nobody");
    assert_eq!(lines, ["65534", "65534", "/nonexistent", DEFAULT_PATH]);
    let (res, lines, _) = f.run(&RunSpec {
        user: "4321".into(),
        ..sh("id -u; id -g")
    });
    res.expect("numeric uid");
    assert_eq!(lines, ["4321", "0"]);
    let (res, _, _) = f.run(&RunSpec {
        user: "ghost".into(),
        ..sh("true")
    });
    let err = res.expect_err("unknown user");
    assert!(
        err.to_string().contains("unable to find user ghost"),
        "{err}"
    );
}

#[test]
fn workdir_is_created_owned_by_the_user() {
    let f = fixture!();
    let spec = RunSpec {
        user: "nobody".into(),
        workdir: "/app/src".into(),
        ..sh("pwd")
    };
    let (res, lines, upper) = f.run(&spec);
    res.expect("RUN");
    assert_eq!(lines, ["/app/src"]);
    let meta = std::fs::metadata(upper.join("app/src")).expect("workdir in upper");
    assert_eq!((meta.uid(), meta.gid()), (65534, 65534));
}

#[test]
fn failures_carry_the_exit_code_and_output_tail() {
    let f = fixture!();
    let (res, _, _) = f.run(&sh("for i in $(seq 1 30); do echo line $i; done; exit 3"));
    let err = res.expect_err("exit 3");
    match &err {
        RunError::ExitCode { code, tail, .. } => {
            assert_eq!(*code, 3);
            assert_eq!(tail.0.len(), 20);
            assert_eq!(tail.0.last().map(String::as_str), Some("line 30"));
        }
        other => panic!("unexpected {other}"),
    }
    assert!(err.to_string().contains("exit code: 3"), "{err}");
    let (res, _, _) = f.run(&RunSpec::new(StepCommand::Exec(vec![
        "nonexistent-tool".into()
    ])));
    assert!(matches!(res, Err(RunError::Exec { .. })), "{res:?}");
    // pid 1 ignores signals from inside its namespace; a killed child shows as 128 + 9.
    let (res, _, _) = f.run(&sh("sh -c 'kill -9 $$'; exit $?"));
    assert!(
        matches!(res, Err(RunError::ExitCode { code: 137, .. })),
        "{res:?}"
    );
}

#[test]
fn exec_form_and_heredoc_scripts() {
    let f = fixture!();
    let (res, lines, _) = f.run(&RunSpec::new(StepCommand::Exec(vec![
        "echo".into(),
        "a  b".into(),
    ])));
    res.expect("exec form");
    assert_eq!(lines, ["a  b"]);
    let script = StepCommand::lone_heredoc("EOF", "#!/bin/sh\necho from $0\n");
    let (res, lines, upper) = f.run(&RunSpec::new(script));
    res.expect("heredoc");
    assert_eq!(lines, ["from /dev/pipes/EOF"]);
    assert!(entries(&upper).is_empty());
}

#[test]
fn background_processes_die_with_the_step() {
    let f = fixture!();
    let start = Instant::now();
    let (res, lines, _) = f.run(&sh("sleep 1234 & echo started"));
    res.expect("RUN");
    assert_eq!(lines, ["started"]);
    assert!(start.elapsed() < Duration::from_secs(20));
    let stray = std::fs::read_dir("/proc")
        .expect("proc")
        .filter_map(|e| e.ok())
        .any(|e| {
            std::fs::read(e.path().join("cmdline")).is_ok_and(|c| c.starts_with(b"sleep\x001234"))
        });
    assert!(!stray, "the backgrounded sleep outlived its step");
}

#[test]
fn a_chain_of_150_layers_mounts() {
    let f = fixture!();
    let mut parent = "base".to_string();
    for i in 0..150 {
        let name = format!("layer{i}");
        f.snaps
            .create_committed_from(&name, Some(&parent), |fs| {
                std::fs::write(fs.join(format!("l{i}")), format!("{i}\n"))
            })
            .expect("layer");
        parent = name;
    }
    let (res, lines, _) = f.run_on(&parent, &sh("cat /l0 /l75 /l149; ls /l* | wc -l"));
    res.expect("RUN on 150 layers");
    assert_eq!(lines, ["0", "75", "149", "150"]);
}

#[test]
fn a_long_chain_also_mounts_on_the_host_side_and_unmounts() {
    let f = fixture!();
    let mut parent = "base".to_string();
    for i in 0..150 {
        let name = format!("h{i}");
        f.snaps
            .create_committed_from(&name, Some(&parent), |fs| {
                std::fs::write(fs.join(format!("h{i}")), "x")
            })
            .expect("layer");
        parent = name;
    }
    let mounts = f
        .snaps
        .prepare("copy-step", Some(&parent))
        .expect("prepare");
    assert!(
        mounts[0].cwd.is_some(),
        "150 absolute lower dirs do not fit one page: {:?}",
        mounts[0].data().len()
    );
    let rootfs = f.snaps.rootfs("copy-step").expect("rootfs");
    let ops = rbuild_builder::sys::RealOps;
    let guard = rbuild_builder::snapshot::mount_all(&ops, &rootfs.mounts, &rootfs.mountpoint)
        .expect("mount");
    std::fs::write(rootfs.mountpoint.join("copied"), "c").expect("write through the overlay");
    assert!(
        rootfs.mountpoint.join("h0").exists() && rootfs.mountpoint.join("bin/busybox").exists()
    );
    guard.unmount().expect("unmount");
    assert_no_mounts_under(f.dir.path());
    assert_eq!(
        std::fs::read_to_string(rootfs.upper.join("copied")).expect("upper"),
        "c"
    );
    f.snaps
        .remove("copy-step")
        .expect("remove the active snapshot");
}

#[test]
fn a_broken_snapshot_fails_setup_with_a_clear_error() {
    let f = fixture!();
    f.snaps.prepare("broken", Some("base")).expect("prepare");
    let rootfs = f.snaps.rootfs("broken").expect("rootfs");
    std::fs::remove_dir(rootfs.upper.with_file_name("work")).expect("remove work dir");
    let err = run_step(&rootfs, &sh("true"), &mut |_, _| {}).expect_err("overlay cannot mount");
    assert!(
        matches!(err, RunError::Setup { .. }) && err.to_string().contains("mount overlay on"),
        "{err}"
    );
    assert_no_mounts_under(f.dir.path());
}

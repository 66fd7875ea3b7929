//! The child's setup list, executed against the recording fake: what gets mounted where, in
//! which order, and which mount points count as created.

use std::path::PathBuf;

use super::plan::{execute, stub, StubState};
use super::setup::{setup_ops, SetupInput};
use crate::snapshot::{Mount, Rootfs};
use crate::sys::{Errno, FileKind, RecordingOps};

fn rootfs(cwd: Option<&str>) -> Rootfs {
    Rootfs {
        mounts: vec![Mount {
            fstype: "overlay".into(),
            source: "overlay".into(),
            options: vec![
                "lowerdir=a:b".into(),
                "upperdir=/s/1/fs".into(),
                "workdir=/s/1/work".into(),
            ],
            cwd: cwd.map(PathBuf::from),
        }],
        mountpoint: "/s/1/mnt".into(),
        upper: "/s/1/fs".into(),
        lowers: vec![],
    }
}

fn input(rootfs: &Rootfs, net: bool) -> SetupInput<'_> {
    SetupInput {
        rootfs,
        hostname: "abc123",
        hosts: b"127.0.0.1 localhost\n".to_vec(),
        resolv: None,
        isolated_net: net,
        script: None,
        mounts: &[],
    }
}

/// A fake image with /proc, /dev, /sys and /etc but no /etc/hosts.
fn image() -> RecordingOps {
    ["/proc", "/dev", "/sys", "/etc"]
        .iter()
        .fold(RecordingOps::new(), |ops, p| {
            ops.with_path(p, FileKind::Dir)
        })
}

fn position(calls: &[String], prefix: &str) -> usize {
    calls
        .iter()
        .position(|c| c.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} in {calls:#?}"))
}

#[test]
fn overlay_is_mounted_then_pivoted_before_anything_else() {
    let rootfs = rootfs(None);
    let ops = image();
    let mut state = StubState::default();
    execute(
        &ops,
        &setup_ops(&input(&rootfs, false)).expect("ops"),
        &mut state,
    )
    .expect("execute");
    let calls = ops.calls();
    assert!(
        calls[0].starts_with("mount none on / type none"),
        "{}",
        calls[0]
    );
    assert_eq!(calls[1], "mount overlay on /s/1/mnt type overlay flags=0x0 data=lowerdir=a:b,upperdir=/s/1/fs,workdir=/s/1/work");
    assert_eq!(
        &calls[2..5],
        ["chdir /s/1/mnt", "pivot_root . .", "umount . flags=0x2"]
    );
    let pivot = position(&calls, "pivot_root");
    for later in [
        "mount proc on /proc",
        "mount sysfs on /sys",
        "mount devpts on /dev/pts",
        "mount /dev/hosts on /etc/hosts",
    ] {
        assert!(
            position(&calls, later) > pivot,
            "{later} must come after the pivot"
        );
    }
    assert!(calls.iter().any(|c| c == "mknod /dev/null 666 c 1 3"));
    assert!(calls.iter().any(|c| c == "sethostname abc123"));
    assert!(!calls.iter().any(|c| c == "loopback_up"));
}

#[test]
fn missing_mount_points_are_created_and_reported() {
    let rootfs = rootfs(None);
    let ops = RecordingOps::new().with_path("/etc", FileKind::Dir);
    let mut state = StubState::default();
    execute(
        &ops,
        &setup_ops(&input(&rootfs, true)).expect("ops"),
        &mut state,
    )
    .expect("execute");
    let want = (1 << stub::PROC) | (1 << stub::DEV) | (1 << stub::SYS) | (1 << stub::HOSTS);
    assert_eq!(state.created, want);
    assert!(ops.calls().iter().any(|c| c == "loopback_up"));
}

#[test]
fn a_file_where_etc_should_be_skips_the_hosts_bind() {
    let rootfs = rootfs(None);
    let ops = image().with_path("/etc", FileKind::File);
    let mut state = StubState::default();
    execute(
        &ops,
        &setup_ops(&input(&rootfs, false)).expect("ops"),
        &mut state,
    )
    .expect("execute");
    assert_eq!(state.created, 0);
    assert!(
        !ops.calls().iter().any(|c| c.contains("on /etc/hosts")),
        "{:#?}",
        ops.calls()
    );
}

#[test]
fn relative_lower_dirs_mount_from_the_link_dir() {
    let rootfs = rootfs(Some("/s/l"));
    let ops = image();
    let mut state = StubState::default();
    execute(
        &ops,
        &setup_ops(&input(&rootfs, false)).expect("ops"),
        &mut state,
    )
    .expect("execute");
    let calls = ops.calls();
    assert_eq!(calls[1], "chdir /s/l");
    assert!(calls[2].starts_with("mount overlay on /s/1/mnt"));
}

#[test]
fn a_failing_op_is_reported_by_index_and_stops_setup() {
    let rootfs = rootfs(None);
    let list = setup_ops(&input(&rootfs, false)).expect("ops");
    let ops = image().fail_on("mount proc", Errno::EPERM);
    let mut state = StubState::default();
    let (i, errno) = execute(&ops, &list, &mut state).expect_err("must fail");
    assert_eq!(
        (list[i].to_string().as_str(), errno),
        ("mount proc on /proc", Errno::EPERM)
    );
    assert!(!ops.calls().iter().any(|c| c.contains("sysfs")));
}

#[test]
fn heredoc_scripts_land_in_dev_pipes() {
    let rootfs = rootfs(None);
    let mut inp = input(&rootfs, false);
    inp.script = Some(("EOF", b"#!/bin/sh\necho hi\n"));
    let ops = image();
    execute(
        &ops,
        &setup_ops(&inp).expect("ops"),
        &mut StubState::default(),
    )
    .expect("execute");
    let calls = ops.calls();
    assert!(
        position(&calls, "write /dev/pipes/EOF 755")
            > position(&calls, "mount tmpfs on /dev type tmpfs flags=0x1000002")
    );
}

//! Builds the child's setup [`Op`] list: private propagation, the snapshot's overlay, the
//! `pivot_root`, then `/proc`, `/etc/hosts` + `/etc/resolv.conf`, `/dev`, `/sys`, hostname and
//! loopback, all mounted *after* the pivot so every path resolves inside the new root (an
//! absolute symlink in the image cannot point a mount at the host).

use std::ffi::CString;

use super::mounts::{mount_ops, StepMount};
use super::plan::{stub, Op};
use super::RunError;
use crate::snapshot::Rootfs;
use crate::sys::MsFlags;

/// Everything the setup list depends on besides the rootfs.
#[derive(Debug, Clone)]
pub(crate) struct SetupInput<'a> {
    /// The snapshot's mounts and mount point.
    pub rootfs: &'a Rootfs,
    /// The step's hostname.
    pub hostname: &'a str,
    /// Contents of the generated `/etc/hosts`.
    pub hosts: Vec<u8>,
    /// Contents of the host's `/etc/resolv.conf`, if it has one.
    pub resolv: Option<Vec<u8>>,
    /// Whether the step has its own network namespace (loopback only).
    pub isolated_net: bool,
    /// A heredoc script to place at `/dev/pipes/<name>`.
    pub script: Option<(&'a str, &'a [u8])>,
    /// The step's `--mount`s.
    pub mounts: &'a [StepMount],
}

/// A C string, or an `InvalidSpec` error naming the field when it holds a NUL byte.
pub(crate) fn c(field: &'static str, value: impl Into<Vec<u8>>) -> Result<CString, RunError> {
    CString::new(value).map_err(|e| RunError::InvalidSpec {
        field,
        value: String::from_utf8_lossy(&e.into_vec()).into_owned(),
    })
}

/// The whole setup list.
pub(crate) fn setup_ops(input: &SetupInput<'_>) -> Result<Vec<Op>, RunError> {
    let mounts = mount_ops(input.mounts)?;
    let mut ops = rootfs_ops(input.rootfs, mounts.before_pivot)?;
    ops.extend(proc_ops());
    ops.extend(etc_ops(input, mounts.scratch, mounts.scratch_bytes));
    ops.extend(dev_ops(input.script)?);
    ops.extend(sys_ops());
    ops.push(Op::SetHostname(c("hostname", input.hostname)?));
    if input.isolated_net {
        ops.push(Op::LoopbackUp);
    }
    ops.extend(mounts.last);
    Ok(ops)
}

/// An `Op::Mount` without guard.
fn mount(source: &str, target: &str, fstype: &str, flags: MsFlags, data: Option<&str>) -> Op {
    Op::Mount {
        source: lit(source),
        target: lit(target),
        fstype: lit(fstype),
        flags,
        data: data.map(lit),
        guard: None,
        optional: false,
    }
}

/// A C string from a literal known to have no NUL byte.
fn lit(s: &str) -> CString {
    CString::new(s).unwrap_or_default()
}

/// Private propagation, the snapshot mounts, `before_pivot` (host trees to open), the pivot.
fn rootfs_ops(rootfs: &Rootfs, before_pivot: Vec<Op>) -> Result<Vec<Op>, RunError> {
    let mountpoint = c(
        "mountpoint",
        rootfs.mountpoint.as_os_str().as_encoded_bytes(),
    )?;
    let mut ops = vec![mount(
        "none",
        "/",
        "none",
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None,
    )];
    for m in &rootfs.mounts {
        if let Some(cwd) = &m.cwd {
            ops.push(Op::Chdir(c(
                "mount cwd",
                cwd.as_os_str().as_encoded_bytes(),
            )?));
        }
        let flags = if m.read_only() {
            MsFlags::MS_RDONLY
        } else {
            MsFlags::empty()
        };
        ops.push(Op::Mount {
            source: c("mount source", m.source.as_str())?,
            target: mountpoint.clone(),
            fstype: c("mount type", m.fstype.as_str())?,
            flags,
            data: Some(c("mount options", m.data())?),
            guard: None,
            optional: false,
        });
    }
    ops.extend(before_pivot);
    ops.push(Op::Chdir(mountpoint));
    ops.extend([Op::PivotRoot, Op::Detach(lit(".")), Op::Chdir(lit("/"))]);
    Ok(ops)
}

/// `/proc`, with the kernel-tuning parts read-only.
fn proc_ops() -> Vec<Op> {
    let nosuid = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let mut ops = vec![
        stub_op("/proc", true, stub::PROC, None),
        mount("proc", "/proc", "proc", nosuid, None),
    ];
    for p in ["/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"] {
        ops.push(Op::ReadOnlyBind {
            source: lit(p),
            target: lit(p),
            guard: None,
            optional: true,
        });
    }
    ops
}

/// A stub op.
fn stub_op(path: &str, dir: bool, bit: u8, guard: Option<u8>) -> Op {
    Op::Stub {
        path: lit(path),
        dir,
        bit,
        guard,
    }
}

/// `/etc/hosts` and `/etc/resolv.conf`: written into a scratch tmpfs on `/dev`, bound
/// read-only onto their places, after which the scratch tmpfs is detached (the binds keep it).
/// `secrets` (their ops and bytes) use the same tmpfs.
fn etc_ops(input: &SetupInput<'_>, secrets: Vec<Op>, secret_bytes: u64) -> Vec<Op> {
    let scratch = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let size = format!("mode=755,size={}k", 1024 + secret_bytes.div_ceil(1024) + 4);
    let mut ops = vec![
        stub_op("/dev", true, stub::DEV, None),
        mount("tmpfs", "/dev", "tmpfs", scratch, Some(&size)),
        Op::WriteFile {
            path: lit("/dev/hosts"),
            data: input.hosts.clone(),
            mode: 0o644,
        },
        stub_op("/etc", true, stub::ETC, None),
        stub_op("/etc/hosts", false, stub::HOSTS, Some(stub::ETC)),
        bind_ro("/dev/hosts", "/etc/hosts", stub::HOSTS),
    ];
    if let Some(resolv) = &input.resolv {
        ops.push(Op::WriteFile {
            path: lit("/dev/resolv.conf"),
            data: resolv.clone(),
            mode: 0o644,
        });
        ops.push(stub_op(
            "/etc/resolv.conf",
            false,
            stub::RESOLV,
            Some(stub::ETC),
        ));
        ops.push(bind_ro(
            "/dev/resolv.conf",
            "/etc/resolv.conf",
            stub::RESOLV,
        ));
    }
    ops.extend(secrets);
    ops.push(Op::Detach(lit("/dev")));
    ops
}

/// An optional read-only bind guarded by a stub.
fn bind_ro(source: &str, target: &str, guard: u8) -> Op {
    Op::ReadOnlyBind {
        source: lit(source),
        target: lit(target),
        guard: Some(guard),
        optional: true,
    }
}

/// Character devices of the minimal `/dev`: name, major, minor.
const DEVICES: [(&str, u32, u32); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// Symlinks of the minimal `/dev`: name, target.
const LINKS: [(&str, &str); 5] = [
    ("ptmx", "pts/ptmx"),
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];

/// A minimal `/dev`: device nodes, a private devpts, `/dev/shm`, the fd links, and the heredoc
/// script under `/dev/pipes` (BuildKit's place for it).
fn dev_ops(script: Option<(&str, &[u8])>) -> Result<Vec<Op>, RunError> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME;
    let mut ops = vec![mount(
        "tmpfs",
        "/dev",
        "tmpfs",
        flags,
        Some("mode=755,size=65536k"),
    )];
    for (name, major, minor) in DEVICES {
        let path = lit(&format!("/dev/{name}"));
        ops.push(Op::Mknod {
            path,
            mode: 0o666,
            major,
            minor,
        });
    }
    ops.extend(pts_and_shm_ops());
    for (link, target) in LINKS {
        ops.push(Op::Symlink {
            target: lit(target),
            link: lit(&format!("/dev/{link}")),
        });
    }
    if let Some((name, body)) = script {
        ops.push(Op::Mkdir {
            path: lit("/dev/pipes"),
            mode: 0o755,
        });
        let path = c("heredoc name", format!("/dev/pipes/{name}"))?;
        ops.push(Op::WriteFile {
            path,
            data: body.to_vec(),
            mode: 0o755,
        });
    }
    Ok(ops)
}

/// `/dev/pts` (a new devpts instance, so the step sees only its own ptys) and `/dev/shm`.
fn pts_and_shm_ops() -> Vec<Op> {
    let noexec = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    let pts_opts = "newinstance,ptmxmode=0666,mode=0620,gid=5";
    let shm_opts = "mode=1777,size=65536k";
    vec![
        Op::Mkdir {
            path: lit("/dev/pts"),
            mode: 0o755,
        },
        mount("devpts", "/dev/pts", "devpts", noexec, Some(pts_opts)),
        Op::Mkdir {
            path: lit("/dev/shm"),
            mode: 0o1777,
        },
        mount(
            "shm",
            "/dev/shm",
            "tmpfs",
            noexec | MsFlags::MS_NODEV,
            Some(shm_opts),
        ),
    ]
}

/// `/sys`, read-only.
fn sys_ops() -> Vec<Op> {
    let flags = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    vec![
        stub_op("/sys", true, stub::SYS, None),
        mount("sysfs", "/sys", "sysfs", flags, None),
    ]
}

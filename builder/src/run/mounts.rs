//! The mounts of `RUN --mount`, as the runner sees them ([`StepMount`]: host paths and
//! bytes the build has already prepared), and the setup ops that place them.
//!
//! Host directories (a copy of the context, a cache dir, another stage's rootfs) are opened
//! as detached mount trees *before* the pivot, resolved inside their own root
//! (`openat2(RESOLVE_IN_ROOT)`), and attached on their targets *after* it, when every target
//! path resolves inside the step's rootfs: neither a symlink in the source nor one in the
//! image can point a mount at the host. Secrets are written into the scratch tmpfs that also
//! holds `/etc/hosts`, so they never touch a disk.

use std::path::PathBuf;

use super::plan::{Op, MAX_TREES};
use super::setup::c;
use super::spec::workdir_prefixes;
use super::RunError;
use crate::sys::MsFlags;

/// One `RUN --mount`, resolved by the build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepMount {
    /// `source` (a path inside `root`, resolved as if `root` were `/`) bound on `target`.
    Bind {
        /// The host directory the source lives in.
        root: PathBuf,
        /// The path inside `root` (`/` for all of it).
        source: String,
        /// The absolute path inside the step's rootfs.
        target: String,
        /// Read-only (else writes go to `root` itself).
        read_only: bool,
    },
    /// A fresh tmpfs on `target`.
    Tmpfs {
        /// The absolute path inside the step's rootfs.
        target: String,
        /// The size limit in bytes (the kernel's default, half the RAM, when `None`).
        size: Option<u64>,
    },
    /// A read-only file holding `data` (a secret) on `target`.
    Secret {
        /// The absolute path inside the step's rootfs.
        target: String,
        /// The content.
        data: Vec<u8>,
        /// The file's mode.
        mode: u32,
        /// The file's owner.
        uid: u32,
        /// The file's group.
        gid: u32,
    },
}

impl StepMount {
    /// The absolute target path.
    pub fn target(&self) -> &str {
        match self {
            StepMount::Bind { target, .. }
            | StepMount::Tmpfs { target, .. }
            | StepMount::Secret { target, .. } => target,
        }
    }
}

/// The ops of a step's mounts, by the phase of the setup they belong to.
#[derive(Debug, Default)]
pub(crate) struct MountPhases {
    /// Before the pivot: host trees opened.
    pub before_pivot: Vec<Op>,
    /// While the scratch tmpfs is on `/dev`: secrets written and opened.
    pub scratch: Vec<Op>,
    /// Bytes the scratch tmpfs needs for the secrets.
    pub scratch_bytes: u64,
    /// Last: mount points created, trees attached, tmpfs mounted.
    pub last: Vec<Op>,
}

/// The ops that place `mounts`, in order.
pub(crate) fn mount_ops(mounts: &[StepMount]) -> Result<MountPhases, RunError> {
    if mounts.len() > MAX_TREES {
        return Err(RunError::InvalidSpec {
            field: "mounts",
            value: format!("{} mounts (at most {MAX_TREES})", mounts.len()),
        });
    }
    let mut out = MountPhases::default();
    for (i, m) in mounts.iter().enumerate() {
        let slot = i as u8;
        let target = checked_target(m.target())?;
        for parent in parents(&target) {
            out.last.push(Op::Mkdir {
                path: c("mount target", parent)?,
                mode: 0o755,
            });
        }
        let target = c("mount target", target)?;
        match m {
            StepMount::Bind {
                root,
                source,
                read_only,
                ..
            } => {
                out.before_pivot.push(Op::OpenTree {
                    root: c("mount source", root.as_os_str().as_encoded_bytes())?,
                    path: c("mount source", source.as_str())?,
                    slot,
                });
                out.last.extend(attach(slot, target, *read_only));
            }
            StepMount::Tmpfs { size, .. } => {
                out.last.push(Op::MountPoint {
                    path: target.clone(),
                    file_if: None,
                });
                out.last.push(tmpfs(target, *size)?);
            }
            StepMount::Secret {
                data,
                mode,
                uid,
                gid,
                ..
            } => {
                let name = format!(".rbuild-secret-{i}");
                let path = c("secret", format!("/dev/{name}"))?;
                out.scratch_bytes += data.len() as u64;
                out.scratch.extend([
                    Op::WriteFile {
                        path: path.clone(),
                        data: data.clone(),
                        mode: *mode,
                    },
                    Op::Chown {
                        path,
                        uid: *uid,
                        gid: *gid,
                    },
                    Op::OpenTree {
                        root: c("secret", "/dev")?,
                        path: c("secret", name)?,
                        slot,
                    },
                ]);
                out.last.extend(attach(slot, target, true));
            }
        }
    }
    Ok(out)
}

/// A mount point of the tree's kind, then the tree attached on it.
fn attach(slot: u8, target: std::ffi::CString, read_only: bool) -> [Op; 2] {
    [
        Op::MountPoint {
            path: target.clone(),
            file_if: Some(slot),
        },
        Op::AttachTree {
            slot,
            target,
            read_only,
        },
    ]
}

fn tmpfs(target: std::ffi::CString, size: Option<u64>) -> Result<Op, RunError> {
    let data = size.map(|n| format!("size={n}")).unwrap_or_default();
    Ok(Op::Mount {
        source: c("tmpfs", "tmpfs")?,
        target,
        fstype: c("tmpfs", "tmpfs")?,
        flags: MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        data: Some(c("tmpfs size", data)?),
        guard: None,
        optional: false,
    })
}

/// `target` normalised (`.`, `..`, repeated slashes); `/` itself and relative paths are
/// refused.
pub(crate) fn checked_target(target: &str) -> Result<String, RunError> {
    match (target.starts_with('/'), workdir_prefixes(target).pop()) {
        (true, Some(full)) => Ok(full),
        _ => Err(RunError::InvalidSpec {
            field: "mount target",
            value: target.to_string(),
        }),
    }
}

/// `/a`, `/a/b` for `/a/b/c` (normalised).
pub(crate) fn parents(target: &str) -> Vec<String> {
    let mut prefixes = workdir_prefixes(target);
    prefixes.pop();
    prefixes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::plan::{execute, StubState};
    use crate::sys::{FileKind, RecordingOps};

    fn run(mounts: &[StepMount], fake: &RecordingOps) -> Vec<String> {
        let ops = mount_ops(mounts).expect("ops");
        let mut all = ops.before_pivot;
        all.extend(ops.scratch);
        all.extend(ops.last);
        let mut state = StubState::default();
        execute(fake, &all, &mut state).expect("execute");
        fake.calls()
    }

    #[test]
    fn binds_open_before_and_attach_after_with_their_mount_points() {
        let fake = RecordingOps::new().with_path("/ctx/go.mod", FileKind::File);
        let mounts = [
            StepMount::Bind {
                root: "/ctx".into(),
                source: "/go.mod".into(),
                target: "/src/go.mod".into(),
                read_only: true,
            },
            StepMount::Tmpfs {
                target: "/tmp/t".into(),
                size: Some(1024),
            },
        ];
        let calls = run(&mounts, &fake);
        assert_eq!(calls[0], "open_tree /ctx/go.mod");
        assert!(calls.contains(&"mkdir /src 755".to_string()), "{calls:?}");
        assert!(
            calls.contains(&"create /src/go.mod 644".to_string()),
            "{calls:?}"
        );
        assert!(calls.contains(&"move_mount 100 on /src/go.mod".to_string()));
        let ro = calls
            .iter()
            .position(|c| c.starts_with("mount none on /src/go.mod"));
        assert!(ro.is_some(), "read-only remount: {calls:?}");
        assert!(calls
            .iter()
            .any(|c| c.contains("on /tmp/t type tmpfs") && c.ends_with("data=size=1024")));
    }

    #[test]
    fn secrets_go_through_the_scratch_tmpfs_and_stay_read_only() {
        let fake = RecordingOps::new();
        let mounts = [StepMount::Secret {
            target: "/run/secrets/tok".into(),
            data: b"s3cret".to_vec(),
            mode: 0o400,
            uid: 1000,
            gid: 1000,
        }];
        let ops = mount_ops(&mounts).expect("ops");
        assert_eq!(ops.scratch_bytes, 6);
        let calls = run(&mounts, &fake);
        assert_eq!(calls[0], "write /dev/.rbuild-secret-0 400 6 bytes");
        assert_eq!(calls[1], "chown /dev/.rbuild-secret-0 1000:1000");
        assert!(
            calls.contains(&"create /run/secrets/tok 644".to_string()),
            "{calls:?}"
        );
        assert!(calls
            .iter()
            .any(|c| c.starts_with("mount none on /run/secrets/tok")));
    }

    #[test]
    fn targets_are_normalised_and_root_is_refused() {
        assert_eq!(checked_target("/a//b/./c/../d").unwrap(), "/a/b/d");
        assert!(checked_target("/").is_err());
        assert!(checked_target("/..").is_err());
        assert!(checked_target("rel").is_err());
        assert_eq!(parents("/a/b/c"), ["/a", "/a/b"]);
    }

    #[test]
    fn a_directory_target_cannot_take_a_file() {
        let fake = RecordingOps::new()
            .with_path("/ctx/f", FileKind::File)
            .with_path("/dir", FileKind::Dir);
        let mounts = [StepMount::Bind {
            root: "/ctx".into(),
            source: "/f".into(),
            target: "/dir".into(),
            read_only: true,
        }];
        let ops = mount_ops(&mounts).expect("ops");
        let mut all = ops.before_pivot;
        all.extend(ops.last);
        let err = execute(&fake, &all, &mut StubState::default()).unwrap_err();
        assert_eq!(err.1, crate::sys::Errno::EISDIR);
    }
}

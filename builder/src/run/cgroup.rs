//! Per-step cgroups for `--memory` and `--cpus`, on cgroup v1 (one hierarchy per controller,
//! `/sys/fs/cgroup/<controller>`) and v2 (the unified hierarchy at `/sys/fs/cgroup`).
//!
//! The step's cgroup is created *below the cgroup rbuild itself runs in* (read from
//! `/proc/self/cgroup`), so the limits nest inside whatever limits rbuild already has. It is
//! removed when the step has exited.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The CFS period used for `--cpus` (docker's).
const CPU_PERIOD_US: u64 = 100_000;

/// Errors setting up or tearing down a step cgroup.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A cgroup file could not be read or written, or a directory created or removed.
    #[error("cgroup {path}: {source}")]
    Io {
        /// The cgroup file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The controller a limit needs is not available to rbuild.
    #[error("the {controller} cgroup controller is not available (looked in {path})")]
    NoController {
        /// `memory` or `cpu`.
        controller: &'static str,
        /// Where it was expected.
        path: PathBuf,
    },
    /// A `--cpus` value that is not a positive number.
    #[error("invalid cpu limit {cpus}")]
    InvalidCpus {
        /// The value given.
        cpus: f64,
    },
}

/// Resource limits of a step.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    /// Memory limit in bytes (swap is limited to the same total, i.e. no extra swap).
    pub memory: Option<u64>,
    /// CPU limit in CPUs (1.5 = one and a half CPUs of time per period).
    pub cpus: Option<f64>,
}

impl Limits {
    /// Whether any limit is set.
    pub fn is_empty(&self) -> bool {
        self.memory.is_none() && self.cpus.is_none()
    }
}

/// Where cgroups are mounted and where rbuild's own cgroup is.
#[derive(Debug, Clone)]
pub struct CgroupRoot {
    mount: PathBuf,
    self_cgroup: String,
}

/// A step's cgroup (one directory per v1 controller, or one v2 directory).
#[derive(Debug)]
pub(crate) struct StepCgroup {
    dirs: Vec<PathBuf>,
    memory: Option<(PathBuf, bool)>,
}

/// Wraps an I/O error with its path.
fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CgroupError + '_ {
    move |source| CgroupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `value` to the cgroup file `path`.
fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    std::fs::write(path, value).map_err(io(path))
}

impl CgroupRoot {
    /// The host's cgroup mount and this process's cgroup.
    pub fn host() -> Result<Self, CgroupError> {
        let path = Path::new("/proc/self/cgroup");
        let self_cgroup = std::fs::read_to_string(path).map_err(io(path))?;
        Ok(Self::new(Path::new("/sys/fs/cgroup"), self_cgroup))
    }

    /// A cgroup tree mounted at `mount`, with `self_cgroup` in `/proc/self/cgroup` format.
    pub fn new(mount: &Path, self_cgroup: String) -> Self {
        Self {
            mount: mount.to_path_buf(),
            self_cgroup,
        }
    }

    /// Whether the mount is the v2 unified hierarchy.
    fn is_v2(&self) -> bool {
        self.mount.join("cgroup.controllers").is_file()
    }

    /// rbuild's own cgroup directory for a v1 `controller` (or v2 when `controller` is None).
    fn own_dir(&self, controller: Option<&str>) -> PathBuf {
        let path = self.self_cgroup.lines().find_map(|line| {
            let mut f = line.splitn(3, ':');
            let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
            let hit = match controller {
                None => ctrls.is_empty(),
                Some(c) => ctrls.split(',').any(|x| x == c),
            };
            hit.then_some(path)
        });
        let base = match controller {
            None => self.mount.clone(),
            Some(c) => self.mount.join(c),
        };
        base.join(path.unwrap_or("/").trim_start_matches('/'))
    }

    /// Creates the step cgroup `name` with `limits`; `None` when there are no limits.
    pub(crate) fn create(
        &self,
        limits: &Limits,
        name: &str,
    ) -> Result<Option<StepCgroup>, CgroupError> {
        if limits.is_empty() {
            return Ok(None);
        }
        if let Some(cpus) = limits.cpus.filter(|c| !(c.is_finite() && *c > 0.0)) {
            return Err(CgroupError::InvalidCpus { cpus });
        }
        let mut cg = StepCgroup {
            dirs: Vec::new(),
            memory: None,
        };
        let res = if self.is_v2() {
            self.create_v2(limits, name, &mut cg)
        } else {
            self.create_v1(limits, name, &mut cg)
        };
        match res {
            Ok(()) => Ok(Some(cg)),
            Err(e) => {
                cg.remove();
                Err(e)
            }
        }
    }

    /// v1: a directory per controller.
    fn create_v1(
        &self,
        limits: &Limits,
        name: &str,
        cg: &mut StepCgroup,
    ) -> Result<(), CgroupError> {
        if let Some(bytes) = limits.memory {
            let dir = self.make_dir(Some("memory"), name, cg)?;
            write(&dir.join("memory.limit_in_bytes"), &bytes.to_string())?;
            let memsw = dir.join("memory.memsw.limit_in_bytes");
            if memsw.exists() {
                write(&memsw, &bytes.to_string())?;
            }
            cg.memory = Some((dir, false));
        }
        if let Some(cpus) = limits.cpus {
            let dir = self.make_dir(Some("cpu"), name, cg)?;
            write(&dir.join("cpu.cfs_period_us"), &CPU_PERIOD_US.to_string())?;
            write(&dir.join("cpu.cfs_quota_us"), &quota(cpus).to_string())?;
        }
        Ok(())
    }

    /// v2: one directory, with the controllers enabled in the parent first.
    fn create_v2(
        &self,
        limits: &Limits,
        name: &str,
        cg: &mut StepCgroup,
    ) -> Result<(), CgroupError> {
        let parent = self.own_dir(None);
        let wanted: Vec<&str> = [
            ("memory", limits.memory.is_some()),
            ("cpu", limits.cpus.is_some()),
        ]
        .into_iter()
        .filter_map(|(c, on)| on.then_some(c))
        .collect();
        for c in &wanted {
            // Fails harmlessly when already enabled or not delegable; checked below.
            let _ = std::fs::write(parent.join("cgroup.subtree_control"), format!("+{c}"));
        }
        let dir = self.make_dir(None, name, cg)?;
        if let Some(bytes) = limits.memory {
            require(&dir.join("memory.max"), "memory")?;
            write(&dir.join("memory.max"), &bytes.to_string())?;
            if dir.join("memory.swap.max").exists() {
                write(&dir.join("memory.swap.max"), "0")?;
            }
            cg.memory = Some((dir.clone(), true));
        }
        if let Some(cpus) = limits.cpus {
            require(&dir.join("cpu.max"), "cpu")?;
            write(
                &dir.join("cpu.max"),
                &format!("{} {CPU_PERIOD_US}", quota(cpus)),
            )?;
        }
        Ok(())
    }

    /// Creates `<own cgroup>/<name>` for `controller` and records it in `cg`.
    fn make_dir(
        &self,
        controller: Option<&'static str>,
        name: &str,
        cg: &mut StepCgroup,
    ) -> Result<PathBuf, CgroupError> {
        let own = self.own_dir(controller);
        if !own.is_dir() {
            let controller = controller.unwrap_or("unified");
            return Err(CgroupError::NoController {
                controller,
                path: own,
            });
        }
        let dir = own.join(name);
        std::fs::create_dir(&dir).map_err(io(&dir))?;
        cg.dirs.push(dir.clone());
        Ok(dir)
    }
}

/// Fails with `NoController` when the interface file `file` is missing.
fn require(file: &Path, controller: &'static str) -> Result<(), CgroupError> {
    if file.exists() {
        Ok(())
    } else {
        Err(CgroupError::NoController {
            controller,
            path: file.to_path_buf(),
        })
    }
}

/// The CFS quota in microseconds per period for `cpus`.
fn quota(cpus: f64) -> u64 {
    ((cpus * CPU_PERIOD_US as f64).round() as u64).max(1000)
}

impl StepCgroup {
    /// Moves process `pid` into every directory of the step cgroup.
    pub(crate) fn add(&self, pid: i32) -> Result<(), CgroupError> {
        self.dirs
            .iter()
            .try_for_each(|d| write(&d.join("cgroup.procs"), &pid.to_string()))
    }

    /// How many processes the kernel's OOM killer killed in the step cgroup.
    pub(crate) fn oom_kills(&self) -> u64 {
        let Some((dir, v2)) = &self.memory else {
            return 0;
        };
        let file = if *v2 {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        let text = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix("oom_kill ")?.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Removes the directories (retrying briefly while the kernel finishes tearing down the
    /// exited processes). Failures are left behind: an empty cgroup costs nothing.
    pub(crate) fn remove(&self) {
        for dir in self.dirs.iter().rev() {
            for _ in 0..50 {
                match std::fs::remove_dir(dir) {
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    _ => break,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1_SELF: &str = "9:name=systemd:/\n4:memory:/ci/job1\n1:cpu,cpuacct:/\n0::/\n";

    #[test]
    fn v1_creates_nested_dirs_with_limits() {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(root.path().join("memory/ci/job1")).expect("mkdir");
        std::fs::create_dir_all(root.path().join("cpu")).expect("mkdir");
        let cg = CgroupRoot::new(root.path(), V1_SELF.to_string());
        let limits = Limits {
            memory: Some(32 << 20),
            cpus: Some(1.5),
        };
        let step = cg
            .create(&limits, "rbuild-x")
            .expect("create")
            .expect("some");
        let mem = root.path().join("memory/ci/job1/rbuild-x");
        let read = |p: PathBuf| std::fs::read_to_string(p).expect("read");
        assert_eq!(
            read(mem.join("memory.limit_in_bytes")),
            (32u64 << 20).to_string()
        );
        assert_eq!(
            read(root.path().join("cpu/rbuild-x/cpu.cfs_quota_us")),
            "150000"
        );
        std::fs::write(
            mem.join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        )
        .expect("write");
        assert_eq!(step.oom_kills(), 2);
    }

    #[test]
    fn v2_writes_max_files_and_reports_missing_controllers() {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::write(root.path().join("cgroup.controllers"), "memory cpu").expect("write");
        std::fs::create_dir_all(root.path().join("build")).expect("mkdir");
        let cg = CgroupRoot::new(root.path(), "0::/build\n".to_string());
        let limits = Limits {
            memory: Some(1000),
            cpus: None,
        };
        let err = cg
            .create(&limits, "s1")
            .expect_err("memory.max missing in a plain dir");
        assert!(
            matches!(
                err,
                CgroupError::NoController {
                    controller: "memory",
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            !root.path().join("build/s1").exists(),
            "failed setup is cleaned up"
        );
        assert!(cg
            .create(&Limits::default(), "s2")
            .expect("no limits")
            .is_none());
        assert!(matches!(
            cg.create(
                &Limits {
                    memory: None,
                    cpus: Some(-1.0)
                },
                "s3"
            ),
            Err(CgroupError::InvalidCpus { .. })
        ));
    }
}

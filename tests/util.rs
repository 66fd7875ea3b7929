//! Helpers shared by the end-to-end tests: a temp store, running the binary, tool checks.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// A temp dir holding a store root and scratch space.
pub struct Env {
    /// Keeps the dir alive.
    pub tmp: tempfile::TempDir,
}

impl Env {
    /// A fresh, empty environment.
    pub fn new() -> Self {
        Env {
            tmp: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// The store root rbuild uses in this environment.
    pub fn root(&self) -> PathBuf {
        self.tmp.path().join("store")
    }

    /// A path inside the scratch space.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    /// Writes `dockerfile` as `<name>/Dockerfile` in the scratch space; returns the context dir.
    pub fn context(&self, name: &str, dockerfile: &str) -> PathBuf {
        let ctx = self.path(name);
        std::fs::create_dir_all(&ctx).expect("create context");
        std::fs::write(ctx.join("Dockerfile"), dockerfile).expect("write Dockerfile");
        ctx
    }

    /// `rbuild ARGS` against this environment's store.
    pub fn rbuild(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rbuild"));
        cmd.env("RBUILD_ROOT", self.root()).args(args);
        cmd
    }

    /// Runs `rbuild ARGS`, panics with its output unless it succeeds, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.rbuild(args).output().expect("run rbuild");
        check(&out, &format!("rbuild {}", args.join(" ")));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `rbuild ARGS`, expects failure, returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.rbuild(args).output().expect("run rbuild");
        assert!(
            !out.status.success(),
            "rbuild {} should fail",
            args.join(" ")
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Imports the busybox test rootfs as `name`.
    pub fn busybox(&self, name: &str) {
        let tar = busybox_tar().expect("busybox rootfs");
        self.ok(&["import", tar.to_str().unwrap(), name]);
    }
}

/// Panics with stdout and stderr unless the command succeeded.
pub fn check(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a command, panicking with its output on failure; returns stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    check(&out, &format!("{cmd:?}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// True when `tool` is on PATH; prints why the caller skips otherwise.
pub fn have(tool: &str, test: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipped {test}: {tool} is not installed (bash .ci/run installs it)");
    }
    found
}

/// True when running as root; prints why the caller skips otherwise.
pub fn is_root(test: &str) -> bool {
    let root = rustix_euid_is_root();
    if !root {
        eprintln!("skipped {test}: needs root");
    }
    root
}

fn rustix_euid_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// The workspace root.
pub fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The busybox rootfs tar made by `testdata/busybox/make-rootfs.sh`, built once per test run.
pub fn busybox_tar() -> Option<PathBuf> {
    static TAR: OnceLock<Option<PathBuf>> = OnceLock::new();
    TAR.get_or_init(|| {
        // Under cargo's per-target temp dir, remade once per run (not left behind in /tmp).
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("busybox");
        let script = workspace().join("testdata/busybox/make-rootfs.sh");
        let out = Command::new("bash").arg(script).arg(&dir).output().ok()?;
        if !out.status.success() {
            eprintln!(
                "busybox rootfs unavailable: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return None;
        }
        Some(dir.join("rootfs.tar"))
    })
    .clone()
}

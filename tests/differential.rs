//! Differential test against buildah: every case in `testdata/differential/` is built by
//! rbuild and by buildah from the same busybox base; the unpacked rootfs trees and the
//! config fields must match, except for the known differences that `known` filters
//! (each listed and explained in `testdata/README.md`).
//!
//! A case is a directory with a `Dockerfile` and its context files, plus optionally
//! `prepare.sh` (run in the copied context to make what git cannot hold: hardlinks,
//! symlinks, archives) and `build-args` (`KEY=VALUE` lines passed as `--build-arg`).
//! Needs root, buildah, skopeo and umoci; skipped with a printed reason otherwise.

mod config;
mod known;
mod tree;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::util::{have, is_root, run, workspace, Env};

/// The tag both tools' OCI exports carry.
const TAG: &str = "latest";

/// One store for rbuild and one for buildah, both holding the same busybox image.
struct Harness {
    env: Env,
}

impl Harness {
    /// Imports the busybox test rootfs into rbuild, exports it and copies that export into
    /// buildah's storage, so both tools start from the very same image (same digest).
    fn new() -> Self {
        let env = Env::new();
        env.busybox("busybox:latest");
        let oci = env.path("busybox-oci");
        env.ok(&["export", "busybox:latest", oci.to_str().unwrap()]);
        let h = Harness { env };
        let dest = format!(
            "containers-storage:[overlay@{}+{}]docker.io/library/busybox:latest",
            h.buildah_root().display(),
            h.env.path("buildah-run").display()
        );
        run(Command::new("skopeo")
            .arg("copy")
            .arg(format!("oci:{}:latest", oci.display()))
            .arg(dest));
        h
    }

    fn buildah_root(&self) -> PathBuf {
        self.env.path("buildah-root")
    }

    /// `buildah` with this harness's private storage.
    fn buildah(&self) -> Command {
        let mut cmd = Command::new("buildah");
        cmd.arg("--root")
            .arg(self.buildah_root())
            .arg("--runroot")
            .arg(self.env.path("buildah-run"))
            .args(["--storage-driver", "overlay"]);
        cmd
    }

    /// Copies the case into a fresh context dir and runs its `prepare.sh` there.
    fn context(&self, case: &Path) -> PathBuf {
        let name = case.file_name().unwrap().to_str().unwrap();
        let ctx = self.env.path(&format!("ctx/{name}"));
        fs::create_dir_all(&ctx).unwrap();
        run(Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", case.display()))
            .arg(&ctx));
        for extra in ["prepare.sh", "build-args"] {
            let _ = fs::remove_file(ctx.join(extra));
        }
        let prepare = case.join("prepare.sh");
        if prepare.exists() {
            run(Command::new("sh").arg(&prepare).current_dir(&ctx));
        }
        ctx
    }

    /// Builds with rbuild, exports and unpacks; returns the bundle's rootfs and the layout.
    fn rbuild(&self, name: &str, ctx: &Path, build_args: &[String]) -> Built {
        let image = format!("diff-{name}:{TAG}");
        let mut cmd = self
            .env
            .rbuild(&["build", "--progress=plain", "-t", &image]);
        for arg in build_args {
            cmd.args(["--build-arg", arg]);
        }
        attempt(cmd.arg(ctx))?;
        let oci = self.env.path(&format!("out/{name}/rbuild-oci"));
        self.env.ok(&["export", &image, oci.to_str().unwrap()]);
        Ok((
            unpack(&oci, &self.env.path(&format!("out/{name}/rbuild-bundle"))),
            oci,
        ))
    }

    /// Builds with buildah, pushes to an OCI layout and unpacks; same return as `rbuild`.
    ///
    /// No runc on these machines, so RUN uses chroot isolation, which refuses
    /// `--network none`; the corpus needs no network. `--format docker` keeps
    /// HEALTHCHECK, SHELL and ONBUILD, which buildah drops from OCI-format configs.
    fn buildah_build(&self, name: &str, ctx: &Path, build_args: &[String]) -> Built {
        let image = format!("diff-{name}");
        let mut cmd = self.buildah();
        cmd.args([
            "build",
            "--layers",
            "--force-rm",
            "--pull=never",
            "--isolation",
            "chroot",
        ])
        .args(["--network", "host", "--format", "docker", "-t", &image]);
        for arg in build_args {
            cmd.args(["--build-arg", arg]);
        }
        attempt(cmd.arg("-f").arg(ctx.join("Dockerfile")).arg(ctx))?;
        let oci = self.env.path(&format!("out/{name}/buildah-oci"));
        run(self
            .buildah()
            .args(["push", &image])
            .arg(format!("oci:{}:{TAG}", oci.display())));
        Ok((
            unpack(&oci, &self.env.path(&format!("out/{name}/buildah-bundle"))),
            oci,
        ))
    }

    /// Copies HEALTHCHECK, SHELL and ONBUILD from buildah's docker-format config into the
    /// config of its OCI export: the OCI image spec has no such fields, so buildah's push
    /// to `oci:` drops them (rbuild, like BuildKit, keeps docker's fields in every config).
    fn docker_only_fields(&self, name: &str, config: &mut serde_json::Value) {
        let out = run(self
            .buildah()
            .args(["inspect", "--type", "image", &format!("diff-{name}")]));
        let inspect: serde_json::Value = serde_json::from_str(&out).expect("buildah inspect JSON");
        for field in ["Healthcheck", "Shell", "OnBuild"] {
            let value = inspect["Docker"]["config"][field].clone();
            let empty = value.as_array().is_some_and(Vec::is_empty);
            config["config"][field] = if empty {
                serde_json::Value::Null
            } else {
                value
            };
        }
    }

    /// Builds one case with both tools; returns the unexplained differences.
    fn compare(&self, case: &Path) -> Vec<String> {
        let name = case.file_name().unwrap().to_str().unwrap();
        let ctx = self.context(case);
        let args = build_args(case);
        let (rbuild, buildah) = std::thread::scope(|s| {
            let rbuild = s.spawn(|| self.rbuild(name, &ctx, &args));
            let buildah = self.buildah_build(name, &ctx, &args);
            (rbuild.join().expect("rbuild build thread"), buildah)
        });
        let ((r_root, r_oci), (b_root, b_oci)) = match (rbuild, buildah) {
            (Ok(r), Ok(b)) => (r, b),
            (r, b) => return [r.err(), b.err()].into_iter().flatten().collect(),
        };
        let r_config = config::read(&r_oci, TAG);
        let mut b_config = config::read(&b_oci, TAG);
        self.docker_only_fields(name, &mut b_config);
        known::filter_config(&r_config, &mut b_config);
        let (mut r_tree, mut b_tree) = (tree::walk(&r_root).unwrap(), tree::walk(&b_root).unwrap());
        let dockerfile = fs::read_to_string(case.join("Dockerfile")).unwrap();
        let case = known::Case {
            name,
            dockerfile: &dockerfile,
            buildah_config: &b_config,
        };
        known::filter_tree(&case, &mut r_tree, &mut b_tree);
        let mut out = tree::diff(&r_tree, &b_tree);
        out.extend(config::diff(&r_config, &b_config));
        out
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.cleanup();
    }
}

impl Harness {
    /// Leaves no buildah container or mount behind, even when a case failed: containers/
    /// storage keeps its `overlay` dir bind-mounted while anything in it is.
    fn cleanup(&self) {
        let _ = self.buildah().args(["rm", "--all"]).output();
        let tmp = self.env.tmp.path().to_string_lossy().into_owned();
        let mounts = fs::read_to_string("/proc/mounts").unwrap_or_default();
        let mut ours: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(1))
            .filter(|m| m.starts_with(&tmp))
            .collect();
        ours.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for mount in ours {
            let _ = Command::new("umount").arg(mount).output();
        }
    }
}

/// A build's unpacked rootfs and its OCI layout, or why the build failed.
type Built = Result<(PathBuf, PathBuf), String>;

/// Runs a build command; a failure becomes a difference line with the output's tail.
fn attempt(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    if out.status.success() {
        return Ok(());
    }
    let tool = Path::new(cmd.get_program())
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let mut log = String::from_utf8_lossy(&out.stdout).into_owned();
    log.push_str(&String::from_utf8_lossy(&out.stderr));
    let tail: Vec<&str> = log.lines().rev().take(12).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(format!(
        "  {tool} build failed ({}):
    {}",
        out.status,
        tail.join("\n    ")
    ))
}

/// `umoci unpack` of the layout's `TAG`; returns the rootfs dir.
fn unpack(oci: &Path, bundle: &Path) -> PathBuf {
    run(Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:{TAG}", oci.display()))
        .arg(bundle));
    bundle.join("rootfs")
}

/// The case's `build-args` lines (`KEY=VALUE`), empty when it has none.
fn build_args(case: &Path) -> Vec<String> {
    fs::read_to_string(case.join("build-args"))
        .map(|s| {
            s.lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Every case directory, sorted; `RBUILD_DIFF_CASE=name` narrows the run to one
/// (`RBUILD_DIFF_KEEP=1` keeps the builds' temp dir for a look).
fn cases() -> Vec<PathBuf> {
    let only = std::env::var("RBUILD_DIFF_CASE").ok();
    let mut cases: Vec<PathBuf> = fs::read_dir(workspace().join("testdata/differential"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Dockerfile").is_file())
        .filter(|p| only.as_deref().is_none_or(|o| p.ends_with(o)))
        .collect();
    cases.sort();
    cases
}

#[test]
fn corpus_matches_buildah() {
    let test = "differential test";
    if !is_root(test) || !have("buildah", test) || !have("umoci", test) || !have("skopeo", test) {
        return;
    }
    let start = Instant::now();
    let harness = Harness::new();
    let cases = cases();
    assert!(
        cases.len() >= 20 || std::env::var("RBUILD_DIFF_CASE").is_ok(),
        "corpus too small"
    );
    let mut report = String::new();
    for case in &cases {
        let lines = harness.compare(case);
        if !lines.is_empty() {
            let name = case.file_name().unwrap().to_string_lossy();
            report.push_str(&format!(
                "== {name}: {} difference(s)\n{}\n",
                lines.len(),
                lines.join("\n")
            ));
        }
    }
    eprintln!(
        "differential: {} cases in {:.1?}",
        cases.len(),
        start.elapsed()
    );
    if std::env::var_os("RBUILD_DIFF_KEEP").is_some() {
        harness.cleanup();
        eprintln!("differential: kept {}", harness.env.tmp.path().display());
        std::mem::forget(harness); // skips the temp dir's removal
    }
    assert!(
        report.is_empty(),
        "rbuild and buildah differ (see testdata/README.md for the known differences):\n{report}"
    );
}

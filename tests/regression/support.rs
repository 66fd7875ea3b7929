//! Helpers for the regression tests: build contexts, plain-progress builds, and reading an
//! exported image (config, layer tar entries, a `umoci unpack`ed rootfs).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::util::{busybox_tar, have, is_root, Env};

/// Writes `dockerfile` as `env/<name>/Dockerfile` and returns the context dir.
pub fn context(env: &Env, name: &str, dockerfile: &str) -> PathBuf {
    env.context(name, dockerfile)
}

/// `rbuild build --progress=plain ARGS CONTEXT`; panics unless it succeeds; returns the log.
pub fn build(env: &Env, args: &[&str], ctx: &Path) -> String {
    let out = env
        .rbuild(&["build", "--progress=plain"])
        .args(args)
        .arg(ctx)
        .output()
        .expect("run rbuild");
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "rbuild build {args:?} failed:\n{log}");
    log
}

/// The lines a RUN printed after `marker ` (write the marker as `R5""X` in the Dockerfile so
/// the echoed command line itself does not match).
pub fn marked<'a>(log: &'a str, marker: &str) -> Vec<&'a str> {
    let tag = format!("{marker} ");
    log.lines()
        .filter_map(|l| l.split_once(&tag).map(|(_, rest)| rest))
        .collect()
}

/// The busybox fixture's own copy of a file (e.g. `etc/passwd`), to tell image from host.
pub fn busybox_file(rel: &str) -> String {
    let tar = busybox_tar().expect("busybox rootfs");
    fs::read_to_string(tar.with_file_name("rootfs").join(rel)).expect("read busybox fixture file")
}

/// One entry of a layer tar, with the fields the tests look at.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Path without `./` and trailing `/`.
    pub path: String,
    /// Regular, Link, Symlink, Directory, …
    pub kind: tar::EntryType,
    /// Symlink or hardlink target.
    pub link: Option<String>,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Contents of regular files.
    pub data: Vec<u8>,
}

/// An image exported as an OCI layout.
pub struct Exported {
    dir: PathBuf,
    tag: String,
    manifest: Value,
}

impl Exported {
    /// `rbuild export NAME:TAG` into a fresh dir of `env`.
    pub fn new(env: &Env, image: &str) -> Self {
        Self::with_args(env, image, &[])
    }

    /// `rbuild export ARGS NAME:TAG` into a fresh dir of `env`.
    pub fn with_args(env: &Env, image: &str, args: &[&str]) -> Self {
        let (_, tag) = image
            .rsplit_once(':')
            .expect("images in these tests are NAME:TAG");
        let dir = env.path(&format!("oci-{}", image.replace([':', '/'], "-")));
        let _ = fs::remove_dir_all(&dir);
        let mut cmd = vec!["export"];
        cmd.extend_from_slice(args);
        cmd.extend([image, dir.to_str().expect("utf-8 path")]);
        env.ok(&cmd);
        let index = read_json(&dir.join("index.json"));
        let digest = index["manifests"][0]["digest"]
            .as_str()
            .expect("manifest digest")
            .to_string();
        let manifest = read_json(&blob_path(&dir, &digest));
        Exported {
            dir,
            tag: tag.to_string(),
            manifest,
        }
    }

    /// The OCI layout directory (for `rbuild import`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The image config JSON.
    pub fn config(&self) -> Value {
        read_json(&blob_path(
            &self.dir,
            self.manifest["config"]["digest"]
                .as_str()
                .expect("config digest"),
        ))
    }

    /// The config digest (the image id).
    pub fn id(&self) -> String {
        self.manifest["config"]["digest"]
            .as_str()
            .expect("config digest")
            .to_string()
    }

    /// The layer digests (`sha256:…`), bottom first.
    pub fn layer_digests(&self) -> Vec<String> {
        self.layer_field("digest")
    }

    /// The layer media types, bottom first.
    pub fn layer_media_types(&self) -> Vec<String> {
        self.layer_field("mediaType")
    }

    fn layer_field(&self, field: &str) -> Vec<String> {
        let layers = self.manifest["layers"].as_array().expect("layers");
        let get = |l: &Value| l[field].as_str().expect("layer field").to_string();
        layers.iter().map(get).collect()
    }

    /// The entries of every layer, bottom first.
    pub fn layers(&self) -> Vec<Vec<Entry>> {
        let layers = self.manifest["layers"].as_array().expect("layers");
        layers.iter().map(|l| self.layer(l)).collect()
    }

    fn layer(&self, desc: &Value) -> Vec<Entry> {
        let path = blob_path(&self.dir, desc["digest"].as_str().expect("layer digest"));
        let media = desc["mediaType"].as_str().unwrap_or_default();
        if media.ends_with("gzip") {
            let mut child = Command::new("gzip")
                .arg("-dc")
                .arg(&path)
                .stdout(Stdio::piped())
                .spawn()
                .expect("run gzip");
            let found = entries(child.stdout.take().expect("gzip stdout"));
            assert!(
                child.wait().expect("wait gzip").success(),
                "gzip -dc {}",
                path.display()
            );
            return found;
        }
        assert!(
            media.ends_with(".tar"),
            "unexpected layer media type {media}"
        );
        entries(fs::File::open(&path).expect("open layer"))
    }

    /// `umoci unpack` into a fresh bundle; returns its rootfs.
    pub fn unpack(&self) -> PathBuf {
        let bundle = self.dir.with_extension("bundle");
        let _ = fs::remove_dir_all(&bundle);
        let image = format!("{}:{}", self.dir.display(), self.tag);
        let out = Command::new("umoci")
            .args(["unpack", "--image", &image])
            .arg(&bundle)
            .output()
            .expect("run umoci");
        crate::util::check(&out, "umoci unpack");
        bundle.join("rootfs")
    }
}

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn blob_path(dir: &Path, digest: &str) -> PathBuf {
    dir.join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

fn entries(reader: impl Read) -> Vec<Entry> {
    let mut archive = tar::Archive::new(reader);
    let mut out = Vec::new();
    for entry in archive.entries().expect("read tar") {
        let mut e = entry.expect("tar entry");
        let path = e.path().expect("entry path").to_string_lossy().into_owned();
        let link = e
            .link_name()
            .expect("link name")
            .map(|l| l.to_string_lossy().into_owned());
        let h = e.header().clone();
        let mut data = Vec::new();
        e.read_to_end(&mut data).expect("entry data");
        out.push(Entry {
            path: normalize(&path),
            kind: h.entry_type(),
            link: link.map(|l| normalize(&l)),
            mode: h.mode().expect("mode") & 0o7777,
            uid: h.uid().expect("uid"),
            gid: h.gid().expect("gid"),
            data,
        });
    }
    out
}

fn normalize(p: &str) -> String {
    p.trim_start_matches("./").trim_end_matches('/').to_string()
}

/// The entry at `path` in `layer`, if any.
pub fn find<'a>(layer: &'a [Entry], path: &str) -> Option<&'a Entry> {
    layer.iter().find(|e| e.path == path)
}

/// The names in `dir`, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|d| {
            d.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    v.sort();
    v
}

/// Exports `image` from `env`, imports it as `moved:1` into a fresh store, and builds
/// `FROM moved:1` + `RUN script` there: the layers are extracted from their tars again, so
/// this checks our own extractor (whiteouts, opaque dirs, type changes, hardlinks).
pub fn check_in_fresh_store(env: &Env, image: &str, script: &str) {
    let exported = Exported::new(env, image);
    let fresh = Env::new();
    fresh.ok(&[
        "import",
        exported.dir().to_str().expect("utf-8 path"),
        "moved:1",
    ]);
    let ctx = context(&fresh, "check", &format!("FROM moved:1\nRUN {script}\n"));
    build(&fresh, &["-t", "checked:1"], &ctx);
}

/// A store with the busybox base imported, when the test can run: root, and `umoci` when it
/// unpacks images; `None` (after printing why) otherwise.
pub fn base(test: &str, unpack: bool) -> Option<Env> {
    if !is_root(test) || (unpack && !have("umoci", test)) {
        return None;
    }
    let env = Env::new();
    env.busybox("busybox:latest");
    Some(env)
}

/// A file's text, panicking with the path.
pub fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A symlink's target, panicking with the path.
pub fn link_target(path: &Path) -> String {
    fs::read_link(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_string_lossy()
        .into_owned()
}

/// The entry at `path` in `layer`; panics when it is missing.
pub fn entry<'a>(layer: &'a [Entry], path: &str) -> &'a Entry {
    find(layer, path).unwrap_or_else(|| panic!("{path} not in layer {layer:#?}"))
}

/// Runs `cmd` with `input` on its stdin; returns its output.
pub fn stdin_run(mut cmd: Command, input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.as_bytes()).expect("write stdin");
    drop(stdin);
    child.wait_with_output().expect("wait")
}

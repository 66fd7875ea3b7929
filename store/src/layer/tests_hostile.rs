//! The hostile-tar corpus: each archive is built here, byte by byte, with our own
//! header encoder (which, unlike the `tar` crate's builder, lets a test write `..`
//! and absolute paths). Each must be refused with an error naming the entry, or be
//! contained, and a sentinel directory outside the target must stay untouched.

use std::io::Write;
use std::path::Path;

use super::tarfmt::{self, Header, Kind};
use super::*;

/// Builds tar streams entry by entry.
#[derive(Default)]
struct TarBuilder(Vec<u8>);

impl TarBuilder {
    fn push(mut self, mut h: Header, data: &[u8]) -> Self {
        h.size = data.len() as u64;
        h.mode = if h.mode == 0 { 0o644 } else { h.mode };
        tarfmt::encode(&h, &mut self.0);
        self.0.extend_from_slice(data);
        tarfmt::pad_to_block(&mut self.0);
        self
    }

    fn file(self, path: &str, data: &[u8]) -> Self {
        self.push(Header::new(Kind::Regular, path.into()), data)
    }

    fn dir(self, path: &str) -> Self {
        let mut h = Header::new(Kind::Dir, path.into());
        h.mode = 0o755;
        self.push(h, b"")
    }

    fn linkish(self, kind: Kind, path: &str, target: &str) -> Self {
        let mut h = Header::new(kind, path.into());
        h.link = target.into();
        self.push(h, b"")
    }

    fn node(self, kind: Kind, path: &str, major: u32, minor: u32) -> Self {
        let mut h = Header::new(kind, path.into());
        (h.dev_major, h.dev_minor) = (major, minor);
        self.push(h, b"")
    }

    fn finish(mut self) -> Vec<u8> {
        self.0.extend_from_slice(&[0; 1024]);
        self.0
    }
}

/// A target dir and a sentinel dir (with one file) beside it.
struct Scene {
    _tmp: tempfile::TempDir,
    target: std::path::PathBuf,
    sentinel: std::path::PathBuf,
}

impl Scene {
    fn new() -> Scene {
        let tmp = tempfile::tempdir().expect("tempdir");
        let target = tmp.path().join("target");
        let sentinel = tmp.path().join("sentinel");
        std::fs::create_dir(&target).expect("target");
        std::fs::create_dir(&sentinel).expect("sentinel");
        std::fs::write(sentinel.join("keep"), b"original").expect("keep");
        Scene {
            _tmp: tmp,
            target,
            sentinel,
        }
    }

    fn s(&self) -> String {
        self.sentinel.to_string_lossy().into_owned()
    }

    fn extract(&self, tar: &[u8], mode: ExtractMode) -> Result<ExtractStats, ExtractError> {
        extract(tar, &self.target, &ExtractOptions::new(mode))
    }

    /// Asserts that nothing outside the target changed (for every test's exit path).
    fn assert_sentinel_untouched(&self) {
        let names: Vec<_> = std::fs::read_dir(&self.sentinel)
            .expect("ls sentinel")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["keep"], "files appeared outside the target");
        assert_eq!(
            std::fs::read(self.sentinel.join("keep")).expect("read"),
            b"original"
        );
        let parent = self.target.parent().expect("parent");
        let mut around: Vec<_> = std::fs::read_dir(parent)
            .expect("ls")
            .map(|e| e.expect("e").file_name())
            .collect();
        around.sort();
        assert_eq!(
            around,
            ["sentinel", "target"],
            "files appeared next to the target"
        );
    }
}

fn assert_refused(result: Result<ExtractStats, ExtractError>, entry: &str) -> ExtractError {
    let err = result.expect_err("hostile archive must be refused");
    assert!(
        err.to_string().contains(entry),
        "error {err} does not name {entry:?}"
    );
    err
}

#[test]
fn path_traversal_is_refused() {
    for path in ["../../x", "a/../../x", "./../sentinel/keep"] {
        let scene = Scene::new();
        let tar = TarBuilder::default().file(path, b"evil").finish();
        let err = assert_refused(scene.extract(&tar, ExtractMode::Apply), path);
        assert!(matches!(err, ExtractError::BadPath { .. }), "{err}");
        scene.assert_sentinel_untouched();
    }
}

#[test]
fn absolute_paths_are_made_relative() {
    let scene = Scene::new();
    let abs = format!("{}/keep", scene.s());
    let tar = TarBuilder::default()
        .file(&abs, b"evil")
        .file("/etc/rbuild-hostile", b"x")
        .finish();
    scene.extract(&tar, ExtractMode::Apply).expect("contained");
    assert_eq!(
        std::fs::read(scene.target.join(abs.trim_start_matches('/'))).expect("inside"),
        b"evil"
    );
    assert!(scene.target.join("etc/rbuild-hostile").is_file());
    assert!(!Path::new("/etc/rbuild-hostile").exists());
    scene.assert_sentinel_untouched();
}

#[test]
fn symlink_then_write_through_is_refused() {
    let scene = Scene::new();
    let tar = TarBuilder::default()
        .linkish(Kind::Symlink, "a", &scene.s())
        .file("a/file", b"evil")
        .finish();
    let err = assert_refused(scene.extract(&tar, ExtractMode::Apply), "a/file");
    assert!(err.to_string().contains("symlink"), "{err}");
    assert!(std::fs::symlink_metadata(scene.target.join("a"))
        .expect("link kept")
        .file_type()
        .is_symlink());
    scene.assert_sentinel_untouched();
}

#[test]
fn symlink_to_dotdot_chain_is_refused() {
    let scene = Scene::new();
    let tar = TarBuilder::default()
        .dir("d/")
        .linkish(Kind::Symlink, "d/up", "../../..")
        .file("d/up/sentinel/new", b"evil")
        .finish();
    assert_refused(
        scene.extract(&tar, ExtractMode::Overlay),
        "d/up/sentinel/new",
    );
    scene.assert_sentinel_untouched();
}

#[test]
fn existing_symlink_is_replaced_not_followed() {
    let scene = Scene::new();
    let target = format!("{}/keep", scene.s());
    let tar = TarBuilder::default()
        .linkish(Kind::Symlink, "x", &target)
        .file("x", b"new content")
        .finish();
    scene.extract(&tar, ExtractMode::Apply).expect("replace");
    let meta = std::fs::symlink_metadata(scene.target.join("x")).expect("lstat");
    assert!(meta.is_file(), "the symlink was replaced by a file");
    scene.assert_sentinel_untouched();
}

#[test]
fn hardlinks_out_of_the_target_are_refused() {
    let scene = Scene::new();
    let outside = format!("{}/keep", scene.s());
    for (link, why) in [
        ("/etc/passwd", "does not exist"),
        ("../x", "climbs"),
        (outside.as_str(), "does not exist"),
    ] {
        let tar = TarBuilder::default()
            .linkish(Kind::Link, "h", link)
            .finish();
        let err = assert_refused(scene.extract(&tar, ExtractMode::Apply), "\"h\"");
        assert!(err.to_string().contains(why), "{err}");
    }
    let tar = TarBuilder::default()
        .linkish(Kind::Symlink, "s", &scene.s())
        .linkish(Kind::Link, "h", "s/keep")
        .finish();
    let err = assert_refused(scene.extract(&tar, ExtractMode::Apply), "\"h\"");
    assert!(err.to_string().contains("symlink"), "{err}");
    assert!(!scene.target.join("h").exists());
    scene.assert_sentinel_untouched();
}

#[test]
fn hardlink_inside_the_target_works() {
    let scene = Scene::new();
    let tar = TarBuilder::default()
        .file("etc/passwd", b"root")
        .linkish(Kind::Link, "h", "/etc/passwd")
        .finish();
    scene.extract(&tar, ExtractMode::Apply).expect("extract");
    assert_eq!(
        std::fs::read(scene.target.join("h")).expect("read"),
        b"root"
    );
    scene.assert_sentinel_untouched();
}

#[test]
fn huge_pax_header_is_refused_without_buffering() {
    let scene = Scene::new();
    let mut pax = Header::new(Kind::PaxLocal, b"PaxHeaders/huge".to_vec());
    pax.size = 7 << 30;
    let mut tar = Vec::new();
    tarfmt::encode(&pax, &mut tar);
    tar.extend(std::iter::repeat_n(b'9', 64 * 1024));
    let err = assert_refused(
        scene.extract(&tar[..], ExtractMode::Apply),
        "PaxHeaders/huge",
    );
    assert!(
        matches!(
            err,
            ExtractError::Read {
                source: ReadError::ExtensionTooLarge { .. },
                ..
            }
        ),
        "{err}"
    );
    scene.assert_sentinel_untouched();
}

#[test]
fn truncated_gzip_names_the_entry() {
    let scene = Scene::new();
    let data: Vec<u8> = (0..4_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let tar = TarBuilder::default()
        .file("small", b"ok")
        .file("big.bin", &data)
        .finish();
    let mut w = LayerWriter::new(Vec::new(), Compression::Gzip).expect("gzip");
    w.write_all(&tar).expect("write");
    let (gz, _) = w.finish().expect("finish");
    let err = assert_refused(
        scene.extract(&gz[..gz.len() * 3 / 4], ExtractMode::Apply),
        "big.bin",
    );
    assert!(matches!(err, ExtractError::Data { .. }), "{err}");
    let err = scene
        .extract(&gz[..gz.len() - 4], ExtractMode::Apply)
        .expect_err("missing trailer");
    assert!(matches!(err, ExtractError::Read { .. }), "{err}");
    scene.assert_sentinel_untouched();
}

#[test]
fn device_nodes_are_replaced_never_written() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: creating device nodes needs root");
        return;
    }
    let scene = Scene::new();
    let tar = TarBuilder::default()
        .node(Kind::Char, "dev/null", 1, 3)
        .file("dev/null", b"evil")
        .node(Kind::Fifo, "pipe", 0, 0)
        .file("pipe", b"would block if opened")
        .finish();
    scene.extract(&tar, ExtractMode::Apply).expect("extract");
    assert_eq!(
        std::fs::read(scene.target.join("dev/null")).expect("read"),
        b"evil"
    );
    assert!(std::fs::symlink_metadata(scene.target.join("pipe"))
        .expect("lstat")
        .is_file());
    scene.assert_sentinel_untouched();
}

#[test]
fn whiteouts_do_not_reach_through_symlinks() {
    let scene = Scene::new();
    for (marker, mode) in [
        ("s/.wh.keep", ExtractMode::Apply),
        ("s/.wh..wh..opq", ExtractMode::Apply),
        ("s/.wh.keep", ExtractMode::Overlay),
    ] {
        let tar = TarBuilder::default()
            .linkish(Kind::Symlink, "s", &scene.s())
            .file(marker, b"")
            .finish();
        assert_refused(scene.extract(&tar, mode), marker);
        scene.assert_sentinel_untouched();
    }
    let tar = TarBuilder::default().file(".wh..", b"").finish();
    assert_refused(scene.extract(&tar, ExtractMode::Apply), ".wh..");
}

#[test]
fn overlay_xattrs_from_the_layer_are_dropped() {
    let scene = Scene::new();
    let mut h = Header::new(Kind::Dir, b"d/".to_vec());
    h.mode = 0o755;
    h.xattrs = vec![("trusted.overlay.opaque".into(), b"y".to_vec())];
    let tar = TarBuilder::default().push(h, b"").finish();
    scene.extract(&tar, ExtractMode::Overlay).expect("extract");
    assert!(xattr::list(&scene.target.join("d"))
        .expect("list")
        .is_empty());
}

#[test]
fn whiteouts_apply_and_convert() {
    let scene = Scene::new();
    std::fs::create_dir_all(scene.target.join("dir/old")).expect("mkdir");
    std::fs::write(scene.target.join("gone"), b"x").expect("write");
    std::fs::write(scene.target.join("stay"), b"x").expect("write");
    let tar = TarBuilder::default()
        .file(".wh.gone", b"")
        .dir("dir/")
        .file("dir/.wh..wh..opq", b"")
        .file("dir/new", b"n")
        .finish();
    let stats = scene.extract(&tar, ExtractMode::Apply).expect("apply");
    assert_eq!(stats.whiteouts, 2);
    let mut names: Vec<_> = std::fs::read_dir(&scene.target)
        .expect("ls")
        .map(|e| e.expect("e").file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["dir", "stay"]);
    let inside: Vec<_> = std::fs::read_dir(scene.target.join("dir"))
        .expect("ls")
        .map(|e| e.expect("e").file_name())
        .collect();
    assert_eq!(inside, ["new"]);
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: overlay markers need root");
        return;
    }
    let lower = tempfile::tempdir().expect("tempdir");
    extract(
        &tar[..],
        lower.path(),
        &ExtractOptions::new(ExtractMode::Overlay),
    )
    .expect("overlay");
    assert!(whiteout::is_overlay_whiteout(
        &std::fs::symlink_metadata(lower.path().join("gone")).expect("lstat")
    ));
    let attrs = xattr::list(&lower.path().join("dir")).expect("xattrs");
    assert!(
        attrs.iter().any(|(n, v)| whiteout::is_overlay_opaque(n, v)),
        "{attrs:?}"
    );
    let mut back = Vec::new();
    write_tree(
        lower.path(),
        &TreeOptions {
            mode: TreeMode::OverlayUpper,
            clamp_mtime: None,
        },
        &mut back,
    )
    .expect("write");
    let names: Vec<String> = tar::Archive::new(&back[..])
        .entries()
        .expect("entries")
        .map(|e| String::from_utf8_lossy(&e.expect("entry").path_bytes()).into_owned())
        .collect();
    assert_eq!(names, ["dir/", "dir/.wh..wh..opq", "dir/new", ".wh.gone"]);
}

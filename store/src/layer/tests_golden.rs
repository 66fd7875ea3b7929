//! Golden digest and round-trip tests: tree → tar → tree → tar.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::*;
use crate::digest::sha256_of;

/// sha256 of the fixture tree's tar. Changing it changes every layer digest rbuild
/// has ever produced: only bless a new value when the tar format change is intended.
const GOLDEN_DIFF_ID: &str =
    "sha256:57f42c5c8a85f7686e02103d3649562cd2b8723c1f8e350f3afaaea8e5f012e5";
const MTIME: i64 = 1_700_000_000;

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn set_mtime(path: &Path, secs: i64) {
    let t = rustix::fs::Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    let ts = rustix::fs::Timestamps {
        last_access: t,
        last_modification: t,
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        path,
        &ts,
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .expect("utimensat");
}

fn file(root: &Path, rel: &str, data: &[u8], mode: u32, owner: (u32, u32)) {
    let path = root.join(rel);
    std::fs::write(&path, data).expect("write");
    std::os::unix::fs::lchown(&path, Some(owner.0), Some(owner.1)).expect("chown");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A tree with every kind of entry the writer handles. Needs root (owners, fifo).
/// Returns false when the file system lacks user xattrs.
fn build_fixture(root: &Path) -> bool {
    for d in ["bin", "etc", "empty", "hard", "home/user", "run", "deep"] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    // Explicit modes everywhere: the digest must not depend on the umask.
    for d in [
        "bin",
        "etc",
        "empty",
        "hard",
        "home",
        "home/user",
        "run",
        "deep",
    ] {
        std::fs::set_permissions(root.join(d), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
    }
    file(root, "bin/tool", b"#!/bin/sh\necho hi\n", 0o755, (0, 0));
    file(root, "bin/su", b"setuid", 0o4755, (0, 0));
    file(
        root,
        "etc/passwd",
        b"root:x:0:0:root:/root:/bin/sh\n",
        0o644,
        (0, 0),
    );
    file(
        root,
        "home/user/notes.txt",
        b"private\n",
        0o600,
        (1000, 1000),
    );
    file(
        root,
        "big-uid",
        b"ids beyond ustar's 7 octal digits",
        0o640,
        (3_000_000, 3_000_001),
    );
    file(root, "hard/a", b"same inode", 0o644, (0, 0));
    std::fs::hard_link(root.join("hard/a"), root.join("hard/b")).expect("hardlink");
    let long = format!("deep/{}.txt", "long-name-".repeat(12));
    file(root, &long, b"a name over 100 bytes", 0o644, (0, 0));
    std::os::unix::fs::symlink("etc/passwd", root.join("link")).expect("symlink");
    std::os::unix::fs::symlink(format!("/{}", "x".repeat(120)), root.join("long-link"))
        .expect("symlink");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        root.join("run/fifo"),
        rustix::fs::FileType::Fifo,
        0o644.into(),
        0,
    )
    .expect("mkfifo");
    std::fs::set_permissions(
        root.join("run/fifo"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    std::os::unix::fs::chown(root.join("home/user"), Some(1000), Some(1000)).expect("chown");
    std::fs::set_permissions(
        root.join("home/user"),
        std::fs::Permissions::from_mode(0o700),
    )
    .expect("chmod");
    let tool = std::fs::File::open(root.join("bin/tool")).expect("open");
    if !xattr::set(&tool, "user.rbuild.golden", b"value\0with\x01bytes").expect("setxattr") {
        return false;
    }
    fix_mtimes(root);
    true
}

/// Sets every mtime to [`MTIME`], children before their directories.
fn fix_mtimes(root: &Path) {
    let mut paths: Vec<_> = walk(root).into_keys().collect();
    paths.sort_by(|a, b| b.cmp(a));
    for p in paths {
        set_mtime(&root.join(p), MTIME);
    }
    set_mtime(root, MTIME);
}

/// Every path under `root` → a description of everything a layer must keep.
fn walk(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk_into(root, root, &mut out);
    out
}

fn walk_into(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        let meta = std::fs::symlink_metadata(&path).expect("lstat");
        let rel = path
            .strip_prefix(root)
            .expect("prefix")
            .to_string_lossy()
            .into_owned();
        let content = if meta.is_file() {
            sha256_of(&std::fs::read(&path).expect("read")).to_string()
        } else if meta.file_type().is_symlink() {
            std::fs::read_link(&path)
                .expect("readlink")
                .to_string_lossy()
                .into_owned()
        } else {
            String::new()
        };
        let attrs: Vec<_> = xattr::list(&path)
            .expect("xattrs")
            .into_iter()
            .filter(|(n, _)| xattr::is_archived(n))
            .collect();
        let desc = format!(
            "mode={:o} uid={} gid={} mtime={} nlink={} rdev={} size={} {content} {attrs:?}",
            meta.mode(),
            meta.uid(),
            meta.gid(),
            meta.mtime(),
            if meta.is_dir() { 0 } else { meta.nlink() },
            meta.rdev(),
            if meta.is_dir() { 0 } else { meta.size() },
        );
        out.insert(rel, desc);
        if meta.is_dir() {
            walk_into(root, &path, out);
        }
    }
}

fn tar_of(root: &Path, mode: TreeMode) -> Vec<u8> {
    let mut tar = Vec::new();
    write_tree(
        root,
        &TreeOptions {
            mode,
            clamp_mtime: None,
        },
        &mut tar,
    )
    .expect("write_tree");
    tar
}

fn fixture() -> Option<tempfile::TempDir> {
    if !is_root() {
        eprintln!("skipped: the golden tree needs root (chown, fixed owners)");
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    if !build_fixture(dir.path()) {
        eprintln!("skipped: no user xattrs on this file system");
        return None;
    }
    Some(dir)
}

#[test]
fn golden_digest_is_stable() {
    let (Some(a), Some(b)) = (fixture(), fixture()) else {
        return;
    };
    let tar_a = tar_of(a.path(), TreeMode::Plain);
    let tar_b = tar_of(b.path(), TreeMode::Plain);
    assert_eq!(
        sha256_of(&tar_a),
        sha256_of(&tar_b),
        "same tree, same digest"
    );
    if std::env::var_os("RBUILD_BLESS").is_some() {
        eprintln!("golden diff_id: {}", sha256_of(&tar_a));
    }
    assert_eq!(
        sha256_of(&tar_a).to_string(),
        GOLDEN_DIFF_ID,
        "the layer tar format changed"
    );
}

#[test]
fn golden_tar_reads_back_with_other_readers() {
    let Some(dir) = fixture() else { return };
    let tar = tar_of(dir.path(), TreeMode::Plain);
    let mut archive = tar::Archive::new(&tar[..]);
    let mut seen = BTreeMap::new();
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let pax: Vec<String> = match entry.pax_extensions().expect("pax") {
            Some(exts) => exts
                .map(|e| e.expect("pax record").key().expect("key").to_string())
                .collect(),
            None => Vec::new(),
        };
        seen.insert(
            path,
            (
                entry.header().entry_type(),
                pax,
                entry.header().uid().expect("uid"),
            ),
        );
    }
    let long = format!("deep/{}.txt", "long-name-".repeat(12));
    assert!(seen.contains_key(&long), "long name via PAX: {seen:?}");
    assert_eq!(seen["hard/b"].0, tar::EntryType::Link);
    assert_eq!(seen["bin/tool"].1, ["SCHILY.xattr.user.rbuild.golden"]);
    assert_eq!(seen["big-uid"].2, 3_000_000);
    assert_eq!(seen["empty/"].0, tar::EntryType::Directory);
    assert_eq!(seen["run/fifo"].0, tar::EntryType::Fifo);
    gnu_tar_lists(&tar, &long);
}

/// GNU tar, when installed, must list the stream without complaint.
fn gnu_tar_lists(tar: &[u8], long: &str) {
    use std::io::Write;
    let child = std::process::Command::new("tar")
        .args(["-tf", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("skipped: no tar binary for the cross-check");
        return;
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(tar)
        .expect("feed tar");
    let out = child.wait_with_output().expect("tar -t");
    assert!(out.status.success(), "GNU tar rejects the stream");
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.lines().any(|l| l == long), "{listing}");
}

#[test]
fn round_trip_through_both_extract_modes() {
    let Some(src) = fixture() else { return };
    let tar = tar_of(src.path(), TreeMode::Plain);
    for mode in [ExtractMode::Apply, ExtractMode::Overlay] {
        let dst = tempfile::tempdir().expect("tempdir");
        let stats = extract(&tar[..], dst.path(), &ExtractOptions::new(mode)).expect("extract");
        assert_eq!(walk(dst.path()), walk(src.path()), "{mode:?}");
        assert!(stats.file_bytes > 0 && stats.entries > 10);
        let again = tar_of(dst.path(), TreeMode::Plain);
        assert_eq!(
            sha256_of(&again),
            sha256_of(&tar),
            "{mode:?}: tar of the extracted tree"
        );
    }
}

#[test]
fn compressed_layers_round_trip() {
    let Some(src) = fixture() else { return };
    for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let opts = TreeOptions::default();
        let (blob, digests, stats) =
            write_layer(src.path(), &opts, compression, Vec::new()).expect("layer");
        assert_eq!(digests.tar_size, stats.bytes);
        assert_eq!(
            digests.diff_id,
            sha256_of(&tar_of(src.path(), TreeMode::Plain))
        );
        assert_eq!(digests.layer().blob.digest(), &sha256_of(&blob));
        let dst = tempfile::tempdir().expect("tempdir");
        let x = extract(
            &blob[..],
            dst.path(),
            &ExtractOptions::new(ExtractMode::Apply),
        )
        .expect("extract");
        assert_eq!(x.compression, compression);
        assert_eq!(walk(dst.path()), walk(src.path()), "{compression:?}");
    }
}

#[test]
fn file_capabilities_survive_a_round_trip() {
    if !is_root() {
        eprintln!("skipped: security.capability needs root");
        return;
    }
    let src = tempfile::tempdir().expect("tempdir");
    file(src.path(), "ping", b"\x7fELF", 0o755, (0, 0));
    // vfs_cap_data v2: effective, cap_net_raw (13) permitted.
    let cap: [u8; 20] = [
        1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let f = std::fs::File::open(src.path().join("ping")).expect("open");
    if !xattr::set(&f, "security.capability", &cap).expect("setcap") {
        eprintln!("skipped: file system refuses security.capability");
        return;
    }
    let tar = tar_of(src.path(), TreeMode::Plain);
    let dst = tempfile::tempdir().expect("tempdir");
    extract(
        &tar[..],
        dst.path(),
        &ExtractOptions::new(ExtractMode::Apply),
    )
    .expect("extract");
    let got = xattr::list(&dst.path().join("ping")).expect("list");
    assert_eq!(got, vec![("security.capability".to_string(), cap.to_vec())]);
}

#[test]
fn uncompressed_layer_through_a_hashing_sink_has_the_golden_digest() {
    let Some(dir) = fixture() else { return };
    let sink = crate::digest::HashingWriter::new(Vec::new());
    let opts = super::TreeOptions::default();
    let (sink, stats) = super::write_uncompressed(dir.path(), &opts, sink).expect("write");
    let (bytes, digest, count) = sink.into_parts();
    assert_eq!(count, stats.bytes);
    assert_eq!(bytes, tar_of(dir.path(), TreeMode::Plain));
    assert_eq!(digest.to_string(), GOLDEN_DIFF_ID);
}

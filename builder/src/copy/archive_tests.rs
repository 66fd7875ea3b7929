//! ADD archive tests: detection by content, the three compressions, hostile archives.

use super::*;
use std::io::Write;

/// A tar of regular files.
pub(super) fn tar_bytes(files: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, body) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o640);
        h.set_uid(7);
        h.set_gid(8);
        h.set_mtime(1_234_567_890);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, body.as_bytes()).unwrap();
    }
    b.into_inner().unwrap()
}

/// A gzip-compressed tar.
pub(super) fn tar_gz(files: &[(&str, &str)]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&tar_bytes(files)).unwrap();
    e.finish().unwrap()
}

fn tar_bz2(files: &[(&str, &str)]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    e.write_all(&tar_bytes(files)).unwrap();
    e.finish().unwrap()
}

fn tar_xz(files: &[(&str, &str)]) -> Vec<u8> {
    let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
    e.write_all(&tar_bytes(files)).unwrap();
    e.finish().unwrap()
}

/// Appends an entry with a raw (unchecked) name, as a hostile archive would.
fn raw_entry(
    b: &mut tar::Builder<Vec<u8>>,
    name: &str,
    kind: tar::EntryType,
    link: &str,
    body: &[u8],
) {
    let mut h = tar::Header::new_gnu();
    let raw = &mut h.as_gnu_mut().unwrap().name;
    raw[..name.len()].copy_from_slice(name.as_bytes());
    h.set_entry_type(kind);
    h.set_mode(0o755);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_size(body.len() as u64);
    if !link.is_empty() {
        let raw = &mut h.as_gnu_mut().unwrap().linkname;
        raw[..link.len()].copy_from_slice(link.as_bytes());
    }
    h.set_cksum();
    b.append(&h, body).unwrap();
}

fn add(f: &Fixture, src: &str, dest: &str) -> Result<CopyStats, CopyError> {
    let mut req = f.req(&[src], dest);
    req.kind = CopyKind::Add;
    copy_into(&f.root, &req)
}

#[test]
fn add_extracts_tar_gz_bz2_xz_by_content() {
    let f = fixture();
    let files = [("dir/one.txt", "1"), ("two.txt", "22")];
    fs::write(f.ctx.join("plain.bin"), tar_bytes(&files)).unwrap();
    fs::write(f.ctx.join("a.tgz"), tar_gz(&files)).unwrap();
    fs::write(f.ctx.join("no-extension"), tar_bz2(&files)).unwrap();
    fs::write(f.ctx.join("c.tar.xz"), tar_xz(&files)).unwrap();
    for (src, dest) in [
        ("plain.bin", "/p"),
        ("a.tgz", "/g/"),
        ("no-extension", "/b"),
        ("c.tar.xz", "/x"),
    ] {
        let stats = add(&f, src, dest).unwrap();
        assert_eq!(stats.files, 2, "{src}");
        let d = dest.trim_matches('/');
        assert_eq!(f.read(&format!("{d}/dir/one.txt")), "1", "{src}");
        assert_eq!(f.read(&format!("{d}/two.txt")), "22", "{src}");
        let m = f.meta(&format!("{d}/two.txt"));
        assert_eq!(
            (m.mode() & 0o7777, m.uid(), m.gid(), m.mtime()),
            (0o640, 7, 8, 1_234_567_890)
        );
    }
    // COPY never extracts.
    copy_into(&f.root, &f.req(&["a.tgz"], "/copied.tgz")).unwrap();
    assert!(f.meta("copied.tgz").is_file());
}

#[test]
fn add_copies_non_archives_as_files() {
    let f = fixture();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"just text, not a tar").unwrap();
    fs::write(f.ctx.join("notes.gz"), gz.finish().unwrap()).unwrap();
    fs::write(f.ctx.join("fake.tar"), "plain text with a .tar name").unwrap();
    add(&f, "notes.gz", "/n/").unwrap();
    add(&f, "fake.tar", "/n/").unwrap();
    assert!(f.meta("n/notes.gz").is_file());
    assert_eq!(f.read("n/fake.tar"), "plain text with a .tar name");
}

#[test]
fn add_chown_applies_to_extracted_entries() {
    let f = fixture();
    fs::write(f.ctx.join("a.tgz"), tar_gz(&[("f", "x")])).unwrap();
    let mut req = f.req(&["a.tgz"], "/o/");
    req.kind = CopyKind::Add;
    req.chown = Some("app".into());
    copy_into(&f.root, &req).unwrap();
    assert_eq!((f.meta("o/f").uid(), f.meta("o/f").gid()), (1000, 1001));
}

#[test]
fn hostile_archives_are_refused() {
    let cases: [(&str, tar::EntryType, &str); 3] = [
        ("../escape", tar::EntryType::Regular, ""),
        ("ln", tar::EntryType::Symlink, "../../../../etc"),
        ("hl", tar::EntryType::Link, "../../etc/passwd"),
    ];
    for (name, kind, link) in cases {
        let f = fixture();
        let mut b = tar::Builder::new(Vec::new());
        raw_entry(
            &mut b,
            name,
            kind,
            link,
            if link.is_empty() { b"x" } else { b"" },
        );
        fs::write(f.ctx.join("evil.tar"), b.into_inner().unwrap()).unwrap();
        let err = add(&f, "evil.tar", "/dest/").unwrap_err();
        assert!(
            matches!(err, CopyError::ArchiveBreakout { .. }),
            "{name}: {err}"
        );
        assert!(!f.ctx.parent().unwrap().join("escape").exists());
        assert!(!f.root.join("escape").exists());
    }
}

#[test]
fn archive_symlink_to_host_dir_redirects_inside_the_rootfs() {
    let f = fixture();
    let name = format!("rbuild-archive-escape-{}", std::process::id());
    let mut b = tar::Builder::new(Vec::new());
    raw_entry(&mut b, "etcdir", tar::EntryType::Symlink, "/etc", b"");
    raw_entry(
        &mut b,
        &format!("etcdir/{name}"),
        tar::EntryType::Regular,
        "",
        b"boom",
    );
    fs::write(f.ctx.join("a.tar"), b.into_inner().unwrap()).unwrap();
    add(&f, "a.tar", "/x/").unwrap();
    assert!(
        !Path::new("/etc").join(&name).exists(),
        "archive wrote onto the host"
    );
    assert_eq!(f.read(&format!("etc/{name}")), "boom");
}

//! COPY/ADD behaviour tests on temporary directories.

use super::*;
use crate::context::HashCache;
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;

/// A context dir and a destination rootfs.
struct Fixture {
    _tmp: tempfile::TempDir,
    ctx: PathBuf,
    root: PathBuf,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = tmp.path().join("ctx");
    let root = tmp.path().join("rootfs");
    fs::create_dir_all(&ctx).unwrap();
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(
        root.join("etc/passwd"),
        "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/app:/bin/sh\n",
    )
    .unwrap();
    fs::write(root.join("etc/group"), "root:x:0:\nstaff:x:50:\n").unwrap();
    Fixture {
        _tmp: tmp,
        ctx,
        root,
    }
}

impl Fixture {
    fn file(&self, rel: &str, body: &str) -> PathBuf {
        let p = self.ctx.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, body).unwrap();
        p
    }

    fn req(&self, sources: &[&str], dest: &str) -> CopyRequest {
        self.req_ignoring(sources, dest, "")
    }

    fn req_ignoring(&self, sources: &[&str], dest: &str, ignore: &str) -> CopyRequest {
        let ignore = Arc::new(IgnoreMatcher::parse(ignore).unwrap());
        let src = SourceRoot::Context {
            dir: self.ctx.clone(),
            ignore,
        };
        CopyRequest::new(
            CopyKind::Copy,
            src,
            sources.iter().map(|s| s.to_string()).collect(),
            dest,
        )
    }

    fn read(&self, inner: &str) -> String {
        fs::read_to_string(self.root.join(inner)).unwrap_or_else(|e| panic!("{inner}: {e}"))
    }

    fn exists(&self, inner: &str) -> bool {
        fs::symlink_metadata(self.root.join(inner)).is_ok()
    }

    fn meta(&self, inner: &str) -> fs::Metadata {
        fs::symlink_metadata(self.root.join(inner)).unwrap()
    }
}

#[test]
fn file_destination_rules() {
    let f = fixture();
    f.file("a.txt", "A");
    fs::create_dir_all(f.root.join("existing")).unwrap();
    copy_into(&f.root, &f.req(&["a.txt"], "/renamed")).unwrap();
    copy_into(&f.root, &f.req(&["a.txt"], "/newdir/")).unwrap();
    copy_into(&f.root, &f.req(&["a.txt"], "/existing")).unwrap();
    let mut rel = f.req(&["/a.txt"], "sub/x.txt");
    rel.workdir = "/work".into();
    copy_into(&f.root, &rel).unwrap();
    let mut dot = f.req(&["a.txt"], ".");
    dot.workdir = "/w2".into();
    copy_into(&f.root, &dot).unwrap();
    assert_eq!(f.read("renamed"), "A");
    assert_eq!(f.read("newdir/a.txt"), "A");
    assert_eq!(f.read("existing/a.txt"), "A");
    assert_eq!(f.read("work/sub/x.txt"), "A");
    assert_eq!(f.read("w2/a.txt"), "A");
    let parent = f.meta("work/sub");
    assert_eq!(
        (parent.mode() & 0o7777, parent.uid(), parent.gid()),
        (0o755, 0, 0)
    );
}

#[test]
fn directory_copies_its_contents() {
    let f = fixture();
    f.file("dir/top", "t");
    f.file("dir/sub/deep", "d");
    let stats = copy_into(&f.root, &f.req(&["dir"], "/out")).unwrap();
    assert_eq!(f.read("out/top"), "t");
    assert_eq!(f.read("out/sub/deep"), "d");
    assert!(!f.exists("out/dir"));
    assert_eq!((stats.files, stats.bytes), (2, 2));
    copy_into(&f.root, &f.req(&["."], "/all/")).unwrap();
    assert_eq!(f.read("all/dir/sub/deep"), "d");
}

#[test]
fn a_later_source_replaces_entries_an_earlier_one_put_in_new_dirs() {
    let f = fixture();
    f.file("one/x", "1");
    f.file("one/sub/y", "1");
    f.file("two/x", "2");
    f.file("two/sub/y", "2");
    f.file("two/sub/z", "2");
    copy_into(&f.root, &f.req(&["one", "two"], "/out/")).unwrap();
    assert_eq!(
        (f.read("out/x"), f.read("out/sub/y")),
        ("2".into(), "2".into())
    );
    assert_eq!(f.read("out/sub/z"), "2");
}

#[test]
fn several_sources_need_a_slash_and_globs_expand() {
    let f = fixture();
    f.file("a.txt", "a");
    f.file("b.txt", "b");
    f.file("c.md", "c");
    f.file("src/x.c", "x");
    f.file("srd/y.c", "y");
    let err = copy_into(&f.root, &f.req(&["a.txt", "b.txt"], "/d")).unwrap_err();
    assert!(matches!(err, CopyError::DestNotDirectory { .. }), "{err}");
    copy_into(&f.root, &f.req(&["a.txt", "b.txt"], "/d/")).unwrap();
    assert_eq!(f.read("d/b.txt"), "b");
    copy_into(&f.root, &f.req(&["*.txt"], "/g")).unwrap();
    assert!(f.exists("g/a.txt") && f.exists("g/b.txt") && !f.exists("g/c.md"));
    copy_into(&f.root, &f.req(&["sr?/*.c"], "/c/")).unwrap();
    assert_eq!((f.read("c/x.c"), f.read("c/y.c")), ("x".into(), "y".into()));
    copy_into(&f.root, &f.req(&["[b-c].*"], "/r/")).unwrap();
    assert!(f.exists("r/b.txt") && f.exists("r/c.md") && !f.exists("r/a.txt"));
}

#[test]
fn missing_and_ignored_sources_are_errors_naming_the_path() {
    let f = fixture();
    f.file("secret.key", "s");
    let err = copy_into(&f.root, &f.req(&["nope.txt"], "/")).unwrap_err();
    assert!(
        matches!(err, CopyError::SourceNotFound { .. }) && err.to_string().contains("nope.txt"),
        "{err}"
    );
    let err = copy_into(&f.root, &f.req(&["*.none"], "/")).unwrap_err();
    assert!(
        err.to_string().contains("no source files were specified")
            && err.to_string().contains("*.none")
    );
    let err = copy_into(&f.root, &f.req_ignoring(&["secret.key"], "/", "*.key")).unwrap_err();
    assert!(matches!(err, CopyError::SourceNotFound { .. }), "{err}");
    f.file("d/keep", "k");
    f.file("d/drop.key", "x");
    copy_into(&f.root, &f.req_ignoring(&["d"], "/d/", "**/*.key")).unwrap();
    assert!(f.exists("d/keep") && !f.exists("d/drop.key"));
}

#[test]
fn sources_cannot_escape_the_context() {
    let f = fixture();
    let outside = f.ctx.parent().unwrap().join("outside.txt");
    fs::write(&outside, "host secret").unwrap();
    let err = copy_into(&f.root, &f.req(&["../outside.txt"], "/")).unwrap_err();
    assert!(matches!(err, CopyError::OutsideSourceRoot { .. }), "{err}");
    symlink("/etc", f.ctx.join("etc-abs")).unwrap();
    symlink("../", f.ctx.join("up")).unwrap();
    symlink("../outside.txt", f.ctx.join("leaf")).unwrap();
    for src in ["etc-abs/passwd", "up/outside.txt", "leaf"] {
        let err = copy_into(&f.root, &f.req(&[src], "/stolen")).unwrap_err();
        assert!(
            matches!(err, CopyError::SourceNotFound { .. }),
            "{src}: {err}"
        );
    }
    assert!(!f.exists("stolen"));
    // Inside the context the links resolve like a chroot.
    f.file("etc/passwd", "ctx passwd");
    copy_into(&f.root, &f.req(&["etc-abs/passwd"], "/p")).unwrap();
    assert_eq!(f.read("p"), "ctx passwd");
}

#[test]
fn symlinks_in_a_directory_are_copied_as_symlinks() {
    let f = fixture();
    f.file("d/target", "t");
    symlink("/etc/shadow", f.ctx.join("d/abs")).unwrap();
    symlink("target", f.ctx.join("d/rel")).unwrap();
    copy_into(&f.root, &f.req(&["d"], "/d")).unwrap();
    assert_eq!(
        fs::read_link(f.root.join("d/abs")).unwrap(),
        Path::new("/etc/shadow")
    );
    assert_eq!(
        fs::read_link(f.root.join("d/rel")).unwrap(),
        Path::new("target")
    );
    // A symlink as the source itself is followed inside the context (BuildKit).
    copy_into(&f.root, &f.req(&["d/rel"], "/followed")).unwrap();
    assert_eq!(f.read("followed"), "t");
    let mut nofollow = f.req(&["d/rel"], "/kept");
    nofollow.follow_symlinks = false;
    copy_into(&f.root, &nofollow).unwrap();
    assert!(f.meta("kept").file_type().is_symlink());
}

#[test]
fn destination_symlinks_cannot_redirect_onto_the_host() {
    let f = fixture();
    f.file("payload", "p");
    f.file("dir/inner", "i");
    symlink("/etc", f.root.join("app")).unwrap();
    symlink("../../../../etc", f.root.join("rel")).unwrap();
    let name = format!("rbuild-escape-{}", std::process::id());
    copy_into(&f.root, &f.req(&["payload"], &format!("/app/{name}"))).unwrap();
    copy_into(&f.root, &f.req(&["payload"], &format!("/rel/{name}-2"))).unwrap();
    copy_into(&f.root, &f.req(&["dir"], "/rel/")).unwrap();
    assert!(
        !Path::new("/etc").join(&name).exists(),
        "wrote onto the host"
    );
    assert!(!Path::new("/etc/inner").exists() || fs::read_to_string("/etc/inner").unwrap() != "i");
    assert_eq!(f.read(&format!("etc/{name}")), "p");
    assert_eq!(f.read(&format!("etc/{name}-2")), "p");
    assert_eq!(f.read("etc/inner"), "i");
    // An existing dest file that is a symlink is replaced inside the root, not followed out.
    symlink("/etc/hostname", f.root.join("etc/hn")).unwrap();
    copy_into(&f.root, &f.req(&["payload"], "/etc/hn")).unwrap();
    assert_eq!(f.read("etc/hostname"), "p");
}

#[test]
fn chown_chmod_and_default_owners() {
    let f = fixture();
    let p = f.file("d/f", "x");
    std::os::unix::fs::lchown(&p, Some(1234), Some(4321)).unwrap();
    std::os::unix::fs::lchown(f.ctx.join("d"), Some(1234), Some(4321)).unwrap();
    copy_into(&f.root, &f.req(&["d"], "/ctx-default/")).unwrap();
    assert_eq!(
        (f.meta("ctx-default/f").uid(), f.meta("ctx-default/f").gid()),
        (0, 0)
    );
    let mut named = f.req(&["d"], "/named/deep/");
    named.chown = Some("app:staff".into());
    named.chmod = Some("0751".into());
    copy_into(&f.root, &named).unwrap();
    for inner in ["named/deep/f", "named/deep", "named"] {
        let m = f.meta(inner);
        assert_eq!((m.uid(), m.gid()), (1000, 50), "{inner}");
    }
    assert_eq!(f.meta("named/deep/f").mode() & 0o7777, 0o751);
    assert_eq!(f.meta("named/deep").mode() & 0o7777, 0o751);
    assert_eq!(
        f.meta("named").mode() & 0o7777,
        0o755,
        "created parents are 0755"
    );
    let from = CopyRequest::new(
        CopyKind::Copy,
        SourceRoot::Rootfs(f.ctx.clone()),
        vec!["d/f".into()],
        "/kept",
    );
    copy_into(&f.root, &from).unwrap();
    assert_eq!((f.meta("kept").uid(), f.meta("kept").gid()), (1234, 4321));
    let mut bad = f.req(&["d"], "/x/");
    bad.chown = Some("ghost".into());
    assert!(matches!(
        copy_into(&f.root, &bad),
        Err(CopyError::UnknownOwner { .. })
    ));
}

#[test]
fn hardlinks_modes_and_mtimes_are_kept() {
    let f = fixture();
    let a = f.file("h/a", "same");
    fs::hard_link(&a, f.ctx.join("h/b")).unwrap();
    fs::set_permissions(&a, fs::Permissions::from_mode(0o4711)).unwrap();
    let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    fs::File::options()
        .write(true)
        .open(&a)
        .unwrap()
        .set_modified(old)
        .unwrap();
    fs::File::open(f.ctx.join("h"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    let stats = copy_into(&f.root, &f.req(&["h"], "/h")).unwrap();
    assert_eq!(stats.hardlinks, 1);
    assert_eq!(f.meta("h/a").ino(), f.meta("h/b").ino());
    assert_eq!(f.meta("h/a").mode() & 0o7777, 0o4711);
    assert_eq!(f.meta("h/a").mtime(), 1_000_000_000);
    assert_eq!(
        f.meta("h").mtime(),
        1_000_000_000,
        "dir mtime set after its contents"
    );
}

#[test]
fn xattrs_are_kept() {
    let f = fixture();
    let p = f.file("x", "x");
    if rustix::fs::lsetxattr(&p, "user.rbuild", b"v", rustix::fs::XattrFlags::empty()).is_err() {
        eprintln!("skipped: filesystem of the temp dir has no user xattrs");
        return;
    }
    copy_into(&f.root, &f.req(&["x"], "/x")).unwrap();
    let mut buf = [0u8; 8];
    let n = rustix::fs::lgetxattr(f.root.join("x"), "user.rbuild", &mut buf[..]).unwrap();
    assert_eq!(&buf[..n], b"v");
}

#[test]
fn heredocs_and_urls() {
    let f = fixture();
    let mut doc = CopyRequest::new(CopyKind::Copy, SourceRoot::None, vec![], "/etc/motd");
    doc.heredocs.push(Heredoc {
        name: "EOF".into(),
        body: "hello\n".into(),
    });
    doc.created_time = Some(1_700_000_000);
    copy_into(&f.root, &doc).unwrap();
    assert_eq!(f.read("etc/motd"), "hello\n");
    assert_eq!(
        (
            f.meta("etc/motd").mode() & 0o777,
            f.meta("etc/motd").mtime()
        ),
        (0o664, 1_700_000_000)
    );
    let url = "https://example.com/files/tool.tar.gz".to_string();
    let copy = CopyRequest::new(CopyKind::Copy, SourceRoot::None, vec![url.clone()], "/");
    assert!(matches!(
        copy_into(&f.root, &copy),
        Err(CopyError::UrlInCopy { .. })
    ));
    let mut add = CopyRequest::new(CopyKind::Add, SourceRoot::None, vec![url.clone()], "/dl/");
    assert!(matches!(
        copy_into(&f.root, &add),
        Err(CopyError::UrlNotSupported { .. })
    ));
    add.fetcher = Some(Arc::new(FakeFetcher(archive_tests::tar_gz(&[(
        "inner", "i",
    )]))));
    copy_into(&f.root, &add).unwrap();
    assert!(
        f.meta("dl/tool.tar.gz").is_file(),
        "a URL download is never extracted"
    );
    assert_eq!(f.meta("dl/tool.tar.gz").mode() & 0o777, 0o600);
    add.checksum = Some(format!("sha256:{}", "0".repeat(64)));
    assert!(matches!(
        copy_into(&f.root, &add),
        Err(CopyError::ChecksumMismatch { .. })
    ));
    let good = rbuild_store::digest::sha256_of(&archive_tests::tar_gz(&[("inner", "i")]));
    add.checksum = Some(good.to_string());
    add.dest = "/dl/renamed".into();
    copy_into(&f.root, &add).unwrap();
    assert!(f.meta("dl/renamed").is_file());
}

/// Serves fixed bytes.
struct FakeFetcher(Vec<u8>);

impl UrlFetcher for FakeFetcher {
    fn fetch(&self, _url: &str, out: &mut dyn std::io::Write) -> std::io::Result<Option<i64>> {
        out.write_all(&self.0)?;
        Ok(None)
    }
}

#[test]
fn source_digest_tracks_content_and_mode_not_mtime() {
    let f = fixture();
    let a = f.file("app/a", "one");
    f.file("app/b.log", "log");
    let req = f.req_ignoring(&["app"], "/app", "**/*.log");
    let cache = HashCache::in_memory();
    let d1 = source_digest(&req, &cache).unwrap();
    fs::File::options()
        .write(true)
        .open(&a)
        .unwrap()
        .set_modified(std::time::UNIX_EPOCH)
        .unwrap();
    assert_eq!(
        source_digest(&req, &cache).unwrap(),
        d1,
        "touch keeps the digest"
    );
    fs::write(f.ctx.join("app/b.log"), "ignored change").unwrap();
    assert_eq!(
        source_digest(&req, &cache).unwrap(),
        d1,
        "ignored files do not count"
    );
    fs::set_permissions(&a, fs::Permissions::from_mode(0o700)).unwrap();
    let d2 = source_digest(&req, &cache).unwrap();
    assert_ne!(d2, d1, "mode counts");
    fs::write(&a, "two").unwrap();
    let d3 = source_digest(&req, &cache).unwrap();
    assert_ne!(d3, d2, "content counts");
    fs::hard_link(&a, f.ctx.join("app/c")).unwrap();
    fs::remove_file(f.ctx.join("app/c")).unwrap();
    assert_eq!(source_digest(&req, &cache).unwrap(), d3);
}

#[test]
fn source_digest_is_the_same_for_a_fresh_copy() {
    let f = fixture();
    f.file("src/main.rs", "fn main() {}");
    f.file("src/lib.rs", "");
    let other = f.ctx.parent().unwrap().join("clone");
    fs::create_dir_all(other.join("src")).unwrap();
    fs::write(other.join("src/lib.rs"), "").unwrap();
    fs::write(other.join("src/main.rs"), "fn main() {}").unwrap();
    let cache = HashCache::in_memory();
    let d1 = source_digest(&f.req(&["src"], "/s"), &cache).unwrap();
    let ignore = Arc::new(IgnoreMatcher::default());
    let src = SourceRoot::Context { dir: other, ignore };
    let clone = CopyRequest::new(CopyKind::Copy, src, vec!["src".into()], "/s");
    assert_eq!(source_digest(&clone, &cache).unwrap(), d1);
}

#[path = "archive_tests.rs"]
mod archive_tests;

#[test]
fn a_file_in_the_way_of_a_destination_dir_is_named() {
    let f = fixture();
    f.file("a.txt", "a");
    f.file("d/b.txt", "b");
    fs::write(f.root.join("file"), "x").unwrap();
    let err = copy_into(&f.root, &f.req(&["a.txt"], "/file/x")).unwrap_err();
    assert!(
        matches!(&err, CopyError::NotADirectory { path } if path == "/file"),
        "{err}"
    );
    let err = copy_into(&f.root, &f.req(&["d"], "/file")).unwrap_err();
    assert!(
        matches!(&err, CopyError::DirOntoFile { src, dest } if src == "/d" && dest == "/file"),
        "{err}"
    );
}

//! Lifecycle tests of the snapshotter that need no root (mounts are only described).

use super::*;

fn snapshotter() -> (tempfile::TempDir, Snapshotter) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Snapshotter::open(dir.path()).expect("open");
    (dir, s)
}

/// Commits a snapshot `name` on `parent` holding one file named after it.
fn layer(s: &Snapshotter, name: &str, parent: Option<&str>) -> Info {
    s.create_committed_from(name, parent, |fs| std::fs::write(fs.join(name), name))
        .expect("create layer")
}

fn option<'a>(m: &'a Mount, prefix: &str) -> &'a str {
    m.options
        .iter()
        .find_map(|o| o.strip_prefix(prefix))
        .expect("option present")
}

#[test]
fn prepare_on_scratch_uses_the_empty_lower_dir() {
    let (_d, s) = snapshotter();
    let mounts = s.prepare("k", None).expect("prepare");
    assert_eq!(mounts.len(), 1);
    assert_eq!(
        option(&mounts[0], "lowerdir="),
        s.root().join("empty").display().to_string()
    );
    let upper = s.fs_dir("k").expect("fs");
    assert_eq!(option(&mounts[0], "upperdir="), upper.display().to_string());
    assert!(upper.is_dir() && upper.read_dir().expect("read").next().is_none());
}

#[test]
fn lower_dirs_are_the_parent_chain_topmost_first() {
    let (_d, s) = snapshotter();
    let a = layer(&s, "a", None);
    let b = layer(&s, "b", Some("a"));
    assert_eq!(b.parent.as_deref(), Some("a"));
    let mounts = s.prepare("k", Some("b")).expect("prepare");
    let fs = |i: &Info| s.root().join(&i.id).join("fs").display().to_string();
    assert_eq!(
        option(&mounts[0], "lowerdir="),
        format!("{}:{}", fs(&b), fs(&a))
    );
    assert!(mounts[0].cwd.is_none());
}

#[test]
fn commit_moves_the_key_to_the_name() {
    let (_d, s) = snapshotter();
    s.prepare("key", None).expect("prepare");
    std::fs::write(s.fs_dir("key").expect("fs").join("f"), "x").expect("write");
    let info = s.commit("name", "key").expect("commit");
    assert_eq!(info.kind, Kind::Committed);
    assert!(s.stat("key").expect("stat").is_none());
    assert_eq!(
        std::fs::read(s.fs_dir("name").expect("fs").join("f")).expect("read"),
        b"x"
    );
    assert!(matches!(
        s.mounts("name"),
        Err(SnapshotError::NotActive { .. })
    ));
    assert!(matches!(
        s.commit("other", "name"),
        Err(SnapshotError::NotActive { .. })
    ));
    assert!(matches!(
        s.commit("other", "key"),
        Err(SnapshotError::NotFound { .. })
    ));
}

#[test]
fn parents_must_be_committed_and_keys_unique() {
    let (_d, s) = snapshotter();
    s.prepare("active", None).expect("prepare");
    assert!(matches!(
        s.prepare("x", Some("active")),
        Err(SnapshotError::ParentNotCommitted { .. })
    ));
    assert!(matches!(
        s.prepare("active", None),
        Err(SnapshotError::AlreadyExists { .. })
    ));
    assert!(matches!(
        s.prepare("y", Some("missing")),
        Err(SnapshotError::NotFound { .. })
    ));
}

#[test]
fn remove_refuses_parents_with_children_and_cleans_up() {
    let (_d, s) = snapshotter();
    let a = layer(&s, "a", None);
    s.prepare("k", Some("a")).expect("prepare");
    assert!(matches!(
        s.remove("a"),
        Err(SnapshotError::HasChildren { children: 1, .. })
    ));
    s.remove("k").expect("remove child");
    s.remove("a").expect("remove parent");
    assert!(!s.root().join(&a.id).exists());
    assert_eq!(std::fs::read_dir(s.root().join("l")).expect("l").count(), 0);
    assert!(s.list().expect("list").is_empty());
}

#[test]
fn view_is_read_only_with_two_lowers() {
    let (_d, s) = snapshotter();
    layer(&s, "a", None);
    let mounts = s.view("v", Some("a")).expect("view");
    assert!(mounts[0].read_only());
    assert!(option(&mounts[0], "lowerdir=").contains(':'));
    assert!(!mounts[0].data().contains("upperdir"));
}

#[test]
fn long_chains_switch_to_short_links_relative_to_the_link_dir() {
    let (d, s) = snapshotter();
    let s = s.with_page_limit(1024);
    let mut parent: Option<String> = None;
    for i in 0..150 {
        let name = format!("layer{i}");
        layer(&s, &name, parent.as_deref());
        parent = Some(name);
    }
    let mounts = s.prepare("k", parent.as_deref()).expect("prepare");
    let m = &mounts[0];
    assert_eq!(
        m.cwd.as_deref(),
        Some(d.path().join("snapshots/l").as_path())
    );
    let lowers: Vec<&str> = option(m, "lowerdir=").split(':').collect();
    assert_eq!(lowers.len(), 150);
    let top = std::fs::read_to_string(
        m.cwd
            .as_ref()
            .expect("cwd")
            .join(lowers[0])
            .join("layer149"),
    );
    assert_eq!(top.expect("link resolves to the top layer"), "layer149");
    assert!(m.data().len() < 4095, "{} bytes", m.data().len());
}

#[test]
fn create_committed_from_reuses_and_cleans_up_on_failure() {
    let (_d, s) = snapshotter();
    let first = layer(&s, "sha256:aa", None);
    let again = s
        .create_committed_from("sha256:aa", None, |_| {
            Err(std::io::Error::other("must not run"))
        })
        .expect("existing");
    assert_eq!(first, again);
    let err = s
        .create_committed_from("sha256:bb", None, |_| {
            Err(std::io::Error::other("disk full"))
        })
        .expect_err("fill fails");
    assert!(err.to_string().contains("disk full"), "{err}");
    assert_eq!(
        s.list().expect("list").len(),
        1,
        "the failed fill left nothing behind"
    );
}

#[test]
fn extracted_finds_layers_by_chain_id() {
    let (_d, s) = snapshotter();
    let base = rbuild_store::digest::sha256_of(b"base");
    let top = rbuild_store::digest::sha256_of(b"top");
    let chain = chain_id(Some(&base), &top);
    assert_ne!(chain, top);
    assert_eq!(chain_id(None, &base), base);
    assert!(s.extracted(&chain).expect("lookup").is_none());
    layer(&s, base.as_ref(), None);
    layer(&s, chain.as_ref(), Some(base.as_ref()));
    assert_eq!(
        s.extracted(&chain).expect("lookup").map(|i| i.name),
        Some(chain.to_string())
    );
}

#[test]
fn losing_a_commit_race_leaves_the_key_active() {
    let (_d, s) = snapshotter();
    let first = layer(&s, "taken", None);
    s.prepare("k", None).expect("prepare");
    assert!(matches!(
        s.commit("taken", "k"),
        Err(SnapshotError::AlreadyExists { .. })
    ));
    assert_eq!(
        s.stat("k").expect("stat").map(|i| i.kind),
        Some(Kind::Active)
    );
    assert_eq!(s.stat("taken").expect("stat"), Some(first));
    assert_eq!(
        std::fs::read_dir(s.root().join("l")).expect("l").count(),
        1,
        "only the winner's link"
    );
}

#[test]
fn the_snapshot_area_spreads_its_children_over_block_groups() {
    let (_d, s) = snapshotter();
    let f = std::fs::File::open(s.root()).expect("open snapshots/");
    match rustix::fs::ioctl_getflags(&f) {
        Ok(flags) => assert!(flags.contains(rustix::fs::IFlags::TOPDIR), "{flags:?}"),
        Err(e) => eprintln!("skipped: this file system has no inode flags ({e})"),
    }
}

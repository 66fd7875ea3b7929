//! `FROM` a registry image: pulled into the store once, then used offline.

use std::fs;

use crate::registry_harness::Registry;
use crate::util::{is_root, Env};

#[test]
fn from_registry_pulls_once_then_builds_offline() {
    if !is_root("FROM registry") {
        return;
    }
    let Some(registry) = Registry::start("FROM registry") else {
        return;
    };
    let host = registry.host();
    let publisher = Env::new();
    publisher.busybox("busybox");
    let remote = format!("{host}/library/busybox:latest");
    publisher.ok(&["push", "-q", "busybox", &remote]);

    // Inspection of a reference that is only in the registry pulls it on demand.
    let inspector = Env::new();
    let layers: serde_json::Value =
        serde_json::from_str(&inspector.ok(&["layers", "--json", &remote])).unwrap();
    assert!(layers.to_string().contains("bin/busybox"), "{layers}");

    let env = Env::new();
    let ctx = env.context(
        "ctx",
        &format!("FROM {host}/library/busybox\nRUN echo ok > /ok\n"),
    );
    env.ok(&[
        "build",
        "--progress=plain",
        "-t",
        "app:1",
        ctx.to_str().unwrap(),
    ]);
    let images = env.ok(&["images"]);
    assert!(
        images.contains(&format!("{host}/library/busybox")),
        "the base was pulled and tagged:\n{images}"
    );
    drop(registry); // a second build must not need the registry
    env.ok(&[
        "build",
        "--no-cache",
        "--progress=plain",
        "-t",
        "app:2",
        ctx.to_str().unwrap(),
    ]);
}

/// The size of the gzip blob `env`'s store made when it pushed the layer `diff_id`.
fn pushed_gzip_size(env: &Env, diff_id: &str) -> u64 {
    let cache = env
        .root()
        .join("registry/compressed/gzip")
        .join(diff_id.trim_start_matches("sha256:"));
    let blob = fs::read_to_string(&cache).expect("the push remembers the compressed blob");
    let hex = blob.trim().trim_start_matches("sha256:").to_string();
    fs::metadata(env.root().join("blobs/sha256").join(hex))
        .expect("compressed blob in the store")
        .len()
}

// A built image's layers are kept as their snapshots and regenerated when pushed: the
// registry gets gzip blobs at the level asked for (level 1 larger than level 9), a fresh
// store pulls the image and runs a step on it, and a level out of range is refused.
#[test]
fn built_image_pushes_at_the_asked_compression_level() {
    if !is_root("push of a built image") {
        return;
    }
    let Some(registry) = Registry::start("push of a built image") else {
        return;
    };
    let host = registry.host();
    let text: String = (0..200_000)
        .map(|i| format!("line {} of {}\n", i * 7 % 1000, i))
        .collect();
    let mut sizes = Vec::new();
    for level in ["1", "9"] {
        let env = Env::new();
        env.busybox("busybox");
        let ctx = env.context("ctx", "FROM busybox\nCOPY text /data/text\n");
        fs::write(ctx.join("text"), &text).unwrap();
        env.ok(&["build", "-q", "-t", "app:1", ctx.to_str().unwrap()]);
        let remote = format!("{host}/app/level{level}:1");
        let err = env.fails(&["push", "--compression-level", "99", "app:1", &remote]);
        assert!(err.contains("out of range 0-9"), "{err}");
        env.ok(&["push", "-q", "--compression-level", level, "app:1", &remote]);
        let inspect: serde_json::Value =
            serde_json::from_str(&env.ok(&["inspect", "app:1"])).unwrap();
        let diff_ids = &inspect[0]["RootFS"]["Layers"];
        let top = diff_ids[1].as_str().expect("the COPY layer").to_string();
        sizes.push(pushed_gzip_size(&env, &top));
    }
    assert!(
        sizes[0] > sizes[1],
        "level 1 {} vs level 9 {}",
        sizes[0],
        sizes[1]
    );
    let puller = Env::new();
    let dockerfile =
        format!("FROM {host}/app/level9:1\nRUN test \"$(wc -l < /data/text)\" = 200000\n");
    let ctx = puller.context("ctx", &dockerfile);
    puller.ok(&["build", "-q", "-t", "pulled:1", ctx.to_str().unwrap()]);
}

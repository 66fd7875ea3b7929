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
    let ctx = env.path("ctx");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {host}/library/busybox\nRUN echo ok > /ok\n"),
    )
    .unwrap();
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

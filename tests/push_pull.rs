//! Push and pull against a real registry (`docker-registry`), interop with skopeo, faults
//! injected by a proxy, and authentication. Each test skips with a printed reason when a
//! tool it needs is missing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rbuild_registry_client::auth::ConfigPaths;
use rbuild_registry_client::progress::{Event, Progress};
use rbuild_registry_client::retry::RetryPolicy;
use rbuild_registry_client::{
    cached_compressed, pull_blocking, push_blocking, ClientOptions, Compression, Platform,
    PullOptions, PushOptions, Reference,
};
use rbuild_store::blob::{BlobIngest, BlobRead};
use rbuild_store::{Descriptor, Digest, ImageName, MediaType, Store};

use crate::registry_harness::Registry;
use crate::util::{busybox_tar, have, run, Env};

mod auth;
mod faults;

fn client_opts(auth_file: &Path) -> ClientOptions {
    ClientOptions {
        retry: RetryPolicy {
            max_attempts: 12,
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(1500),
            max_elapsed: Duration::from_secs(180),
        },
        auth_paths: Some(ConfigPaths::file(auth_file)),
        ..ClientOptions::default()
    }
}

fn recorder() -> (Progress, Arc<Mutex<Vec<Event>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let e2 = events.clone();
    (
        Arc::new(move |e: &Event| e2.lock().unwrap().push(e.clone())),
        events,
    )
}

fn pull_opts(env: &Env) -> PullOptions {
    PullOptions {
        client: client_opts(&env.path("no-auth.json")),
        ..PullOptions::default()
    }
}

fn push_opts(env: &Env) -> PushOptions {
    PushOptions {
        client: client_opts(&env.path("no-auth.json")),
        ..PushOptions::default()
    }
}

fn open_store(dir: &Path) -> Store {
    Store::open(dir).expect("open store")
}

/// Ingests a file as a blob.
fn put_file(store: &Store, path: &Path) -> (Digest, u64) {
    let mut w = store.blobs().begin().unwrap();
    std::io::copy(&mut std::fs::File::open(path).unwrap(), &mut w).unwrap();
    w.commit(None).unwrap()
}

/// An image made by hand: uncompressed tar layers (as rbuild's builder stores them), a
/// config for `arch`, an OCI manifest, tagged `name`.
fn make_image(store: &Store, name: &str, layers: &[PathBuf], arch: &str) -> Descriptor {
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for layer in layers {
        let (digest, size) = put_file(store, layer);
        diff_ids.push(digest.to_string());
        descs.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest.to_string(), "size": size}));
    }
    let config = serde_json::json!({"architecture": arch, "os": "linux", "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": []});
    let config = store
        .put_bytes(
            MediaType::ImageConfig,
            &serde_json::to_vec(&config).unwrap(),
        )
        .unwrap();
    let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.digest().to_string(), "size": config.size()},
        "layers": descs});
    let desc = store
        .put_bytes(
            MediaType::ImageManifest,
            &serde_json::to_vec(&manifest).unwrap(),
        )
        .unwrap();
    store.tag(&ImageName::parse(name).unwrap(), &desc).unwrap();
    desc
}

/// A tar holding one file of `size` pseudo-random (incompressible) bytes.
fn random_layer(dir: &Path, name: &str, size: usize, seed: u64) -> PathBuf {
    let src = dir.join(format!("{name}.d"));
    std::fs::create_dir_all(&src).unwrap();
    let mut x = seed | 1;
    let mut data = Vec::with_capacity(size);
    while data.len() < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    data.truncate(size);
    std::fs::write(src.join("data.bin"), &data).unwrap();
    let tar = dir.join(format!("{name}.tar"));
    run(Command::new("tar")
        .args(["--mtime=@0", "--owner=0", "--group=0", "-C"])
        .arg(&src)
        .arg("-cf")
        .arg(&tar)
        .arg("data.bin"));
    tar
}

fn layers_of(store: &Store, manifest: &Descriptor) -> Vec<Descriptor> {
    store.image(manifest).unwrap().manifest.layers().clone()
}

fn reference(host: &str, path: &str) -> Reference {
    Reference::parse(&format!("{host}/{path}")).unwrap()
}

fn skopeo_digest(image: &str) -> String {
    let out = run(Command::new("skopeo").args([
        "inspect",
        "--tls-verify=false",
        &format!("docker://{image}"),
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["Digest"].as_str().unwrap().to_string()
}

#[test]
fn push_then_pull_gives_the_same_digests() {
    let Some(reg) = Registry::start("push_then_pull_gives_the_same_digests") else {
        return;
    };
    let Some(rootfs) = busybox_tar() else {
        return eprintln!("skipped: busybox rootfs unavailable");
    };
    let env = Env::new();
    let a = open_store(&env.path("a"));
    let local = make_image(
        &a,
        "demo:1",
        &[
            rootfs.clone(),
            random_layer(env.tmp.path(), "extra", 300_000, 7),
        ],
        "amd64",
    );
    let target = reference(&reg.host(), "library/busybox:latest");
    let (progress, events) = recorder();
    let opts = PushOptions {
        progress,
        ..push_opts(&env)
    };
    let pushed = push_blocking(&a, "demo:1", &target, &opts).unwrap();
    assert_ne!(
        pushed,
        *local.digest(),
        "uncompressed layers were compressed, so the manifest changed"
    );

    let b = open_store(&env.path("b"));
    let pulled = pull_blocking(&b, &target, &pull_opts(&env)).unwrap();
    assert_eq!(pulled.digest(), &pushed, "pull gives the pushed manifest");
    let layers = layers_of(&b, &pulled);
    assert!(
        layers
            .iter()
            .all(|l| l.media_type() == &MediaType::ImageLayerGzip),
        "{layers:?}"
    );
    let local_cfg = a.image(&local).unwrap().config;
    assert_eq!(
        b.image(&pulled).unwrap().config,
        local_cfg,
        "same config, diff_ids unchanged"
    );
    assert_eq!(
        b.resolve(&format!("{}/library/busybox:latest", reg.host()))
            .unwrap()
            .digest(),
        &pushed
    );
    for l in &layers {
        assert_eq!(b.blobs().stat(l.digest()).unwrap(), Some(l.size()));
    }
    // The compressed blobs are cached: a second push compresses nothing and uploads nothing.
    let diff_id: Digest = a.image(&local).unwrap().manifest.layers()[0]
        .digest()
        .clone();
    assert!(cached_compressed(&a, &diff_id, Compression::Gzip).is_some());
    let started = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::Started { .. }))
        .count();
    assert_eq!(started, 3, "config + 2 layers uploaded the first time");
    events.lock().unwrap().clear();
    assert_eq!(
        push_blocking(&a, "demo:1", &target.with_tag("again"), &opts).unwrap(),
        pushed
    );
    let ev = events.lock().unwrap().clone();
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, Event::Exists { .. }))
            .count(),
        3,
        "{ev:?}"
    );
    // Another repository of the same registry: the layers are mounted, not uploaded.
    events.lock().unwrap().clear();
    push_blocking(&a, "demo:1", &reference(&reg.host(), "other/copy:1"), &opts).unwrap();
    let ev = events.lock().unwrap().clone();
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, Event::Mounted { .. }))
            .count(),
        3,
        "{ev:?}"
    );
    // A pull into a store that has everything downloads nothing.
    let (progress, events) = recorder();
    pull_blocking(
        &b,
        &target,
        &PullOptions {
            progress,
            ..pull_opts(&env)
        },
    )
    .unwrap();
    assert!(events
        .lock()
        .unwrap()
        .iter()
        .all(|e| matches!(e, Event::Exists { .. })));
    if have("skopeo", "push_then_pull (skopeo part)") {
        assert_eq!(skopeo_digest(&target.to_string()), pushed.to_string());
    }
    // What a build's FROM does: an image in the store needs no registry (it is gone now);
    // one that is not there does.
    drop(reg);
    let resolve = |r: &Reference| {
        rbuild_registry_client::resolve_or_pull_blocking(&b, &r.to_string(), &pull_opts(&env))
    };
    assert_eq!(resolve(&target).unwrap().digest(), &pushed);
    let missing = resolve(&target.with_tag("not-pulled")).unwrap_err();
    assert!(
        missing.to_string().contains("cannot reach registry"),
        "{missing}"
    );
}

#[test]
fn pulls_what_skopeo_pushed_oci_and_docker_schema2() {
    let Some(reg) = Registry::start("pulls_what_skopeo_pushed") else {
        return;
    };
    if !have("skopeo", "pulls_what_skopeo_pushed") {
        return;
    }
    let Some(rootfs) = busybox_tar() else {
        return eprintln!("skipped: busybox rootfs unavailable");
    };
    let env = Env::new();
    let a = open_store(&env.path("a"));
    make_image(&a, "src:1", &[rootfs], "amd64");
    let src = reference(&reg.host(), "src/img:1");
    push_blocking(&a, "src:1", &src, &push_opts(&env)).unwrap();
    for (format, repo, media_type) in [
        (
            "v2s2",
            "copy/docker:1",
            "application/vnd.docker.distribution.manifest.v2+json",
        ),
        (
            "oci",
            "copy/oci:1",
            "application/vnd.oci.image.manifest.v1+json",
        ),
    ] {
        let dest = format!("docker://{}/{repo}", reg.host());
        run(Command::new("skopeo")
            .args([
                "copy",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
                "--format",
                format,
            ])
            .arg(format!("docker://{}/src/img:1", reg.host()))
            .arg(&dest));
        let b = open_store(&env.path(&format!("b-{format}")));
        let r = reference(&reg.host(), repo);
        let pulled = pull_blocking(&b, &r, &pull_opts(&env)).unwrap();
        assert_eq!(pulled.media_type().to_string(), media_type);
        assert_eq!(
            pulled.digest().to_string(),
            skopeo_digest(&format!("{}/{repo}", reg.host())),
            "manifest kept byte for byte"
        );
        // Pull by digest pins exactly and stores the image untagged.
        let c = open_store(&env.path(&format!("c-{format}")));
        let pinned = Reference::parse(&format!(
            "{}/{}@{}",
            reg.host(),
            repo.split(':').next().unwrap(),
            pulled.digest()
        ))
        .unwrap();
        assert_eq!(
            pull_blocking(&c, &pinned, &pull_opts(&env))
                .unwrap()
                .digest(),
            pulled.digest()
        );
        assert!(c.tags().unwrap().is_empty());
    }
}

/// An OCI layout dir holding an index of two single-layer images (amd64 and arm64).
fn multi_platform_layout(env: &Env, rootfs: &Path) -> (PathBuf, Digest, Digest) {
    let s = open_store(&env.path("multi-store"));
    let amd = make_image(&s, "m:amd64", &[rootfs.to_path_buf()], "amd64");
    let arm = make_image(
        &s,
        "m:arm64",
        &[random_layer(env.tmp.path(), "arm", 1000, 3)],
        "arm64",
    );
    let entry = |d: &Descriptor, arch: &str| {
        serde_json::json!({"mediaType": d.media_type().to_string(), "digest": d.digest().to_string(), "size": d.size(),
            "platform": {"os": "linux", "architecture": arch}})
    };
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [entry(&amd, "amd64"), entry(&arm, "arm64")]});
    let idx = s
        .put_bytes(MediaType::ImageIndex, &serde_json::to_vec(&index).unwrap())
        .unwrap();
    let layout = env.path("layout");
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    for entry in std::fs::read_dir(env.path("multi-store/blobs/sha256")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(
            entry.path(),
            layout.join("blobs/sha256").join(entry.file_name()),
        )
        .unwrap();
    }
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let top = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": idx.digest().to_string(), "size": idx.size(), "annotations": {"org.opencontainers.image.ref.name": "multi"}}]});
    std::fs::write(layout.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();
    (layout, amd.digest().clone(), arm.digest().clone())
}

#[test]
fn pulls_the_right_platform_from_an_index() {
    let Some(reg) = Registry::start("pulls_the_right_platform_from_an_index") else {
        return;
    };
    if !have("skopeo", "pulls_the_right_platform_from_an_index") {
        return;
    }
    let Some(rootfs) = busybox_tar() else {
        return eprintln!("skipped: busybox rootfs unavailable");
    };
    let env = Env::new();
    let (layout, _, _) = multi_platform_layout(&env, &rootfs);
    run(Command::new("skopeo")
        .args(["copy", "--all", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:multi", layout.display()))
        .arg(format!("docker://{}/multi/img:1", reg.host())));
    // skopeo compresses the layers on the way, so the registry's index names new manifests.
    let raw = run(Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{}/multi/img:1", reg.host())));
    let index: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let for_arch = |arch: &str| -> Digest {
        let m = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["platform"]["architecture"] == arch)
            .unwrap();
        m["digest"].as_str().unwrap().parse().unwrap()
    };
    let (amd, arm) = (for_arch("amd64"), for_arch("arm64"));
    assert_ne!(amd, arm);
    let r = reference(&reg.host(), "multi/img:1");
    let s = open_store(&env.path("arm"));
    let opts = PullOptions {
        platform: Some(Platform::parse("linux/arm64/v8").unwrap()),
        ..pull_opts(&env)
    };
    assert_eq!(pull_blocking(&s, &r, &opts).unwrap().digest(), &arm);
    let opts = PullOptions {
        platform: Some(Platform::parse("linux/amd64").unwrap()),
        ..pull_opts(&env)
    };
    assert_eq!(pull_blocking(&s, &r, &opts).unwrap().digest(), &amd);
    let opts = PullOptions {
        platform: Some(Platform::parse("linux/s390x").unwrap()),
        ..pull_opts(&env)
    };
    let err = pull_blocking(&s, &r, &opts).unwrap_err().to_string();
    assert!(
        err.contains("no image for platform linux/s390x") && err.contains("linux/arm64"),
        "{err}"
    );
}

#[test]
fn https_registry_needs_its_ca() {
    let Some(reg) = Registry::start_tls("https_registry_needs_its_ca") else {
        return;
    };
    let env = Env::new();
    let a = open_store(&env.path("a"));
    make_image(
        &a,
        "t:1",
        &[random_layer(env.tmp.path(), "t", 3000, 4)],
        "amd64",
    );
    let target = reference(&reg.host(), "tls/img:1");
    let mut untrusted = push_opts(&env);
    untrusted.client.retry.max_attempts = 2;
    let err = push_blocking(&a, "t:1", &target, &untrusted).unwrap_err();
    let text = format!("{err:?}");
    assert!(
        text.contains("https://") && text.to_lowercase().contains("certificate"),
        "{text}"
    );
    let mut trusted = push_opts(&env);
    trusted.client.ca_file = Some(reg.ca());
    let pushed = push_blocking(&a, "t:1", &target, &trusted).unwrap();
    let b = open_store(&env.path("b"));
    let opts = PullOptions {
        client: trusted.client.clone(),
        ..pull_opts(&env)
    };
    assert_eq!(pull_blocking(&b, &target, &opts).unwrap().digest(), &pushed);
}

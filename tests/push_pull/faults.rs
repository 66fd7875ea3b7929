//! Faults between rbuild and the registry: dropped connections, 500s, 429s, a corrupted
//! byte, and chunked uploads that resume at the registry's offset.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Instant;

use rbuild_registry_client::progress::Event;
use rbuild_registry_client::{pull_blocking, push_blocking, Compression, PullOptions, PushOptions};
use rbuild_store::blob::BlobRead;

use super::{
    layers_of, make_image, open_store, pull_opts, push_opts, random_layer, recorder, reference,
};
use crate::registry_harness::{FaultProxy, Faults, Registry};
use crate::util::Env;

#[test]
fn large_image_survives_drops_500s_and_429s() {
    let Some(reg) = Registry::start("large_image_survives_faults") else {
        return;
    };
    let env = Env::new();
    let a = open_store(&env.path("a"));
    let mb = 1 << 20;
    let layers = random_layers(&env, "big", 67 * mb, 11);
    make_image(&a, "big:1", &layers, "amd64");
    let faults = Faults {
        drop_every: 3,
        drop_after: 3 * mb,
        error_every: 5,
        too_many_every: 7,
        corrupt_blobs: false,
    };
    let proxy = FaultProxy::start(reg.port, faults.clone());
    let target = reference(&proxy.host(), "big/img:1");
    let started = Instant::now();
    let opts = PushOptions {
        compression: Compression::None,
        chunk_size: 8 * mb as u64,
        ..push_opts(&env)
    };
    let pushed = push_blocking(&a, "big:1", &target, &opts)
        .unwrap_or_else(|e| panic!("push: {e}\nproxy: {:?}", proxy.requests()));
    let push_time = started.elapsed();
    // The pull goes through a fresh proxy so that which requests fail does not depend on how
    // many requests the push needed: with every 2nd request cut, a blob GET is always cut
    // mid-body (the manifest and config are requests 1 and 2, the blobs follow).
    let proxy = FaultProxy::start(
        reg.port,
        Faults {
            drop_every: 2,
            ..faults
        },
    );
    let target = reference(&proxy.host(), "big/img:1");
    let b = open_store(&env.path("b"));
    let started = Instant::now();
    let (progress, events) = recorder();
    let pulled = pull_blocking(
        &b,
        &target,
        &PullOptions {
            progress,
            ..pull_opts(&env)
        },
    )
    .unwrap_or_else(|e| panic!("pull: {e}"));
    eprintln!(
        "faults: 201 MiB push {push_time:?}, pull {:?}; proxy saw {} requests, cut {}, 500 x{}, 429 x{}",
        started.elapsed(),
        proxy.stats.requests.load(Ordering::SeqCst),
        proxy.stats.dropped.load(Ordering::SeqCst),
        proxy.stats.errors.load(Ordering::SeqCst),
        proxy.stats.too_many.load(Ordering::SeqCst)
    );
    assert_eq!(pulled.digest(), &pushed);
    let resumed = events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, Event::Retrying { offset, .. } if *offset > 0));
    assert!(
        resumed,
        "a cut download resumes with Range from what it has"
    );
    assert!(
        proxy.stats.dropped.load(Ordering::SeqCst) > 0
            && proxy.stats.errors.load(Ordering::SeqCst) > 0
    );
    for (l, src) in layers_of(&b, &pulled).iter().zip(&layers) {
        let mut r = b.blobs().open(l.digest()).unwrap();
        let mut pulled_bytes = Vec::new();
        std::io::Read::read_to_end(&mut r, &mut pulled_bytes).unwrap();
        assert!(
            pulled_bytes == std::fs::read(src).unwrap(),
            "layer {} verifies byte for byte",
            l.digest()
        );
    }
}

#[test]
fn chunked_upload_resumes_at_the_registry_offset() {
    let Some(reg) = Registry::start("chunked_upload_resumes") else {
        return;
    };
    let env = Env::new();
    let a = open_store(&env.path("a"));
    make_image(
        &a,
        "chunky:1",
        &[random_layer(env.tmp.path(), "c", 6 << 20, 5)],
        "amd64",
    );
    // 500s that never reach the registry: the session stays valid, so each failed PATCH
    // must continue where the registry stands (GET → Range), never from byte 0.
    let proxy = FaultProxy::start(
        reg.port,
        Faults {
            error_every: 4,
            ..Faults::default()
        },
    );
    let opts = PushOptions {
        compression: Compression::None,
        chunk_size: 512 << 10,
        monolithic_max: 64 << 10,
        ..push_opts(&env)
    };
    let (progress, events) = recorder();
    let target = reference(&proxy.host(), "chunky/img:1");
    let pushed = push_blocking(&a, "chunky:1", &target, &PushOptions { progress, ..opts }).unwrap();
    let log = proxy.requests();
    let posts = log.iter().filter(|l| l.starts_with("POST ")).count();
    let patches = log.iter().filter(|l| l.starts_with("PATCH ")).count();
    let probes = log
        .iter()
        .filter(|l| l.starts_with("GET ") && l.contains("/blobs/uploads/"))
        .count();
    assert!(
        probes > 0,
        "a failed chunk asks the registry for its offset: {log:#?}"
    );
    assert!(
        posts <= 2 + proxy.stats.errors.load(Ordering::SeqCst) as usize,
        "no session restarted: {log:#?}"
    );
    assert!(patches >= 12, "6 MiB in 512 KiB chunks");
    let resumed: Vec<u64> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Retrying { offset, .. } => Some(*offset),
            _ => None,
        })
        .collect();
    assert!(
        resumed.iter().any(|o| *o > 0),
        "resumed mid-blob: {resumed:?}"
    );
    let b = open_store(&env.path("b"));
    assert_eq!(
        pull_blocking(
            &b,
            &reference(&reg.host(), "chunky/img:1"),
            &pull_opts(&env)
        )
        .unwrap()
        .digest(),
        &pushed
    );
}

#[test]
fn corrupted_byte_is_refused_and_not_stored() {
    let Some(reg) = Registry::start("corrupted_byte_is_refused") else {
        return;
    };
    let env = Env::new();
    let a = open_store(&env.path("a"));
    let img = make_image(
        &a,
        "c:1",
        &[random_layer(env.tmp.path(), "x", 200_000, 9)],
        "amd64",
    );
    let direct = reference(&reg.host(), "corrupt/img:1");
    push_blocking(
        &a,
        "c:1",
        &direct,
        &PushOptions {
            compression: Compression::None,
            ..push_opts(&env)
        },
    )
    .unwrap();
    let proxy = FaultProxy::start(
        reg.port,
        Faults {
            corrupt_blobs: true,
            ..Faults::default()
        },
    );
    let b = open_store(&env.path("b"));
    let err = pull_blocking(
        &b,
        &reference(&proxy.host(), "corrupt/img:1"),
        &pull_opts(&env),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("digest mismatch"), "{err}");
    assert!(proxy.stats.corrupted.load(Ordering::SeqCst) > 0);
    for l in layers_of(&a, &img) {
        assert_eq!(
            b.blobs().stat(l.digest()).unwrap(),
            None,
            "no bad blob in the store"
        );
        // The keyed ingest a later pull would resume from is gone too (the store names it
        // `k-` + sha256 of the key; the key is `pull-<hex>`).
        let key =
            rbuild_store::digest::sha256_of(format!("pull-{}", l.digest().digest()).as_bytes());
        let ingest = env
            .path("b/ingest")
            .join(format!("k-{}", &key.digest()[..32]));
        assert!(
            !ingest.exists(),
            "no partial ingest with bad bytes to resume from: {}",
            ingest.display()
        );
    }
}

/// A compressing push streams each layer into the upload while it compresses; when the
/// stream is cut (or answered 500/429), the layer, complete in the store by then, goes up
/// the resumable way. Whatever failed, the registry ends up with the blob the manifest
/// names, it decompresses to the local layer, and the cache remembers it.
#[test]
fn streamed_compressed_push_survives_faults() {
    let Some(reg) = Registry::start("streamed_compressed_push_faults") else {
        return;
    };
    let env = Env::new();
    let a = open_store(&env.path("a"));
    let mb = 1 << 20;
    let layers = random_layers(&env, "z", 9 * mb, 31);
    let img = make_image(&a, "z:1", &layers, "amd64");
    for c in [Compression::Gzip, Compression::Zstd] {
        let proxy = FaultProxy::start(
            reg.port,
            Faults {
                drop_every: 3,
                drop_after: mb,
                error_every: 5,
                too_many_every: 0,
                corrupt_blobs: false,
            },
        );
        let name = format!("{c:?}/img:1").to_lowercase();
        let opts = PushOptions {
            compression: c,
            chunk_size: 2 * mb as u64,
            ..push_opts(&env)
        };
        let pushed = push_blocking(&a, "z:1", &reference(&proxy.host(), &name), &opts)
            .unwrap_or_else(|e| panic!("{c:?} push: {e}\nproxy: {:?}", proxy.requests()));
        assert!(
            proxy.stats.dropped.load(Ordering::SeqCst) + proxy.stats.errors.load(Ordering::SeqCst)
                > 0
        );
        let b = open_store(&env.path(&format!("b-{c:?}")));
        let pulled = pull_blocking(&b, &reference(&reg.host(), &name), &pull_opts(&env))
            .unwrap_or_else(|e| panic!("{c:?} pull: {e}"));
        assert_eq!(pulled.digest(), &pushed);
        let local = layers_of(&a, &img);
        for ((l, src), plain) in layers_of(&b, &pulled).iter().zip(&layers).zip(&local) {
            let cached = rbuild_registry_client::cached_compressed(&a, plain.digest(), c);
            assert_eq!(
                cached.map(|(d, _)| d).as_ref(),
                Some(l.digest()),
                "{c:?} cache"
            );
            let blob = b.blobs().open(l.digest()).unwrap();
            let mut r = rbuild_store::layer::decompress(blob).unwrap();
            assert_eq!(r.compression(), c);
            let mut back = Vec::new();
            std::io::Read::read_to_end(&mut r, &mut back).unwrap();
            assert!(
                back == std::fs::read(src).unwrap(),
                "{c:?} layer round trip"
            );
        }
    }
}

/// Three random layer files of about `size` bytes each (sizes differ a little so the blobs
/// differ), named `<prefix>0..2`, from seeds `seed..seed+2`.
fn random_layers(env: &Env, prefix: &str, size: usize, seed: u64) -> Vec<PathBuf> {
    (0..3)
        .map(|i| {
            random_layer(
                env.tmp.path(),
                &format!("{prefix}{i}"),
                size + i * 4099,
                seed + i as u64,
            )
        })
        .collect()
}

//! Built layers are kept once, as the snapshot the step ran in (issue 8): the store records
//! the snapshot instead of writing a second copy as a tar, and regenerates the identical tar
//! when the layer leaves the store.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::support::{base, build, context, Exported};
use crate::util::{run, Env};

const STEPS: &str = "FROM busybox
COPY f /f
RUN echo hi > /g && rm /bin/vi
";

fn hex(digest: &str) -> &str {
    digest.strip_prefix("sha256:").expect("a sha256 digest")
}

fn blob_file(env: &Env, digest: &str) -> PathBuf {
    env.root().join("blobs/sha256").join(hex(digest))
}

fn record(env: &Env, digest: &str) -> PathBuf {
    env.root().join("regen/sha256").join(hex(digest))
}

/// Every exported layer file hashes to its name.
fn assert_blobs_verify(export: &Exported) {
    for d in export.layer_digests() {
        let path = export.dir().join("blobs/sha256").join(hex(&d));
        let sum = run(Command::new("sha256sum").arg(&path));
        assert!(
            sum.starts_with(hex(&d)),
            "{} hashes to {sum}",
            path.display()
        );
    }
}

/// The snapshot tree a record names.
fn recorded_tree(env: &Env, digest: &str) -> PathBuf {
    let rec: serde_json::Value =
        serde_json::from_slice(&fs::read(record(env, digest)).expect("read record")).unwrap();
    env.root().join(rec["dir"].as_str().expect("dir"))
}

/// The built layers' digests (uncompressed: their diff ids).
fn built_layers(env: &Env, image: &str) -> Vec<String> {
    let all = Exported::with_args(env, image, &["--compression", "none"]).layer_digests();
    all[1..].to_vec() // the first is busybox's, imported as a blob file
}

/// An export compresses layers with gzip unless told otherwise; the blobs verify.
fn assert_exports_verify(env: &Env, image: &str) {
    let gzip = Exported::new(env, image);
    assert!(
        gzip.layer_media_types()
            .iter()
            .all(|t| t.ends_with("tar+gzip")),
        "{:?}",
        gzip.layer_media_types()
    );
    assert_blobs_verify(&gzip);
    let plain = Exported::with_args(env, image, &["--compression", "none"]);
    assert!(plain
        .layer_media_types()
        .iter()
        .all(|t| t.ends_with("layer.v1.tar")));
    assert_blobs_verify(&plain);
}

// A build writes no layer tar: each built layer is a record naming its snapshot. Export
// regenerates tars that hash to the manifest's digests (gzip by default, or as they are), `prune --cache` writes them as blob
// files before the snapshots go, and a snapshot changed behind rbuild's back is refused,
// naming the layer, by export and by prune, which then keeps the snapshot.
#[test]
fn r8_built_layers_are_kept_as_snapshots_and_regenerated_exactly() {
    let Some(env) = base("r8_built_layers_are_kept_as_snapshots", false) else {
        return;
    };
    let ctx = context(&env, "kept", STEPS);
    fs::write(ctx.join("f"), "one\n").unwrap();
    build(&env, &["-t", "kept:1"], &ctx);
    let layers = built_layers(&env, "kept:1");
    assert_eq!(layers.len(), 2);
    for d in &layers {
        assert!(!blob_file(&env, d).exists(), "no tar written for {d}");
        assert!(
            recorded_tree(&env, d).join("g").exists() || recorded_tree(&env, d).join("f").exists()
        );
    }
    assert_exports_verify(&env, "kept:1");

    env.ok(&["prune", "--cache"]);
    for d in &layers {
        assert!(blob_file(&env, d).exists(), "{d} materialized");
        assert!(!record(&env, d).exists(), "record of {d} dropped");
    }
    assert_exports_verify(&env, "kept:1");

    fs::write(ctx.join("f"), "two\n").unwrap();
    build(&env, &["-t", "kept:2"], &ctx);
    let copy_layer = built_layers(&env, "kept:2")[0].clone();
    let tree = recorded_tree(&env, &copy_layer);
    fs::write(tree.join("f"), "tampered\n").unwrap();
    let out = env.path("kept2.tar");
    let err = env.fails(&["save", "-o", out.to_str().unwrap(), "kept:2"]);
    assert!(
        err.contains(hex(&copy_layer)) && err.contains("changed"),
        "{err}"
    );
    let err = env.fails(&["prune", "--cache"]);
    assert!(err.contains("changed"), "{err}");
    assert!(tree.join("f").exists(), "a failed prune keeps the snapshot");
    assert!(
        !blob_file(&env, &copy_layer).exists(),
        "no blob with the wrong content"
    );
    env.ok(&["rmi", "kept:2"]);
    env.ok(&["prune", "--cache"]);
    assert!(!Path::new(&tree).exists());
    assert_exports_verify(&env, "kept:1");
}

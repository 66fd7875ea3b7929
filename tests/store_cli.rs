//! The store's verbs end to end: images, tag, rmi, prune, save/load, export/import, and
//! round trips through skopeo and umoci.

use std::collections::BTreeSet;
use std::fs;
use std::process::Command;

use serde_json::Value;

use crate::util::{have, run, Env};

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

fn digest_of(env: &Env, image: &str) -> String {
    let rows = json_lines(&env.ok(&["images", "--format", "json"]));
    let (repo, tag) = image.split_once(':').unwrap();
    let row = rows
        .iter()
        .find(|r| r["Repository"] == repo && r["Tag"] == tag);
    row.unwrap_or_else(|| panic!("{image} not listed"))
        .to_owned()["Digest"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn images_tag_rmi_prune() {
    let env = Env::new();
    env.busybox("busybox:latest");
    let table = env.ok(&["images"]);
    let header = table.lines().next().unwrap();
    for col in ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"] {
        assert!(header.contains(col), "{header}");
    }
    assert!(
        table.lines().nth(1).unwrap().starts_with("busybox "),
        "{table}"
    );
    env.ok(&["tag", "busybox", "demo:0.0.1"]);
    let rows = json_lines(&env.ok(&["images", "--format", "json"]));
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0]["ID"], rows[1]["ID"],
        "a tag points at the same image"
    );
    let out = env.ok(&["rmi", "demo:0.0.1"]);
    assert_eq!(out.trim(), "Untagged: demo:0.0.1");
    let err = env.fails(&["rmi", "demo:0.0.1"]);
    assert!(err.contains("No such image: demo:0.0.1"), "{err}");
    let pruned = env.ok(&["prune"]);
    assert!(
        pruned.contains("Total reclaimed space: 0B"),
        "tagged image must survive: {pruned}"
    );
    env.ok(&["rmi", "busybox"]);
    let pruned = env.ok(&["prune"]);
    assert!(!pruned.contains("space: 0B"), "{pruned}");
    let blobs = fs::read_dir(env.root().join("blobs/sha256"))
        .unwrap()
        .count();
    assert_eq!(blobs, 0, "every blob was unreferenced");
}

#[test]
fn bad_names_are_refused_clearly() {
    let env = Env::new();
    env.busybox("busybox");
    let err = env.fails(&["tag", "busybox", "Bad:Name"]);
    assert!(err.contains("invalid reference format"), "{err}");
    let err = env.fails(&["tag", "nosuch", "x"]);
    assert!(err.contains("No such image: nosuch"), "{err}");
}

#[test]
fn save_load_round_trip_is_byte_identical() {
    let env = Env::new();
    env.busybox("busybox:1");
    let digest = digest_of(&env, "busybox:1");
    let tar = env.path("out.tar");
    env.ok(&["save", "-o", tar.to_str().unwrap(), "busybox:1"]);
    let names: BTreeSet<String> = run(Command::new("tar").arg("-tf").arg(&tar))
        .lines()
        .map(String::from)
        .collect();
    for want in ["manifest.json", "repositories", "index.json", "oci-layout"] {
        assert!(names.contains(want), "save archive lacks {want}: {names:?}");
    }
    let listing = run(Command::new("tar")
        .arg("-xOf")
        .arg(&tar)
        .arg("manifest.json"));
    let manifest: Value = serde_json::from_str(&listing).unwrap();
    assert_eq!(manifest[0]["RepoTags"][0], "busybox:1");
    let config = manifest[0]["Config"].as_str().unwrap();
    assert!(names.contains(config), "config {config} in archive");
    for layer in manifest[0]["Layers"].as_array().unwrap() {
        assert!(
            names.contains(layer.as_str().unwrap()),
            "layer {layer} in archive"
        );
    }
    let other = Env::new();
    let out = other.ok(&["load", "-i", tar.to_str().unwrap()]);
    assert_eq!(out.trim(), "Loaded image: busybox:1");
    assert_eq!(digest_of(&other, "busybox:1"), digest);
}

#[test]
fn skopeo_and_umoci_read_what_rbuild_exports_and_back() {
    if !have("skopeo", "skopeo round trip") || !have("umoci", "skopeo round trip") {
        return;
    }
    let env = Env::new();
    env.busybox("busybox:latest");
    let out1 = env.path("oci1");
    env.ok(&["export", "busybox", out1.to_str().unwrap()]);
    // skopeo rewrites the image (gzip layers, its own manifest) into a second layout.
    let oci2 = env.path("oci2");
    run(Command::new("skopeo")
        .args(["copy", "--quiet"])
        .arg(format!("oci:{}:latest", out1.display()))
        .arg(format!("oci:{}:copied", oci2.display())));
    env.ok(&["import", oci2.to_str().unwrap(), "copied:v1"]);
    let skopeo_digest = run(Command::new("skopeo")
        .args(["inspect", "--format", "{{.Digest}}"])
        .arg(format!("oci:{}:copied", oci2.display())));
    assert_eq!(
        digest_of(&env, "copied:v1"),
        skopeo_digest.trim(),
        "import keeps skopeo's manifest digest"
    );
    let out3 = env.path("oci3");
    env.ok(&["export", "copied:v1", out3.to_str().unwrap()]);
    let a = inspect(&oci2, "copied");
    let b = inspect(&out3, "v1");
    assert_eq!(a["Layers"], b["Layers"]);
    assert_eq!(a["Digest"], b["Digest"]);
    let ca = run(Command::new("skopeo")
        .args(["inspect", "--config"])
        .arg(format!("oci:{}:copied", oci2.display())));
    let cb = run(Command::new("skopeo")
        .args(["inspect", "--config"])
        .arg(format!("oci:{}:v1", out3.display())));
    assert_eq!(ca, cb, "same config");
    let bundle = env.path("bundle");
    run(Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:v1", out3.display()))
        .arg(&bundle));
    let sh = fs::read_link(bundle.join("rootfs/bin/sh")).unwrap();
    assert_eq!(sh.to_str(), Some("busybox"));
    assert!(bundle.join("rootfs/etc/passwd").is_file());
}

fn inspect(layout: &std::path::Path, tag: &str) -> Value {
    let out = run(Command::new("skopeo")
        .arg("inspect")
        .arg(format!("oci:{}:{tag}", layout.display())));
    serde_json::from_str(&out).unwrap()
}

#[test]
fn rbuild_reads_what_umoci_writes() {
    if !have("umoci", "umoci import") {
        return;
    }
    let env = Env::new();
    let layout = env.path("umoci-layout");
    let bundle = env.path("bundle");
    run(Command::new("umoci")
        .args(["init", "--layout"])
        .arg(&layout));
    run(Command::new("umoci")
        .args(["new", "--image"])
        .arg(format!("{}:base", layout.display())));
    run(Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:base", layout.display()))
        .arg(&bundle));
    fs::write(bundle.join("rootfs/hello.txt"), "from umoci\n").unwrap();
    run(Command::new("umoci")
        .args(["repack", "--image"])
        .arg(format!("{}:base", layout.display()))
        .arg(&bundle));
    run(Command::new("umoci")
        .args(["config", "--config.env", "A=1", "--image"])
        .arg(format!("{}:base", layout.display())));
    let out = env.ok(&["import", layout.to_str().unwrap()]);
    assert!(out.starts_with("Imported umoci-layout:base"), "{out}");
    let exported = env.path("back");
    env.ok(&["export", "umoci-layout:base", exported.to_str().unwrap()]);
    let unpacked = env.path("unpacked");
    run(Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:base", exported.display()))
        .arg(&unpacked));
    assert_eq!(
        fs::read_to_string(unpacked.join("rootfs/hello.txt")).unwrap(),
        "from umoci\n"
    );
    let config: Value =
        serde_json::from_str(&fs::read_to_string(unpacked.join("config.json")).unwrap()).unwrap();
    let env_list = config["process"]["env"].as_array().unwrap();
    assert!(env_list.iter().any(|e| e == "A=1"), "{env_list:?}");
}

#[test]
fn killed_ingest_is_invisible_and_prune_removes_it() {
    // A load killed mid-blob: rbuild reads the archive from a FIFO, the test writes half a
    // blob into it and SIGKILLs the process.
    let env = Env::new();
    env.busybox("busybox");
    let fifo = env.path("pipe.tar");
    run(Command::new("mkfifo").arg(&fifo));
    let mut child = env
        .rbuild(&["load", "-i", fifo.to_str().unwrap()])
        .spawn()
        .unwrap();
    let mut header = tar::Header::new_ustar();
    let hex = "ab".repeat(32);
    header.set_path(format!("blobs/sha256/{hex}")).unwrap();
    header.set_size(8 << 20);
    header.set_mode(0o644);
    header.set_cksum();
    let mut pipe = fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    use std::io::Write;
    pipe.write_all(header.as_bytes()).unwrap();
    pipe.write_all(&vec![7u8; 1 << 20]).unwrap();
    let ingest = env.root().join("ingest");
    let partial = || -> u64 {
        fs::read_dir(&ingest)
            .unwrap()
            .flatten()
            .filter_map(|e| fs::metadata(e.path().join("data")).ok())
            .map(|m| m.len())
            .sum()
    };
    for _ in 0..200 {
        if partial() >= 1 << 20 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(partial() >= 1 << 20, "the ingest holds the partial blob");
    child.kill().unwrap();
    child.wait().unwrap();
    drop(pipe);
    assert!(
        !env.root().join("blobs/sha256").join(&hex).exists(),
        "no partial blob is visible"
    );
    let listed = env.ok(&["images"]);
    assert_eq!(
        listed.lines().count(),
        2,
        "the store still lists just busybox: {listed}"
    );
    let out = env.ok(&["prune"]);
    assert!(out.contains("Total reclaimed space: 1.05MB"), "{out}");
    assert_eq!(fs::read_dir(&ingest).unwrap().count(), 0);
}

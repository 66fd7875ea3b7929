use std::fs;
use std::io::{Read, Write};

use super::*;
use crate::digest::HashingWriter;
use crate::layer::{write_uncompressed, TreeMode};
use crate::Store;

const OPTS: TreeOptions = TreeOptions {
    mode: TreeMode::OverlayUpper,
    clamp_mtime: None,
};

/// A store with a tree `snap/fs` inside it, recorded as a layer; returns the tar bytes too.
fn recorded() -> (tempfile::TempDir, Store, Digest, Vec<u8>) {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let tree = tmp.path().join("snap/fs");
    fs::create_dir_all(tree.join("etc")).unwrap();
    fs::write(tree.join("etc/conf"), b"k=v\n").unwrap();
    fs::write(tree.join("big"), vec![7u8; 3 << 20]).unwrap();
    let (w, _) = write_uncompressed(&tree, &OPTS, HashingWriter::new(Vec::new())).unwrap();
    let (tar, digest, size) = w.into_parts();
    store
        .blobs()
        .record_tree(&digest, size, &tree, &OPTS)
        .unwrap();
    (tmp, store, digest, tar)
}

fn read_all(store: &Store, d: &Digest) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    store.blobs().open(d).unwrap().read_to_end(&mut out)?;
    Ok(out)
}

#[test]
fn a_recorded_layer_reads_back_as_the_identical_tar() {
    let (_tmp, store, digest, tar) = recorded();
    assert_eq!(store.blobs().stat(&digest).unwrap(), Some(tar.len() as u64));
    assert_eq!(store.blobs().path(&digest), None, "no blob file yet");
    assert!(read_all(&store, &digest).unwrap() == tar);
    let rec = store.blobs().record(&digest).unwrap().unwrap();
    assert_eq!(rec.dir, Path::new("snap/fs"), "stored relative to the root");
}

#[test]
fn a_changed_tree_fails_the_read_and_the_materialization() {
    let (tmp, store, digest, _) = recorded();
    fs::write(tmp.path().join("snap/fs/etc/conf"), b"k=w\n").unwrap();
    let err = read_all(&store, &digest).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("the tree changed"), "{err}");
    let err = store.blobs().materialize(&digest).unwrap_err().to_string();
    assert!(err.contains("snap/fs"), "{err}");
    assert_eq!(store.blobs().path(&digest), None, "no bad blob file");
    assert!(
        store.blobs().record(&digest).unwrap().is_some(),
        "record kept"
    );
}

#[test]
fn a_reader_that_stops_at_the_size_still_sees_the_change() {
    let (tmp, store, digest, tar) = recorded();
    fs::write(tmp.path().join("snap/fs/etc/conf"), b"k=v, longer\n").unwrap(); // same tar size
    let mut all = vec![0u8; tar.len()];
    let mut r = store.blobs().open(&digest).unwrap();
    let err = r.read_exact(&mut all).unwrap_err();
    assert!(err.to_string().contains("the tree changed"), "{err}");
}

#[test]
fn materializing_writes_the_file_and_drops_the_record() {
    let (tmp, store, digest, tar) = recorded();
    assert_eq!(store.blobs().materialize_all().unwrap(), 1);
    let path = store.blobs().path(&digest).expect("a blob file now");
    assert!(fs::read(path).unwrap() == tar);
    assert!(store.blobs().record(&digest).unwrap().is_none());
    fs::remove_dir_all(tmp.path().join("snap")).unwrap();
    assert!(
        read_all(&store, &digest).unwrap() == tar,
        "the tree is no longer needed"
    );
    assert_eq!(store.blobs().materialize_all().unwrap(), 0);
}

#[test]
fn gc_drops_unreferenced_records_without_counting_tar_bytes() {
    let (tmp, store, digest, _) = recorded();
    let kept = store.gc(std::slice::from_ref(&digest)).unwrap();
    assert!(kept.deleted.is_empty());
    let report = store.gc(&[]).unwrap();
    assert_eq!(report.deleted, vec![digest.clone()]);
    assert_eq!(
        report.bytes_freed, 0,
        "the tree is the snapshot owner's to free"
    );
    assert_eq!(store.blobs().stat(&digest).unwrap(), None);
    assert!(
        tmp.path().join("snap/fs/big").exists(),
        "gc leaves the tree alone"
    );
}

#[test]
fn a_dropped_reader_stops_the_producer() {
    let (_tmp, store, digest, _) = recorded();
    let mut r = store.blobs().open(&digest).unwrap();
    let mut head = [0u8; 512];
    r.read_exact(&mut head).unwrap();
    drop(r); // the producer's next send fails and its thread ends; nothing hangs
    assert!(read_all(&store, &digest).is_ok());
}

#[test]
fn records_outside_the_store_are_refused() {
    let (tmp, store, digest, _) = recorded();
    let other = tempfile::tempdir().unwrap();
    let err = store
        .blobs()
        .record_tree(&digest, 1, other.path(), &OPTS)
        .unwrap_err();
    assert!(err.to_string().contains("not inside the store"), "{err}");
    let path = tmp.path().join("regen/sha256").join(digest.digest());
    let forged = r#"{"dir":"../../etc","size":1,"mode":"plain","clamp_mtime":null}"#;
    fs::remove_file(&path).unwrap();
    let mut f = fs::File::create(&path).unwrap();
    f.write_all(forged.as_bytes()).unwrap();
    let err = store.blobs().open(&digest).err().unwrap().to_string();
    assert!(err.contains("not inside the store"), "{err}");
}

#[test]
fn conformance_of_the_file_side() {
    crate::blob::suite::run_suite(|dir| Box::new(StoreBlobs::open(dir).unwrap()));
}

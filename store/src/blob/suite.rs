//! One conformance suite for every [`BlobStore`] implementation (containerd's ContentSuite).

use std::io::{Read, Write};
use std::path::Path;

use super::{BlobError, BlobStore, Expected};
use crate::digest::sha256_of;

/// One named check of the suite.
type Check = (&'static str, fn(&dyn BlobStore));

/// Runs every conformance check against stores made by `make` (each gets a fresh temp dir).
pub fn run_suite(make: impl Fn(&Path) -> Box<dyn BlobStore>) {
    let checks: &[Check] = &[
        ("write_read", write_read),
        ("verify_digest", verify_digest),
        ("verify_size", verify_size),
        ("existing_is_success", existing_is_success),
        ("dropped_ingest_invisible", dropped_ingest_invisible),
        ("resume_keyed", resume_keyed),
        ("list_delete", list_delete),
    ];
    for (name, check) in checks {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = make(tmp.path());
        eprintln!("blob suite: {name}");
        check(store.as_ref());
    }
}

fn put(store: &dyn BlobStore, data: &[u8], exp: Option<&Expected>) -> Result<(), BlobError> {
    let mut w = store.begin()?;
    w.write_all(data).expect("write");
    w.commit(exp).map(|_| ())
}

fn read_all(store: &dyn BlobStore, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut r = store.open(&sha256_of(data)).expect("open");
    r.read_to_end(&mut out).expect("read");
    out
}

fn write_read(store: &dyn BlobStore) {
    let data = b"layer bytes".repeat(1000);
    let exp = Expected {
        digest: sha256_of(&data),
        size: Some(data.len() as u64),
    };
    put(store, &data, Some(&exp)).expect("commit");
    assert_eq!(read_all(store, &data), data);
    assert_eq!(store.stat(&exp.digest).unwrap(), Some(data.len() as u64));
}

fn verify_digest(store: &dyn BlobStore) {
    let exp = Expected {
        digest: sha256_of(b"right"),
        size: None,
    };
    let err = put(store, b"wrong", Some(&exp)).unwrap_err();
    assert!(matches!(err, BlobError::DigestMismatch { .. }), "{err}");
    assert_eq!(store.stat(&sha256_of(b"wrong")).unwrap(), None);
    assert!(store.list().unwrap().is_empty());
}

fn verify_size(store: &dyn BlobStore) {
    let exp = Expected {
        digest: sha256_of(b"12345"),
        size: Some(4),
    };
    let err = put(store, b"12345", Some(&exp)).unwrap_err();
    assert!(matches!(err, BlobError::SizeMismatch { .. }), "{err}");
    assert!(store.list().unwrap().is_empty());
}

fn existing_is_success(store: &dyn BlobStore) {
    put(store, b"twice", None).unwrap();
    put(store, b"twice", None).unwrap();
    assert_eq!(store.list().unwrap().len(), 1);
}

fn dropped_ingest_invisible(store: &dyn BlobStore) {
    let mut w = store.begin().unwrap();
    w.write_all(b"partial").unwrap();
    assert!(store.list().unwrap().is_empty());
    drop(w);
    assert!(store.list().unwrap().is_empty());
    assert_eq!(store.stat(&sha256_of(b"partial")).unwrap(), None);
}

fn resume_keyed(store: &dyn BlobStore) {
    let mut w = store.resume("download-1").unwrap();
    assert_eq!(w.offset(), 0);
    w.write_all(b"hello ").unwrap();
    drop(w); // connection lost
    let mut w = store.resume("download-1").unwrap();
    assert_eq!(w.offset(), 6);
    w.write_all(b"world").unwrap();
    let exp = Expected {
        digest: sha256_of(b"hello world"),
        size: Some(11),
    };
    w.commit(Some(&exp)).unwrap();
    assert_eq!(read_all(store, b"hello world"), b"hello world");
    assert_eq!(store.resume("download-1").unwrap().offset(), 0);
    assert_eq!(store.sweep_ingests().unwrap(), 0);
}

fn list_delete(store: &dyn BlobStore) {
    put(store, b"a", None).unwrap();
    put(store, b"b", None).unwrap();
    assert_eq!(store.list().unwrap().len(), 2);
    assert!(store.delete(&sha256_of(b"a")).unwrap());
    assert!(!store.delete(&sha256_of(b"a")).unwrap());
    assert_eq!(store.list().unwrap(), vec![(sha256_of(b"b"), 1)]);
}

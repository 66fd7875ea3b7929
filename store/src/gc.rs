//! Garbage collection: mark everything reachable from `index.json` (and extra roots),
//! sweep every other blob and every leftover ingest.

use std::collections::HashSet;

use oci_spec::image::{Descriptor, Digest, ImageIndex, ImageManifest};

use crate::blob::{BlobAdmin, BlobRead};
use crate::error::StoreError;
use crate::image::{is_index, is_manifest};
use crate::Store;

/// What a collection removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcReport {
    /// The blobs deleted.
    pub deleted: Vec<Digest>,
    /// Bytes freed, blobs and ingests together.
    pub bytes_freed: u64,
}

/// Marks from `roots` plus the index, then sweeps. The caller holds the exclusive lock.
pub(crate) fn collect(store: &Store, extra_roots: &[Digest]) -> Result<GcReport, StoreError> {
    let mut live = HashSet::new();
    for entry in store.entries()? {
        mark(store, &entry.manifest, &mut live)?;
    }
    live.extend(extra_roots.iter().map(|d| d.digest().to_string()));
    let mut report = GcReport {
        bytes_freed: store.blobs().sweep_ingests()?,
        ..GcReport::default()
    };
    for (digest, size) in store.blobs().list()? {
        if live.contains(digest.digest()) {
            continue;
        }
        let is_file = store.blobs().path(&digest).is_some(); // a record frees no blob bytes
        if store.blobs().delete(&digest)? {
            report.bytes_freed += if is_file { size } else { 0 };
            report.deleted.push(digest);
        }
    }
    Ok(report)
}

/// Marks a descriptor and, for manifests and indexes, what they reference.
fn mark(store: &Store, desc: &Descriptor, live: &mut HashSet<String>) -> Result<(), StoreError> {
    if !live.insert(desc.digest().digest().to_string()) {
        return Ok(());
    }
    if store.blobs().stat(desc.digest())?.is_none() {
        return Ok(()); // a child of a partially pulled index: nothing to keep
    }
    if is_index(desc.media_type()) {
        let index: ImageIndex = store.read_json(desc.digest())?;
        for child in index.manifests() {
            mark(store, child, live)?;
        }
    } else if is_manifest(desc.media_type()) {
        let manifest: ImageManifest = store.read_json(desc.digest())?;
        live.insert(manifest.config().digest().digest().to_string());
        for layer in manifest.layers() {
            live.insert(layer.digest().digest().to_string());
        }
    }
    Ok(())
}

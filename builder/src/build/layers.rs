//! Layers ↔ snapshots: extracting an image's layers into committed snapshots (once, shared by
//! every build) and turning a step's upper dir into a stored layer.

use std::io::BufReader;
use std::path::Path;

use rbuild_store::blob::BlobRead;
use rbuild_store::digest::HashingWriter;
use rbuild_store::layer::{
    extract, write_uncompressed, Compression, ExtractMode, ExtractOptions, Layer, TreeMode,
    TreeOptions,
};
use rbuild_store::{Descriptor, Digest, Store};

use super::error::BuildError;
use crate::snapshot::{chain_id, SnapshotError, Snapshotter};

/// Serializes extraction within one build process (see [`ensure_extracted`]).
static EXTRACTING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The chain ids of `layers`, bottom first.
pub fn chain_ids(layers: &[Layer]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(layers.len());
    for l in layers {
        let next = chain_id(out.last(), &l.diff_id);
        out.push(next);
    }
    out
}

/// Makes sure every layer of `layers` is an extracted, committed snapshot; returns the top
/// snapshot's name (`None` for an image without layers).
pub fn ensure_extracted(
    store: &Store,
    snaps: &Snapshotter,
    layers: &[Layer],
) -> Result<Option<String>, BuildError> {
    // Parallel stages on the same base would each extract it (the loser's copy is thrown
    // away): one extraction at a time in this process, the others then find it done.
    let _one_at_a_time = EXTRACTING.lock().unwrap_or_else(|p| p.into_inner());
    let mut parent: Option<String> = None;
    for (layer, chain) in layers.iter().zip(chain_ids(layers)) {
        let name = chain.to_string();
        if snaps.extracted(&chain)?.is_none() {
            snaps.create_committed_from(&name, parent.as_deref(), |dir| {
                extract_into(store, layer, dir)
            })?;
        }
        parent = Some(name);
    }
    Ok(parent)
}

fn extract_into(store: &Store, layer: &Layer, dir: &Path) -> Result<(), BuildError> {
    let reader = store
        .blobs()
        .open(layer.blob.digest())
        .map_err(rbuild_store::StoreError::from)?;
    let opts = ExtractOptions::new(ExtractMode::Overlay);
    extract(BufReader::with_capacity(1 << 20, reader), dir, &opts).map_err(|e| {
        BuildError::Layer {
            path: dir.to_path_buf(),
            message: format!("extracting {}: {e}", layer.blob.digest()),
        }
    })?;
    Ok(())
}

/// Turns the upper dir of active snapshot `key` into a layer: hashes its tar (the diff id),
/// commits the snapshot under the new chain id and records the snapshot as the layer's source
/// (the store regenerates the identical tar when it is pushed or exported, see
/// `rbuild_store::regen`), so a build writes no second copy of its output. Returns `None`
/// (and removes the snapshot) when the step changed nothing.
pub fn commit_step(
    store: &Store,
    snaps: &Snapshotter,
    key: &str,
    parent_chain: Option<&Digest>,
    clamp_mtime: Option<i64>,
) -> Result<Option<Layer>, BuildError> {
    let upper = snaps.fs_dir(key)?;
    if is_empty_dir(&upper)? {
        snaps.remove(key)?;
        return Ok(None);
    }
    let opts = TreeOptions {
        mode: TreeMode::OverlayUpper,
        clamp_mtime,
    };
    let layer_err = |message: String| BuildError::Layer {
        path: upper.clone(),
        message,
    };
    let (hashed, _) = write_uncompressed(&upper, &opts, HashingWriter::new(std::io::sink()))
        .map_err(|e| layer_err(e.to_string()))?;
    let (_, digest, size) = hashed.into_parts();
    // Uncompressed: the diff id is the blob digest.
    let layer = Layer {
        blob: Descriptor::new(Compression::None.media_type(), size, digest.clone()),
        diff_id: digest,
    };
    let name = chain_id(parent_chain, &layer.diff_id).to_string();
    match snaps.commit(&name, key) {
        Ok(_) => {}
        Err(SnapshotError::AlreadyExists { .. }) => snaps.remove(key)?,
        Err(e) => return Err(e.into()),
    }
    // The committed snapshot (ours, or an identical one another build committed first).
    let tree = snaps.fs_dir(&name)?;
    let blobs = store.blobs();
    if blobs
        .stat(&layer.diff_id)
        .map_err(|e| layer_err(e.to_string()))?
        .is_none()
    {
        blobs
            .record_tree(&layer.diff_id, size, &tree, &opts)
            .map_err(|e| layer_err(e.to_string()))?;
    }
    Ok(Some(layer))
}

fn is_empty_dir(dir: &Path) -> Result<bool, BuildError> {
    let mut rd = std::fs::read_dir(dir).map_err(|source| BuildError::Io {
        op: "read",
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(rd.next().is_none())
}

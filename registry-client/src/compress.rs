//! Compressing locally built (uncompressed) layers for a push, with a cache
//! `(diff_id, compression) → blob digest` under `<store>/registry/compressed/<algo>/<hex>`
//! so a second push reuses the compressed blob instead of compressing again.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, Digest, MediaType};
use rbuild_store::blob::{BlobIngest, BlobRead, Expected};
use rbuild_store::digest::parse_digest;
use rbuild_store::layer::{Compression, LayerWriter, DOCKER_LAYER_GZIP};
use rbuild_store::Store;

use crate::push::PushError;

fn algo(c: Compression) -> &'static str {
    match c {
        Compression::None => "none",
        Compression::Gzip => "gzip",
        Compression::Zstd => "zstd",
    }
}

fn cache_path(store: &Store, diff_id: &Digest, c: Compression) -> PathBuf {
    store
        .root()
        .join("registry")
        .join("compressed")
        .join(algo(c))
        .join(diff_id.digest())
}

/// The cached compressed blob for `diff_id`, when the cache names one that is still in the store.
pub fn cached(store: &Store, diff_id: &Digest, c: Compression) -> Option<(Digest, u64)> {
    let text = fs::read_to_string(cache_path(store, diff_id, c)).ok()?;
    let digest = parse_digest(text.trim()).ok()?;
    let size = store.blobs().stat(&digest).ok()??;
    Some((digest, size))
}

fn remember(store: &Store, diff_id: &Digest, c: Compression, blob: &Digest) -> io::Result<()> {
    let path = cache_path(store, diff_id, c);
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{}.{}.tmp", diff_id.digest(), std::process::id()));
    fs::write(&tmp, blob.to_string())?;
    fs::rename(&tmp, &path)
}

/// The media type of a layer compressed with `c` in a manifest of `manifest_type`
/// (docker schema 2 manifests keep docker's gzip spelling).
pub fn layer_media_type(c: Compression, manifest_type: &str) -> MediaType {
    match (c, manifest_type.starts_with("application/vnd.docker.")) {
        (Compression::Gzip, true) => MediaType::Other(DOCKER_LAYER_GZIP.to_string()),
        (c, _) => c.media_type(),
    }
}

/// Compresses the uncompressed layer blob `layer` with `c` into the store (or finds the
/// cached result) and returns the compressed blob's descriptor. The tar is re-hashed on
/// the way, so a damaged local layer is refused rather than pushed.
pub fn compressed_layer(
    store: &Store,
    layer: &Descriptor,
    c: Compression,
    manifest_type: &str,
) -> Result<Descriptor, PushError> {
    let diff_id = layer.digest();
    let media_type = layer_media_type(c, manifest_type);
    if let Some((digest, size)) = cached(store, diff_id, c) {
        return Ok(Descriptor::new(media_type, size, digest));
    }
    let blob_err = |source| PushError::Blob {
        digest: diff_id.clone(),
        source: Box::new(source),
    };
    let mut reader = store.blobs().open(diff_id).map_err(blob_err)?;
    let sink = store.blobs().begin().map_err(blob_err)?;
    let compress_err = |source| PushError::Compress {
        digest: diff_id.clone(),
        source,
    };
    let mut writer = LayerWriter::new(sink, c).map_err(compress_err)?;
    io::copy(&mut reader, &mut writer).map_err(|source| PushError::Read {
        digest: diff_id.clone(),
        source,
    })?;
    let (sink, digests) = writer.finish().map_err(compress_err)?;
    if &digests.diff_id != diff_id {
        sink.abort().map_err(blob_err)?;
        return Err(PushError::DiffId {
            digest: diff_id.clone(),
            actual: digests.diff_id,
        });
    }
    let expected = Expected {
        digest: digests.digest.clone(),
        size: Some(digests.size),
    };
    sink.commit(Some(&expected)).map_err(blob_err)?;
    remember(store, diff_id, c, &digests.digest).map_err(|source| PushError::Cache {
        path: cache_path(store, diff_id, c),
        source,
    })?;
    Ok(Descriptor::new(media_type, digests.size, digests.digest))
}

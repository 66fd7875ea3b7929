//! Compressed copies of uncompressed layers, made once per `(diff_id, compression)` and
//! remembered under `<root>/registry/compressed/<algo>/<hex>` (the compressed blob's digest),
//! so a second push or export reuses the blob instead of compressing again. The compressed
//! blob is an ordinary store blob: verified on ingest, collected when nothing uses it.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, Digest, MediaType};
use thiserror::Error;

use crate::blob::{pump, BlobError, BlobIngest, BlobRead, BlobWriter};
use crate::digest::{parse_digest, Hasher};
use crate::layer::{BlobEncoder, CompressError, Compression, DOCKER_LAYER_GZIP};
use crate::Store;

/// Why a layer could not be compressed.
#[derive(Debug, Error)]
pub enum CompressLayerError {
    /// Reading or writing a blob in the store failed.
    #[error("blob {digest}: {source}")]
    Blob {
        /// The layer.
        digest: Digest,
        /// What went wrong.
        #[source]
        source: Box<BlobError>,
    },
    /// The encoder failed.
    #[error("compressing layer {digest}: {source}")]
    Encode {
        /// The layer.
        digest: Digest,
        /// What went wrong.
        #[source]
        source: CompressError,
    },
    /// Reading the layer failed (a regenerated tar that no longer matches included).
    #[error("reading layer {digest}: {source}")]
    Read {
        /// The layer.
        digest: Digest,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A stored uncompressed layer does not hash to its digest.
    #[error("layer {digest} is damaged in the store: its content hashes to {actual}")]
    Damaged {
        /// The layer's digest.
        digest: Digest,
        /// What its content hashes to.
        actual: Digest,
    },
    /// The cache entry could not be written.
    #[error("cannot write the compression cache {path}: {source}")]
    Cache {
        /// The cache file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// How to compress, and who else wants the bytes.
pub struct CompressOptions<'a> {
    /// The level (`None`: the compression's default).
    pub level: Option<i32>,
    /// Also gets every compressed byte as it is produced (an upload running at the same
    /// time); its first error only ends the teeing, not the compression. Flushed at the end.
    pub tee: Option<Box<dyn Write + Send + 'a>>,
    /// Told the uncompressed bytes done so far.
    pub progress: &'a dyn Fn(u64),
}

fn algo(c: Compression) -> &'static str {
    match c {
        Compression::None => "none",
        Compression::Gzip => "gzip",
        Compression::Zstd => "zstd",
    }
}

fn cache_path(store: &Store, diff_id: &Digest, c: Compression) -> PathBuf {
    let dir = store.root().join("registry").join("compressed");
    dir.join(algo(c)).join(diff_id.digest())
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

/// Whether `layer` is stored uncompressed and `c` asks for compression: the layers a push or
/// an export compresses (anything else goes out as it is).
pub fn needs_compression(layer: &Descriptor, c: Compression) -> bool {
    let plain = Compression::from_media_type(layer.media_type()) == Some(Compression::None);
    plain && c != Compression::None
}

/// The descriptor of `layer` compressed with `c` for a manifest of `manifest_type`: from the
/// cache, else compressed now. Layers that are not stored uncompressed come back as they are.
pub fn ensure(
    store: &Store,
    layer: &Descriptor,
    c: Compression,
    level: Option<i32>,
    manifest_type: &str,
) -> Result<Descriptor, CompressLayerError> {
    if !needs_compression(layer, c) {
        return Ok(layer.clone());
    }
    let (digest, size) = match cached(store, layer.digest(), c) {
        Some(hit) => hit,
        None => {
            let opts = CompressOptions {
                level,
                tee: None,
                progress: &|_| {},
            };
            compress_layer(store, layer, c, opts)?
        }
    };
    Ok(Descriptor::new(
        layer_media_type(c, manifest_type),
        size,
        digest,
    ))
}

/// Compresses the uncompressed layer `layer` with `c` into the store, remembers the result
/// in the cache and returns the compressed blob's digest and size. The tar is checked
/// against `layer`'s digest on the way (a regenerated tar by the store's reader, a blob file
/// here), so a damaged local layer is refused rather than compressed. Blocking.
pub fn compress_layer(
    store: &Store,
    layer: &Descriptor,
    c: Compression,
    opts: CompressOptions<'_>,
) -> Result<(Digest, u64), CompressLayerError> {
    let diff_id = layer.digest();
    let blob_err = |source| CompressLayerError::Blob {
        digest: diff_id.clone(),
        source: Box::new(source),
    };
    let encode_err = |source| CompressLayerError::Encode {
        digest: diff_id.clone(),
        source,
    };
    let rehash = store.blobs().path(diff_id).is_some();
    let mut reader = Rehash {
        inner: store.blobs().open(diff_id).map_err(blob_err)?,
        hasher: rehash.then(Hasher::new),
    };
    let sink = Tee {
        ingest: store.blobs().begin().map_err(blob_err)?,
        out: opts.tee,
    };
    // The blob is hashed by the ingest (it hashes what it writes).
    let mut writer = BlobEncoder::with_level(sink, c, opts.level).map_err(encode_err)?;
    pump(&mut reader, &mut writer, opts.progress).map_err(|source| CompressLayerError::Read {
        digest: diff_id.clone(),
        source,
    })?;
    let sink = writer.finish().map_err(encode_err)?.end();
    if let Some(actual) = reader.hasher.take().map(Hasher::finish) {
        if &actual != diff_id {
            sink.abort().map_err(blob_err)?;
            return Err(CompressLayerError::Damaged {
                digest: diff_id.clone(),
                actual,
            });
        }
    }
    let (digest, size) = sink.commit(None).map_err(blob_err)?;
    remember(store, diff_id, c, &digest).map_err(|source| CompressLayerError::Cache {
        path: cache_path(store, diff_id, c),
        source,
    })?;
    Ok((digest, size))
}

/// Hashes what is read through it when `hasher` is set.
struct Rehash<R> {
    inner: R,
    hasher: Option<Hasher>,
}

impl<R: Read> Read for Rehash<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// Writes the compressed blob into the store's ingest and, while it accepts them, to `out`.
struct Tee<'a> {
    ingest: Box<dyn BlobWriter>,
    out: Option<Box<dyn Write + Send + 'a>>,
}

impl Tee<'_> {
    /// Flushes and drops `out`; returns the ingest.
    fn end(mut self) -> Box<dyn BlobWriter> {
        if let Some(mut out) = self.out.take() {
            let _ = out.flush(); // a listener that went away changes nothing here
        }
        self.ingest
    }
}

impl Write for Tee<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.ingest.write_all(data)?;
        if let Some(out) = &mut self.out {
            if out.write_all(data).is_err() {
                self.out = None; // the listener gave up; the store still gets everything
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.ingest.flush()
    }
}

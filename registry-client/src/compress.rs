//! Compressing locally built (uncompressed) layers for a push, with a cache
//! `(diff_id, compression) → blob digest` under `<store>/registry/compressed/<algo>/<hex>`
//! so a second push reuses the compressed blob instead of compressing again.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, Digest, MediaType};
use rbuild_store::blob::{BlobIngest, BlobRead, BlobWriter};
use rbuild_store::digest::{parse_digest, Hasher};
use rbuild_store::layer::{BlobEncoder, Compression, DOCKER_LAYER_GZIP};
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

/// Compressed bytes handed to a streamed upload while they are written to the store.
pub(crate) type ChunkSender = tokio::sync::mpsc::Sender<io::Result<Vec<u8>>>;

/// Uncompressed bytes read per `read()` (large reads, few syscalls).
const READ_SIZE: usize = 1 << 20;
/// Compressed bytes per chunk handed to the upload.
const CHUNK_SIZE: usize = 256 << 10;

/// Compresses the uncompressed layer blob `layer` with `c` into the store, remembers the
/// result in the cache and returns the compressed blob's digest and size. When `tee` is
/// given, every compressed byte is also sent there as it is produced (for an upload
/// running at the same time); a closed receiver only ends the sending, not the
/// compression. The tar is checked against `layer`'s digest on the way, so a damaged local
/// layer is refused rather than pushed. Blocking: run it on a thread of its own.
pub(crate) fn compress_layer(
    store: &Store,
    layer: &Descriptor,
    c: Compression,
    level: Option<i32>,
    tee: Option<ChunkSender>,
    progress: &dyn Fn(u64),
) -> Result<(Digest, u64), PushError> {
    let diff_id = layer.digest();
    let blob_err = |source| PushError::Blob {
        digest: diff_id.clone(),
        source: Box::new(source),
    };
    let compress_err = |source| PushError::Compress {
        digest: diff_id.clone(),
        source,
    };
    // A regenerated tar is checked against its digest by the store's reader; a blob file is
    // re-hashed here, so a damaged local layer is refused rather than pushed.
    let rehash = store.blobs().path(diff_id).is_some();
    let mut reader = Rehash {
        inner: store.blobs().open(diff_id).map_err(blob_err)?,
        hasher: rehash.then(Hasher::new),
    };
    let sink = Tee {
        ingest: store.blobs().begin().map_err(blob_err)?,
        out: tee,
        buf: Vec::new(),
    };
    // The blob is hashed by the ingest (it hashes what it writes).
    let mut writer = BlobEncoder::with_level(sink, c, level).map_err(compress_err)?;
    pump(&mut reader, &mut writer, progress).map_err(|source| PushError::Read {
        digest: diff_id.clone(),
        source,
    })?;
    let sink = writer.finish().map_err(compress_err)?.end();
    if let Some(actual) = reader.hasher.take().map(Hasher::finish) {
        if &actual != diff_id {
            sink.abort().map_err(blob_err)?;
            return Err(PushError::DiffId {
                digest: diff_id.clone(),
                actual,
            });
        }
    }
    let (digest, size) = sink.commit(None).map_err(blob_err)?;
    remember(store, diff_id, c, &digest).map_err(|source| PushError::Cache {
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

/// Copies `reader` into `writer` in [`READ_SIZE`] pieces, reporting the bytes done.
fn pump(reader: &mut dyn Read, writer: &mut dyn Write, progress: &dyn Fn(u64)) -> io::Result<()> {
    let mut buf = vec![0u8; READ_SIZE];
    let mut done = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        writer.write_all(&buf[..n])?;
        done += n as u64;
        progress(done);
    }
}

/// Writes the compressed blob into the store's ingest and, while someone listens, in
/// [`CHUNK_SIZE`] chunks to a channel.
struct Tee {
    ingest: Box<dyn BlobWriter>,
    out: Option<ChunkSender>,
    buf: Vec<u8>,
}

impl Tee {
    fn send(&mut self) {
        let Some(out) = &self.out else { return };
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_SIZE));
        if out.blocking_send(Ok(chunk)).is_err() {
            self.out = None; // the upload gave up; the store still gets everything
        }
    }

    /// Sends what is left and closes the channel; returns the ingest.
    fn end(mut self) -> Box<dyn BlobWriter> {
        if !self.buf.is_empty() {
            self.send();
        }
        self.ingest
    }
}

impl Write for Tee {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.ingest.write_all(data)?;
        if self.out.is_some() {
            self.buf.extend_from_slice(data);
            if self.buf.len() >= CHUNK_SIZE {
                self.send();
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.ingest.flush()
    }
}

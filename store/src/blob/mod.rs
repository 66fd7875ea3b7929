//! Content-addressed blobs, split by capability the way containerd's content store is.
//!
//! Vocabulary:
//! - a *blob* is immutable bytes addressed by their sha256 [`Digest`]; once committed it is
//!   verified, read-only and visible to readers;
//! - an *ingest* is a blob being written: invisible to readers, hashed while written, and
//!   either committed (size and digest checked, renamed atomically into place) or abandoned.
//!   Abandoned and crashed ingests are swept by the store's garbage collector;
//! - a *keyed* ingest ([`BlobIngest::resume`]) survives its writer: a later writer with the
//!   same key continues at [`BlobWriter::offset`] (resumable downloads).
//!
//! Committing a blob that already exists is success: content addressing makes it the same.

mod fs;
mod mem;
#[cfg(test)]
pub mod suite;

use std::io::{Read, Write};
use std::path::PathBuf;

use oci_spec::image::Digest;

pub use fs::FsBlobStore;
pub use mem::MemBlobStore;

/// What a writer must produce; checked at commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// The digest the content must hash to.
    pub digest: Digest,
    /// The exact size, when known.
    pub size: Option<u64>,
}

/// Errors of the blob store; each names the blob or path concerned.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The blob is not in the store.
    #[error("blob {digest} not found")]
    NotFound {
        /// The missing blob.
        digest: Digest,
    },
    /// The written content hashed to something else.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The digest that was asked for.
        expected: Digest,
        /// The digest of what was written.
        actual: Digest,
    },
    /// The written content had the wrong length.
    #[error("size mismatch for {digest}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// The blob being written.
        digest: Digest,
        /// The size that was asked for.
        expected: u64,
        /// The size that was written.
        actual: u64,
    },
    /// The digest uses an algorithm the store does not address.
    #[error("unsupported digest algorithm in {digest} (only sha256)")]
    Unsupported {
        /// The digest.
        digest: Digest,
    },
    /// A filesystem operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Read access to committed blobs.
pub trait BlobRead: Send + Sync {
    /// Opens a committed blob for streaming.
    fn open(&self, digest: &Digest) -> Result<Box<dyn Read + Send>, BlobError>;
    /// The size of a committed blob, or `None` when absent.
    fn stat(&self, digest: &Digest) -> Result<Option<u64>, BlobError>;
    /// The on-disk path of a committed blob, for stores that have one.
    fn path(&self, digest: &Digest) -> Option<PathBuf>;
}

/// Write access: ingests that become blobs on commit.
pub trait BlobIngest: Send + Sync {
    /// Starts an anonymous ingest; dropping the writer without commit discards it.
    fn begin(&self) -> Result<Box<dyn BlobWriter>, BlobError>;
    /// Opens (or creates) the keyed ingest `key`, positioned at its end.
    fn resume(&self, key: &str) -> Result<Box<dyn BlobWriter>, BlobError>;
}

/// A blob being written. Hashes while it writes.
pub trait BlobWriter: Write + Send {
    /// Bytes in the ingest so far (including any resumed prefix).
    fn offset(&self) -> u64;
    /// Verifies against `expected` (when given), then publishes the blob atomically.
    /// Returns the digest and size. An already-present blob is success.
    fn commit(self: Box<Self>, expected: Option<&Expected>) -> Result<(Digest, u64), BlobError>;
    /// Throws the partial content away (also for keyed ingests).
    fn abort(self: Box<Self>) -> Result<(), BlobError>;
}

/// Listing and deletion, for garbage collection.
pub trait BlobAdmin: Send + Sync {
    /// Every committed blob with its size.
    fn list(&self) -> Result<Vec<(Digest, u64)>, BlobError>;
    /// Deletes a blob; `Ok(false)` when it was not there.
    fn delete(&self, digest: &Digest) -> Result<bool, BlobError>;
    /// Removes every ingest (partial writes); returns the bytes freed.
    fn sweep_ingests(&self) -> Result<u64, BlobError>;
}

/// Everything a full blob store does.
pub trait BlobStore: BlobRead + BlobIngest + BlobAdmin {}
impl<T: BlobRead + BlobIngest + BlobAdmin> BlobStore for T {}

/// Bytes read per `read()` by [`pump`] (large reads, few syscalls).
const READ_SIZE: usize = 1 << 20;

/// Copies `reader` into `writer` in [`READ_SIZE`] pieces, reporting the bytes done; returns
/// the total.
pub(crate) fn pump(
    reader: &mut dyn Read,
    writer: &mut dyn Write,
    progress: &dyn Fn(u64),
) -> std::io::Result<u64> {
    let mut buf = vec![0u8; READ_SIZE];
    let mut done = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(done),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        writer.write_all(&buf[..n])?;
        done += n as u64;
        progress(done);
    }
}

/// Checks a finished write against what was expected.
pub(crate) fn verify(
    expected: Option<&Expected>,
    actual: &Digest,
    size: u64,
) -> Result<(), BlobError> {
    let Some(exp) = expected else { return Ok(()) };
    if let Some(want) = exp.size {
        if want != size {
            return Err(BlobError::SizeMismatch {
                digest: exp.digest.clone(),
                expected: want,
                actual: size,
            });
        }
    }
    if &exp.digest != actual {
        return Err(BlobError::DigestMismatch {
            expected: exp.digest.clone(),
            actual: actual.clone(),
        });
    }
    Ok(())
}

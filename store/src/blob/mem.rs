//! An in-memory blob store: the second implementation the conformance suite runs against.

use std::collections::BTreeMap;
use std::io::{self, Cursor, Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use oci_spec::image::Digest;

use super::{verify, BlobAdmin, BlobError, BlobIngest, BlobRead, BlobWriter, Expected};
use crate::digest::sha256_of;

#[derive(Default)]
struct Inner {
    blobs: BTreeMap<String, Arc<Vec<u8>>>,
    keyed: BTreeMap<String, Vec<u8>>,
}

/// Blobs kept in memory; cheap to clone (shared state).
#[derive(Clone, Default)]
pub struct MemBlobStore {
    inner: Arc<Mutex<Inner>>,
}

impl MemBlobStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl BlobRead for MemBlobStore {
    fn open(&self, digest: &Digest) -> Result<Box<dyn Read + Send>, BlobError> {
        let data = self.lock().blobs.get(digest.digest()).cloned();
        let data = data.ok_or_else(|| BlobError::NotFound {
            digest: digest.clone(),
        })?;
        Ok(Box::new(Cursor::new(data.as_ref().clone())))
    }

    fn stat(&self, digest: &Digest) -> Result<Option<u64>, BlobError> {
        Ok(self
            .lock()
            .blobs
            .get(digest.digest())
            .map(|b| b.len() as u64))
    }

    fn path(&self, _digest: &Digest) -> Option<PathBuf> {
        None
    }
}

impl BlobIngest for MemBlobStore {
    fn begin(&self) -> Result<Box<dyn BlobWriter>, BlobError> {
        Ok(Box::new(MemWriter {
            store: self.clone(),
            buf: Vec::new(),
            key: None,
        }))
    }

    fn resume(&self, key: &str) -> Result<Box<dyn BlobWriter>, BlobError> {
        let buf = self.lock().keyed.remove(key).unwrap_or_default();
        Ok(Box::new(MemWriter {
            store: self.clone(),
            buf,
            key: Some(key.to_string()),
        }))
    }
}

impl BlobAdmin for MemBlobStore {
    fn list(&self) -> Result<Vec<(Digest, u64)>, BlobError> {
        Ok(self
            .lock()
            .blobs
            .values()
            .map(|b| (sha256_of(b), b.len() as u64))
            .collect())
    }

    fn delete(&self, digest: &Digest) -> Result<bool, BlobError> {
        Ok(self.lock().blobs.remove(digest.digest()).is_some())
    }

    fn sweep_ingests(&self) -> Result<u64, BlobError> {
        let mut inner = self.lock();
        let freed = inner.keyed.values().map(|b| b.len() as u64).sum();
        inner.keyed.clear();
        Ok(freed)
    }
}

struct MemWriter {
    store: MemBlobStore,
    buf: Vec<u8>,
    key: Option<String>,
}

impl Write for MemWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl BlobWriter for MemWriter {
    fn offset(&self) -> u64 {
        self.buf.len() as u64
    }

    fn commit(
        mut self: Box<Self>,
        expected: Option<&Expected>,
    ) -> Result<(Digest, u64), BlobError> {
        let digest = sha256_of(&self.buf);
        let size = self.buf.len() as u64;
        if let Err(e) = verify(expected, &digest, size) {
            self.key = None;
            return Err(e);
        }
        let buf = Arc::new(std::mem::take(&mut self.buf));
        self.key = None;
        self.store
            .lock()
            .blobs
            .entry(digest.digest().to_string())
            .or_insert(buf);
        Ok((digest, size))
    }

    fn abort(mut self: Box<Self>) -> Result<(), BlobError> {
        self.key = None;
        Ok(())
    }
}

impl Drop for MemWriter {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let buf = std::mem::take(&mut self.buf);
            self.store.lock().keyed.insert(key, buf);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn conformance() {
        crate::blob::suite::run_suite(|_| Box::new(super::MemBlobStore::new()));
    }
}

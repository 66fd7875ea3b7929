//! Regenerable layers: what a build produces is kept once, as the snapshot it ran in, not twice.
//!
//! Docker's and containerd's stores keep a built layer as its directory and make the tar when
//! it is pushed or exported. rbuild does the same: a build records, for the layer's digest, the
//! directory its tar was written from (`<root>/regen/sha256/<hex>`) instead of storing the tar.
//! [`StoreBlobs`] answers for both kinds: a blob file when there is one, else a tar regenerated
//! from the recorded tree by the same deterministic writer and checked, at its end, against the
//! digest and size, so a tree that changed is an error, never different content.
//! [`StoreBlobs::materialize_all`] turns records into blob files before their trees go away.

mod reader;
mod record;
#[cfg(test)]
mod tests;

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use oci_spec::image::Digest;

use crate::blob::{
    pump, BlobAdmin, BlobError, BlobIngest, BlobRead, BlobWriter, Expected, FsBlobStore,
};
use crate::layer::TreeOptions;
pub use record::Record;

/// The store's blobs: committed files plus regenerable layers.
#[derive(Debug, Clone)]
pub struct StoreBlobs {
    root: PathBuf,
    records: PathBuf,
    files: FsBlobStore,
}

impl StoreBlobs {
    /// Opens the blobs of the store rooted at `root`.
    pub fn open(root: &Path) -> Result<Self, BlobError> {
        Ok(Self {
            root: root.to_path_buf(),
            records: record::records_dir(root),
            files: FsBlobStore::open(root)?,
        })
    }

    /// Records that the uncompressed layer `digest` (`size` bytes) is the tar of the tree at
    /// `dir` (inside the store root) written with `opts`. The tree must not change afterwards.
    pub fn record_tree(
        &self,
        digest: &Digest,
        size: u64,
        dir: &Path,
        opts: &TreeOptions,
    ) -> Result<(), BlobError> {
        let rel = dir.strip_prefix(&self.root).map_err(|_| BlobError::Io {
            op: "record",
            path: dir.to_path_buf(),
            source: io::Error::other("the tree is not inside the store"),
        })?;
        let rec = Record::new(rel.to_path_buf(), size, opts);
        record::save(&self.records, digest, &rec)
    }

    /// The record of `digest`, when the layer is kept as a tree and not as a file.
    pub fn record(&self, digest: &Digest) -> Result<Option<Record>, BlobError> {
        if self.files.stat(digest)?.is_some() {
            return Ok(None);
        }
        record::load(&self.records, digest)
    }

    /// Writes the regenerated tar of `digest` as a blob file (verified by the ingest) and drops
    /// its record. Returns whether a tar was written (`false`: the file existed or no record).
    pub fn materialize(&self, digest: &Digest) -> Result<bool, BlobError> {
        let Some(rec) = self.record(digest)? else {
            record::remove(&self.records, digest)?;
            return Ok(false);
        };
        let mut reader = self.regenerate(digest, &rec)?;
        let mut w = self.files.begin()?;
        pump(&mut reader, &mut w, &|_| {}).map_err(|source| BlobError::Io {
            op: "regenerate",
            path: self.root.join(&rec.dir),
            source,
        })?;
        let expected = Expected {
            digest: digest.clone(),
            size: Some(rec.size),
        };
        w.commit(Some(&expected))?;
        record::remove(&self.records, digest)?;
        Ok(true)
    }

    /// Materializes every recorded layer; returns how many tars were written.
    pub fn materialize_all(&self) -> Result<usize, BlobError> {
        let mut n = 0;
        for digest in record::list(&self.records)? {
            n += usize::from(self.materialize(&digest)?);
        }
        Ok(n)
    }

    fn regenerate(&self, digest: &Digest, rec: &Record) -> Result<Box<dyn Read + Send>, BlobError> {
        let opts = rec.options().map_err(|e| BlobError::Io {
            op: "read",
            path: self.records.join(digest.digest()),
            source: io::Error::new(io::ErrorKind::InvalidData, e),
        })?;
        let target = reader::Target {
            digest: digest.clone(),
            size: rec.size,
        };
        Ok(reader::regenerate(self.root.join(&rec.dir), opts, target))
    }
}

impl BlobRead for StoreBlobs {
    fn open(&self, digest: &Digest) -> Result<Box<dyn Read + Send>, BlobError> {
        match self.files.open(digest) {
            Err(BlobError::NotFound { .. }) => match record::load(&self.records, digest)? {
                Some(rec) => self.regenerate(digest, &rec),
                None => Err(BlobError::NotFound {
                    digest: digest.clone(),
                }),
            },
            other => other,
        }
    }

    fn stat(&self, digest: &Digest) -> Result<Option<u64>, BlobError> {
        match self.files.stat(digest)? {
            Some(size) => Ok(Some(size)),
            None => Ok(record::load(&self.records, digest)?.map(|r| r.size)),
        }
    }

    /// The blob file's path; `None` for a layer kept as a tree.
    fn path(&self, digest: &Digest) -> Option<PathBuf> {
        let path = self.files.path(digest)?;
        let regenerable = !path.exists() && self.records.join(digest.digest()).exists();
        (!regenerable).then_some(path)
    }
}

impl BlobIngest for StoreBlobs {
    fn begin(&self) -> Result<Box<dyn BlobWriter>, BlobError> {
        self.files.begin()
    }

    fn resume(&self, key: &str) -> Result<Box<dyn BlobWriter>, BlobError> {
        self.files.resume(key)
    }
}

impl BlobAdmin for StoreBlobs {
    /// Blob files and recorded layers (with their tar sizes; a record frees no blob bytes).
    fn list(&self) -> Result<Vec<(Digest, u64)>, BlobError> {
        let mut out = self.files.list()?;
        for digest in record::list(&self.records)? {
            if out.iter().all(|(d, _)| d != &digest) {
                if let Some(rec) = record::load(&self.records, &digest)? {
                    out.push((digest, rec.size));
                }
            }
        }
        out.sort_by(|a, b| a.0.digest().cmp(b.0.digest()));
        Ok(out)
    }

    /// Deletes the blob file and the record (the recorded tree belongs to its owner).
    fn delete(&self, digest: &Digest) -> Result<bool, BlobError> {
        let file = self.files.delete(digest)?;
        let rec = record::remove(&self.records, digest)?;
        Ok(file || rec)
    }

    fn sweep_ingests(&self) -> Result<u64, BlobError> {
        self.files.sweep_ingests()
    }
}

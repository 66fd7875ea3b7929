//! The filesystem blob store: `blobs/sha256/<hex>` plus `ingest/<id>/data` for partial writes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use oci_spec::image::Digest;

use super::{verify, BlobAdmin, BlobError, BlobIngest, BlobRead, BlobWriter, Expected};
use crate::digest::{is_sha256, parse_digest, sha256_of, Hasher};

/// Blobs under `<root>/blobs/sha256`, ingests under `<root>/ingest`.
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    blobs: PathBuf,
    ingest: PathBuf,
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> BlobError + 'a {
    move |source| BlobError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

impl FsBlobStore {
    /// Opens (creating if needed) the blob and ingest dirs under `root`.
    pub fn open(root: &Path) -> Result<Self, BlobError> {
        let blobs = root.join("blobs").join("sha256");
        let ingest = root.join("ingest");
        fs::create_dir_all(&blobs).map_err(io_err("create", &blobs))?;
        fs::create_dir_all(&ingest).map_err(io_err("create", &ingest))?;
        Ok(Self { blobs, ingest })
    }

    fn blob_path(&self, digest: &Digest) -> Result<PathBuf, BlobError> {
        if !is_sha256(digest) {
            return Err(BlobError::Unsupported {
                digest: digest.clone(),
            });
        }
        Ok(self.blobs.join(digest.digest()))
    }

    fn new_ingest_dir(&self, name: &str) -> Result<PathBuf, BlobError> {
        let dir = self.ingest.join(name);
        fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
        Ok(dir)
    }
}

impl BlobRead for FsBlobStore {
    fn open(&self, digest: &Digest) -> Result<Box<dyn Read + Send>, BlobError> {
        let path = self.blob_path(digest)?;
        match File::open(&path) {
            Ok(f) => Ok(Box::new(f)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(BlobError::NotFound {
                digest: digest.clone(),
            }),
            Err(e) => Err(io_err("open", &path)(e)),
        }
    }

    fn stat(&self, digest: &Digest) -> Result<Option<u64>, BlobError> {
        let path = self.blob_path(digest)?;
        match fs::metadata(&path) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("stat", &path)(e)),
        }
    }

    fn path(&self, digest: &Digest) -> Option<PathBuf> {
        self.blob_path(digest).ok()
    }
}

impl BlobIngest for FsBlobStore {
    fn begin(&self) -> Result<Box<dyn BlobWriter>, BlobError> {
        let id = format!("a-{}-{:016x}", std::process::id(), rand::random::<u64>());
        let dir = self.new_ingest_dir(&id)?;
        FsWriter::create(self.blobs.clone(), dir, false)
    }

    fn resume(&self, key: &str) -> Result<Box<dyn BlobWriter>, BlobError> {
        let name = format!("k-{}", &sha256_of(key.as_bytes()).digest()[..32]);
        let dir = self.new_ingest_dir(&name)?;
        FsWriter::create(self.blobs.clone(), dir, true)
    }
}

impl BlobAdmin for FsBlobStore {
    fn list(&self) -> Result<Vec<(Digest, u64)>, BlobError> {
        let rd = fs::read_dir(&self.blobs).map_err(io_err("read", &self.blobs))?;
        let mut out = Vec::new();
        for entry in rd {
            let entry = entry.map_err(io_err("read", &self.blobs))?;
            let name = entry.file_name();
            let Ok(digest) = parse_digest(&format!("sha256:{}", name.to_string_lossy())) else {
                continue; // not a blob: ignore foreign files rather than fail gc
            };
            let len = entry
                .metadata()
                .map_err(io_err("stat", &entry.path()))?
                .len();
            out.push((digest, len));
        }
        out.sort_by(|a, b| a.0.digest().cmp(b.0.digest()));
        Ok(out)
    }

    fn delete(&self, digest: &Digest) -> Result<bool, BlobError> {
        let path = self.blob_path(digest)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err("remove", &path)(e)),
        }
    }

    fn sweep_ingests(&self) -> Result<u64, BlobError> {
        let rd = fs::read_dir(&self.ingest).map_err(io_err("read", &self.ingest))?;
        let mut freed = 0;
        for entry in rd {
            let path = entry.map_err(io_err("read", &self.ingest))?.path();
            freed += fs::metadata(path.join("data"))
                .map(|m| m.len())
                .unwrap_or(0);
            fs::remove_dir_all(&path).map_err(io_err("remove", &path))?;
        }
        Ok(freed)
    }
}

/// An ingest in progress: `ingest/<id>/data`, hashed as it is written.
struct FsWriter {
    blobs: PathBuf,
    dir: PathBuf,
    file: Option<File>,
    hasher: Hasher,
    offset: u64,
    /// Where the writeback started by [`start_writeback`] has got to.
    flushed: u64,
    keyed: bool,
}

/// Bytes written before their writeback is started (not waited for), so the fsync at commit
/// finds little left to write instead of the whole blob.
const WRITEBACK_EVERY: u64 = 8 << 20;

/// Starts writing `len` bytes at `offset` of `file` back to the device and returns at once
/// (`sync_file_range(SYNC_FILE_RANGE_WRITE)`); durability still comes from the fsync at commit.
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: a plain syscall on an open fd; failure only means no early writeback.
    unsafe { libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE) };
}

impl FsWriter {
    fn create(blobs: PathBuf, dir: PathBuf, keyed: bool) -> Result<Box<dyn BlobWriter>, BlobError> {
        let data = dir.join("data");
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&data)
            .map_err(io_err("open", &data))?;
        // A resumed ingest rebuilds its hash state from what is already on disk.
        let mut hasher = Hasher::new();
        let offset = hash_existing(&mut file, &mut hasher).map_err(io_err("read", &data))?;
        Ok(Box::new(FsWriter {
            blobs,
            dir,
            file: Some(file),
            hasher,
            offset,
            flushed: offset,
            keyed,
        }))
    }

    fn data_path(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn file(&mut self) -> io::Result<&mut File> {
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("ingest already finished"))
    }

    fn publish(&mut self, target: &Path) -> Result<(), BlobError> {
        let data = self.data_path();
        let file = self.file.take().ok_or_else(|| BlobError::Io {
            op: "commit",
            path: data.clone(),
            source: io::Error::other("ingest already finished"),
        })?;
        file.sync_all().map_err(io_err("fsync", &data))?;
        drop(file);
        fs::set_permissions(&data, fs::Permissions::from_mode(0o444))
            .map_err(io_err("chmod", &data))?;
        fs::rename(&data, target).map_err(io_err("rename", target))?;
        File::open(&self.blobs)
            .and_then(|d| d.sync_all())
            .map_err(io_err("fsync", &self.blobs))
    }
}

fn hash_existing(file: &mut File, hasher: &mut Hasher) -> io::Result<u64> {
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
}

impl Write for FsWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file()?.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.offset += n as u64;
        if self.offset - self.flushed >= WRITEBACK_EVERY {
            let (from, len) = (self.flushed, self.offset - self.flushed);
            start_writeback(self.file()?, from, len);
            self.flushed = self.offset;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file()?.flush()
    }
}

impl BlobWriter for FsWriter {
    fn offset(&self) -> u64 {
        self.offset
    }

    fn commit(
        mut self: Box<Self>,
        expected: Option<&Expected>,
    ) -> Result<(Digest, u64), BlobError> {
        let digest = std::mem::take(&mut self.hasher).finish();
        let size = self.offset;
        if let Err(e) = verify(expected, &digest, size) {
            self.keyed = false; // bad content must not be resumed from
            return Err(e);
        }
        let target = self.blobs.join(digest.digest());
        let exists = fs::metadata(&target)
            .map(|m| m.len() == size)
            .unwrap_or(false);
        if !exists {
            self.publish(&target)?;
        }
        Ok((digest, size))
    }

    fn abort(mut self: Box<Self>) -> Result<(), BlobError> {
        self.keyed = false;
        Ok(())
    }
}

impl Drop for FsWriter {
    fn drop(&mut self) {
        self.file.take();
        let published = !self.data_path().exists();
        if published || !self.keyed {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance() {
        crate::blob::suite::run_suite(|dir| Box::new(FsBlobStore::open(dir).unwrap()));
    }

    #[test]
    fn committed_blob_is_read_only_and_ingest_is_gone() {
        let tmp = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(tmp.path()).unwrap();
        let mut w = store.begin().unwrap();
        w.write_all(b"abc").unwrap();
        let (d, _) = w.commit(None).unwrap();
        let mode = fs::metadata(store.path(&d).unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o444);
        assert_eq!(fs::read_dir(tmp.path().join("ingest")).unwrap().count(), 0);
    }

    #[test]
    fn blobs_past_the_early_writeback_size_keep_their_bytes() {
        let tmp = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(tmp.path()).unwrap();
        let mut w = store.begin().unwrap();
        let mut expected = Hasher::new();
        for i in 0..20u8 {
            let chunk = vec![i; (1 << 20) + usize::from(i)]; // odd sizes cross the 8 MiB marks
            w.write_all(&chunk).unwrap();
            expected.update(&chunk);
        }
        let (d, size) = w.commit(None).unwrap();
        assert_eq!(d, expected.finish());
        let on_disk = fs::read(store.path(&d).unwrap()).unwrap();
        assert_eq!(on_disk.len() as u64, size);
        assert_eq!(crate::digest::sha256_of(&on_disk), d);
    }

    #[test]
    fn crashed_ingest_is_invisible_and_swept() {
        let tmp = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(tmp.path()).unwrap();
        let mut w = store.begin().unwrap();
        w.write_all(&[7u8; 4096]).unwrap();
        std::mem::forget(w); // a killed process runs no destructor
        assert!(store.list().unwrap().is_empty());
        assert_eq!(store.sweep_ingests().unwrap(), 4096);
        assert_eq!(fs::read_dir(tmp.path().join("ingest")).unwrap().count(), 0);
    }
}

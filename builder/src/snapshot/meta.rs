//! Per-snapshot metadata (`<id>/meta.json`) and the key/name index (`index/<hash>` → id).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest as _, Sha256};

use super::{Kind, SnapshotError, Snapshotter};

/// The metadata file of one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct Meta {
    /// Active, view or committed.
    pub kind: Kind,
    /// The key or name.
    pub name: String,
    /// The parent's id.
    pub parent: Option<String>,
    /// The short link name under `l/` (committed snapshots only).
    pub link: Option<String>,
}

/// Wraps an I/O error with its path.
pub(super) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A fresh random-enough hex string of `len` characters (time, pid and a counter, hashed).
pub(super) fn fresh_hex(len: usize) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let seed = format!(
        "{nanos}/{}/{n}/{:?}",
        std::process::id(),
        std::thread::current().id()
    );
    let mut out = hex::encode(Sha256::digest(seed.as_bytes()));
    out.truncate(len);
    out
}

impl Snapshotter {
    /// `snapshots/<id>`.
    pub(super) fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// `snapshots/index/<sha256(name)>`.
    fn index_path(&self, name: &str) -> PathBuf {
        self.root
            .join("index")
            .join(hex::encode(Sha256::digest(name.as_bytes())))
    }

    /// The id a key or name points to, if any.
    pub(super) fn lookup(&self, name: &str) -> Result<Option<String>, SnapshotError> {
        let path = self.index_path(name);
        match std::fs::read_link(&path) {
            Ok(target) => Ok(Some(target.to_string_lossy().into_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(SnapshotError::Io { path, source }),
        }
    }

    /// The id and metadata of a key or name, or `NotFound`.
    pub(super) fn find(&self, name: &str) -> Result<(String, Meta), SnapshotError> {
        let id = self.lookup(name)?.ok_or_else(|| SnapshotError::NotFound {
            key: name.to_string(),
        })?;
        let meta = self.read_meta(&id)?;
        Ok((id, meta))
    }

    /// Points `name` at `id`; fails with `AlreadyExists` if the name is taken.
    pub(super) fn add_index(&self, name: &str, id: &str) -> Result<(), SnapshotError> {
        let path = self.index_path(name);
        match std::os::unix::fs::symlink(id, &path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(SnapshotError::AlreadyExists {
                    key: name.to_string(),
                })
            }
            Err(source) => Err(SnapshotError::Io { path, source }),
        }
    }

    /// Removes the index entry of `name` (absent is fine).
    pub(super) fn remove_index(&self, name: &str) -> Result<(), SnapshotError> {
        remove_if_present(&self.index_path(name))
    }

    /// Reads `<id>/meta.json`.
    pub(super) fn read_meta(&self, id: &str) -> Result<Meta, SnapshotError> {
        let path = self.dir(id).join("meta.json");
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        serde_json::from_slice(&bytes).map_err(|source| SnapshotError::Meta { path, source })
    }

    /// Writes `<id>/meta.json` atomically (temp file, then rename).
    pub(super) fn write_meta(&self, id: &str, meta: &Meta) -> Result<(), SnapshotError> {
        let path = self.dir(id).join("meta.json");
        let tmp = self.dir(id).join("meta.json.tmp");
        let bytes = serde_json::to_vec(meta).map_err(|source| SnapshotError::Meta {
            path: path.clone(),
            source,
        })?;
        std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))
    }

    /// The ids of the chain starting at `id` (itself first, then its parent, …).
    pub(super) fn chain(&self, id: &str) -> Result<Vec<String>, SnapshotError> {
        let mut out = vec![id.to_string()];
        let mut next = self.read_meta(id)?.parent;
        while let Some(p) = next {
            next = self.read_meta(&p)?.parent;
            out.push(p);
        }
        Ok(out)
    }

    /// Creates a unique short link `l/<link>` → `../<id>/fs` and returns the link name.
    pub(super) fn make_link(&self, id: &str) -> Result<String, SnapshotError> {
        loop {
            let link = fresh_hex(8);
            let path = self.root.join("l").join(&link);
            match std::os::unix::fs::symlink(format!("../{id}/fs"), &path) {
                Ok(()) => return Ok(link),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(source) => return Err(SnapshotError::Io { path, source }),
            }
        }
    }

    /// The ids of all snapshot directories that have a metadata file.
    pub(super) fn ids(&self) -> Result<Vec<String>, SnapshotError> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.root).map_err(io(&self.root))? {
            let entry = entry.map_err(io(&self.root))?;
            if entry.path().join("meta.json").is_file() {
                out.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        out.sort();
        Ok(out)
    }
}

/// Removes a file or symlink, treating "not there" as success.
pub(super) fn remove_if_present(path: &Path) -> Result<(), SnapshotError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(SnapshotError::Io {
            path: path.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

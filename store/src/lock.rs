//! Advisory locks (flock) that keep concurrent rbuild processes from corrupting a store.
//!
//! Writers of content (builds, pulls, imports) hold the store lock *shared*; garbage
//! collection holds it *exclusive*, so it never sweeps an ingest or an untagged blob that
//! another process is still working with. `index.json` updates take a separate, short
//! exclusive lock around their read-modify-write.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use rustix::fs::{flock, FlockOperation};

use crate::error::StoreError;

/// A held lock; released on drop.
#[derive(Debug)]
pub struct LockGuard {
    _file: File,
    path: PathBuf,
}

impl LockGuard {
    /// The lock file this guard holds.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Blocks until the lock at `path` is held in the given mode.
pub(crate) fn acquire(path: &Path, exclusive: bool) -> Result<LockGuard, StoreError> {
    let file = open(path)?;
    let op = if exclusive {
        FlockOperation::LockExclusive
    } else {
        FlockOperation::LockShared
    };
    flock(&file, op).map_err(|e| lock_err(path, e.into()))?;
    Ok(LockGuard {
        _file: file,
        path: path.to_path_buf(),
    })
}

fn lock_err(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Lock {
        path: path.to_path_buf(),
        source,
    }
}

/// Opens (creating) the lock file.
fn open(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| lock_err(path, e))
}

/// Tries the lock without blocking; `Ok(None)` when someone else holds it.
#[cfg(test)]
pub(crate) fn try_acquire(path: &Path, exclusive: bool) -> Result<Option<LockGuard>, StoreError> {
    let file = open(path)?;
    let op = if exclusive {
        FlockOperation::NonBlockingLockExclusive
    } else {
        FlockOperation::NonBlockingLockShared
    };
    match flock(&file, op) {
        Ok(()) => Ok(Some(LockGuard {
            _file: file,
            path: path.to_path_buf(),
        })),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
        Err(e) => Err(lock_err(path, e.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_excludes_exclusive() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("lock");
        let a = acquire(&p, false).unwrap();
        let b = try_acquire(&p, false).unwrap();
        assert!(b.is_some(), "two shared holders are fine");
        assert!(try_acquire(&p, true).unwrap().is_none());
        drop((a, b));
        assert!(try_acquire(&p, true).unwrap().is_some());
    }
}

//! Where blobs came from, so a push can ask the registry to mount a blob from another
//! repository instead of uploading it: `<store>/registry/sources/<hex>.json`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use oci_spec::image::Digest;
use serde::{Deserialize, Serialize};

/// A repository known to hold a blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The registry name (`127.0.0.1:5000`, `docker.io`).
    pub registry: String,
    /// The repository on it.
    pub repository: String,
}

#[derive(Default, Serialize, Deserialize)]
struct Record {
    sources: Vec<Source>,
}

/// Most sources kept per blob (the newest win).
const KEEP: usize = 8;

fn record_path(store_root: &Path, digest: &Digest) -> PathBuf {
    store_root
        .join("registry")
        .join("sources")
        .join(format!("{}.json", digest.digest()))
}

/// The repositories known to hold `digest`; a missing or unreadable record means none.
pub fn sources(store_root: &Path, digest: &Digest) -> Vec<Source> {
    fs::read(record_path(store_root, digest))
        .ok()
        .and_then(|b| serde_json::from_slice::<Record>(&b).ok())
        .map(|r| r.sources)
        .unwrap_or_default()
}

/// Remembers that `source` holds `digest` (atomically replacing the record).
pub fn record(store_root: &Path, digest: &Digest, source: &Source) -> io::Result<()> {
    let path = record_path(store_root, digest);
    let mut rec = Record {
        sources: sources(store_root, digest),
    };
    if rec.sources.first() == Some(source) {
        return Ok(());
    }
    rec.sources.retain(|s| s != source);
    rec.sources.insert(0, source.clone());
    rec.sources.truncate(KEEP);
    let dir = path.parent().unwrap_or(store_root);
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{}.{}.tmp", digest.digest(), std::process::id()));
    fs::write(&tmp, serde_json::to_vec(&rec)?)?;
    fs::rename(&tmp, &path)
}

/// A repository other than `repository` on `registry` that holds `digest`, for a mount.
pub fn mount_source(
    store_root: &Path,
    digest: &Digest,
    registry: &str,
    repository: &str,
) -> Option<String> {
    sources(store_root, digest)
        .into_iter()
        .find(|s| s.registry == registry && s.repository != repository)
        .map(|s| s.repository)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_newest_first_and_finds_mounts() {
        let dir = tempfile::tempdir().unwrap();
        let d: Digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
            .parse()
            .unwrap();
        let src = |r: &str, repo: &str| Source {
            registry: r.into(),
            repository: repo.into(),
        };
        assert!(sources(dir.path(), &d).is_empty());
        record(dir.path(), &d, &src("r:1", "a")).unwrap();
        record(dir.path(), &d, &src("r:2", "b")).unwrap();
        record(dir.path(), &d, &src("r:1", "a")).unwrap();
        assert_eq!(
            sources(dir.path(), &d),
            vec![src("r:1", "a"), src("r:2", "b")]
        );
        assert_eq!(
            mount_source(dir.path(), &d, "r:1", "other"),
            Some("a".to_string())
        );
        assert_eq!(mount_source(dir.path(), &d, "r:1", "a"), None);
        assert_eq!(mount_source(dir.path(), &d, "r:3", "x"), None);
    }
}

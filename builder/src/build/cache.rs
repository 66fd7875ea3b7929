//! The build cache: a key per step, and the layer that step produced.
//!
//! A key is the sha256 of a canonical, versioned JSON description of the step:
//! `{v, parent, op, inputs}` where `parent` is the previous step's key (or the base image's
//! manifest digest), `op` the step after expansion with everything that changes its result
//! (command, env, user, workdir, shell, flags), and `inputs` the digests of the files it reads
//! (content, mode, owner and path of every COPY source; never mtimes). Entries live in
//! `<store>/cache/<key hex>.json` and point at a layer blob; an entry whose blob was garbage
//! collected is a miss.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rbuild_store::blob::BlobRead;
use rbuild_store::digest::{parse_digest, sha256_of};
use rbuild_store::{Digest, Store};
use serde::{Deserialize, Serialize};

/// Bump when the meaning of a key changes, so old entries stop matching.
const KEY_VERSION: u32 = 1;

/// A step's cache key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey(Digest);

impl CacheKey {
    /// The key of the step `op` reading `inputs`, following `parent`.
    pub fn new(parent: &str, op: &serde_json::Value, inputs: &[String]) -> CacheKey {
        #[derive(Serialize)]
        struct KeyInput<'a> {
            v: u32,
            parent: &'a str,
            op: &'a serde_json::Value,
            inputs: &'a [String],
        }
        let input = KeyInput {
            v: KEY_VERSION,
            parent,
            op,
            inputs,
        };
        let bytes = serde_json::to_vec(&input).expect("serializing a cache key input cannot fail");
        CacheKey(sha256_of(&bytes))
    }

    /// The key as `sha256:<hex>`.
    pub fn as_str(&self) -> String {
        self.0.to_string()
    }

    /// The hex part.
    pub fn hex(&self) -> &str {
        self.0.digest()
    }
}

/// What a cached step produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheEntry {
    /// The layer, or `None` for a step that changed no file.
    pub layer: Option<CachedLayer>,
    /// When the step ran (RFC 3339): a cache hit reuses it, so a rebuild is the same image.
    #[serde(default)]
    pub created: Option<String>,
}

/// A layer remembered by the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedLayer {
    /// The blob digest.
    pub digest: String,
    /// The diff id.
    pub diff_id: String,
    /// The blob size.
    pub size: u64,
    /// The blob media type.
    pub media_type: String,
}

/// Errors of the cache directory.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// Reading or writing an entry failed.
    #[error("build cache {path}: {source}")]
    Io {
        /// The entry file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// The cache directory of a store.
#[derive(Debug, Clone)]
pub struct BuildCache {
    dir: PathBuf,
}

impl BuildCache {
    /// The cache of `store` (`<root>/cache`).
    pub fn open(store: &Store) -> Result<BuildCache, CacheError> {
        let dir = store.root().join("cache");
        fs::create_dir_all(&dir).map_err(|source| CacheError::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(BuildCache { dir })
    }

    fn path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{}.json", key.hex()))
    }

    /// The entry for `key`, if present and its layer blob still exists.
    pub fn get(&self, store: &Store, key: &CacheKey) -> Option<CacheEntry> {
        let bytes = fs::read(self.path(key)).ok()?;
        let entry: CacheEntry = serde_json::from_slice(&bytes).ok()?;
        if let Some(layer) = &entry.layer {
            let digest = parse_digest(&layer.digest).ok()?;
            if store.blobs().stat(&digest).ok()?? != layer.size {
                return None;
            }
        }
        Some(entry)
    }

    /// Records `entry` for `key` (atomically: temp file + rename).
    pub fn put(&self, key: &CacheKey, entry: &CacheEntry) -> Result<(), CacheError> {
        let path = self.path(key);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let bytes = serde_json::to_vec(entry).expect("serializing a cache entry cannot fail");
        let io_err = |source| CacheError::Io {
            path: path.clone(),
            source,
        };
        fs::write(&tmp, bytes).map_err(io_err)?;
        fs::rename(&tmp, &path).map_err(|source| CacheError::Io {
            path: path.clone(),
            source,
        })
    }

    /// The layer blobs every entry points at (gc roots while the cache is kept).
    pub fn roots(&self) -> Vec<Digest> {
        let Ok(rd) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        rd.filter_map(|e| fs::read(e.ok()?.path()).ok())
            .filter_map(|b| serde_json::from_slice::<CacheEntry>(&b).ok()?.layer)
            .filter_map(|l| parse_digest(&l.digest).ok())
            .collect()
    }

    /// Deletes every entry; returns how many there were.
    pub fn clear(&self) -> Result<usize, CacheError> {
        let rd = fs::read_dir(&self.dir).map_err(|source| CacheError::Io {
            path: self.dir.clone(),
            source,
        })?;
        let mut n = 0;
        for e in rd.flatten() {
            if fs::remove_file(e.path()).is_ok() {
                n += 1;
            }
        }
        Ok(n)
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_is_pinned() {
        // A golden value: if this changes, bump KEY_VERSION (old caches must stop matching).
        let k = CacheKey::new("scratch", &json!({"RUN": ["/bin/sh", "-c", "true"]}), &[]);
        assert_eq!(
            k.hex(),
            sha256_of(
                br#"{"v":1,"parent":"scratch","op":{"RUN":["/bin/sh","-c","true"]},"inputs":[]}"#
            )
            .digest()
        );
        let other = CacheKey::new("scratch", &json!({"RUN": ["/bin/sh", "-c", "false"]}), &[]);
        assert_ne!(k, other);
        let with_input = CacheKey::new(
            "scratch",
            &json!({"RUN": ["/bin/sh", "-c", "true"]}),
            &["x".into()],
        );
        assert_ne!(k, with_input);
    }

    #[test]
    fn entry_without_blob_is_a_miss() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        let cache = BuildCache::open(&store).unwrap();
        let key = CacheKey::new("p", &json!("op"), &[]);
        assert!(cache.get(&store, &key).is_none());
        cache
            .put(
                &key,
                &CacheEntry {
                    layer: None,
                    created: None,
                },
            )
            .unwrap();
        assert_eq!(
            cache.get(&store, &key),
            Some(CacheEntry {
                layer: None,
                created: None
            })
        );
        let layer = CachedLayer {
            digest: sha256_of(b"gone").to_string(),
            diff_id: sha256_of(b"gone").to_string(),
            size: 4,
            media_type: "application/vnd.oci.image.layer.v1.tar".into(),
        };
        cache
            .put(
                &key,
                &CacheEntry {
                    layer: Some(layer),
                    created: None,
                },
            )
            .unwrap();
        assert!(cache.get(&store, &key).is_none());
        assert_eq!(cache.roots().len(), 1);
        assert_eq!(cache.clear().unwrap(), 1);
    }
}

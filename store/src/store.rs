//! [`Store`]: an OCI image layout on disk plus rbuild's own directories.
//!
//! ```text
//! <root>/oci-layout, index.json      the OCI image layout (tags are ref.name annotations)
//! <root>/blobs/sha256/<hex>          verified, read-only content
//! <root>/ingest/<id>/data            partial writes, invisible until commit, swept by gc
//! <root>/regen/sha256/<hex>          built layers kept as their tree (see crate::regen)
//! <root>/lock, index.lock            flock files (see crate::lock)
//! ```

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, Digest, ImageConfiguration, ImageManifest, MediaType};
use serde::{de::DeserializeOwned, Serialize};

use crate::blob::{BlobIngest, BlobRead};
use crate::digest::{parse_digest, HashingReader};
use crate::error::{io_err, StoreError};
use crate::gc::{self, GcReport};
use crate::image::{is_manifest, Image};
use crate::index::{self, IndexEntry};
use crate::lock::{self, LockGuard};
use crate::name::ImageName;
use crate::regen::StoreBlobs;

/// JSON documents (manifests, configs, indexes) larger than this are refused.
const MAX_JSON: u64 = 16 << 20;

const OCI_LAYOUT: &str = "{\"imageLayoutVersion\":\"1.0.0\"}";

/// A content-addressed image store rooted at a directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    blobs: StoreBlobs,
}

impl Store {
    /// Opens the store at `root`, creating an empty layout when missing.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        fs::create_dir_all(root).map_err(io_err("create", root))?;
        let blobs = StoreBlobs::open(root)?;
        let layout = root.join("oci-layout");
        if !layout.exists() {
            fs::write(&layout, OCI_LAYOUT).map_err(io_err("write", &layout))?;
        }
        if !root.join("index.json").exists() {
            index::save(root, &oci_spec::image::ImageIndex::default())?;
        }
        Ok(Self {
            root: root.to_path_buf(),
            blobs,
        })
    }

    /// The default root: `$RBUILD_ROOT`, else `/var/lib/rbuild` for root, else
    /// `$XDG_DATA_HOME/rbuild` (`~/.local/share/rbuild`).
    pub fn default_root() -> PathBuf {
        if let Some(r) = std::env::var_os("RBUILD_ROOT").filter(|r| !r.is_empty()) {
            return PathBuf::from(r);
        }
        if rustix::process::geteuid().is_root() {
            return PathBuf::from("/var/lib/rbuild");
        }
        let data = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("."));
        data.join("rbuild")
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The blob store: blob files plus layers kept as trees ([`crate::regen`]).
    pub fn blobs(&self) -> &StoreBlobs {
        &self.blobs
    }

    /// Takes the store lock shared (content writers: builds, pulls, imports).
    pub fn lock_shared(&self) -> Result<LockGuard, StoreError> {
        lock::acquire(&self.root.join("lock"), false)
    }

    /// Takes the store lock exclusive (garbage collection).
    pub fn lock_exclusive(&self) -> Result<LockGuard, StoreError> {
        lock::acquire(&self.root.join("lock"), true)
    }

    /// Stores `bytes` as a blob and returns its descriptor.
    pub fn put_bytes(&self, media_type: MediaType, bytes: &[u8]) -> Result<Descriptor, StoreError> {
        let mut w = self.blobs.begin()?;
        std::io::Write::write_all(&mut w, bytes).map_err(|source| StoreError::Io {
            op: "write",
            path: self.root.join("ingest"),
            source,
        })?;
        let (digest, size) = w.commit(None)?;
        Ok(Descriptor::new(media_type, size, digest))
    }

    /// Serializes `value` as compact JSON and stores it.
    pub fn put_json<T: Serialize>(
        &self,
        media_type: MediaType,
        value: &T,
    ) -> Result<Descriptor, StoreError> {
        let bytes = serde_json::to_vec(value).map_err(|source| StoreError::Json {
            what: "document",
            subject: media_type.to_string(),
            source,
        })?;
        self.put_bytes(media_type, &bytes)
    }

    /// Reads a small blob whole, verifying its digest.
    pub fn read_bytes(&self, digest: &Digest) -> Result<Vec<u8>, StoreError> {
        let mut r = HashingReader::new(self.blobs.open(digest)?.take(MAX_JSON));
        let mut buf = Vec::new();
        r.read_to_end(&mut buf).map_err(|source| StoreError::Io {
            op: "read",
            path: self.blobs.path(digest).unwrap_or_default(),
            source,
        })?;
        let (_, actual, _) = r.into_parts();
        if &actual != digest {
            return Err(crate::blob::BlobError::DigestMismatch {
                expected: digest.clone(),
                actual,
            }
            .into());
        }
        Ok(buf)
    }

    /// Reads and parses a JSON blob, verifying its digest.
    pub fn read_json<T: DeserializeOwned>(&self, digest: &Digest) -> Result<T, StoreError> {
        let bytes = self.read_bytes(digest)?;
        serde_json::from_slice(&bytes).map_err(|source| StoreError::Json {
            what: "document",
            subject: digest.to_string(),
            source,
        })
    }

    /// Every image in `index.json`, tagged or not, in index order.
    pub fn entries(&self) -> Result<Vec<IndexEntry>, StoreError> {
        Ok(index::entries(&index::load(&self.root)?))
    }

    /// The tagged images.
    pub fn tags(&self) -> Result<Vec<(ImageName, Descriptor)>, StoreError> {
        let entries = self.entries()?.into_iter();
        Ok(entries
            .filter_map(|e| Some((e.name?, e.manifest)))
            .collect())
    }

    /// Points `name` at `manifest` (moving the tag if it existed).
    pub fn tag(&self, name: &ImageName, manifest: &Descriptor) -> Result<(), StoreError> {
        index::update(&self.root, |list| index::set_tag(list, name, manifest))
    }

    /// Records an untagged image (a build without `-t`), unless already listed.
    pub fn add_untagged(&self, manifest: &Descriptor) -> Result<(), StoreError> {
        index::update(&self.root, |list| index::add_untagged(list, manifest))
    }

    /// Removes a tag; returns the image it pointed at, `None` when there was no such tag.
    pub fn untag(&self, name: &ImageName) -> Result<Option<Descriptor>, StoreError> {
        index::update(&self.root, |list| index::remove_tag(list, name))
    }

    /// Removes every index entry of the image `manifest` (all its tags).
    pub fn remove_image(&self, manifest: &Digest) -> Result<usize, StoreError> {
        index::update(&self.root, |list| {
            let before = list.len();
            list.retain(|d| d.digest() != manifest);
            before - list.len()
        })
    }

    /// Resolves a name (`demo`, `demo:1`), `name@sha256:…`, a digest or an id prefix to
    /// an image manifest descriptor.
    pub fn resolve(&self, reference: &str) -> Result<Descriptor, StoreError> {
        let not_found = || StoreError::ImageNotFound {
            reference: reference.to_string(),
        };
        if let Some((_, digest)) = reference.split_once('@') {
            let d = parse_digest(digest)?;
            return self.find_by_id(d.digest())?.ok_or_else(not_found);
        }
        if let Ok(name) = ImageName::parse(reference) {
            if let Some((_, d)) = self.tags()?.into_iter().find(|(n, _)| *n == name) {
                return Ok(d);
            }
        }
        let hex = reference.strip_prefix("sha256:").unwrap_or(reference);
        let is_hex = !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit());
        if is_hex {
            return self
                .find_by_id(&hex.to_ascii_lowercase())?
                .ok_or_else(not_found);
        }
        Err(not_found())
    }

    /// Finds the image whose manifest digest or image id (config digest) starts with `prefix`.
    fn find_by_id(&self, prefix: &str) -> Result<Option<Descriptor>, StoreError> {
        let mut found: Vec<Descriptor> = Vec::new();
        for entry in self.entries()? {
            if found.iter().any(|d| d.digest() == entry.manifest.digest()) {
                continue;
            }
            let by_manifest = entry.manifest.digest().digest().starts_with(prefix);
            let by_id = is_manifest(entry.manifest.media_type())
                && self
                    .config_digest(&entry.manifest)?
                    .digest()
                    .starts_with(prefix);
            if by_manifest || by_id {
                found.push(entry.manifest);
            }
        }
        match found.len() {
            0 | 1 => Ok(found.pop()),
            count => Err(StoreError::Ambiguous {
                prefix: prefix.to_string(),
                count,
            }),
        }
    }

    fn config_digest(&self, manifest: &Descriptor) -> Result<Digest, StoreError> {
        let m: ImageManifest = self.read_json(manifest.digest())?;
        Ok(m.config().digest().clone())
    }

    /// Reads an image's manifest and config.
    pub fn image(&self, manifest: &Descriptor) -> Result<Image, StoreError> {
        if !is_manifest(manifest.media_type()) {
            return Err(StoreError::UnsupportedManifest {
                digest: manifest.digest().clone(),
                media_type: manifest.media_type().to_string(),
            });
        }
        let parsed: ImageManifest = self.read_json(manifest.digest())?;
        let bytes = self.read_bytes(parsed.config().digest())?;
        let json_err = |source| StoreError::Json {
            what: "config",
            subject: parsed.config().digest().to_string(),
            source,
        };
        let config: ImageConfiguration = serde_json::from_slice(&bytes).map_err(json_err)?;
        let raw_config = serde_json::from_slice(&bytes).map_err(json_err)?;
        Ok(Image {
            manifest_desc: manifest.clone(),
            manifest: parsed,
            config,
            raw_config,
        })
    }

    /// Deletes every blob not reachable from `index.json` or `extra_roots`, and every
    /// partial ingest. Takes the exclusive store lock for its duration.
    pub fn gc(&self, extra_roots: &[Digest]) -> Result<GcReport, StoreError> {
        let _guard = self.lock_exclusive()?;
        gc::collect(self, extra_roots)
    }
}

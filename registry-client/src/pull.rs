//! `pull`: manifest (and index → platform) resolution, then the config and layers
//! downloaded concurrently into the store, then the manifest stored byte for byte and tagged.

use std::path::PathBuf;

use futures_util::{StreamExt, TryStreamExt};
use oci_spec::image::{Descriptor, Digest, ImageIndex, ImageManifest, MediaType};
use rbuild_store::blob::BlobError;
use rbuild_store::digest::sha256_of;
use rbuild_store::{ImageName, Store, StoreError};
use thiserror::Error;

use crate::api::{FetchedManifest, Repo};
use crate::client::{Client, ClientOptions};
use crate::error::RegistryError;
use crate::platform::{self, Platform};
use crate::progress::{self, Progress};
use crate::provenance::{self, Source};
use crate::pull_blob::fetch_blob;
use crate::reference::Reference;

/// How to pull.
#[derive(Clone)]
pub struct PullOptions {
    /// Transport, TLS, retries and credentials.
    pub client: ClientOptions,
    /// The platform to pick from an index; `None` means this machine's.
    pub platform: Option<Platform>,
    /// Blobs downloaded at once.
    pub concurrency: usize,
    /// Where progress events go.
    pub progress: Progress,
}

impl Default for PullOptions {
    fn default() -> PullOptions {
        PullOptions {
            client: ClientOptions::from_env(),
            platform: None,
            concurrency: 4,
            progress: progress::silent(),
        }
    }
}

/// Why a pull failed.
#[derive(Debug, Error)]
pub enum PullError {
    /// Talking to the registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The reference is not a valid image reference.
    #[error(transparent)]
    Reference(#[from] crate::reference::ReferenceError),
    /// Writing or verifying a blob failed (digest or size mismatch included).
    #[error("blob {digest}: {source}")]
    Blob {
        /// The blob.
        digest: Digest,
        /// What went wrong.
        #[source]
        source: Box<BlobError>,
    },
    /// Writing downloaded bytes into the store's ingest failed.
    #[error("blob {digest}: cannot write to the store: {source}")]
    Write {
        /// The blob.
        digest: Digest,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The registry sent more bytes than the descriptor's size.
    #[error("blob {digest}: the registry sent more than the expected {size} bytes")]
    Oversize {
        /// The blob.
        digest: Digest,
        /// The expected size.
        size: u64,
    },
    /// A `206` answer started somewhere else than asked.
    #[error(
        "blob {digest}: the registry answered a range request at {offset} with a different range"
    )]
    BadRange {
        /// The blob.
        digest: Digest,
        /// The requested start.
        offset: u64,
    },
    /// The manifest bytes do not hash to the digest they were fetched by (or announced).
    #[error("{reference}: manifest digest mismatch: expected {expected}, got {actual}")]
    ManifestDigest {
        /// The reference pulled.
        reference: String,
        /// The digest asked for or announced.
        expected: String,
        /// The digest of the bytes received.
        actual: Digest,
    },
    /// Docker schema 1 manifests are not supported.
    #[error("{reference}: Docker schema 1 manifests are not supported; push the image again with a current client to get schema 2 or OCI")]
    Schema1 {
        /// The reference pulled.
        reference: String,
    },
    /// The manifest has a media type that is neither an image nor an index.
    #[error("{reference}: unsupported manifest media type {media_type:?}")]
    MediaType {
        /// The reference pulled.
        reference: String,
        /// The media type.
        media_type: String,
    },
    /// The manifest is not valid JSON of its type.
    #[error("{reference}: invalid manifest: {source}")]
    BadManifest {
        /// The reference pulled.
        reference: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The index has no manifest for the wanted platform.
    #[error("{reference}: no image for platform {platform} (the index has: {})", available.join(", "))]
    NoPlatform {
        /// The reference pulled.
        reference: String,
        /// The wanted platform.
        platform: Platform,
        /// What the index offers.
        available: Vec<String>,
    },
    /// Recording where the blobs came from failed.
    #[error("cannot record blob sources under {path}: {source}")]
    Record {
        /// The store's registry directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

impl PullError {
    /// True when retrying the same transfer can help.
    pub fn is_temporary(&self) -> bool {
        matches!(self, PullError::Registry(e) if e.is_temporary())
    }
}

/// What a fetched manifest is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestKind {
    /// An OCI image index or Docker manifest list.
    Index,
    /// An OCI image manifest or Docker schema 2 manifest.
    Image,
    /// Docker schema 1.
    Schema1,
    /// Anything else.
    Unknown,
}

/// Classifies a manifest by its `Content-Type`, falling back to its `mediaType` field and shape.
pub fn manifest_kind(content_type: &str, bytes: &[u8]) -> (ManifestKind, String) {
    let ct = content_type.split(';').next().unwrap_or("").trim();
    let json: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
    let field = json.get("mediaType").and_then(|v| v.as_str()).unwrap_or("");
    let media_type = [ct, field]
        .into_iter()
        .find(|t| kind_of(t) != ManifestKind::Unknown)
        .map(str::to_string);
    if let Some(mt) = media_type {
        return (kind_of(&mt), mt);
    }
    match (
        json.get("schemaVersion").and_then(|v| v.as_u64()),
        json.get("manifests"),
        json.get("layers"),
    ) {
        (Some(1), _, _) => (ManifestKind::Schema1, ct.to_string()),
        (_, Some(_), _) => (ManifestKind::Index, MediaType::ImageIndex.to_string()),
        (_, _, Some(_)) => (ManifestKind::Image, MediaType::ImageManifest.to_string()),
        _ => (ManifestKind::Unknown, ct.to_string()),
    }
}

fn kind_of(media_type: &str) -> ManifestKind {
    match media_type {
        "application/vnd.oci.image.index.v1+json"
        | "application/vnd.docker.distribution.manifest.list.v2+json" => ManifestKind::Index,
        "application/vnd.oci.image.manifest.v1+json"
        | "application/vnd.docker.distribution.manifest.v2+json" => ManifestKind::Image,
        "application/vnd.docker.distribution.manifest.v1+json"
        | "application/vnd.docker.distribution.manifest.v1+prettyjws" => ManifestKind::Schema1,
        _ => ManifestKind::Unknown,
    }
}

/// Fetches a manifest and checks its bytes against the digest asked for, or else the
/// `Docker-Content-Digest` the registry announced.
async fn fetch_verified(
    repo: &Repo<'_>,
    reference: &Reference,
    want: &str,
    pinned: Option<&Digest>,
) -> Result<(FetchedManifest, Digest), PullError> {
    let m = repo.get_manifest(want).await?;
    let actual = sha256_of(&m.bytes);
    let expected = pinned.map(|d| d.to_string()).or(m.header_digest.clone());
    if let Some(expected) =
        expected.filter(|e| e.starts_with("sha256:") && *e != actual.to_string())
    {
        return Err(PullError::ManifestDigest {
            reference: reference.to_string(),
            expected,
            actual,
        });
    }
    Ok((m, actual))
}

/// Resolves the reference to one image manifest: through the index when there is one.
async fn resolve_image(
    repo: &Repo<'_>,
    reference: &Reference,
    platform: &Platform,
) -> Result<(FetchedManifest, String), PullError> {
    let (top, _) = fetch_verified(
        repo,
        reference,
        &reference.manifest_ref(),
        reference.digest(),
    )
    .await?;
    let (kind, media_type) = manifest_kind(&top.content_type, &top.bytes);
    let bad_json = |source| PullError::BadManifest {
        reference: reference.to_string(),
        source,
    };
    match kind {
        ManifestKind::Image => Ok((top, media_type)),
        ManifestKind::Schema1 => Err(PullError::Schema1 {
            reference: reference.to_string(),
        }),
        ManifestKind::Unknown => Err(PullError::MediaType {
            reference: reference.to_string(),
            media_type,
        }),
        ManifestKind::Index => {
            let index: ImageIndex = serde_json::from_slice(&top.bytes).map_err(bad_json)?;
            let Some(child) = platform.select(&index) else {
                let available = platform::available(&index);
                return Err(PullError::NoPlatform {
                    reference: reference.to_string(),
                    platform: platform.clone(),
                    available,
                });
            };
            let (m, _) = fetch_verified(
                repo,
                reference,
                child.digest().as_ref(),
                Some(child.digest()),
            )
            .await?;
            let (kind, media_type) = manifest_kind(&m.content_type, &m.bytes);
            match kind {
                ManifestKind::Image => Ok((m, media_type)),
                _ => Err(PullError::MediaType {
                    reference: reference.to_string(),
                    media_type,
                }),
            }
        }
    }
}

/// Pulls `reference` into `store` and returns the stored manifest's descriptor.
///
/// Blobs already in the store are skipped; partial downloads resume. The image is tagged
/// under its short name (`busybox:latest`, `127.0.0.1:5000/library/busybox:latest`);
/// a pull by digest alone stores the image untagged.
pub async fn pull(
    store: &Store,
    reference: &Reference,
    opts: &PullOptions,
) -> Result<Descriptor, PullError> {
    let client = Client::new(reference.registry(), &opts.client)?;
    let repo = Repo::new(&client, reference.repository(), false);
    let _lock = store.lock_shared()?;
    let platform = opts.platform.clone().unwrap_or_else(Platform::host);
    let (fetched, media_type) = resolve_image(&repo, reference, &platform).await?;
    let manifest: ImageManifest =
        serde_json::from_slice(&fetched.bytes).map_err(|source| PullError::BadManifest {
            reference: reference.to_string(),
            source,
        })?;
    let blobs: Vec<Descriptor> = std::iter::once(manifest.config().clone())
        .chain(manifest.layers().iter().cloned())
        .collect();
    futures_util::stream::iter(
        blobs
            .iter()
            .map(|d| fetch_blob(store, &repo, d, &opts.progress)),
    )
    .buffer_unordered(opts.concurrency.max(1))
    .try_collect::<Vec<()>>()
    .await?;
    record_sources(store, reference, &blobs)?;
    let desc = store.put_bytes(MediaType::from(media_type.as_str()), &fetched.bytes)?;
    match reference.tag_or_default() {
        Some(tag) => store.tag(
            &ImageName::parse(&format!("{}:{tag}", reference.short_name()))
                .map_err(StoreError::from)?,
            &desc,
        )?,
        None => store.add_untagged(&desc)?,
    }
    Ok(desc)
}

fn record_sources(
    store: &Store,
    reference: &Reference,
    blobs: &[Descriptor],
) -> Result<(), PullError> {
    let source = Source {
        registry: reference.registry().to_string(),
        repository: reference.repository().to_string(),
    };
    for d in blobs {
        provenance::record(store.root(), d.digest(), &source).map_err(|source| {
            PullError::Record {
                path: store.root().join("registry"),
                source,
            }
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_kinds() {
        let oci_index = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert_eq!(
            manifest_kind("application/vnd.oci.image.index.v1+json", oci_index).0,
            ManifestKind::Index
        );
        assert_eq!(
            manifest_kind("application/json", oci_index).0,
            ManifestKind::Index,
            "shape fallback"
        );
        let docker = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","layers":[]}"#;
        assert_eq!(
            manifest_kind("", docker),
            (
                ManifestKind::Image,
                "application/vnd.docker.distribution.manifest.v2+json".to_string()
            )
        );
        let s1 = br#"{"schemaVersion":1,"fsLayers":[]}"#;
        assert_eq!(
            manifest_kind(
                "application/vnd.docker.distribution.manifest.v1+prettyjws",
                s1
            )
            .0,
            ManifestKind::Schema1
        );
        assert_eq!(manifest_kind("text/plain", s1).0, ManifestKind::Schema1);
        assert_eq!(manifest_kind("text/plain", b"{}").0, ManifestKind::Unknown);
    }
}

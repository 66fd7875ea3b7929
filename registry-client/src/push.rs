//! `push`: prepare the image (compress uncompressed layers, rewrite the manifest), upload
//! the blobs the registry lacks, then PUT the manifest by tag.

use std::path::PathBuf;

use futures_util::{StreamExt, TryStreamExt};
use oci_spec::image::{Descriptor, Digest, ImageManifest};
use rbuild_store::blob::BlobError;
use rbuild_store::digest::sha256_of;
use rbuild_store::layer::{CompressError, Compression};
use rbuild_store::{Store, StoreError};
use thiserror::Error;

use crate::api::Repo;
use crate::client::{Client, ClientOptions};
use crate::compress::compressed_layer;
use crate::error::RegistryError;
use crate::progress::{self, Progress};
use crate::provenance::{self, Source};
use crate::push_blob::push_blob;
use crate::reference::Reference;

/// How to push.
#[derive(Clone)]
pub struct PushOptions {
    /// Transport, TLS, retries and credentials.
    pub client: ClientOptions,
    /// How to compress layers that are stored uncompressed.
    pub compression: Compression,
    /// Blobs uploaded at once.
    pub concurrency: usize,
    /// Where progress events go.
    pub progress: Progress,
    /// Blobs up to this size go up in one PUT; larger ones in PATCH chunks.
    pub monolithic_max: u64,
    /// The size of one PATCH chunk.
    pub chunk_size: u64,
}

impl Default for PushOptions {
    fn default() -> PushOptions {
        PushOptions {
            client: ClientOptions::from_env(),
            compression: Compression::Gzip,
            concurrency: 4,
            progress: progress::silent(),
            monolithic_max: 8 << 20,
            chunk_size: 32 << 20,
        }
    }
}

/// Why a push failed.
#[derive(Debug, Error)]
pub enum PushError {
    /// Talking to the registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The local store failed (image not found included).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading or writing a blob in the store failed.
    #[error("blob {digest}: {source}")]
    Blob {
        /// The blob.
        digest: Digest,
        /// What went wrong.
        #[source]
        source: Box<BlobError>,
    },
    /// Compressing a layer failed.
    #[error("compressing layer {digest}: {source}")]
    Compress {
        /// The uncompressed layer.
        digest: Digest,
        /// What went wrong.
        #[source]
        source: CompressError,
    },
    /// Reading a layer failed while compressing it.
    #[error("reading layer {digest}: {source}")]
    Read {
        /// The layer.
        digest: Digest,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A stored uncompressed layer does not hash to its digest.
    #[error("layer {digest} is damaged in the store: its content hashes to {actual}")]
    DiffId {
        /// The layer's digest.
        digest: Digest,
        /// What its content hashes to.
        actual: Digest,
    },
    /// A blob the manifest references is not in the store.
    #[error("blob {digest} is not in the store (pull the image again)")]
    MissingBlob {
        /// The blob.
        digest: Digest,
    },
    /// The registry broke the upload protocol or kept dropping the session.
    #[error("uploading {digest}: {what}")]
    Protocol {
        /// The blob.
        digest: Digest,
        /// What happened.
        what: &'static str,
    },
    /// The rewritten manifest could not be serialized.
    #[error("cannot serialize the manifest: {0}")]
    Manifest(#[source] serde_json::Error),
    /// The compression cache could not be written.
    #[error("cannot write the compression cache {path}: {source}")]
    Cache {
        /// The cache file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Recording where the blobs live failed.
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

/// An image ready to upload: exact manifest bytes and every blob it needs.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The manifest bytes to PUT.
    pub manifest: Vec<u8>,
    /// The manifest's media type.
    pub media_type: String,
    /// Config first, then layers, as the manifest references them.
    pub blobs: Vec<Descriptor>,
}

impl Prepared {
    /// The digest of the manifest that will be pushed.
    pub fn digest(&self) -> Digest {
        sha256_of(&self.manifest)
    }
}

/// Resolves `image` in the store and compresses its uncompressed layers with
/// `compression`. An image whose layers are already compressed keeps its exact
/// manifest bytes (and digest).
pub fn prepare(
    store: &Store,
    image: &str,
    compression: Compression,
) -> Result<Prepared, PushError> {
    let desc = store.resolve(image)?;
    let img = store.image(&desc)?;
    let media_type = desc.media_type().to_string();
    let mut manifest: ImageManifest = img.manifest.clone();
    let mut changed = false;
    let mut layers = Vec::with_capacity(manifest.layers().len());
    for layer in manifest.layers() {
        let plain = Compression::from_media_type(layer.media_type()) == Some(Compression::None);
        if plain && compression != Compression::None {
            layers.push(compressed_layer(store, layer, compression, &media_type)?);
            changed = true;
        } else {
            layers.push(layer.clone());
        }
    }
    manifest.set_layers(layers);
    let bytes = match changed {
        true => serde_json::to_vec(&manifest).map_err(PushError::Manifest)?,
        false => store.read_bytes(desc.digest())?,
    };
    let blobs = std::iter::once(manifest.config().clone())
        .chain(manifest.layers().iter().cloned())
        .collect();
    Ok(Prepared {
        manifest: bytes,
        media_type,
        blobs,
    })
}

/// Uploads a prepared image to `reference` and returns the manifest digest.
pub async fn push_prepared(
    store: &Store,
    prepared: &Prepared,
    reference: &Reference,
    opts: &PushOptions,
) -> Result<Digest, PushError> {
    let client = Client::new(reference.registry(), &opts.client)?;
    let repo = Repo::new(&client, reference.repository(), true);
    futures_util::stream::iter(
        prepared
            .blobs
            .iter()
            .map(|d| push_blob(store, &repo, d, opts)),
    )
    .buffer_unordered(opts.concurrency.max(1))
    .try_collect::<Vec<()>>()
    .await?;
    let digest = prepared.digest();
    let target = reference
        .tag_or_default()
        .map_or_else(|| digest.to_string(), str::to_string);
    repo.put_manifest(&target, &prepared.media_type, prepared.manifest.clone())
        .await?;
    let source = Source {
        registry: reference.registry().to_string(),
        repository: reference.repository().to_string(),
    };
    for d in &prepared.blobs {
        provenance::record(store.root(), d.digest(), &source).map_err(|source| {
            PushError::Record {
                path: store.root().join("registry"),
                source,
            }
        })?;
    }
    Ok(digest)
}

/// Pushes the stored image `image` (a name, id or digest the store resolves) to
/// `reference`; returns the pushed manifest's digest.
pub async fn push(
    store: &Store,
    image: &str,
    reference: &Reference,
    opts: &PushOptions,
) -> Result<Digest, PushError> {
    let _lock = store.lock_shared()?;
    let prepared = prepare(store, image, opts.compression)?;
    push_prepared(store, &prepared, reference, opts).await
}

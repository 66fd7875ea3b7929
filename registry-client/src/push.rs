//! `push`: upload the blobs the registry lacks (compressing uncompressed layers on the
//! way), rewrite the manifest with the compressed layers, then PUT it by tag.

use std::path::PathBuf;

use futures_util::{StreamExt, TryStreamExt};
use oci_spec::image::{Descriptor, Digest, ImageManifest};
use rbuild_store::blob::BlobError;
use rbuild_store::digest::sha256_of;
use rbuild_store::layer::Compression;
use rbuild_store::{Store, StoreError};
use thiserror::Error;
use tokio::sync::Semaphore;

use crate::api::Repo;
use crate::client::{Client, ClientOptions};
use crate::error::RegistryError;
use crate::progress::{self, Progress};
use crate::provenance::{self, Source};
use crate::push_blob::push_blob;
use crate::push_stream::push_layer;
use crate::reference::Reference;

/// Layers compressed at once. Each compression already keeps every core busy; a second
/// one fills the gaps while the first finishes, and more would only add memory.
const COMPRESSING: usize = 2;

/// How to push.
#[derive(Clone)]
pub struct PushOptions {
    /// Transport, TLS, retries and credentials.
    pub client: ClientOptions,
    /// How to compress layers that are stored uncompressed.
    pub compression: Compression,
    /// The compression level (`None`: the compression's default). A layer already
    /// compressed with `compression` by an earlier push is reused whatever its level.
    pub compression_level: Option<i32>,
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
            compression_level: None,
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
    /// Compressing a stored layer failed (or it did not match its digest).
    #[error(transparent)]
    Layer(Box<rbuild_store::compressed::CompressLayerError>),
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
    /// Recording where the blobs live failed.
    #[error("cannot record blob sources under {path}: {source}")]
    Record {
        /// The store's registry directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The thread compressing a layer died before it finished.
    #[error("compressing layer {digest}: the worker thread died")]
    Worker {
        /// The uncompressed layer.
        digest: Digest,
    },
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

/// Pushes the stored image `image` (a name, id or digest the store resolves) to
/// `reference`; returns the pushed manifest's digest.
///
/// The config and the layers go up concurrently (`opts.concurrency` at once). A layer
/// stored uncompressed is compressed with `opts.compression` while it uploads (see
/// [`crate::push_stream`]), so the manifest, which names the compressed digests, is
/// written last. An image whose layers are already compressed keeps its exact
/// manifest bytes (and digest).
pub async fn push(
    store: &Store,
    image: &str,
    reference: &Reference,
    opts: &PushOptions,
) -> Result<Digest, PushError> {
    let _lock = store.lock_shared()?;
    let desc = store.resolve(image)?;
    let img = store.image(&desc)?;
    let media_type = desc.media_type().to_string();
    let client = Client::new(reference.registry(), &opts.client)?;
    let repo = Repo::new(&client, reference.repository(), true);
    let mut manifest: ImageManifest = img.manifest.clone();
    let config = push_blob(store, &repo, manifest.config(), opts);
    let compressing = Semaphore::new(COMPRESSING);
    let layers = futures_util::stream::iter(
        manifest
            .layers()
            .iter()
            .map(|l| push_layer(store, &repo, l, &media_type, opts, &compressing)),
    )
    .buffered(opts.concurrency.max(1))
    .try_collect::<Vec<Descriptor>>();
    let (config, layers) = futures_util::future::join(config, layers).await;
    config?;
    let layers = layers?;
    let bytes = match &layers == manifest.layers() {
        true => store.read_bytes(desc.digest())?,
        false => {
            manifest.set_layers(layers);
            serde_json::to_vec(&manifest).map_err(PushError::Manifest)?
        }
    };
    let digest = sha256_of(&bytes);
    let target = reference
        .tag_or_default()
        .map_or_else(|| digest.to_string(), str::to_string);
    repo.put_manifest(&target, &media_type, bytes).await?;
    record_sources(store, reference, &manifest)?;
    Ok(digest)
}

/// Remembers that the registry now holds every blob of `manifest` (for later mounts).
fn record_sources(
    store: &Store,
    reference: &Reference,
    manifest: &ImageManifest,
) -> Result<(), PushError> {
    let source = Source {
        registry: reference.registry().to_string(),
        repository: reference.repository().to_string(),
    };
    let blobs = std::iter::once(manifest.config()).chain(manifest.layers());
    for d in blobs {
        provenance::record(store.root(), d.digest(), &source).map_err(|source| {
            PushError::Record {
                path: store.root().join("registry"),
                source,
            }
        })?;
    }
    Ok(())
}

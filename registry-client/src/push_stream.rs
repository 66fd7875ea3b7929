//! Pushing one layer that is stored uncompressed: compress it and upload it in the same
//! pass. A worker thread compresses into the store (the `(diff_id, compression)` cache)
//! and hands each compressed chunk to a streamed `PATCH` at the same time; once both
//! ends are done, a `PUT ?digest=` with the digest the compression computed closes the
//! upload. When the streamed upload fails for any reason, the blob is complete in the
//! store anyway and goes up the ordinary, resumable way ([`push_blob`]).

use std::sync::{Arc, Mutex};

use oci_spec::image::{Descriptor, Digest};
use rbuild_store::Store;
use tokio::sync::Semaphore;

use crate::api::{Repo, UploadStart};
use crate::client::BodySource;
use crate::compress::compress_layer;
use crate::progress::{Event, Progress};
use crate::push::{PushError, PushOptions};
use crate::push_blob::push_blob;
use rbuild_store::compressed::{cached, layer_media_type, needs_compression};

/// Compressed chunks queued between the compressing thread and the upload.
const QUEUE: usize = 8;

/// Makes sure the registry holds `layer` as the manifest will reference it; returns the
/// descriptor to put into the manifest. Uncompressed layers are compressed with
/// `opts.compression` (reusing the cache) and streamed, at most as many at once as
/// `compressing` has permits; anything else is pushed as is.
pub(crate) async fn push_layer(
    store: &Store,
    repo: &Repo<'_>,
    layer: &Descriptor,
    manifest_type: &str,
    opts: &PushOptions,
    compressing: &Semaphore,
) -> Result<Descriptor, PushError> {
    let c = opts.compression;
    if !needs_compression(layer, c) {
        push_blob(store, repo, layer, opts).await?;
        return Ok(layer.clone());
    }
    let media_type = layer_media_type(c, manifest_type);
    if let Some((digest, size)) = cached(store, layer.digest(), c) {
        let desc = Descriptor::new(media_type, size, digest);
        push_blob(store, repo, &desc, opts).await?;
        return Ok(desc);
    }
    let permit = compressing.acquire().await;
    let (digest, size) = compress_and_upload(store, repo, layer, opts).await?;
    drop(permit);
    Ok(Descriptor::new(media_type, size, digest))
}

/// Runs the compression on a blocking thread while a streamed upload consumes its
/// output; falls back to [`push_blob`] from the store when the stream did not make it.
async fn compress_and_upload(
    store: &Store,
    repo: &Repo<'_>,
    layer: &Descriptor,
    opts: &PushOptions,
) -> Result<(Digest, u64), PushError> {
    let diff_id = layer.digest().clone();
    let session = match repo.start_upload(None).await? {
        UploadStart::Session(url) => Some(url),
        UploadStart::Mounted => None,
    };
    let (tx, rx) = tokio::sync::mpsc::channel(QUEUE);
    let tee = session.as_ref().map(|_| tx);
    let job = spawn_compress(store, layer, opts, tee);
    let streamed = match session {
        Some(url) => {
            let body = BodySource::Stream(Arc::new(Mutex::new(Some(rx))));
            repo.patch_stream(&url, body).await.ok()
        }
        None => None,
    };
    let (digest, size) = job.await.map_err(|_| PushError::Worker {
        digest: diff_id.clone(),
    })??;
    let desc = Descriptor::new(layer.media_type().clone(), size, digest.clone());
    let finished = match streamed {
        Some(next) => repo
            .finish_upload(&next, &digest, BodySource::Empty)
            .await
            .is_ok(),
        None => false,
    };
    match finished {
        true => done(&opts.progress, &diff_id, layer.size()),
        false => push_blob(store, repo, &desc, opts).await?,
    }
    Ok((digest, size))
}

/// Starts the compression of `layer` on a blocking thread, reporting progress in
/// uncompressed bytes under the layer's own digest.
fn spawn_compress(
    store: &Store,
    layer: &Descriptor,
    opts: &PushOptions,
    tee: Option<crate::compress::ChunkSender>,
) -> tokio::task::JoinHandle<Result<(Digest, u64), PushError>> {
    let (store, layer, c) = (store.clone(), layer.clone(), opts.compression);
    let level = opts.compression_level;
    let progress = opts.progress.clone();
    progress(&Event::Started {
        digest: layer.digest().clone(),
        size: layer.size(),
        offset: 0,
    });
    tokio::task::spawn_blocking(move || {
        let report = |done| {
            progress(&Event::Bytes {
                digest: layer.digest().clone(),
                done,
                size: layer.size(),
            })
        };
        compress_layer(&store, &layer, c, level, tee, &report)
    })
}

fn done(progress: &Progress, digest: &Digest, size: u64) {
    progress(&Event::Done {
        digest: digest.clone(),
        size,
    });
}

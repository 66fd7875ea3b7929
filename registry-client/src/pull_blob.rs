//! Downloading one blob into the store: streamed, verified at commit, resumed with
//! `Range` from what a keyed ingest already holds (after a dropped connection, or a crash).

use std::io::Write;

use oci_spec::image::Descriptor;
use rbuild_store::blob::{BlobIngest, BlobRead, BlobWriter, Expected};
use rbuild_store::Store;
use reqwest::header::CONTENT_RANGE;

use crate::api::Repo;
use crate::error::RegistryError;
use crate::progress::{Event, Progress};
use crate::pull::PullError;

/// Makes sure the blob `desc` is in the store, downloading what is missing.
pub(crate) async fn fetch_blob(
    store: &Store,
    repo: &Repo<'_>,
    desc: &Descriptor,
    progress: &Progress,
) -> Result<(), PullError> {
    let digest = desc.digest().clone();
    let blob_err = |source| PullError::Blob {
        digest: desc.digest().clone(),
        source: Box::new(source),
    };
    if store.blobs().stat(&digest).map_err(blob_err)?.is_some() {
        progress(&Event::Exists { digest });
        return Ok(());
    }
    let mut writer = store
        .blobs()
        .resume(&format!("pull-{}", digest.digest()))
        .map_err(blob_err)?;
    progress(&Event::Started {
        digest: digest.clone(),
        size: desc.size(),
        offset: writer.offset(),
    });
    let mut backoff = repo.client().retry_policy().start();
    while let Err(e) = stream_into(store, repo, desc, &mut writer, progress).await {
        let delay = match e.is_temporary() {
            true => backoff.next_delay(retry_after(&e)),
            false => None,
        };
        let Some(delay) = delay else { return Err(e) };
        progress(&Event::Retrying {
            digest: digest.clone(),
            offset: writer.offset(),
        });
        tokio::time::sleep(delay).await;
    }
    let expected = Expected {
        digest: digest.clone(),
        size: Some(desc.size()),
    };
    let (_, size) = writer.commit(Some(&expected)).map_err(blob_err)?;
    progress(&Event::Done { digest, size });
    Ok(())
}

fn retry_after(e: &PullError) -> Option<std::time::Duration> {
    match e {
        PullError::Registry(r) => r.retry_after(),
        _ => None,
    }
}

/// One attempt: GET from the writer's offset and append until the body ends.
async fn stream_into(
    store: &Store,
    repo: &Repo<'_>,
    desc: &Descriptor,
    writer: &mut Box<dyn BlobWriter>,
    progress: &Progress,
) -> Result<(), PullError> {
    let (digest, size) = (desc.digest(), desc.size());
    let blob_err = |source| PullError::Blob {
        digest: digest.clone(),
        source: Box::new(source),
    };
    if writer.offset() >= size {
        return Ok(());
    }
    let offset = writer.offset();
    let resp = repo.get_blob(digest, offset).await?;
    if resp.status().as_u16() == 200 && offset > 0 {
        // The registry ignored the Range header: start over in a fresh ingest.
        let fresh = store.blobs().begin().map_err(blob_err)?;
        std::mem::replace(writer, fresh).abort().map_err(blob_err)?;
    } else if resp.status().as_u16() == 206 && range_start(&resp) != Some(offset) {
        return Err(PullError::BadRange {
            digest: digest.clone(),
            offset,
        });
    }
    copy_body(resp, desc, writer, progress).await
}

/// Bytes gathered before one write into the ingest (fewer, larger writes).
const BATCH: usize = 1 << 20;

/// Appends the response body to the writer in [`BATCH`]-sized writes. Whatever arrived
/// before a broken connection is written too, so the next attempt resumes after it.
async fn copy_body(
    mut resp: reqwest::Response,
    desc: &Descriptor,
    writer: &mut Box<dyn BlobWriter>,
    progress: &Progress,
) -> Result<(), PullError> {
    let (digest, size) = (desc.digest(), desc.size());
    let url = resp.url().to_string();
    let mut pending: Vec<u8> = Vec::with_capacity(BATCH);
    let result = loop {
        let chunk = match resp.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break Ok(()),
            Err(source) => {
                break Err(PullError::Registry(RegistryError::Connection {
                    method: "GET".into(),
                    url,
                    source,
                }))
            }
        };
        if writer.offset() + (pending.len() + chunk.len()) as u64 > size {
            break Err(PullError::Oversize {
                digest: digest.clone(),
                size,
            });
        }
        pending.extend_from_slice(&chunk);
        if pending.len() >= BATCH {
            write_batch(writer, &mut pending, desc, progress)?;
        }
    };
    write_batch(writer, &mut pending, desc, progress)?;
    result
}

fn write_batch(
    writer: &mut Box<dyn BlobWriter>,
    pending: &mut Vec<u8>,
    desc: &Descriptor,
    progress: &Progress,
) -> Result<(), PullError> {
    if pending.is_empty() {
        return Ok(());
    }
    let digest = desc.digest();
    writer
        .write_all(pending)
        .map_err(|source| PullError::Write {
            digest: digest.clone(),
            source,
        })?;
    pending.clear();
    progress(&Event::Bytes {
        digest: digest.clone(),
        done: writer.offset(),
        size: desc.size(),
    });
    Ok(())
}

/// The first byte of a `Content-Range: bytes START-END/TOTAL` answer.
fn range_start(resp: &reqwest::Response) -> Option<u64> {
    let v = resp.headers().get(CONTENT_RANGE)?.to_str().ok()?;
    v.trim()
        .strip_prefix("bytes ")?
        .split('-')
        .next()?
        .trim()
        .parse()
        .ok()
}

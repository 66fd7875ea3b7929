//! Uploading one blob: HEAD to skip it, a cross-repository mount when another repository
//! of the registry is known to hold it, else a monolithic PUT (small blobs) or PATCH
//! chunks (large ones). A chunk that fails asks the registry how much it holds
//! (`GET` on the session → `Range: 0-N`) and continues from there; only a session the
//! registry has dropped starts over.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use oci_spec::image::{Descriptor, Digest};
use rbuild_store::blob::BlobRead;
use rbuild_store::Store;

use crate::api::{Repo, UploadStart};
use crate::client::{BodySource, ByteCounter};
use crate::error::RegistryError;
use crate::progress::{Event, Progress};
use crate::provenance;
use crate::push::{PushError, PushOptions};
use crate::retry::Backoff;

/// A layer a build kept as its snapshot is pushed as is (`--compression none`) from a blob
/// file: write the regenerated, verified tar into the store first.
async fn materialize(store: &Store, digest: &Digest) -> Result<(), PushError> {
    let blob_err = |source| PushError::Blob {
        digest: digest.clone(),
        source: Box::new(source),
    };
    if store.blobs().record(digest).map_err(blob_err)?.is_none() {
        return Ok(());
    }
    let (s, d) = (store.clone(), digest.clone());
    tokio::task::spawn_blocking(move || s.blobs().materialize(&d))
        .await
        .map_err(|e| {
            blob_err(rbuild_store::blob::BlobError::Io {
                op: "regenerate",
                path: store.root().to_path_buf(),
                source: std::io::Error::other(e),
            })
        })?
        .map_err(blob_err)?;
    Ok(())
}

/// Makes sure the registry holds `desc` in the repository.
pub(crate) async fn push_blob(
    store: &Store,
    repo: &Repo<'_>,
    desc: &Descriptor,
    opts: &PushOptions,
) -> Result<(), PushError> {
    let digest = desc.digest();
    if repo.head_blob(digest).await? {
        (opts.progress)(&Event::Exists {
            digest: digest.clone(),
        });
        return Ok(());
    }
    materialize(store, digest).await?;
    let path = store
        .blobs()
        .path(digest)
        .filter(|p| p.exists())
        .ok_or_else(|| PushError::MissingBlob {
            digest: digest.clone(),
        })?;
    let from =
        provenance::mount_source(store.root(), digest, repo.client().registry(), repo.name());
    let session = match repo
        .start_upload(from.as_deref().map(|f| (digest, f)))
        .await?
    {
        UploadStart::Mounted => {
            (opts.progress)(&Event::Mounted {
                digest: digest.clone(),
                from: from.unwrap_or_default(),
            });
            return Ok(());
        }
        UploadStart::Session(url) => url,
    };
    (opts.progress)(&Event::Started {
        digest: digest.clone(),
        size: desc.size(),
        offset: 0,
    });
    let upload = Upload {
        repo,
        digest,
        size: desc.size(),
        path,
        progress: &opts.progress,
    };
    match desc.size() <= opts.monolithic_max {
        true => upload.monolithic(session).await?,
        false => upload.chunked(session, opts.chunk_size.max(1)).await?,
    }
    (opts.progress)(&Event::Done {
        digest: digest.clone(),
        size: desc.size(),
    });
    Ok(())
}

struct Upload<'a> {
    repo: &'a Repo<'a>,
    digest: &'a Digest,
    size: u64,
    path: PathBuf,
    progress: &'a Progress,
}

impl Upload<'_> {
    fn body(&self, offset: u64, len: u64) -> BodySource {
        BodySource::File {
            path: self.path.clone(),
            offset,
            len,
            counter: Some(self.counter(offset)),
        }
    }

    fn counter(&self, start: u64) -> ByteCounter {
        let (progress, digest, size) = (self.progress.clone(), self.digest.clone(), self.size);
        let done = Arc::new(AtomicU64::new(start));
        Arc::new(move |n| {
            let done = done.fetch_add(n, Ordering::Relaxed) + n;
            progress(&Event::Bytes {
                digest: digest.clone(),
                done,
                size,
            });
        })
    }

    async fn new_session(&self) -> Result<String, PushError> {
        match self.repo.start_upload(None).await? {
            UploadStart::Session(url) => Ok(url),
            UploadStart::Mounted => Err(PushError::Protocol {
                digest: self.digest.clone(),
                what: "201 Created for an upload without mount",
            }),
        }
    }

    /// One PUT with the whole blob; a failed PUT starts a new session (unless the blob
    /// landed after all).
    async fn monolithic(&self, mut session: String) -> Result<(), PushError> {
        let mut backoff = self.repo.client().retry_policy().start();
        loop {
            let err = match self
                .repo
                .finish_upload(&session, self.digest, self.body(0, self.size))
                .await
            {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            wait(&mut backoff, err).await?;
            if self.repo.head_blob(self.digest).await? {
                return Ok(());
            }
            (self.progress)(&Event::Retrying {
                digest: self.digest.clone(),
                offset: 0,
            });
            session = self.new_session().await?;
        }
    }

    /// PATCH chunks, then a PUT with the digest. Failed attempts count against the retry
    /// budget only while no chunk succeeds (so a long upload may ride out many faults).
    /// A session the registry drops is restarted (at most `max_attempts` times) with
    /// doubled chunks: fewer requests per session, fewer chances to lose it again.
    async fn chunked(&self, mut session: String, mut chunk: u64) -> Result<(), PushError> {
        let policy = self.repo.client().retry_policy();
        let (mut backoff, mut restarts) = (policy.start(), 0u32);
        let mut offset = 0u64;
        while offset < self.size {
            let len = chunk.min(self.size - offset);
            match self
                .repo
                .patch_chunk(&session, offset, self.body(offset, len), len)
                .await
            {
                Ok(next) => {
                    (session, offset, backoff) = (next, offset + len, policy.start());
                    continue;
                }
                Err(e) => wait(&mut backoff, e).await?,
            }
            let (held, next, lost) = self.recover(&session).await?;
            if lost {
                restarts += 1;
                if restarts > policy.max_attempts {
                    return Err(PushError::Protocol {
                        digest: self.digest.clone(),
                        what: "the registry dropped the upload session too often",
                    });
                }
                chunk = chunk.saturating_mul(2).min(self.size);
            }
            (session, offset) = (next, held.min(self.size));
            (self.progress)(&Event::Retrying {
                digest: self.digest.clone(),
                offset,
            });
        }
        self.finish(session).await
    }

    /// Where does the session stand? A session the registry no longer knows (or declares
    /// invalid, as distribution does once a chunk arrived partly) is replaced by a new one
    /// at 0; the flag says so.
    async fn recover(&self, session: &str) -> Result<(u64, String, bool), PushError> {
        match self.repo.upload_status(session).await {
            Ok((held, next)) => Ok((held, next, false)),
            Err(e) if session_lost(&e) => Ok((0, self.new_session().await?, true)),
            Err(e) => Err(e.into()),
        }
    }

    async fn finish(&self, session: String) -> Result<(), PushError> {
        let mut backoff = self.repo.client().retry_policy().start();
        loop {
            let err = match self
                .repo
                .finish_upload(&session, self.digest, BodySource::Empty)
                .await
            {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            wait(&mut backoff, err).await?;
            if self.repo.head_blob(self.digest).await? {
                return Ok(());
            }
        }
    }
}

/// Sleeps before the next attempt, or returns the error when it is final or the budget is spent.
async fn wait(backoff: &mut Backoff<'_>, err: RegistryError) -> Result<(), PushError> {
    if !err.is_temporary() {
        return Err(err.into());
    }
    match backoff.next_delay(err.retry_after()) {
        Some(d) => {
            tokio::time::sleep(d).await;
            Ok(())
        }
        None => Err(err.into()),
    }
}

fn session_lost(e: &RegistryError) -> bool {
    matches!(e.status(), Some(400 | 404 | 416))
        || e.has_code("BLOB_UPLOAD_UNKNOWN")
        || e.has_code("BLOB_UPLOAD_INVALID")
}

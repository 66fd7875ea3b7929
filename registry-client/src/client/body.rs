//! Request bodies that can be rebuilt for every attempt: nothing, bytes, or a byte range
//! of a file streamed from disk (never read whole into memory).

use std::fmt;
use std::io::SeekFrom;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use futures_util::stream;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::mpsc::Receiver;

/// Called with the number of bytes each time a streamed body hands some to the network.
pub type ByteCounter = Arc<dyn Fn(u64) + Send + Sync>;

const READ_SIZE: usize = 256 * 1024;

/// The chunks of a body produced while it is being sent (a layer compressed on the fly).
/// It can be sent once: a second attempt finds the receiver taken and fails.
pub type StreamChunks = Arc<Mutex<Option<Receiver<std::io::Result<Vec<u8>>>>>>;

/// The body of a [`super::Request`].
#[derive(Clone, Default)]
pub enum BodySource {
    /// No body.
    #[default]
    Empty,
    /// Small in-memory content (manifests).
    Bytes(Arc<Vec<u8>>),
    /// `len` bytes of `path` starting at `offset`, streamed.
    File {
        /// The file (a blob in the store).
        path: PathBuf,
        /// Where the range starts.
        offset: u64,
        /// How many bytes to send.
        len: u64,
        /// Progress callback.
        counter: Option<ByteCounter>,
    },
    /// Chunks from a channel, sent with chunked transfer encoding (length unknown).
    Stream(StreamChunks),
}

impl fmt::Debug for BodySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodySource::Empty => f.write_str("Empty"),
            BodySource::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            BodySource::File {
                path, offset, len, ..
            } => write!(f, "File({}, {offset}+{len})", path.display()),
            BodySource::Stream(_) => f.write_str("Stream"),
        }
    }
}

impl BodySource {
    /// The file behind a `File` body (empty path otherwise), for error messages.
    pub fn path(&self) -> PathBuf {
        match self {
            BodySource::File { path, .. } => path.clone(),
            _ => PathBuf::new(),
        }
    }

    /// A fresh reqwest body and, for streamed bodies, the `Content-Length` to announce.
    pub async fn build(&self) -> std::io::Result<(reqwest::Body, Option<u64>)> {
        match self {
            BodySource::Empty => Ok((reqwest::Body::from(Vec::new()), None)),
            BodySource::Bytes(b) => Ok((reqwest::Body::from(b.as_ref().clone()), None)),
            BodySource::File {
                path,
                offset,
                len,
                counter,
            } => {
                let mut file = tokio::fs::File::open(path).await?;
                file.seek(SeekFrom::Start(*offset)).await?;
                let body =
                    reqwest::Body::wrap_stream(file_stream(file.take(*len), counter.clone()));
                Ok((body, Some(*len)))
            }
            BodySource::Stream(chunks) => {
                let rx = chunks.lock().ok().and_then(|mut rx| rx.take());
                let rx = rx.ok_or_else(|| std::io::Error::other("streamed body already sent"))?;
                Ok((reqwest::Body::wrap_stream(channel_stream(rx)), None))
            }
        }
    }
}

fn channel_stream(
    rx: Receiver<std::io::Result<Vec<u8>>>,
) -> impl futures_util::Stream<Item = std::io::Result<Vec<u8>>> + Send + 'static {
    stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

fn file_stream(
    reader: tokio::io::Take<tokio::fs::File>,
    counter: Option<ByteCounter>,
) -> impl futures_util::Stream<Item = std::io::Result<Vec<u8>>> + Send + 'static {
    stream::try_unfold((reader, counter), |(mut reader, counter)| async move {
        let mut buf = vec![0u8; READ_SIZE];
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        if let Some(c) = &counter {
            c(n as u64);
        }
        Ok(Some((buf, (reader, counter))))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[tokio::test]
    async fn file_range_streams_exactly_len_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let seen = Arc::new(AtomicU64::new(0));
        let s2 = seen.clone();
        let counter: ByteCounter = Arc::new(move |n| {
            s2.fetch_add(n, Ordering::Relaxed);
        });
        let src = BodySource::File {
            path,
            offset: 1000,
            len: 600_000,
            counter: Some(counter),
        };
        let (_, len) = src.build().await.unwrap();
        assert_eq!(len, Some(600_000));
        let mut file = tokio::fs::File::open(src.path()).await.unwrap();
        file.seek(SeekFrom::Start(1000)).await.unwrap();
        use futures_util::TryStreamExt;
        let chunks: Vec<Vec<u8>> = file_stream(file.take(600_000), src_counter(&src))
            .try_collect()
            .await
            .unwrap();
        let joined: Vec<u8> = chunks.concat();
        assert_eq!(joined, &data[1000..601_000]);
        assert_eq!(seen.load(Ordering::Relaxed), 600_000);
    }

    #[tokio::test]
    async fn stream_body_is_sent_once_in_order() {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let src = BodySource::Stream(Arc::new(Mutex::new(Some(rx))));
        let (_, len) = src.build().await.expect("first build");
        assert_eq!(len, None);
        assert!(src.build().await.is_err(), "a second attempt cannot resend");
        drop(tx);
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tx.send(Ok(vec![1, 2])).await.unwrap();
        tx.send(Ok(vec![3])).await.unwrap();
        drop(tx);
        use futures_util::TryStreamExt;
        let chunks: Vec<Vec<u8>> = channel_stream(rx).try_collect().await.unwrap();
        assert_eq!(chunks.concat(), vec![1, 2, 3]);
    }

    fn src_counter(src: &BodySource) -> Option<ByteCounter> {
        match src {
            BodySource::File { counter, .. } => counter.clone(),
            _ => None,
        }
    }
}

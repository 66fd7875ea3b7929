//! Compressing locally built (uncompressed) layers for a push: the store does the work and
//! keeps the `(diff_id, compression) → blob` cache ([`rbuild_store::compressed`]); this
//! module hands the compressed bytes, as they come, to a streamed upload.

use std::io::{self, Write};

use oci_spec::image::{Descriptor, Digest};
use rbuild_store::compressed::{self, CompressLayerError, CompressOptions};
use rbuild_store::layer::Compression;
use rbuild_store::Store;

use crate::push::PushError;

/// Compressed bytes handed to a streamed upload while they are written to the store.
pub(crate) type ChunkSender = tokio::sync::mpsc::Sender<io::Result<Vec<u8>>>;

/// Compressed bytes per chunk handed to the upload.
const CHUNK_SIZE: usize = 256 << 10;

/// Compresses the uncompressed layer blob `layer` with `c` at `level` into the store (see
/// [`compressed::compress_layer`]); when `tee` is given, every compressed byte is also sent
/// there as it is produced. A closed receiver only ends the sending. Blocking: run it on a
/// thread of its own.
pub(crate) fn compress_layer(
    store: &Store,
    layer: &Descriptor,
    c: Compression,
    level: Option<i32>,
    tee: Option<ChunkSender>,
    progress: &dyn Fn(u64),
) -> Result<(Digest, u64), PushError> {
    let tee = tee.map(|tx| {
        Box::new(ChannelTee {
            tx,
            buf: Vec::with_capacity(CHUNK_SIZE),
        }) as Box<dyn Write + Send>
    });
    let opts = CompressOptions {
        level,
        tee,
        progress,
    };
    compressed::compress_layer(store, layer, c, opts).map_err(PushError::from)
}

impl From<CompressLayerError> for PushError {
    fn from(e: CompressLayerError) -> Self {
        PushError::Layer(Box::new(e))
    }
}

/// Sends written bytes in [`CHUNK_SIZE`] chunks; fails once the receiver is gone.
struct ChannelTee {
    tx: ChunkSender,
    buf: Vec<u8>,
}

impl ChannelTee {
    fn send(&mut self) -> io::Result<()> {
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_SIZE));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the upload gave up"))
    }
}

impl Write for ChannelTee {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK_SIZE {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.buf.is_empty() {
            true => Ok(()),
            false => self.send(),
        }
    }
}

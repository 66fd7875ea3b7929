//! Streaming a regenerated layer tar: a producer thread writes the tree as a tar (the same
//! deterministic writer that made the layer), hashing it, into a bounded queue of chunks; the
//! reader hands the chunks out and, at the end, fails unless the bytes hashed to the layer's
//! digest and size. Memory stays at a few chunks whatever the layer's size.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread;

use oci_spec::image::Digest;

use crate::digest::Hasher;
use crate::layer::{write_tree, TreeOptions};

const CHUNK: usize = 256 << 10;
const QUEUE: usize = 4;

type Chunk = io::Result<Vec<u8>>;

/// What the regenerated tar must be.
#[derive(Debug, Clone)]
pub struct Target {
    /// The layer's digest (its diff id: the tar is uncompressed).
    pub digest: Digest,
    /// The tar's size.
    pub size: u64,
}

/// Starts regenerating the tar of `dir` and returns a reader of it.
pub fn regenerate(dir: PathBuf, opts: TreeOptions, target: Target) -> Box<dyn Read + Send> {
    let (tx, rx) = sync_channel::<Chunk>(QUEUE);
    thread::spawn(move || produce(dir, opts, target, tx));
    Box::new(ChunkReader {
        rx,
        chunk: Vec::new(),
        pos: 0,
        done: false,
    })
}

fn produce(dir: PathBuf, opts: TreeOptions, target: Target, tx: SyncSender<Chunk>) {
    let mut w = ChunkWriter {
        tx: tx.clone(),
        buf: Vec::with_capacity(CHUNK),
        held: None,
        hasher: Hasher::new(),
        count: 0,
    };
    let written = write_tree(&dir, &opts, &mut w).map_err(io::Error::other);
    let checked = written
        .and_then(|_| w.finish())
        .and_then(|(digest, count)| {
            if digest == target.digest && count == target.size {
                return Ok(());
            }
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "layer {} regenerated from {} is {count} bytes with digest {digest}, \
                 expected {} bytes: the tree changed since the build \
                 (remove the images that use it, then run `rbuild prune --cache`)",
                    target.digest,
                    dir.display(),
                    target.size
                ),
            ))
        });
    // The last chunk goes out only once the whole tar checked out: a reader that stops after
    // exactly `size` bytes never takes unverified content for complete.
    let last = checked.map(|_| w.held.take().unwrap_or_default());
    let ok = last.is_ok();
    if tx.send(last).is_ok() && ok {
        let _ = tx.send(Ok(Vec::new())); // end of the tar
    }
}

/// Chunks the tar and hashes it; one full chunk is held back until the end (see `produce`).
struct ChunkWriter {
    tx: SyncSender<Chunk>,
    buf: Vec<u8>,
    held: Option<Vec<u8>>,
    hasher: Hasher,
    count: u64,
}

impl ChunkWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        let Some(previous) = self.held.replace(full) else {
            return Ok(());
        };
        self.tx
            .send(Ok(previous))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the reader went away"))
    }

    fn finish(&mut self) -> io::Result<(Digest, u64)> {
        self.send()?;
        Ok((std::mem::take(&mut self.hasher).finish(), self.count))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = (CHUNK - self.buf.len()).min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        self.hasher.update(&data[..n]);
        self.count += n as u64;
        if self.buf.len() == CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Hands out the producer's chunks; the final message is an empty chunk (verified) or an error.
struct ChunkReader {
    rx: Receiver<Chunk>,
    chunk: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            if self.done || out.is_empty() {
                return Ok(0);
            }
            let next = self.rx.recv().map_err(|_| {
                io::Error::new(io::ErrorKind::UnexpectedEof, "layer regeneration stopped")
            })?;
            self.chunk = next?;
            self.pos = 0;
            self.done = self.chunk.is_empty();
        }
        let n = (self.chunk.len() - self.pos).min(out.len());
        out[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

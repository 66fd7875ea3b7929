//! Moving a sink's work onto a second thread.
//!
//! Packing a layer hashes every byte twice: once for the `diff_id` (the tar stream) and once
//! in the blob ingest that stores it (or in the compressor behind it). Done in one thread the
//! second hash doubles the cost of a commit; [`offload`] hands the sink to a helper thread fed
//! through a small bounded queue of 256 KiB chunks, so the two hashes run on two cores and at
//! most [`QUEUE`] + 2 chunks are in memory.

use std::io::{self, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread;

/// Size of one chunk handed to the helper thread: small enough that the queue adds
/// about 2 MiB to a build's peak memory, large enough to keep channel overhead low.
const CHUNK: usize = 256 << 10;
/// Chunks in flight between the two threads.
const QUEUE: usize = 4;

/// The writer given to the closure of [`offload`]: buffers into chunks and queues them.
pub struct OffloadWriter {
    buf: Vec<u8>,
    tx: SyncSender<Vec<u8>>,
    spare: Receiver<Vec<u8>>,
}

impl OffloadWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let fresh = self
            .spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
        let full = std::mem::replace(&mut self.buf, fresh);
        self.tx
            .send(full)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the sink thread stopped"))
    }
}

impl Write for OffloadWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// Runs `produce` with a writer whose bytes reach `sink`, in order, on a helper thread.
///
/// Returns what `produce` returned and the sink (flushed), or the sink's write error, which
/// wins over the `BrokenPipe` that `produce` then sees.
pub fn offload<W, T, F>(sink: W, produce: F) -> (T, io::Result<W>)
where
    W: Write + Send,
    F: FnOnce(&mut OffloadWriter) -> T,
{
    let (tx, rx) = sync_channel::<Vec<u8>>(QUEUE);
    let (spare_tx, spare_rx) = sync_channel::<Vec<u8>>(QUEUE + 2);
    thread::scope(|s| {
        let worker = s.spawn(move || drain(sink, rx, spare_tx));
        let mut w = OffloadWriter {
            buf: Vec::with_capacity(CHUNK),
            tx,
            spare: spare_rx,
        };
        let out = produce(&mut w);
        let flushed = w.flush();
        drop(w); // closes the queue: the worker finishes
        let sink = worker
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the sink thread panicked")));
        (out, flushed.and(Ok(())).and(sink))
    })
}

fn drain<W: Write>(
    mut sink: W,
    rx: Receiver<Vec<u8>>,
    spare: SyncSender<Vec<u8>>,
) -> io::Result<W> {
    for mut chunk in rx {
        sink.write_all(&chunk)?;
        chunk.clear();
        let _ = spare.try_send(chunk); // recycled when there is room, else dropped
    }
    sink.flush()?;
    Ok(sink)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_arrive_in_order_across_chunks() {
        let data: Vec<u8> = (0..3 * CHUNK + 123).map(|i| (i % 251) as u8).collect();
        let (n, sink) = offload(Vec::new(), |w| {
            for piece in data.chunks(7777) {
                w.write_all(piece).expect("write");
            }
            data.len()
        });
        let sink = sink.expect("sink");
        assert_eq!(n, data.len());
        assert_eq!(sink, data);
    }

    struct Failing;
    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_sink_error_is_reported() {
        let (res, sink) = offload(Failing, |w| {
            let chunk = vec![0u8; CHUNK];
            (0..16).try_for_each(|_| w.write_all(&chunk))
        });
        assert!(res.is_err(), "the producer sees the stopped sink");
        let err = sink.err().expect("sink error");
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
    }
}

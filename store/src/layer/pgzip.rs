//! Block-parallel gzip, the way pigz does it.
//!
//! The input is cut into fixed 1 MiB blocks; each is deflated on its own (fresh
//! compressor, no shared window) and ended with a sync flush, so the compressed
//! blocks concatenate into one valid deflate stream. The workers also take each
//! block's CRC-32; the main thread combines them and writes the gzip header, the
//! blocks in order, an empty final block and the trailer. The block size, not the thread count, decides the bytes: a
//! layer gets the same digest on 1 core and on 64.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{sync_channel, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use flate2::{Compress, Crc, FlushCompress};

/// Uncompressed bytes per independently deflated block.
const BLOCK_SIZE: usize = 1 << 20;
/// Blocks whose order-0 entropy (bits per byte) reaches this look random (already
/// compressed or encrypted content): they are stored, not deflated. Deflate cannot
/// shrink such data by more than a fraction of a percent, and searching it for matches
/// costs as much CPU as compressing text. The choice depends only on the block's bytes,
/// so the output stays deterministic.
const STORE_ENTROPY: f64 = 7.99;
/// gzip header: magic, deflate, no flags, mtime 0, no extra flags, OS "unknown".
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
/// An empty deflate block with BFINAL set (fixed Huffman, end-of-block only).
const FINAL_BLOCK: [u8; 2] = [0x03, 0x00];

/// A block's deflated bytes and its CRC.
type Done = io::Result<(Vec<u8>, Crc)>;
type Job = (Vec<u8>, u32, SyncSender<Done>);

/// A gzip `Write` adapter that deflates blocks on all cores.
///
/// Call [`ParallelGzEncoder::finish`] to write the end of the stream.
pub struct ParallelGzEncoder<W: Write> {
    inner: Option<W>,
    pending: Vec<u8>,
    crc: Crc,
    header_done: bool,
    inflight: VecDeque<Receiver<Done>>,
    pool: Pool,
    level: u32,
}

struct Pool {
    jobs: Option<Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
}

impl Pool {
    fn new(n: usize) -> Pool {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let threads = (0..n)
            .map(|_| {
                let rx = Arc::clone(&rx);
                std::thread::spawn(move || worker(&rx))
            })
            .collect();
        Pool {
            jobs: Some(tx),
            threads,
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.jobs = None; // workers see a closed channel and return
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn worker(rx: &Mutex<Receiver<Job>>) {
    loop {
        let job = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        let Ok((data, level, reply)) = job else {
            return;
        };
        let mut crc = Crc::new();
        crc.update(&data);
        let _ = reply.send(deflate_block(&data, level).map(|out| (out, crc)));
    }
}

/// Every how many bytes [`entropy`] counts one: a seventh of a block is plenty to tell random
/// bytes from text (a 1 MiB random block still measures above 7.998 bits/byte), and a stride
/// coprime with common record sizes (2, 4, 8, 16, …) does not alias with their layout.
const ENTROPY_STRIDE: usize = 7;

/// The order-0 entropy of `data` in bits per byte, from every [`ENTROPY_STRIDE`]th byte (0 for
/// empty input).
fn entropy(data: &[u8]) -> f64 {
    let mut counts = [0u64; 256];
    for &b in data.iter().step_by(ENTROPY_STRIDE) {
        counts[usize::from(b)] += 1;
    }
    let n = data.len().div_ceil(ENTROPY_STRIDE) as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// Deflates `data` with a fresh compressor, ending on a byte boundary (sync flush).
/// Random-looking blocks go out as stored blocks (level 0).
fn deflate_block(data: &[u8], level: u32) -> io::Result<Vec<u8>> {
    let level = match entropy(data) >= STORE_ENTROPY {
        true => 0,
        false => level,
    };
    let mut c = Compress::new(flate2::Compression::new(level), false);
    let mut out = Vec::with_capacity(data.len() / 2 + 4096);
    loop {
        let consumed = c.total_in() as usize;
        c.compress_vec(&data[consumed..], &mut out, FlushCompress::Sync)
            .map_err(io::Error::other)?;
        // The flush is complete once all input is in and the output was not full.
        if c.total_in() as usize == data.len() && out.len() < out.capacity() {
            return Ok(out);
        }
        out.reserve(out.capacity().max(64 * 1024));
    }
}

impl<W: Write> ParallelGzEncoder<W> {
    /// Starts a gzip stream at deflate `level` (0–9) into `inner`, one worker thread per core.
    pub fn new(inner: W, level: u32) -> Self {
        let threads = super::compress::worker_threads() as usize;
        ParallelGzEncoder {
            inner: Some(inner),
            pending: Vec::with_capacity(BLOCK_SIZE),
            crc: Crc::new(),
            header_done: false,
            inflight: VecDeque::new(),
            pool: Pool::new(threads),
            level: level.min(9),
        }
    }

    fn sink(&mut self) -> io::Result<&mut W> {
        let inner = self
            .inner
            .as_mut()
            .ok_or_else(|| io::Error::other("gzip stream already finished"))?;
        if !self.header_done {
            inner.write_all(&HEADER)?;
            self.header_done = true;
        }
        Ok(inner)
    }

    /// Hands the pending block to a worker; waits for the oldest when too many are out.
    fn dispatch(&mut self) -> io::Result<()> {
        let data = std::mem::replace(&mut self.pending, Vec::with_capacity(BLOCK_SIZE));
        let (tx, rx) = sync_channel(1);
        let jobs = self
            .pool
            .jobs
            .as_ref()
            .ok_or_else(|| io::Error::other("gzip workers gone"))?;
        jobs.send((data, self.level, tx))
            .map_err(|_| io::Error::other("gzip workers gone"))?;
        self.inflight.push_back(rx);
        while self.inflight.len() > 2 * self.pool.threads.len() {
            self.write_oldest()?;
        }
        Ok(())
    }

    fn write_oldest(&mut self) -> io::Result<()> {
        let Some(rx) = self.inflight.pop_front() else {
            return Ok(());
        };
        let (block, crc) = rx
            .recv()
            .map_err(|_| io::Error::other("gzip worker died"))??;
        self.crc.combine(&crc);
        self.sink()?.write_all(&block)
    }

    /// Writes the remaining blocks and the gzip trailer; returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.pending.is_empty() {
            self.dispatch()?;
        }
        while !self.inflight.is_empty() {
            self.write_oldest()?;
        }
        let crc = self.crc.sum().to_le_bytes();
        let isize = self.crc.amount().to_le_bytes();
        let sink = self.sink()?;
        sink.write_all(&FINAL_BLOCK)?;
        sink.write_all(&crc)?;
        sink.write_all(&isize)?;
        self.inner
            .take()
            .ok_or_else(|| io::Error::other("gzip stream already finished"))
    }
}

impl<W: Write> Write for ParallelGzEncoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(BLOCK_SIZE - self.pending.len());
        self.pending.extend_from_slice(&buf[..n]);
        if self.pending.len() == BLOCK_SIZE {
            self.dispatch()?;
        }
        Ok(n)
    }

    /// Flushes the inner writer only: blocks are cut at fixed sizes, never on flush,
    /// so the output does not depend on when callers flush.
    fn flush(&mut self) -> io::Result<()> {
        match self.inner.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = ParallelGzEncoder::new(Vec::new(), 6);
        enc.write_all(data).expect("write");
        enc.finish().expect("finish")
    }

    fn gunzip(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut out)
            .expect("valid gzip");
        out
    }

    #[test]
    fn round_trips_at_block_edges() {
        for len in [
            0,
            1,
            BLOCK_SIZE - 1,
            BLOCK_SIZE,
            BLOCK_SIZE + 1,
            3 * BLOCK_SIZE + 17,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
            assert!(gunzip(&gzip(&data)) == data, "length {len}");
        }
    }

    #[test]
    fn every_level_round_trips_and_higher_levels_are_not_larger() {
        let data: Vec<u8> = (0..2 * BLOCK_SIZE + 999)
            .map(|i| b"lorem ipsum dolor sit amet 0123456789\n"[(i * i / 7) % 38])
            .collect();
        let size = |level| {
            let mut enc = ParallelGzEncoder::new(Vec::new(), level);
            enc.write_all(&data).expect("write");
            let gz = enc.finish().expect("finish");
            assert!(
                gunzip(&gz) == data,
                "level {level}: content and CRC check out"
            );
            gz.len()
        };
        let (fast, default, best) = (size(1), size(3), size(9));
        assert!(
            best <= default && default <= fast,
            "{best} {default} {fast}"
        );
        assert!(size(0) > data.len(), "level 0 stores");
    }

    #[test]
    fn random_blocks_are_stored_and_text_is_deflated() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let random: Vec<u8> = (0..BLOCK_SIZE)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        assert!(entropy(&random) >= STORE_ENTROPY);
        let stored = deflate_block(&random, 6).expect("deflate");
        assert!(
            stored.len() > random.len(),
            "stored blocks add headers only"
        );
        assert!(stored.len() < random.len() + random.len() / 1000);
        let text: Vec<u8> = (0..BLOCK_SIZE)
            .map(|i| b"0123456789 \n"[i * 7 % 12])
            .collect();
        assert!(entropy(&text) < STORE_ENTROPY);
        assert!(deflate_block(&text, 6).expect("deflate").len() < text.len() / 4);
        let mut both = random.clone();
        both.extend_from_slice(&text);
        assert!(gunzip(&gzip(&both)) == both);
    }

    #[test]
    fn system_gzip_accepts_the_stream() {
        let data: Vec<u8> = (0..2 * BLOCK_SIZE + 5).map(|i| (i % 13) as u8).collect();
        let gz = gzip(&data);
        let child = std::process::Command::new("gzip")
            .args(["-t"])
            .stdin(std::process::Stdio::piped())
            .spawn();
        let Ok(mut child) = child else {
            eprintln!("skipped: no gzip binary");
            return;
        };
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(&gz)
            .expect("feed gzip");
        assert!(
            child.wait().expect("wait").success(),
            "gzip -t rejects our stream"
        );
    }
}

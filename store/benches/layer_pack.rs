//! Layer packing throughput (issue 8): `write_layer` with `Compression::None` into a hashing
//! sink (tar + two SHA-256: the diff_id and the blob ingest's digest, as a build commits a
//! step) against a bare read + SHA-256 loop over the same files. Target: within 1.3×.
//!
//! `cargo bench -p rbuild-store --bench layer_pack`; env `PACK_MB` (default 256) and
//! `PACK_FILES` (default 64) size the generated tree, `PACK_RUNS` (default 5) the repetitions.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::RngCore;
use rbuild_store::digest::{Hasher, HashingWriter};
use rbuild_store::layer::{write_layer, Compression, TreeOptions};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Half random, half text-like files, in a few directories; returns the file list.
fn make_tree(root: &Path, total_mb: u64, files: u64) -> io::Result<Vec<PathBuf>> {
    let each = (total_mb << 20) / files;
    let mut rng = rand::rng();
    let mut buf = vec![0u8; each as usize];
    let mut out = Vec::new();
    for i in 0..files {
        let dir = root.join(format!("d{}", i % 8));
        fs::create_dir_all(&dir)?;
        rng.fill_bytes(&mut buf);
        if i % 2 == 1 {
            buf.iter_mut().for_each(|b| *b = b'0' + (*b % 10));
        }
        let path = dir.join(format!("f{i}"));
        File::create(&path)?.write_all(&buf)?;
        out.push(path);
    }
    Ok(out)
}

fn read_and_hash(files: &[PathBuf]) -> io::Result<u64> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0;
    for path in files {
        let mut f = File::open(path)?;
        let mut h = Hasher::new();
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            total += n as u64;
        }
        std::hint::black_box(h.finish());
    }
    Ok(total)
}

fn pack(root: &Path) -> io::Result<u64> {
    let sink = HashingWriter::new(io::sink());
    let (sink, digests, _) = write_layer(root, &TreeOptions::default(), Compression::None, sink)
        .map_err(io::Error::other)?;
    let (_, blob_digest, _) = sink.into_parts();
    Ok(std::hint::black_box((digests, blob_digest)).0.tar_size)
}

fn best_of(runs: u64, mut f: impl FnMut() -> io::Result<u64>) -> io::Result<(Duration, u64)> {
    let mut best = Duration::MAX;
    let mut bytes = 0;
    for _ in 0..runs {
        let t = Instant::now();
        bytes = f()?;
        best = best.min(t.elapsed());
    }
    Ok((best, bytes))
}

fn mib_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / d.as_secs_f64()
}

fn main() -> io::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(()); // `cargo test --benches` asks for the list of tests: there are none
    }
    let (mb, files, runs) = (
        env_or("PACK_MB", 256),
        env_or("PACK_FILES", 64),
        env_or("PACK_RUNS", 5),
    );
    let tmp = tempfile::tempdir()?;
    let list = make_tree(tmp.path(), mb, files)?;
    read_and_hash(&list)?; // warm the page cache
    let (base, bytes) = best_of(runs, || read_and_hash(&list))?;
    let (packed, _) = best_of(runs, || pack(tmp.path()))?;
    let ratio = packed.as_secs_f64() / base.as_secs_f64();
    println!("tree: {mb} MiB in {files} files; best of {runs}");
    println!(
        "read + sha256:                 {:8.1} ms  {:7.0} MiB/s",
        base.as_secs_f64() * 1e3,
        mib_s(bytes, base)
    );
    println!(
        "write_layer (tar + 2 sha256):  {:8.1} ms  {:7.0} MiB/s",
        packed.as_secs_f64() * 1e3,
        mib_s(bytes, packed)
    );
    println!(
        "ratio {ratio:.2} (target <= 1.30): {}",
        if ratio <= 1.3 { "PASS" } else { "MISS" }
    );
    Ok(())
}

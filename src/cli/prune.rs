//! `rbuild prune`

use std::io::Write;
use std::process::ExitCode;

use rbuild_builder::build::cache::BuildCache;
use rbuild_builder::build::sweep::{clear_cache_mounts, sweep_snapshots};
use rbuild_store::Store;

use crate::render::human_size;

/// Remove unused data: untagged images and unreferenced blobs
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do not prompt for confirmation (accepted for docker compatibility; rbuild never prompts)
    #[arg(short, long)]
    force: bool,
    /// Keep untagged (dangling) images; only sweep unreferenced blobs
    #[arg(long)]
    keep_dangling: bool,
    /// Also drop the build cache (its layers are kept only while an image uses them) and the
    /// RUN --mount=type=cache directories
    #[arg(long)]
    cache: bool,
}

/// Removes untagged images, then collects unreferenced blobs.
pub fn run(store: &Store, args: Args) -> anyhow::Result<ExitCode> {
    let _ = args.force;
    let mut out = std::io::stdout().lock();
    if !args.keep_dangling {
        for entry in store.entries()?.into_iter().filter(|e| e.name.is_none()) {
            store.remove_image(entry.manifest.digest())?;
            writeln!(out, "Deleted Images:\ndeleted: {}", entry.manifest.digest())?;
        }
    }
    let cache = BuildCache::open(store)?;
    let cleared = if args.cache {
        Some(cache.clear()?)
    } else {
        None
    };
    let report = store.gc(&cache.roots())?;
    {
        let _lock = store.lock_exclusive()?; // no build may run while snapshots go
        if cleared.is_some() {
            // Layers that images still use and that are kept only as snapshots become blob
            // files before the snapshots go; a snapshot that no longer matches stops the prune.
            store.blobs().materialize_all()?;
        }
        let swept = sweep_snapshots(store.root(), cleared.is_some())?;
        if let Some(n) = cleared {
            let mounts = clear_cache_mounts(store.root())?;
            writeln!(
                out,
                "Deleted build cache entries: {n}, snapshots: {}, cache mounts: {mounts}",
                swept.snapshots
            )?;
        }
    }
    for d in &report.deleted {
        writeln!(out, "deleted: {d}")?;
    }
    writeln!(
        out,
        "Total reclaimed space: {}",
        human_size(report.bytes_freed)
    )?;
    Ok(ExitCode::SUCCESS)
}

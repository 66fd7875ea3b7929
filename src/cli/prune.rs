//! `rbuild prune`

use std::io::Write;
use std::process::ExitCode;

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
    let report = store.gc(&[])?;
    for d in &report.deleted {
        writeln!(out, "deleted: {d}")?;
    }
    writeln!(out, "Total reclaimed space: {}", human_size(report.bytes_freed))?;
    Ok(ExitCode::SUCCESS)
}

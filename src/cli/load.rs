//! `rbuild load -i FILE`

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use rbuild_store::{archive, Store};

/// Load images from a tar archive (docker save format or OCI layout)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Read from a tar archive file
    #[arg(short, long, required = true)]
    input: PathBuf,
    /// Suppress the load output
    #[arg(short, long)]
    quiet: bool,
}

/// Loads every image of the archive and prints what it loaded, as docker does.
pub fn run(store: &Store, args: Args) -> anyhow::Result<ExitCode> {
    let loaded = archive::load(store, &args.input)?;
    if !args.quiet {
        let mut out = std::io::stdout().lock();
        for img in loaded {
            match img.name {
                Some(n) => writeln!(out, "Loaded image: {n}")?,
                None => writeln!(out, "Loaded image ID: {}", img.manifest.digest())?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

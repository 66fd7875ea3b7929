//! `rbuild images`

use std::process::ExitCode;

use rbuild_store::{summary, Store};

use crate::render::{self, Format};

/// List images
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format: table (default) or json (one object per line)
    #[arg(long, default_value = "table")]
    format: Format,
    /// Only show image IDs
    #[arg(short, long)]
    quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
}

/// Prints the store's images.
pub fn run(store: &Store, args: Args) -> anyhow::Result<ExitCode> {
    let rows = summary::summaries(store)?;
    let out = &mut std::io::stdout().lock();
    match (args.quiet, args.format) {
        (true, _) => render::images::ids(out, &rows, args.no_trunc)?,
        (false, Format::Json) => render::images::json(out, &rows)?,
        (false, Format::Table) => render::images::table(out, &rows, args.no_trunc)?,
    }
    Ok(ExitCode::SUCCESS)
}

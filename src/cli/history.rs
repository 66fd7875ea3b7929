//! `rbuild history IMAGE`

use std::process::ExitCode;

use clap::ArgAction;
use rbuild_store::inspect::{history, image};
use rbuild_store::Store;

use crate::render::inspect::{history_json, history_table, HistoryOpts};
use crate::render::Format;

/// Show the history of an image
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Image: name[:tag], id, OCI layout directory, or OCI/docker-save tar
    image: String,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Output format: table (default) or json (one object per line)
    #[arg(long, default_value = "table")]
    format: Format,
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, default_value_t = true, action = ArgAction::Set)]
    human: bool,
}

/// Prints the history, newest first; sizes are the layers' uncompressed contents.
pub fn run(store: &Store, a: Args) -> anyhow::Result<ExitCode> {
    let src = super::source::open(store, &a.image)?;
    let trees = image::read_trees(&src.store, &src.image)?;
    let sizes: Vec<u64> = trees.iter().map(|t| t.size).collect();
    let rows = history::history(&src.image, &sizes);
    let opts = HistoryOpts {
        no_trunc: a.no_trunc,
        human: a.human,
    };
    let out = &mut std::io::stdout().lock();
    match a.format {
        Format::Table => history_table(out, &rows, opts)?,
        Format::Json => history_json(out, &rows, opts)?,
    }
    Ok(ExitCode::SUCCESS)
}

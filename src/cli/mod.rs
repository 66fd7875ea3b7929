//! Command-line arguments: one thin file per verb. `rbuild [OPTIONS] CONTEXT` with no verb
//! is `rbuild build`.

mod export;
mod images;
mod import;
mod load;
mod prune;
mod rmi;
mod save;
mod tag;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rbuild_store::Store;

/// A daemonless image builder and layer store.
#[derive(Debug, Parser)]
#[command(name = "rbuild", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// Store root (default: /var/lib/rbuild as root, $XDG_DATA_HOME/rbuild otherwise).
    #[arg(long, global = true, env = "RBUILD_ROOT", value_name = "DIR")]
    root: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

/// The verbs.
#[derive(Debug, Subcommand)]
enum Command {
    /// List images
    Images(images::Args),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(tag::Args),
    /// Remove one or more images
    Rmi(rmi::Args),
    /// Remove unused data: untagged images and unreferenced blobs
    Prune(prune::Args),
    /// Save one or more images to a tar archive (docker save format)
    Save(save::Args),
    /// Load images from a tar archive (docker save format or OCI layout)
    Load(load::Args),
    /// Export an image as an OCI layout (directory or .tar) or docker archive
    Export(export::Args),
    /// Import images from an OCI layout (directory or .tar)
    Import(import::Args),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let root = cli.root.unwrap_or_else(Store::default_root);
    let Some(command) = cli.command else {
        anyhow::bail!("\"rbuild\" requires a command or a build context; see 'rbuild --help'");
    };
    let store = || -> anyhow::Result<Store> { Ok(Store::open(&root)?) };
    match command {
        Command::Images(a) => images::run(&store()?, a),
        Command::Tag(a) => tag::run(&store()?, a),
        Command::Rmi(a) => rmi::run(&store()?, a),
        Command::Prune(a) => prune::run(&store()?, a),
        Command::Save(a) => save::run(&store()?, a),
        Command::Load(a) => load::run(&store()?, a),
        Command::Export(a) => export::run(&store()?, a),
        Command::Import(a) => import::run(&store()?, a),
    }
}

//! Command-line arguments: one thin file per verb. `rbuild [OPTIONS] CONTEXT` with no verb
//! is `rbuild build`.

mod build;
mod compression;
mod diff;
mod export;
mod history;
mod images;
mod import;
mod inspect;
mod layers;
mod load;
mod login;
mod logout;
mod prune;
mod pull;
mod push;
mod rmi;
mod save;
mod source;
mod tag;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rbuild_store::Store;

/// A daemonless image builder and layer store.
#[derive(Debug, Parser)]
#[command(name = "rbuild", version, about, subcommand_precedence_over_arg = true)]
pub struct Cli {
    /// Store root (default: /var/lib/rbuild as root, $XDG_DATA_HOME/rbuild otherwise).
    #[arg(long, global = true, env = "RBUILD_ROOT", value_name = "DIR")]
    root: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    build: build::Args,
}

/// The verbs.
#[derive(Debug, Subcommand)]
enum Command {
    /// Build an image from a Dockerfile
    Build(build::Args),
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
    /// Import images from an OCI layout or docker archive (dir or .tar), or a rootfs tarball as a one-layer image
    Import(import::Args),
    /// Download an image from a registry
    Pull(pull::Args),
    /// Upload an image to a registry
    Push(push::Args),
    /// Log in to a registry
    Login(login::Args),
    /// Log out from a registry
    Logout(logout::Args),
    /// Display detailed information on one or more images
    Inspect(inspect::Args),
    /// Show the history of an image
    History(history::Args),
    /// Show each layer's changes and wasted space (like dive)
    #[command(alias = "dive")]
    Layers(layers::Args),
    /// Show files added, removed and changed between two images
    Diff(diff::Args),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let root = cli.root.unwrap_or_else(Store::default_root);
    let Some(command) = cli.command else {
        if cli.build.context.is_none() {
            anyhow::bail!("\"rbuild\" requires a command or a build context; see 'rbuild --help'");
        }
        return build::run(&Store::open(&root)?, cli.build);
    };
    let store = || -> anyhow::Result<Store> { Ok(Store::open(&root)?) };
    match command {
        Command::Build(a) => build::run(&store()?, a),
        Command::Images(a) => images::run(&store()?, a),
        Command::Tag(a) => tag::run(&store()?, a),
        Command::Rmi(a) => rmi::run(&store()?, a),
        Command::Prune(a) => prune::run(&store()?, a),
        Command::Save(a) => save::run(&store()?, a),
        Command::Load(a) => load::run(&store()?, a),
        Command::Export(a) => export::run(&store()?, a),
        Command::Import(a) => import::run(&store()?, a),
        Command::Pull(a) => pull::run(&store()?, a),
        Command::Push(a) => push::run(&store()?, a),
        Command::Login(a) => login::run(a),
        Command::Logout(a) => logout::run(a),
        Command::Inspect(a) => inspect::run(&store()?, a),
        Command::History(a) => history::run(&store()?, a),
        Command::Layers(a) => layers::run(&store()?, a),
        Command::Diff(a) => diff::run(&store()?, a),
    }
}

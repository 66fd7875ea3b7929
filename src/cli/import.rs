//! `rbuild import PATH [NAME[:TAG]]`

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use rbuild_store::{archive, ImageName, Store};

/// Import images from an OCI layout or docker archive (dir or .tar), or a rootfs tarball as a one-layer image
#[derive(Debug, clap::Args)]
pub struct Args {
    /// An OCI layout directory or a tar of one (also accepts docker save archives)
    path: PathBuf,
    /// Name for the imported image (default: the layout's own ref name)
    name: Option<String>,
}

/// Imports and prints what was imported.
pub fn run(store: &Store, args: Args) -> anyhow::Result<ExitCode> {
    let name = args.name.as_deref().map(ImageName::parse).transpose()?;
    let imported = archive::import(store, &args.path, name.as_ref())?;
    let mut out = std::io::stdout().lock();
    for img in imported {
        let id = store.image(&img.manifest)?.id().to_string();
        match img.name {
            Some(n) => writeln!(out, "Imported {n} ({id})")?,
            None => writeln!(out, "Imported {id}")?,
        }
    }
    Ok(ExitCode::SUCCESS)
}

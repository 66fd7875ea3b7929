//! `rbuild save -o FILE IMAGE...`

use std::path::PathBuf;
use std::process::ExitCode;

use rbuild_store::{archive, ImageName, Store};

/// Save one or more images to a tar archive (docker save format)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write to a file (required: rbuild does not write archives to a terminal)
    #[arg(short, long, required = true)]
    output: PathBuf,
    /// Images to save
    #[arg(required = true)]
    images: Vec<String>,
}

/// Writes the images into one archive.
pub fn run(store: &Store, args: Args) -> anyhow::Result<ExitCode> {
    let mut images = Vec::new();
    for image in &args.images {
        let desc = store.resolve(image)?;
        images.push((ImageName::parse(image).ok(), desc));
    }
    archive::save(store, &images, &args.output)?;
    Ok(ExitCode::SUCCESS)
}

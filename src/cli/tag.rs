//! `rbuild tag SOURCE TARGET`

use std::process::ExitCode;

use rbuild_store::{ImageName, Store};

/// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
#[derive(Debug, clap::Args)]
pub struct Args {
    /// SOURCE_IMAGE[:TAG] or image id
    source: String,
    /// TARGET_IMAGE[:TAG]
    target: String,
}

/// Tags an image.
pub fn run(store: &Store, args: Args) -> anyhow::Result<ExitCode> {
    let target = ImageName::parse(&args.target)?;
    let manifest = store.resolve(&args.source)?;
    store.tag(&target, &manifest)?;
    Ok(ExitCode::SUCCESS)
}

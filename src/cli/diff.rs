//! `rbuild diff IMAGE_A IMAGE_B`

use std::process::ExitCode;

use rbuild_store::inspect::{diff, final_fs, image, Node};
use rbuild_store::Store;

/// Show files added, removed and changed between two images' filesystems
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The first image (name, id, OCI layout directory, or archive)
    image_a: String,
    /// The second image
    image_b: String,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

fn filesystem(store: &Store, reference: &str) -> anyhow::Result<Vec<Node>> {
    let src = super::source::open(store, reference)?;
    Ok(final_fs(&image::read_trees(&src.store, &src.image)?))
}

/// Compares the final filesystems.
pub fn run(store: &Store, a: Args) -> anyhow::Result<ExitCode> {
    let d = diff::diff(
        &filesystem(store, &a.image_a)?,
        &filesystem(store, &a.image_b)?,
    );
    let out = &mut std::io::stdout().lock();
    match a.json {
        true => crate::render::diff::json(out, &a.image_a, &a.image_b, &d)?,
        false => crate::render::diff::text(out, &a.image_a, &a.image_b, &d)?,
    }
    Ok(ExitCode::SUCCESS)
}

//! `rbuild rmi IMAGE...`

use std::io::Write;
use std::process::ExitCode;

use rbuild_store::{ImageName, Store};

/// Remove one or more images
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Images (name[:tag] or id)
    #[arg(required = true)]
    images: Vec<String>,
    /// Remove every tag of an image given by id
    #[arg(short, long)]
    force: bool,
}

/// Untags (and, when no tag is left, removes) each image; blobs are freed by `prune`.
pub fn run(store: &Store, args: Args) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    for image in &args.images {
        match remove(store, image, args.force, &mut out) {
            Ok(()) => {}
            Err(e) => {
                eprintln!("Error: {e:#}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn remove(store: &Store, image: &str, force: bool, out: &mut impl Write) -> anyhow::Result<()> {
    if let Ok(name) = ImageName::parse(image) {
        if let Some(manifest) = store.untag(&name)? {
            writeln!(out, "Untagged: {name}")?;
            if !store
                .entries()?
                .iter()
                .any(|e| e.manifest.digest() == manifest.digest())
            {
                writeln!(out, "Deleted: {}", manifest.digest())?;
            }
            return Ok(());
        }
    }
    let manifest = store.resolve(image)?;
    let tags = store
        .tags()?
        .into_iter()
        .filter(|(_, d)| d.digest() == manifest.digest());
    let tags: Vec<_> = tags.map(|(n, _)| n.to_string()).collect();
    if tags.len() > 1 && !force {
        anyhow::bail!("conflict: unable to delete {image} (must be forced) - image is referenced in multiple repositories");
    }
    store.remove_image(manifest.digest())?;
    for t in tags {
        writeln!(out, "Untagged: {t}")?;
    }
    writeln!(out, "Deleted: {}", manifest.digest())?;
    Ok(())
}

//! `rbuild inspect IMAGE...`

use std::process::ExitCode;

use rbuild_store::inspect::docker;
use rbuild_store::Store;

/// Display detailed information on one or more images
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Images: name[:tag], id, OCI layout directory, or OCI/docker-save tar
    #[arg(required = true)]
    images: Vec<String>,
    /// Format the output using a Go-template field path: '{{.Config.Env}}', '{{json .Config}}'
    #[arg(short, long)]
    format: Option<String>,
}

/// Prints docker's inspect array (or one formatted line per image).
pub fn run(store: &Store, a: Args) -> anyhow::Result<ExitCode> {
    let mut items = Vec::with_capacity(a.images.len());
    for reference in &a.images {
        let src = super::source::open(store, reference)?;
        items.push(docker::image_inspect(&src.image, &src.tags));
    }
    let out = &mut std::io::stdout().lock();
    crate::render::inspect::inspect(out, &items, a.format.as_deref())?;
    Ok(ExitCode::SUCCESS)
}

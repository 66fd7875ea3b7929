//! `rbuild export [--format oci|docker] IMAGE DEST`

use std::path::PathBuf;
use std::process::ExitCode;

use rbuild_store::archive::{self, ExportTarget};
use rbuild_store::{ImageName, Store};

/// Archive layout to write.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Layout {
    /// OCI image layout
    Oci,
    /// OCI layout plus docker's manifest.json (what `docker save` writes)
    Docker,
}

/// Export an image as an OCI layout (directory or .tar) or docker archive
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Layout to write
    #[arg(long, value_enum, default_value = "oci")]
    format: Layout,
    /// Image (name[:tag] or id)
    image: String,
    /// Destination: a directory, or a file ending in .tar
    dest: PathBuf,
}

/// Exports one image.
pub fn run(store: &Store, args: Args) -> anyhow::Result<ExitCode> {
    let desc = store.resolve(&args.image)?;
    let images = [(ImageName::parse(&args.image).ok(), desc)];
    let target = match args.format {
        Layout::Docker => ExportTarget::Tar(args.dest.clone()),
        Layout::Oci => ExportTarget::from_path(&args.dest),
    };
    archive::export_oci(
        store,
        &images,
        &target,
        matches!(args.format, Layout::Docker),
    )?;
    Ok(ExitCode::SUCCESS)
}

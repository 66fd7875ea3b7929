//! `rbuild export [--format oci|docker] [--compression gzip|zstd|none] IMAGE DEST`

use std::path::PathBuf;
use std::process::ExitCode;

use rbuild_store::archive::{self, ExportOptions, ExportTarget};
use rbuild_store::layer::Compression;

use super::compression::{self, CompressionArg};
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
    /// Compression for layers stored uncompressed (default: gzip for oci, none for docker,
    /// as `docker save` writes them)
    #[arg(long, value_enum)]
    compression: Option<CompressionArg>,
    /// Compression level: gzip 0-9 (default 3), zstd 1-22 (default 1)
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    compression_level: Option<i32>,
}

/// Exports one image.
pub fn run(store: &Store, args: Args) -> anyhow::Result<ExitCode> {
    let desc = store.resolve(&args.image)?;
    let images = [(ImageName::parse(&args.image).ok(), desc)];
    let target = match args.format {
        Layout::Docker => ExportTarget::Tar(args.dest.clone()),
        Layout::Oci => ExportTarget::from_path(&args.dest),
    };
    let docker = matches!(args.format, Layout::Docker);
    let default = match docker {
        true => CompressionArg::None,
        false => CompressionArg::Gzip,
    };
    let compression = Compression::from(args.compression.unwrap_or(default));
    compression::check(compression, args.compression_level)?;
    let opts = ExportOptions {
        docker,
        compression,
        level: args.compression_level,
    };
    archive::export_oci(store, &images, &target, &opts)?;
    Ok(ExitCode::SUCCESS)
}

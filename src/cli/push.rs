//! `rbuild push [--compression gzip|zstd|none] [--compression-level N] [--digestfile F] IMAGE [REF]`

use std::path::PathBuf;
use std::process::ExitCode;

use rbuild_registry_client::progress::Direction;
use rbuild_registry_client::{push_blocking, Compression, PushOptions, Reference};
use rbuild_store::Store;

use super::compression::{self, CompressionArg};
use super::pull::RegistryArgs;

/// Upload an image to a registry
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The local image (name[:tag], id or digest)
    image: String,
    /// Where to push it (default: IMAGE itself, e.g. 127.0.0.1:5000/app:1)
    reference: Option<String>,
    /// Compression for uncompressed layers
    #[arg(long, value_enum, default_value = "gzip")]
    compression: CompressionArg,
    /// Compression level: gzip 0-9 (default 3), zstd 1-22 (default 1). A layer compressed
    /// by an earlier push is reused whatever its level
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    compression_level: Option<i32>,
    /// Write the pushed manifest digest to this file
    #[arg(long, value_name = "FILE")]
    digestfile: Option<PathBuf>,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// Pushes and prints the manifest digest.
pub fn run(store: &Store, args: Args) -> anyhow::Result<ExitCode> {
    let reference = Reference::parse(args.reference.as_deref().unwrap_or(&args.image))?;
    let compression = Compression::from(args.compression);
    compression::check(compression, args.compression_level)?;
    let opts = PushOptions {
        client: args.registry.options(),
        compression,
        compression_level: args.compression_level,
        progress: args.registry.progress(Direction::Push),
        ..Default::default()
    };
    let digest = push_blocking(store, &args.image, &reference, &opts)?;
    if let Some(file) = &args.digestfile {
        std::fs::write(file, digest.to_string())?;
    }
    println!("{reference}: digest: {digest}");
    Ok(ExitCode::SUCCESS)
}

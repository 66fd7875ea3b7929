//! `rbuild push [--compression gzip|zstd|none] [--digestfile F] IMAGE [REF]`

use std::path::PathBuf;
use std::process::ExitCode;

use rbuild_registry_client::{push_blocking, Compression, PushOptions, Reference};
use rbuild_store::Store;

use super::pull::RegistryArgs;

/// How to compress layers stored uncompressed.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum CompressionArg {
    Gzip,
    Zstd,
    None,
}

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
    /// Write the pushed manifest digest to this file
    #[arg(long, value_name = "FILE")]
    digestfile: Option<PathBuf>,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// Pushes and prints the manifest digest.
pub fn run(store: &Store, args: Args) -> anyhow::Result<ExitCode> {
    let reference = Reference::parse(args.reference.as_deref().unwrap_or(&args.image))?;
    let compression = match args.compression {
        CompressionArg::Gzip => Compression::Gzip,
        CompressionArg::Zstd => Compression::Zstd,
        CompressionArg::None => Compression::None,
    };
    let opts = PushOptions {
        client: args.registry.options(),
        compression,
        progress: args.registry.progress(),
        ..Default::default()
    };
    let digest = push_blocking(store, &args.image, &reference, &opts)?;
    if let Some(file) = &args.digestfile {
        std::fs::write(file, digest.to_string())?;
    }
    println!("{reference}: digest: {digest}");
    Ok(ExitCode::SUCCESS)
}

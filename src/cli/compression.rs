//! `--compression` and `--compression-level`, shared by `push` and `export`.

use rbuild_store::layer::{check_level, Compression};

/// How to compress layers stored uncompressed.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CompressionArg {
    /// gzip (default level 3)
    Gzip,
    /// zstd (default level 1)
    Zstd,
    /// no compression
    None,
}

impl From<CompressionArg> for Compression {
    fn from(arg: CompressionArg) -> Compression {
        match arg {
            CompressionArg::Gzip => Compression::Gzip,
            CompressionArg::Zstd => Compression::Zstd,
            CompressionArg::None => Compression::None,
        }
    }
}

/// Refuses a level the compression does not take.
pub fn check(compression: Compression, level: Option<i32>) -> anyhow::Result<()> {
    match level {
        Some(level) => check_level(compression, level).map_err(anyhow::Error::msg),
        None => Ok(()),
    }
}

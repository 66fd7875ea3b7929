//! Layers: directory trees ↔ tar streams ↔ compressed blobs.
//!
//! * [`write_tree`] turns a directory (a rootfs, or an overlay upper dir with its
//!   whiteouts) into a deterministic tar stream;
//! * [`LayerWriter`] compresses that stream into a sink (typically a blob ingest
//!   writer) and computes `diff_id`, `digest` and size in the same pass;
//!   [`write_layer`] does both at once;
//! * [`extract`] applies a (possibly compressed) layer onto a directory, refusing
//!   anything that would land outside it;
//! * [`whiteout`] is the only module that knows how deletions are spelled.

mod compress;
mod extract;
mod extract_fs;
mod offload;
mod pgzip;
mod read;
mod tarfmt;
pub mod whiteout;
mod write;
mod xattr;

#[cfg(test)]
mod tests_golden;
#[cfg(test)]
mod tests_hostile;
#[cfg(test)]
mod tests_overlay;

use std::io::Write;
use std::path::Path;

use oci_spec::image::{Descriptor, Digest};
use thiserror::Error;

pub use compress::{
    check_level, decompress, BlobEncoder, CompressError, Compression, Decompressor, LayerDigests,
    LayerWriter, DOCKER_LAYER_GZIP, DOCKER_LAYER_TAR, GZIP_LEVEL, ZSTD_LEVEL,
};
pub use extract::{extract, ExtractError, ExtractMode, ExtractOptions, ExtractStats};
pub use read::{ReadError, MAX_EXTENSION};
pub use write::{write_tree, TreeMode, TreeOptions, TreeStats, WriteError};
pub use xattr::XattrError;

/// A layer as images reference it: the blob (compressed or not) and the digest of
/// its uncompressed tar. Both are always known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// The blob: media type, size and digest of the bytes in the store.
    pub blob: Descriptor,
    /// sha256 of the uncompressed tar (`rootfs.diff_ids` in the image config).
    pub diff_id: Digest,
}

/// Writing a tree as a compressed layer failed.
#[derive(Debug, Error)]
pub enum LayerError {
    /// Walking the tree or writing the tar stream failed.
    #[error(transparent)]
    Tree(#[from] WriteError),
    /// Starting or finishing compression failed.
    #[error(transparent)]
    Compress(#[from] CompressError),
    /// The sink (typically a blob ingest) refused the layer's bytes.
    #[error("writing the layer blob: {source}")]
    Sink {
        /// The sink's error.
        source: std::io::Error,
    },
}

/// Writes the tree under `root` as a layer compressed with `compression` into
/// `sink`, in one pass; returns the sink, the digests and the tree statistics.
///
/// The sink runs on a helper thread (see [`offload`]): the tar stream is read and hashed
/// here while the sink hashes and stores the previous chunk, so packing costs about one
/// SHA-256 pass, not two.
pub fn write_layer<W: Write + Send>(
    root: &Path,
    opts: &TreeOptions,
    compression: Compression,
    sink: W,
) -> Result<(W, LayerDigests, TreeStats), LayerError> {
    let (packed, sink) = offload::offload(sink, |w| pack(root, opts, compression, w));
    match (packed, sink) {
        (Ok((digests, stats)), Ok(sink)) => Ok((sink, digests, stats)),
        (_, Err(source)) => Err(LayerError::Sink { source }),
        (Err(e), Ok(_)) => Err(e),
    }
}

/// Writes the tree under `root` as an **uncompressed** layer into `sink`, a writer that
/// hashes what it stores (a blob ingest). The tar is not hashed here: for an uncompressed
/// layer the diff id is the blob digest, which the caller takes from the sink's commit. The
/// sink runs on a helper thread, so packing costs one SHA-256 pass on the other core.
pub fn write_uncompressed<W: Write + Send>(
    root: &Path,
    opts: &TreeOptions,
    sink: W,
) -> Result<(W, TreeStats), LayerError> {
    let (written, sink) = offload::offload(sink, |w| write_tree(root, opts, w));
    match (written, sink) {
        (Ok(stats), Ok(sink)) => Ok((sink, stats)),
        (_, Err(source)) => Err(LayerError::Sink { source }),
        (Err(e), Ok(_)) => Err(e.into()),
    }
}

fn pack<W: Write>(
    root: &Path,
    opts: &TreeOptions,
    compression: Compression,
    sink: W,
) -> Result<(LayerDigests, TreeStats), LayerError> {
    let mut writer = LayerWriter::new(sink, compression)?;
    let stats = write_tree(root, opts, &mut writer)?;
    let (_, digests) = writer.finish()?;
    Ok((digests, stats))
}

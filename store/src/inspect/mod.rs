//! Layer inspection: what each layer adds, changes, removes and wastes (dive-style),
//! `docker image inspect` / `docker history` data, and filesystem diffs between images.
//!
//! Data in, data out; nothing here formats text for people (that is the binary's
//! `render`). The flow:
//!
//! ```text
//! source::open(store, "demo" | OCI dir | docker tar) → Source { store, image }
//! image::read_trees(store, image)   each layer blob streamed once: decompress → tar headers → LayerTree
//! analyze(&trees) → Analysis        per-layer changes (A/M/U/D) + dive's efficiency
//! view_at(&trees, n)                the filesystem at layer n, marked (dive's tree pane)
//! diff::diff(final_fs(a), final_fs(b))
//! ci::evaluate(&efficiency, &rules) dive's CI rules
//! ```

mod analyze;
pub mod ci;
pub mod diff;
pub mod docker;
pub mod efficiency;
pub mod history;
pub mod image;
pub mod source;
mod stack;
mod tree;

use std::path::PathBuf;

use oci_spec::image::Digest;

pub use analyze::{analyze, final_fs, view_at, Analysis, LayerChanges, ViewEntry};
pub use efficiency::{Efficiency, Inefficiency};
pub use stack::{Change, Mark, Node, Stack};
pub use tree::{normalize, Entry, Kind, LayerTree};

use crate::archive::ArchiveError;
use crate::StoreError;

/// Why inspecting an image failed; each variant names its subject.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// Reading the image from the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Importing an OCI layout or docker archive failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// A layer's tar stream is unreadable (corrupt compression, truncated, malformed).
    #[error("layer {layer}: {source}")]
    Tar {
        /// The layer (digest or index).
        layer: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A manifest entry is not a layer media type we can read.
    #[error("layer {digest}: unsupported media type {media_type}")]
    NotALayer {
        /// The layer blob.
        digest: Digest,
        /// Its media type.
        media_type: String,
    },
    /// The scratch store for an archive could not be made.
    #[error("create scratch store {path}: {source}")]
    Scratch {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// An archive held no image.
    #[error("{path}: no image found")]
    EmptyArchive {
        /// The archive or layout.
        path: PathBuf,
    },
    /// `--layer N` is out of range.
    #[error("layer {index} does not exist: the image has {count} layers")]
    NoSuchLayer {
        /// The index asked for.
        index: usize,
        /// How many layers there are.
        count: usize,
    },
}

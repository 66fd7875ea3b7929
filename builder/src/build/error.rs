//! Build errors: each names the step (file:line) or the thing that failed.

use std::path::PathBuf;

use rbuild_store::StoreError;

use crate::context::ContextError;
use crate::copy::CopyError;
use crate::dockerfile::expand::ExpandError;
use crate::dockerfile::DockerfileError;
use crate::plan::PlanError;
use crate::snapshot::SnapshotError;

use super::cache::CacheError;

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Reading the context or Dockerfile failed.
    #[error(transparent)]
    Context(#[from] ContextError),
    /// The Dockerfile does not parse.
    #[error(transparent)]
    Dockerfile(#[from] DockerfileError),
    /// The stages do not form a valid plan.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// Variable expansion failed.
    #[error(transparent)]
    Expand(#[from] ExpandError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The snapshotter failed.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// The build cache failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// A base image could not be found or fetched.
    #[error("{location}: base image {reference}: {message}")]
    Base {
        /// `Dockerfile:1`.
        location: String,
        /// The image reference.
        reference: String,
        /// What went wrong.
        message: String,
    },
    /// A step failed.
    #[error("{location}: {step}: {message}")]
    Step {
        /// `Dockerfile:7`.
        location: String,
        /// The instruction, e.g. `RUN make`.
        step: String,
        /// What went wrong, with the output tail for RUN.
        message: String,
    },
    /// COPY/ADD failed.
    #[error("{location}: {step}: {source}")]
    Copy {
        /// `Dockerfile:7`.
        location: String,
        /// The instruction.
        step: String,
        /// The copy error.
        #[source]
        source: CopyError,
    },
    /// Writing a layer failed.
    #[error("writing layer from {path}: {message}")]
    Layer {
        /// The directory being written.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A file operation of the builder failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The build was interrupted (Ctrl-C).
    #[error("build interrupted")]
    Interrupted,
}

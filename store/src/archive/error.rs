//! Errors of import and export.

use std::path::PathBuf;

use crate::StoreError;

/// Why an import or export failed; each names the file or entry concerned.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// A store operation failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A blob operation failed.
    #[error(transparent)]
    Blob(#[from] crate::blob::BlobError),
    /// Compressing a layer for the export failed.
    #[error(transparent)]
    Compress(#[from] crate::compressed::CompressLayerError),
    /// Reading or writing the archive failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or archive entry.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file in the archive is malformed.
    #[error("{path}: malformed JSON: {source}")]
    Json {
        /// The file or archive entry.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The archive is neither an OCI layout nor a docker save archive.
    #[error("{path}: not an OCI layout or docker archive (no index.json or manifest.json)")]
    NotAnArchive {
        /// The archive.
        path: PathBuf,
    },
    /// An entry of the archive has a path that is not allowed.
    #[error("{path}: archive entry {entry:?} is not allowed ({why})")]
    BadEntry {
        /// The archive.
        path: PathBuf,
        /// The entry name.
        entry: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The archive references a blob it does not contain.
    #[error("{path}: references {what} that the archive does not contain")]
    Missing {
        /// The archive.
        path: PathBuf,
        /// What is missing.
        what: String,
    },
    /// No image in the archive can be named.
    #[error("{path}: the image has no name; give one: rbuild import PATH NAME[:TAG]")]
    NoName {
        /// The archive.
        path: PathBuf,
    },
}

/// Maps an `io::Error` to [`ArchiveError::Io`] for `path`.
pub(crate) fn io_err<P: Into<PathBuf>>(
    op: &'static str,
    path: P,
) -> impl FnOnce(std::io::Error) -> ArchiveError {
    let path = path.into();
    move |source| ArchiveError::Io { op, path, source }
}

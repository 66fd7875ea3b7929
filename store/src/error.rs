//! The store's error type: each variant names its subject.

use std::path::PathBuf;

use oci_spec::image::Digest;

use crate::blob::BlobError;
use crate::digest::DigestError;
use crate::name::NameError;

/// Errors of [`crate::Store`] operations.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A blob operation failed.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// A digest string was malformed.
    #[error(transparent)]
    Digest(#[from] DigestError),
    /// An image name was malformed.
    #[error(transparent)]
    Name(#[from] NameError),
    /// A filesystem operation on the store failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON document in the store could not be read or written.
    #[error("{what} {subject}: {source}")]
    Json {
        /// What kind of document (manifest, config, index.json…).
        what: &'static str,
        /// The digest or path of the document.
        subject: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// No image matches a name or id.
    #[error("No such image: {reference}")]
    ImageNotFound {
        /// What was asked for.
        reference: String,
    },
    /// An id prefix matches several images.
    #[error("image id prefix {prefix} is ambiguous: it matches {count} images")]
    Ambiguous {
        /// The prefix.
        prefix: String,
        /// How many images it matched.
        count: usize,
    },
    /// A manifest has a media type the store cannot use as an image.
    #[error("{digest}: unsupported manifest media type {media_type}")]
    UnsupportedManifest {
        /// The manifest's digest.
        digest: Digest,
        /// Its media type.
        media_type: String,
    },
    /// A lock on the store could not be taken.
    #[error("lock {path}: {source}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Maps an `io::Error` to [`StoreError::Io`] for `path`.
pub(crate) fn io_err<'a>(
    op: &'static str,
    path: &'a std::path::Path,
) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

//! Import and export of whole images: OCI image layouts (a directory or a tar of one, as
//! `skopeo copy … oci:DIR` and `umoci` write them) and `docker save` archives.
//!
//! Exports copy blobs byte for byte, so an image keeps its digests through a round trip.
//! Imports stream every blob through the store's verified ingest; nothing is buffered whole.

mod docker;
mod error;
mod import;
mod layout;
mod rootfs;
mod source;

pub use docker::{load, save};
pub use error::ArchiveError;
pub use import::{import, Imported};
pub use layout::{export_oci, ExportOptions, ExportTarget};

/// The annotation containerd uses for an image's full name inside an OCI layout.
pub const CONTAINERD_NAME: &str = "io.containerd.image.name";

//! rbuild-store: a content-addressed OCI image store.
//!
//! The store knows nothing of Dockerfiles, mounts or networks. It holds blobs
//! ([`blob`]), tags in `index.json` ([`Store::tag`]), layers ([`layer`]: deterministic tar
//! writing, compression, safe extraction), garbage collection ([`Store::gc`]), and
//! import/export of OCI layouts and `docker save` archives ([`archive`]).

pub mod archive;
pub mod blob;
pub mod compressed;
pub mod digest;
mod durable;
mod error;
mod gc;
pub mod image;
mod index;
pub mod inspect;
pub mod layer;
mod lock;
pub mod name;
pub mod regen;
mod store;
pub mod summary;

pub use error::StoreError;
pub use gc::GcReport;
pub use image::Image;
pub use index::{IndexEntry, REF_NAME};
pub use lock::LockGuard;
pub use name::ImageName;
pub use oci_spec::image::{
    Descriptor, Digest, ImageConfiguration, ImageIndex, ImageManifest, MediaType,
};
pub use store::Store;

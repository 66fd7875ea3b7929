//! `rbuild save` / `rbuild load`: the `docker save` archive format.
//!
//! A save archive is written the way docker 25+ writes it: an OCI layout (`oci-layout`,
//! `index.json`, `blobs/sha256/…`) plus `manifest.json` (`Config`, `RepoTags`, `Layers`
//! pointing at the blobs) and `repositories`. Loading accepts that and the older layout
//! (`<id>.json` configs, `<id>/layer.tar`).

use std::path::Path;

use oci_spec::image::Descriptor;

use super::error::ArchiveError;
use super::import::{import_archive, Imported};
use super::layout::{export_oci, ExportOptions, ExportTarget};
use crate::{ImageName, Store};

/// Writes `images` into a `docker save` tar at `out`.
pub fn save(
    store: &Store,
    images: &[(Option<ImageName>, Descriptor)],
    out: &Path,
) -> Result<(), ArchiveError> {
    let opts = ExportOptions {
        docker: true,
        ..ExportOptions::default()
    };
    export_oci(store, images, &ExportTarget::Tar(out.to_path_buf()), &opts)
}

/// Loads every image of a `docker save` tar, tagging each with its `RepoTags`.
pub fn load(store: &Store, archive: &Path) -> Result<Vec<Imported>, ArchiveError> {
    import_archive(store, archive, None)
}

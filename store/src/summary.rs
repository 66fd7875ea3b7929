//! What `rbuild images` lists: one row per tag, plus untagged images.

use chrono::{DateTime, Utc};
use oci_spec::image::Digest;

use crate::{ImageName, Store, StoreError};

/// One row of the image list.
#[derive(Debug, Clone)]
pub struct ImageSummary {
    /// The tag, `None` for an untagged image.
    pub name: Option<ImageName>,
    /// The image id (config digest).
    pub id: Digest,
    /// The manifest digest.
    pub manifest: Digest,
    /// The config's `created` time, when it has one.
    pub created: Option<DateTime<Utc>>,
    /// The sum of the config and layer blob sizes.
    pub size: u64,
}

/// Every image in the store, newest first (as `docker images` orders them).
pub fn summaries(store: &Store) -> Result<Vec<ImageSummary>, StoreError> {
    let mut out = Vec::new();
    for entry in store.entries()? {
        let image = store.image(&entry.manifest)?;
        let created = image
            .config
            .created()
            .as_ref()
            .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
            .map(|c| c.with_timezone(&Utc));
        out.push(ImageSummary {
            name: entry.name,
            id: image.id().clone(),
            manifest: entry.manifest.digest().clone(),
            created,
            size: image.layers_size() + image.manifest.config().size(),
        });
    }
    out.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.name.cmp(&b.name)));
    Ok(out)
}

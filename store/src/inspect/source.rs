//! Where an inspected image comes from: the store, or an OCI layout / `docker save`
//! archive on disk, imported into a scratch store that is deleted afterwards.

use std::path::{Path, PathBuf};

use super::InspectError;
use crate::{archive, Image, ImageName, Store};

/// An opened image, and the store its blobs are read from.
#[derive(Debug)]
pub struct Source {
    /// The store holding the image's blobs.
    pub store: Store,
    /// The image.
    pub image: Image,
    /// The tags pointing at it (empty for an archive without names).
    pub tags: Vec<ImageName>,
    /// What the user named it.
    pub reference: String,
    _scratch: Option<Scratch>,
}

/// A directory removed on drop.
#[derive(Debug)]
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        // Best effort: a leftover scratch dir in $TMPDIR is harmless.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Opens `reference`: an image of `store` (name, `name:tag`, id prefix, digest) when
/// one matches; otherwise an existing path (directory = OCI layout, file = OCI layout
/// tar or docker archive), imported into a scratch store under `$TMPDIR`.
pub fn open(store: &Store, reference: &str) -> Result<Source, InspectError> {
    let path = Path::new(reference);
    let desc = match store.resolve(reference) {
        Err(_) if path.exists() => return open_archive(path, reference),
        found => found?,
    };
    let image = store.image(&desc)?;
    let tags = tags_of(store, &image)?;
    Ok(Source {
        store: store.clone(),
        image,
        tags,
        reference: reference.to_string(),
        _scratch: None,
    })
}

fn open_archive(path: &Path, reference: &str) -> Result<Source, InspectError> {
    let dir = std::env::temp_dir().join(format!(
        "rbuild-inspect-{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&dir).map_err(|source| InspectError::Scratch {
        path: dir.clone(),
        source,
    })?;
    let scratch = Scratch(dir);
    let store = Store::open(&scratch.0)?;
    let imported = archive::import(&store, path, None)?;
    let first = imported
        .into_iter()
        .next()
        .ok_or_else(|| InspectError::EmptyArchive {
            path: path.to_path_buf(),
        })?;
    let image = store.image(&first.manifest)?;
    Ok(Source {
        store,
        image,
        tags: first.name.into_iter().collect(),
        reference: reference.to_string(),
        _scratch: Some(scratch),
    })
}

/// Every tag of the store that points at `image`'s manifest.
fn tags_of(store: &Store, image: &Image) -> Result<Vec<ImageName>, InspectError> {
    let digest = image.manifest_desc.digest();
    let tags = store.tags()?.into_iter();
    Ok(tags
        .filter(|(_, d)| d.digest() == digest)
        .map(|(n, _)| n)
        .collect())
}

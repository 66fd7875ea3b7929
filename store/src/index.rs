//! `index.json`: the list of images in the store, tags as `org.opencontainers.image.ref.name`.
//!
//! Each tag is its own manifest entry carrying the annotation (as OCI layouts written by
//! skopeo and umoci do). An image without a tag (a dangling build result) is an entry without
//! the annotation, so it stays listed and reachable until pruned.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use oci_spec::image::{Descriptor, ImageIndex};

use crate::durable;
use crate::error::{io_err, StoreError};
use crate::lock;
use crate::name::ImageName;

/// The OCI annotation that names a tag.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// One entry of `index.json`: an image and the tag it carries, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    /// The tag, `None` for an untagged image.
    pub name: Option<ImageName>,
    /// The image's manifest.
    pub manifest: Descriptor,
}

/// Reads `index.json` from a layout root.
pub(crate) fn load(root: &Path) -> Result<ImageIndex, StoreError> {
    let path = root.join("index.json");
    let bytes = fs::read(&path).map_err(io_err("read", &path))?;
    serde_json::from_slice(&bytes).map_err(|source| StoreError::Json {
        what: "index",
        subject: path.display().to_string(),
        source,
    })
}

/// Writes `index.json` atomically: temp file, fsync, rename, fsync dir.
pub(crate) fn save(root: &Path, index: &ImageIndex) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(index).map_err(|source| StoreError::Json {
        what: "index",
        subject: root.join("index.json").display().to_string(),
        source,
    })?;
    durable::replace(root, "index.json", &bytes, |op, path, e| {
        io_err(op, path)(e)
    })
}

/// Runs `f` on the index under the index lock and saves the result.
pub(crate) fn update<T>(
    root: &Path,
    f: impl FnOnce(&mut Vec<Descriptor>) -> T,
) -> Result<T, StoreError> {
    let _guard = lock::acquire(&root.join("index.lock"), true)?;
    let mut index = load(root)?;
    let mut list = index.manifests().clone();
    let out = f(&mut list);
    index.set_manifests(list);
    save(root, &index)?;
    Ok(out)
}

/// The tag an index entry carries, when it parses as an image name.
pub(crate) fn entry_name(desc: &Descriptor) -> Option<ImageName> {
    let ann = desc.annotations().as_ref()?;
    ImageName::parse(ann.get(REF_NAME)?).ok()
}

/// Lists the entries of an index.
pub(crate) fn entries(index: &ImageIndex) -> Vec<IndexEntry> {
    index
        .manifests()
        .iter()
        .map(|d| IndexEntry {
            name: entry_name(d),
            manifest: strip_ref(d),
        })
        .collect()
}

/// A descriptor without the tag annotation (other annotations kept).
pub(crate) fn strip_ref(d: &Descriptor) -> Descriptor {
    let mut out = d.clone();
    if let Some(ann) = d.annotations() {
        let rest: HashMap<String, String> = ann
            .iter()
            .filter(|(k, _)| k.as_str() != REF_NAME)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.set_annotations((!rest.is_empty()).then_some(rest));
    }
    out
}

/// A copy of `d` carrying `name` as its tag.
pub(crate) fn with_ref(d: &Descriptor, name: &str) -> Descriptor {
    let mut out = strip_ref(d);
    let mut ann = out.annotations().clone().unwrap_or_default();
    ann.insert(REF_NAME.to_string(), name.to_string());
    out.set_annotations(Some(ann));
    out
}

/// Sets `name` on `manifest`, moving the tag if another image had it.
pub(crate) fn set_tag(list: &mut Vec<Descriptor>, name: &ImageName, manifest: &Descriptor) {
    list.retain(|d| entry_name(d).as_ref() != Some(name));
    list.retain(|d| !(d.digest() == manifest.digest() && entry_name(d).is_none()));
    list.push(with_ref(manifest, &name.to_string()));
}

/// Removes tag `name`; returns the image it pointed at.
pub(crate) fn remove_tag(list: &mut Vec<Descriptor>, name: &ImageName) -> Option<Descriptor> {
    let pos = list
        .iter()
        .position(|d| entry_name(d).as_ref() == Some(name))?;
    Some(strip_ref(&list.remove(pos)))
}

/// Adds an untagged entry for `manifest` unless the image is already listed.
pub(crate) fn add_untagged(list: &mut Vec<Descriptor>, manifest: &Descriptor) {
    if !list.iter().any(|d| d.digest() == manifest.digest()) {
        list.push(strip_ref(manifest));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::sha256_of;
    use oci_spec::image::MediaType;

    fn desc(b: &[u8]) -> Descriptor {
        Descriptor::new(MediaType::ImageManifest, b.len() as u64, sha256_of(b))
    }

    #[test]
    fn tags_move_and_untagged_entries_stay_unique() {
        let (a, b) = (desc(b"a"), desc(b"b"));
        let name = ImageName::parse("demo").unwrap();
        let mut list = Vec::new();
        add_untagged(&mut list, &a);
        add_untagged(&mut list, &a);
        assert_eq!(list.len(), 1);
        set_tag(&mut list, &name, &a);
        assert_eq!(list.len(), 1, "the tag replaces the untagged entry");
        assert_eq!(entry_name(&list[0]), Some(name.clone()));
        set_tag(&mut list, &name, &b);
        assert_eq!(list.len(), 1, "the tag moved to b");
        assert_eq!(list[0].digest(), b.digest());
        assert_eq!(remove_tag(&mut list, &name).unwrap(), b);
        assert!(list.is_empty());
        assert!(remove_tag(&mut list, &name).is_none());
    }

    #[test]
    fn ref_annotation_round_trips() {
        let d = with_ref(&desc(b"x"), "demo:0.0.1");
        assert_eq!(entry_name(&d).unwrap().to_string(), "demo:0.0.1");
        assert!(strip_ref(&d).annotations().is_none());
    }
}

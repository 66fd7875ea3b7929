//! `rbuild import` / `rbuild load`: bring the images of an OCI layout or docker archive in.

use std::path::Path;

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest, MediaType};
use serde::Deserialize;

use super::error::ArchiveError;
use super::rootfs::{self, TarKind};
use super::source::{self, Collected};
use super::CONTAINERD_NAME;
use crate::image::{is_index, is_manifest};
use crate::index::REF_NAME;
use crate::{ImageName, Store};

/// One image brought in.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The tag it got, if any.
    pub name: Option<ImageName>,
    /// Its manifest.
    pub manifest: Descriptor,
}

/// One entry of a docker save `manifest.json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// Imports every image of the layout dir or archive at `path`. With `name`, the (single
/// or first) image is tagged `name`; otherwise each image keeps the name its archive gives
/// it (`RepoTags`, `io.containerd.image.name`, or `ref.name`; a bare tag is combined with the
/// layout directory's name).
///
/// A tar that is neither (no `index.json` or `manifest.json` inside) is a root filesystem
/// and becomes a one-layer image, as `docker import` does.
pub fn import(
    store: &Store,
    path: &Path,
    name: Option<&ImageName>,
) -> Result<Vec<Imported>, ArchiveError> {
    if !path.is_dir() && rootfs::classify(path)? == TarKind::Rootfs {
        let _lock = store.lock_shared()?;
        return import_rootfs_tar(store, path, name);
    }
    import_archive(store, path, name)
}

/// Imports an OCI layout or docker archive, reading a tar in a single pass (so `path` may
/// be a pipe).
pub(crate) fn import_archive(
    store: &Store,
    path: &Path,
    name: Option<&ImageName>,
) -> Result<Vec<Imported>, ArchiveError> {
    let _lock = store.lock_shared()?;
    let collected = if path.is_dir() {
        source::from_dir(path)?
    } else {
        source::from_tar(store, path)?
    };
    let mut images = if collected.files.contains_key("index.json") {
        import_layout(store, &collected)?
    } else if collected.files.contains_key("manifest.json") {
        import_docker(store, &collected)?
    } else {
        return Err(ArchiveError::NotAnArchive {
            path: path.to_path_buf(),
        });
    };
    if let Some(name) = name {
        images.truncate(1);
        if let Some(first) = images.first_mut() {
            first.name = Some(name.clone());
        }
    }
    for img in &images {
        match &img.name {
            Some(n) => store.tag(n, &img.manifest)?,
            None => store.add_untagged(&img.manifest)?,
        }
    }
    Ok(images)
}

/// A filesystem tarball: one new image, tagged `name` when given.
fn import_rootfs_tar(
    store: &Store,
    path: &Path,
    name: Option<&ImageName>,
) -> Result<Vec<Imported>, ArchiveError> {
    let manifest = rootfs::import_rootfs(store, path)?;
    match name {
        Some(n) => store.tag(n, &manifest)?,
        None => store.add_untagged(&manifest)?,
    }
    Ok(vec![Imported {
        name: name.cloned(),
        manifest,
    }])
}

fn import_layout(store: &Store, c: &Collected) -> Result<Vec<Imported>, ArchiveError> {
    let index: ImageIndex = c
        .json("index.json")?
        .ok_or_else(|| missing(c, "index.json"))?;
    let docker_tags = docker_tags(c)?;
    let mut out = Vec::new();
    for (i, entry) in index.manifests().iter().enumerate() {
        let manifest = copy_tree(store, c, entry)?;
        let name = entry_name(c, entry).or_else(|| docker_tags.get(i).cloned().flatten());
        out.push(Imported { name, manifest });
    }
    Ok(out)
}

/// RepoTags of a docker 25+ save archive, which carries both index.json and manifest.json.
fn docker_tags(c: &Collected) -> Result<Vec<Option<ImageName>>, ArchiveError> {
    let entries: Vec<DockerEntry> = c.json("manifest.json")?.unwrap_or_default();
    Ok(entries.iter().map(first_tag).collect())
}

fn first_tag(e: &DockerEntry) -> Option<ImageName> {
    let tags = e.repo_tags.as_ref()?;
    tags.iter().find_map(|t| ImageName::parse(t).ok())
}

/// The name an index entry gives its image.
fn entry_name(c: &Collected, entry: &Descriptor) -> Option<ImageName> {
    let ann = entry.annotations().as_ref()?;
    if let Some(full) = ann
        .get(CONTAINERD_NAME)
        .and_then(|n| ImageName::parse(n).ok())
    {
        return Some(full);
    }
    let r = ann.get(REF_NAME)?;
    if r.contains(':') || r.contains('/') {
        return ImageName::parse(r).ok();
    }
    let base = c.path.file_stem()?.to_string_lossy().to_lowercase();
    ImageName::parse(&format!("{base}:{r}")).ok()
}

/// Copies a manifest or index and everything below it; returns the image manifest to tag
/// (for an index: the host platform's manifest).
fn copy_tree(store: &Store, c: &Collected, desc: &Descriptor) -> Result<Descriptor, ArchiveError> {
    c.ensure_blob(store, desc.digest(), desc.size())?;
    if is_index(desc.media_type()) {
        let index: ImageIndex = store.read_json(desc.digest())?;
        let child = pick_platform(index.manifests())
            .ok_or_else(|| missing(c, "a manifest for this platform"))?;
        return copy_tree(store, c, child);
    }
    if is_manifest(desc.media_type()) {
        let m: ImageManifest = store.read_json(desc.digest())?;
        c.ensure_blob(store, m.config().digest(), m.config().size())?;
        for l in m.layers() {
            c.ensure_blob(store, l.digest(), l.size())?;
        }
    }
    Ok(crate::index::strip_ref(desc))
}

/// The manifest for the host's architecture, else the first one.
fn pick_platform(list: &[Descriptor]) -> Option<&Descriptor> {
    let arch = host_arch();
    let matches = |d: &&Descriptor| {
        d.platform()
            .as_ref()
            .is_some_and(|p| p.architecture().to_string() == arch && p.os().to_string() == "linux")
    };
    list.iter().find(matches).or_else(|| list.first())
}

/// The OCI architecture name of this machine.
pub(crate) fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

fn import_docker(store: &Store, c: &Collected) -> Result<Vec<Imported>, ArchiveError> {
    let entries: Vec<DockerEntry> = c.json("manifest.json")?.unwrap_or_default();
    entries
        .iter()
        .map(|e| import_docker_entry(store, c, e))
        .collect()
}

fn import_docker_entry(
    store: &Store,
    c: &Collected,
    e: &DockerEntry,
) -> Result<Imported, ArchiveError> {
    let config = match c.files.get(&e.config) {
        Some(bytes) => store.put_bytes(MediaType::ImageConfig, bytes)?,
        None => return Err(missing(c, &e.config)),
    };
    let mut layers = Vec::new();
    for l in &e.layers {
        let (digest, size) = c.by_path.get(l).cloned().ok_or_else(|| missing(c, l))?;
        let mut head = [0u8; 4];
        let n = std::io::Read::read(
            &mut crate::blob::BlobRead::open(store.blobs(), &digest)?,
            &mut head,
        )
        .unwrap_or(0);
        let media = crate::layer::Compression::detect(&head[..n]).media_type();
        layers.push(Descriptor::new(media, size, digest));
    }
    let manifest = oci_spec::image::ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config)
        .layers(layers)
        .build()
        .map_err(|e| missing(c, &format!("a valid manifest ({e})")))?;
    let desc = store.put_json(MediaType::ImageManifest, &manifest)?;
    Ok(Imported {
        name: first_tag(e),
        manifest: desc,
    })
}

fn missing(c: &Collected, what: &str) -> ArchiveError {
    ArchiveError::Missing {
        path: c.path.clone(),
        what: what.to_string(),
    }
}

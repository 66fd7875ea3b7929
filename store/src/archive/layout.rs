//! Writing images out as an OCI layout (a directory or a tar), optionally with the
//! `manifest.json` + `repositories` files that make it a `docker save` archive too.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, Digest, ImageIndex};
use serde::Serialize;

use super::error::{io_err, ArchiveError};
use super::CONTAINERD_NAME;
use crate::blob::BlobRead;
use crate::compressed;
use crate::index::{with_ref, REF_NAME};
use crate::layer::Compression;
use crate::{Image, ImageName, Store};

/// What an export writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExportOptions {
    /// Also write `manifest.json` and `repositories` (a `docker save` archive).
    pub docker: bool,
    /// Compress layers stored uncompressed (the manifest then names the compressed blobs,
    /// made once and remembered as for a push); `None` writes them as stored.
    pub compression: Compression,
    /// The compression level (`None`: the default).
    pub level: Option<i32>,
}

/// Where an export goes.
#[derive(Debug, Clone)]
pub enum ExportTarget {
    /// An OCI layout directory (created if missing; existing blobs are kept).
    Dir(PathBuf),
    /// A tar file holding the layout.
    Tar(PathBuf),
}

impl ExportTarget {
    /// A `.tar` path (or `-`) means a tar, anything else a directory.
    pub fn from_path(path: &Path) -> Self {
        let is_tar = path.extension().is_some_and(|e| e == "tar");
        if is_tar {
            ExportTarget::Tar(path.to_path_buf())
        } else {
            ExportTarget::Dir(path.to_path_buf())
        }
    }
}

/// One entry of the `manifest.json` that `docker save` writes.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

/// Exports images as an OCI layout. Each index entry carries `ref.name` = the tag (what
/// skopeo's `oci:DIR:TAG` and umoci's `DIR:TAG` look for) and the full name in
/// `io.containerd.image.name`. With `opts.docker`, also writes `manifest.json` and
/// `repositories` so `docker load` reads it.
pub fn export_oci(
    store: &Store,
    images: &[(Option<ImageName>, Descriptor)],
    target: &ExportTarget,
    opts: &ExportOptions,
) -> Result<(), ArchiveError> {
    // Shared: no gc or prune removes a blob or a layer's snapshot while it is copied out.
    let _lock = store.lock_shared()?;
    let mut sink: Box<dyn Sink> = match target {
        ExportTarget::Dir(d) => Box::new(DirSink::new(d)?),
        ExportTarget::Tar(p) => Box::new(TarSink::new(p)?),
    };
    let mut index = ImageIndex::default();
    let mut entries = Vec::new();
    let mut repos: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut written = std::collections::HashSet::new();
    for (name, desc) in images {
        let image = compressed_image(store, store.image(desc)?, opts)?;
        let desc = &image.manifest_desc;
        for blob in blobs_of(&image) {
            if written.insert(blob.digest().to_string()) {
                copy_blob(store, sink.as_mut(), blob.digest(), blob.size())?;
            }
        }
        index.manifests_mut_push(entry_for(desc, name.as_ref()));
        entries.push(docker_entry(&image, name.as_ref()));
        if let (Some(n), Some(top)) = (name, image.config.rootfs().diff_ids().last()) {
            let hex = top.strip_prefix("sha256:").unwrap_or(top).to_string();
            repos
                .entry(n.repository.clone())
                .or_default()
                .insert(n.tag.clone(), hex);
        }
    }
    sink.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    sink.file("index.json", &to_json(&index)?)?;
    if opts.docker {
        sink.file("manifest.json", &to_json(&entries)?)?;
        sink.file("repositories", &to_json(&repos)?)?;
    }
    sink.finish()
}

trait IndexPush {
    fn manifests_mut_push(&mut self, d: Descriptor);
}

impl IndexPush for ImageIndex {
    fn manifests_mut_push(&mut self, d: Descriptor) {
        let mut list = self.manifests().clone();
        list.push(d);
        self.set_manifests(list);
    }
}

fn entry_for(desc: &Descriptor, name: Option<&ImageName>) -> Descriptor {
    let Some(name) = name else {
        return desc.clone();
    };
    let mut d = with_ref(desc, &name.tag);
    let mut ann = d.annotations().clone().unwrap_or_default();
    ann.insert(CONTAINERD_NAME.to_string(), name.canonical());
    ann.insert(REF_NAME.to_string(), name.tag.clone());
    d.set_annotations(Some(ann));
    d
}

fn docker_entry(image: &Image, name: Option<&ImageName>) -> DockerEntry {
    let path = |d: &Digest| format!("blobs/sha256/{}", d.digest());
    DockerEntry {
        config: path(image.manifest.config().digest()),
        repo_tags: name.map(|n| vec![n.to_string()]).unwrap_or_default(),
        layers: image
            .manifest
            .layers()
            .iter()
            .map(|l| path(l.digest()))
            .collect(),
    }
}

/// `image` with its uncompressed layers compressed as `opts` asks; a changed manifest is
/// stored (a small blob gc collects) so it is exported like any other.
fn compressed_image(
    store: &Store,
    image: Image,
    opts: &ExportOptions,
) -> Result<Image, ArchiveError> {
    let media_type = image.manifest_desc.media_type().clone();
    let manifest_type = media_type.to_string();
    let compress = |l| compressed::ensure(store, l, opts.compression, opts.level, &manifest_type);
    let layers = (image.manifest.layers().iter())
        .map(compress)
        .collect::<Result<Vec<_>, _>>()?;
    if &layers == image.manifest.layers() {
        return Ok(image);
    }
    let mut manifest = image.manifest.clone();
    manifest.set_layers(layers);
    let mut manifest_desc = store.put_json(media_type, &manifest)?;
    manifest_desc.set_platform(image.manifest_desc.platform().clone());
    Ok(Image {
        manifest_desc,
        manifest,
        ..image
    })
}

/// The manifest, config and layer descriptors of an image.
fn blobs_of(image: &Image) -> Vec<Descriptor> {
    let mut out = vec![image.manifest_desc.clone(), image.manifest.config().clone()];
    out.extend(image.manifest.layers().iter().cloned());
    out
}

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, ArchiveError> {
    serde_json::to_vec(v).map_err(|source| ArchiveError::Json {
        path: PathBuf::from("index.json"),
        source,
    })
}

fn copy_blob(
    store: &Store,
    sink: &mut dyn Sink,
    digest: &Digest,
    size: u64,
) -> Result<(), ArchiveError> {
    let mut reader = store
        .blobs()
        .open(digest)
        .map_err(crate::StoreError::from)?;
    sink.blob(digest, size, &mut reader)
}

/// Where exported files go.
trait Sink {
    fn blob(&mut self, digest: &Digest, size: u64, r: &mut dyn Read) -> Result<(), ArchiveError>;
    fn file(&mut self, name: &str, bytes: &[u8]) -> Result<(), ArchiveError>;
    fn finish(self: Box<Self>) -> Result<(), ArchiveError>;
}

struct DirSink {
    dir: PathBuf,
}

impl DirSink {
    fn new(dir: &Path) -> Result<Self, ArchiveError> {
        let blobs = dir.join("blobs").join("sha256");
        fs::create_dir_all(&blobs).map_err(io_err("create", &blobs))?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }
}

impl Sink for DirSink {
    fn blob(&mut self, digest: &Digest, size: u64, r: &mut dyn Read) -> Result<(), ArchiveError> {
        let path = self.dir.join("blobs/sha256").join(digest.digest());
        if fs::metadata(&path).is_ok_and(|m| m.len() == size) {
            return Ok(());
        }
        let tmp = path.with_extension("partial");
        let mut f = File::create(&tmp).map_err(io_err("create", &tmp))?;
        io::copy(r, &mut f).map_err(io_err("write", &tmp))?;
        f.sync_all().map_err(io_err("fsync", &tmp))?;
        fs::rename(&tmp, &path).map_err(io_err("rename", &path))
    }

    fn file(&mut self, name: &str, bytes: &[u8]) -> Result<(), ArchiveError> {
        let path = self.dir.join(name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        fs::write(&tmp, bytes).map_err(io_err("write", &tmp))?;
        fs::rename(&tmp, &path).map_err(io_err("rename", &path))
    }

    fn finish(self: Box<Self>) -> Result<(), ArchiveError> {
        Ok(())
    }
}

struct TarSink {
    path: PathBuf,
    tmp: PathBuf,
    builder: tar::Builder<io::BufWriter<File>>,
}

impl TarSink {
    fn new(path: &Path) -> Result<Self, ArchiveError> {
        let tmp = path.with_extension("tar.partial");
        let f = File::create(&tmp).map_err(io_err("create", &tmp))?;
        let mut builder = tar::Builder::new(io::BufWriter::with_capacity(1 << 20, f));
        for dir in ["blobs/", "blobs/sha256/"] {
            let mut h = header(tar::EntryType::Directory, 0o755, 0);
            builder
                .append_data(&mut h, dir, io::empty())
                .map_err(io_err("write", &tmp))?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            tmp,
            builder,
        })
    }
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}

impl Sink for TarSink {
    fn blob(&mut self, digest: &Digest, size: u64, r: &mut dyn Read) -> Result<(), ArchiveError> {
        let mut h = header(tar::EntryType::Regular, 0o644, size);
        let name = format!("blobs/sha256/{}", digest.digest());
        self.builder
            .append_data(&mut h, name, r.take(size))
            .map_err(io_err("write", &self.tmp))
    }

    fn file(&mut self, name: &str, bytes: &[u8]) -> Result<(), ArchiveError> {
        let mut h = header(tar::EntryType::Regular, 0o644, bytes.len() as u64);
        self.builder
            .append_data(&mut h, name, bytes)
            .map_err(io_err("write", &self.tmp))
    }

    fn finish(self: Box<Self>) -> Result<(), ArchiveError> {
        let buf = self
            .builder
            .into_inner()
            .map_err(io_err("write", &self.tmp))?;
        let file = buf
            .into_inner()
            .map_err(|e| io_err("write", &self.tmp)(e.into_error()))?;
        file.sync_all().map_err(io_err("fsync", &self.tmp))?;
        fs::rename(&self.tmp, &self.path).map_err(io_err("rename", &self.path))
    }
}

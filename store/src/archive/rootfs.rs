//! `docker import`-style: a plain filesystem tarball becomes a one-layer image.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use oci_spec::image::{
    ConfigBuilder, Descriptor, HistoryBuilder, ImageConfigurationBuilder, ImageManifestBuilder,
    MediaType, RootFsBuilder,
};

use super::error::{io_err, ArchiveError};
use super::import::host_arch;
use crate::blob::{BlobIngest, BlobRead};
use crate::digest::HashingReader;
use crate::layer::{decompress, Compression};
use crate::Store;

/// What a tar holds, judged from its entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TarKind {
    /// An OCI layout or docker save archive.
    Archive,
    /// A root filesystem.
    Rootfs,
}

/// Reads entry names (seeking over data when the tar is uncompressed).
pub(crate) fn classify(path: &Path) -> Result<TarKind, ArchiveError> {
    let mut head = [0u8; 6];
    let n = File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(io_err("read", path))?;
    let names = if Compression::detect(&head[..n]) == Compression::None {
        let f = File::open(path).map_err(io_err("open", path))?;
        let mut a = tar::Archive::new(f);
        entry_names(a.entries_with_seek().map_err(io_err("read", path))?, path)?
    } else {
        let f = BufReader::new(File::open(path).map_err(io_err("open", path))?);
        let mut a = tar::Archive::new(decompress(f).map_err(io_err("read", path))?);
        entry_names(a.entries().map_err(io_err("read", path))?, path)?
    };
    let is_archive = names
        .iter()
        .any(|n| n == "index.json" || n == "manifest.json");
    Ok(if is_archive {
        TarKind::Archive
    } else {
        TarKind::Rootfs
    })
}

fn entry_names<R: Read>(
    entries: tar::Entries<'_, R>,
    path: &Path,
) -> Result<Vec<String>, ArchiveError> {
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(io_err("read", path))?;
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        out.push(name.trim_start_matches("./").to_string());
    }
    Ok(out)
}

/// Stores the tarball as a layer (as is) and writes a config and manifest around it.
pub(crate) fn import_rootfs(store: &Store, path: &Path) -> Result<Descriptor, ArchiveError> {
    let layer = ingest_layer(store, path)?;
    let diff_id = diff_id_of(store, &layer)?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let bad = |e: oci_spec::OciSpecError| ArchiveError::Missing {
        path: path.to_path_buf(),
        what: format!("a valid image config ({e})"),
    };
    let config = ImageConfigurationBuilder::default()
        .architecture(host_arch())
        .os("linux")
        .created(now.clone())
        .config(ConfigBuilder::default().build().map_err(bad)?)
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(vec![diff_id.to_string()])
                .build()
                .map_err(bad)?,
        )
        .history(vec![HistoryBuilder::default()
            .created(now)
            .created_by(format!("rbuild import {}", path.display()))
            .build()
            .map_err(bad)?])
        .build()
        .map_err(bad)?;
    let config_desc = store.put_json(MediaType::ImageConfig, &config)?;
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config_desc)
        .layers(vec![layer])
        .build()
        .map_err(bad)?;
    Ok(store.put_json(MediaType::ImageManifest, &manifest)?)
}

fn ingest_layer(store: &Store, path: &Path) -> Result<Descriptor, ArchiveError> {
    let mut f = File::open(path).map_err(io_err("open", path))?;
    let mut head = [0u8; 6];
    let n = f.read(&mut head).map_err(io_err("read", path))?;
    let media = Compression::detect(&head[..n]).media_type();
    let mut f = File::open(path).map_err(io_err("open", path))?;
    let mut w = store.blobs().begin()?;
    io::copy(&mut f, &mut w).map_err(io_err("read", path))?;
    let (digest, size) = w.commit(None)?;
    Ok(Descriptor::new(media, size, digest))
}

fn diff_id_of(store: &Store, layer: &Descriptor) -> Result<oci_spec::image::Digest, ArchiveError> {
    if Compression::from_media_type(layer.media_type()) == Some(Compression::None) {
        return Ok(layer.digest().clone());
    }
    let blob = BufReader::new(store.blobs().open(layer.digest())?);
    let path = store.blobs().path(layer.digest()).unwrap_or_default();
    let mut r = HashingReader::new(decompress(blob).map_err(io_err("read", &path))?);
    io::copy(&mut r, &mut io::sink()).map_err(io_err("read", &path))?;
    Ok(r.into_parts().1)
}

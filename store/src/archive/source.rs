//! Reading an archive in one pass: blobs go straight into the store's verified ingest, the
//! small JSON files (`index.json`, `manifest.json`, …) are kept in memory.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use oci_spec::image::Digest;

use super::error::{io_err, ArchiveError};
use crate::blob::{BlobIngest, BlobRead, Expected};
use crate::digest::parse_digest;
use crate::layer::decompress;
use crate::Store;

/// JSON files larger than this inside an archive are refused.
const MAX_META: u64 = 16 << 20;

/// What one pass over an archive collected.
pub(crate) struct Collected {
    /// The archive (for error messages).
    pub path: PathBuf,
    /// Small metadata files by archive path (`index.json`, `manifest.json`, `<id>.json`).
    pub files: HashMap<String, Vec<u8>>,
    /// Blobs ingested from non-`blobs/` paths (legacy docker save: `<id>/layer.tar`).
    pub by_path: HashMap<String, (Digest, u64)>,
    /// For a directory source: the layout dir to copy blobs from on demand.
    pub dir: Option<PathBuf>,
}

impl Collected {
    /// Makes sure `digest` is in the store, copying it from a directory source if needed.
    pub fn ensure_blob(
        &self,
        store: &Store,
        digest: &Digest,
        size: u64,
    ) -> Result<(), ArchiveError> {
        if store.blobs().stat(digest)?.is_some() {
            return Ok(());
        }
        let missing = || ArchiveError::Missing {
            path: self.path.clone(),
            what: format!("blob {digest}"),
        };
        let dir = self.dir.as_ref().ok_or_else(missing)?;
        let file = dir.join("blobs").join("sha256").join(digest.digest());
        let f = File::open(&file).map_err(|_| missing())?;
        let exp = Expected {
            digest: digest.clone(),
            size: Some(size),
        };
        ingest(store, f, Some(&exp), &file).map(|_| ())
    }

    /// A metadata file, parsed.
    pub fn json<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, ArchiveError> {
        let Some(bytes) = self.files.get(name) else {
            return Ok(None);
        };
        serde_json::from_slice(bytes)
            .map(Some)
            .map_err(|source| ArchiveError::Json {
                path: self.path.join(name),
                source,
            })
    }
}

/// Streams `reader` into the store, verifying against `expected`.
fn ingest(
    store: &Store,
    mut reader: impl Read,
    expected: Option<&Expected>,
    path: &Path,
) -> Result<(Digest, u64), ArchiveError> {
    let mut w = store.blobs().begin().map_err(crate::StoreError::from)?;
    io::copy(&mut reader, &mut w).map_err(io_err("read", path))?;
    Ok(w.commit(expected).map_err(crate::StoreError::from)?)
}

/// Collects a directory (an OCI layout or an extracted docker archive).
pub(crate) fn from_dir(dir: &Path) -> Result<Collected, ArchiveError> {
    let mut files = HashMap::new();
    for name in ["index.json", "manifest.json", "repositories", "oci-layout"] {
        let p = dir.join(name);
        match fs::read(&p) {
            Ok(b) => {
                files.insert(name.to_string(), b);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("read", p)(e)),
        }
    }
    Ok(Collected {
        path: dir.to_path_buf(),
        files,
        by_path: HashMap::new(),
        dir: Some(dir.to_path_buf()),
    })
}

/// Collects a tar (optionally gzip/zstd compressed), ingesting every blob it holds.
pub(crate) fn from_tar(store: &Store, path: &Path) -> Result<Collected, ArchiveError> {
    let file = File::open(path).map_err(io_err("open", path))?;
    let reader = decompress(io::BufReader::new(file)).map_err(io_err("read", path))?;
    let mut archive = tar::Archive::new(reader);
    let mut out = Collected {
        path: path.to_path_buf(),
        files: HashMap::new(),
        by_path: HashMap::new(),
        dir: None,
    };
    let mut links = Vec::new();
    for entry in archive.entries().map_err(io_err("read", path))? {
        let entry = entry.map_err(io_err("read", path))?;
        collect_entry(store, &mut out, &mut links, entry)?;
    }
    for (name, target) in links {
        if let Some(found) = out.by_path.get(&target).cloned() {
            out.by_path.insert(name, found);
        }
    }
    Ok(out)
}

fn collect_entry<R: Read>(
    store: &Store,
    out: &mut Collected,
    links: &mut Vec<(String, String)>,
    mut entry: tar::Entry<'_, R>,
) -> Result<(), ArchiveError> {
    let name = clean_name(&out.path, &entry.path_bytes())?;
    let kind = entry.header().entry_type();
    if kind.is_symlink() {
        if let Ok(Some(target)) = entry.link_name() {
            let parent = Path::new(&name).parent().unwrap_or(Path::new(""));
            let joined = parent.join(target);
            if let Ok(t) = clean_name(&out.path, joined.as_os_str().as_encoded_bytes()) {
                links.push((name, t));
            }
        }
        return Ok(());
    }
    if !kind.is_file() {
        return Ok(());
    }
    let entry_path = out.path.join(&name);
    if let Some(hex) = name.strip_prefix("blobs/sha256/") {
        let digest =
            parse_digest(&format!("sha256:{hex}")).map_err(|_| ArchiveError::BadEntry {
                path: out.path.clone(),
                entry: name.clone(),
                why: "blob name is not a sha256 hex digest",
            })?;
        let exp = Expected {
            digest,
            size: Some(entry.size()),
        };
        ingest(store, &mut entry, Some(&exp), &entry_path)?;
    } else if name.ends_with(".json") || name == "repositories" || name == "oci-layout" {
        let mut buf = Vec::new();
        (&mut entry)
            .take(MAX_META)
            .read_to_end(&mut buf)
            .map_err(io_err("read", &entry_path))?;
        out.files.insert(name, buf);
    } else {
        let found = ingest(store, &mut entry, None, &entry_path)?;
        out.by_path.insert(name, found);
    }
    Ok(())
}

/// Normalizes an archive entry name (`./a/b` → `a/b`), refusing `..` and absolute paths.
fn clean_name(archive: &Path, raw: &[u8]) -> Result<String, ArchiveError> {
    let text = String::from_utf8_lossy(raw).into_owned();
    let bad = |why| ArchiveError::BadEntry {
        path: archive.to_path_buf(),
        entry: text.clone(),
        why,
    };
    let mut parts = Vec::new();
    for c in Path::new(&text).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => return Err(bad("it climbs out with ..")),
            Component::RootDir | Component::Prefix(_) => return Err(bad("it is absolute")),
        }
    }
    Ok(parts.join("/"))
}

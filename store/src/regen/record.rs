//! The record of a regenerable layer: `<root>/regen/sha256/<hex>`, a small JSON document naming
//! the directory the layer's tar is made from (relative to the store root, so a copied store
//! keeps working) and how it was written.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use oci_spec::image::Digest;
use serde::{Deserialize, Serialize};

use crate::blob::BlobError;
use crate::durable;
use crate::layer::{TreeMode, TreeOptions};

/// Records larger than this are not records.
const MAX_RECORD: u64 = 64 << 10;

/// How to regenerate one layer tar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The tree, relative to the store root (e.g. `snapshots/12/fs`).
    pub dir: PathBuf,
    /// The tar's size in bytes.
    pub size: u64,
    /// How the tree is read: `overlay-upper` (whiteout devices and opaque xattrs) or `plain`.
    pub mode: String,
    /// `SOURCE_DATE_EPOCH` clamp the tar was written with.
    pub clamp_mtime: Option<i64>,
}

impl Record {
    /// A record for a tree at `dir` (relative to the store root) written with `opts`.
    pub fn new(dir: PathBuf, size: u64, opts: &TreeOptions) -> Self {
        let mode = match opts.mode {
            TreeMode::Plain => "plain",
            TreeMode::OverlayUpper => "overlay-upper",
        };
        Self {
            dir,
            size,
            mode: mode.to_string(),
            clamp_mtime: opts.clamp_mtime,
        }
    }

    /// The tree options the tar was written with.
    pub fn options(&self) -> Result<TreeOptions, String> {
        let mode = match self.mode.as_str() {
            "plain" => TreeMode::Plain,
            "overlay-upper" => TreeMode::OverlayUpper,
            other => return Err(format!("unknown tree mode {other:?}")),
        };
        Ok(TreeOptions {
            mode,
            clamp_mtime: self.clamp_mtime,
        })
    }
}

/// The records directory of a store rooted at `root`.
pub fn records_dir(root: &Path) -> PathBuf {
    root.join("regen").join("sha256")
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> BlobError + 'a {
    move |source| BlobError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn invalid(path: &Path, why: String) -> BlobError {
    BlobError::Io {
        op: "read",
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidData, why),
    }
}

/// Reads the record for `digest`; `None` when there is none.
pub fn load(dir: &Path, digest: &Digest) -> Result<Option<Record>, BlobError> {
    let path = dir.join(digest.digest());
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("read", &path)(e)),
    };
    if bytes.len() as u64 > MAX_RECORD {
        return Err(invalid(&path, "regeneration record too large".into()));
    }
    let record: Record =
        serde_json::from_slice(&bytes).map_err(|e| invalid(&path, e.to_string()))?;
    let inside = record
        .dir
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if !inside || record.dir.as_os_str().is_empty() {
        return Err(invalid(
            &path,
            format!("tree {} is not inside the store", record.dir.display()),
        ));
    }
    record.options().map_err(|e| invalid(&path, e))?;
    Ok(Some(record))
}

/// Writes the record for `digest` atomically and durably: temp file, fsync, rename, fsync dir.
pub fn save(dir: &Path, digest: &Digest, record: &Record) -> Result<(), BlobError> {
    fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    let bytes = serde_json::to_vec(record).expect("a record always serializes");
    durable::replace(dir, digest.digest(), &bytes, |op, path, e| {
        io_err(op, path)(e)
    })
}

/// Removes the record for `digest`; `Ok(false)` when there was none.
pub fn remove(dir: &Path, digest: &Digest) -> Result<bool, BlobError> {
    let path = dir.join(digest.digest());
    match fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err("remove", &path)(e)),
    }
}

/// The digests that have a record, sorted.
pub fn list(dir: &Path) -> Result<Vec<Digest>, BlobError> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("read", dir)(e)),
    };
    let mut out = Vec::new();
    for entry in rd {
        let name = entry.map_err(io_err("read", dir))?.file_name();
        let name = name.to_string_lossy();
        if let Ok(d) = crate::digest::parse_digest(&format!("sha256:{name}")) {
            out.push(d);
        }
    }
    out.sort_by(|a, b| a.digest().cmp(b.digest()));
    Ok(out)
}

//! Replacing a small file so that a crash leaves the old or the new content, never a mix:
//! a temp file beside it, fsync, rename over it, fsync of the directory.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Writes `bytes` as `dir/name` atomically and durably. Failures go through `err` (what was
/// being done, the path, the OS error), so each caller keeps its own error type.
pub(crate) fn replace<E>(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    err: impl Fn(&'static str, &Path, io::Error) -> E,
) -> Result<(), E> {
    let tmp = dir.join(format!(
        ".{name}.{}.{:08x}.tmp",
        std::process::id(),
        rand::random::<u32>()
    ));
    let mut f = File::create(&tmp).map_err(|e| err("create", &tmp, e))?;
    f.write_all(bytes).map_err(|e| err("write", &tmp, e))?;
    f.sync_all().map_err(|e| err("fsync", &tmp, e))?;
    let path = dir.join(name);
    fs::rename(&tmp, &path).map_err(|e| err("rename", &path, e))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| err("fsync", dir, e))
}

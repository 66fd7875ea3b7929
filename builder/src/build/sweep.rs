//! Cleaning the snapshot area while no build runs (the caller holds the store's exclusive
//! lock): leftovers of killed builds (mounts, active snapshots), and with `all` every
//! extracted layer too (they are re-extracted from the store's blobs when needed).

use std::path::{Path, PathBuf};

use nix::mount::{umount2, MntFlags};

use super::error::BuildError;
use crate::snapshot::{Kind, Snapshotter};

/// What a sweep removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// Mounts under the snapshot area that were detached.
    pub unmounted: usize,
    /// Snapshots removed.
    pub snapshots: usize,
}

/// Detaches stale mounts and removes active snapshots; with `all`, every snapshot.
pub fn sweep_snapshots(store_root: &Path, all: bool) -> Result<SweepReport, BuildError> {
    let snaps = Snapshotter::open(store_root)?;
    let mut report = SweepReport {
        unmounted: unmount_below(snaps.root()),
        ..SweepReport::default()
    };
    if all {
        report.snapshots = snaps.list()?.len();
        let root = snaps.root().to_path_buf();
        std::fs::remove_dir_all(&root).map_err(|source| BuildError::Io {
            op: "remove",
            path: root,
            source,
        })?;
        return Ok(report);
    }
    for info in snaps.list()? {
        if info.kind != Kind::Committed {
            snaps.remove(&info.name)?;
            report.snapshots += 1;
        }
    }
    let tmp = snaps.root().join("tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|source| BuildError::Io {
            op: "remove",
            path: tmp,
            source,
        })?;
    }
    Ok(report)
}

/// The directory of `RUN --mount=type=cache` mounts: `<store>/cache-mounts/<sha256 of id>`.
pub fn cache_mount_dir(store_root: &Path, id: &str) -> PathBuf {
    let digest = rbuild_store::digest::sha256_of(id.as_bytes());
    store_root.join("cache-mounts").join(digest.digest())
}

/// Removes every cache mount (`prune --cache`); returns how many there were.
pub fn clear_cache_mounts(store_root: &Path) -> Result<usize, BuildError> {
    let dir = store_root.join("cache-mounts");
    let io = |source| BuildError::Io {
        op: "remove",
        path: dir.clone(),
        source,
    };
    let count = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir() && !e.file_name().to_string_lossy().starts_with('.'))
            .count(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io(e)),
    };
    std::fs::remove_dir_all(&dir).map_err(io)?;
    Ok(count)
}

/// Detaches every mount whose mount point lies under `root`, deepest first.
fn unmount_below(root: &Path) -> usize {
    let mut points = mount_points_below(root);
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    points
        .iter()
        .filter(|p| umount2(p.as_path(), MntFlags::MNT_DETACH).is_ok())
        .count()
}

fn mount_points_below(root: &Path) -> Vec<PathBuf> {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else {
        return Vec::new();
    };
    mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(unescape)
        .filter(|p| p.starts_with(root))
        .collect()
}

/// `/proc/mounts` escapes space, tab, newline and backslash as octal.
fn unescape(field: &str) -> PathBuf {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let code: String = chars.by_ref().take(3).collect();
        match u8::from_str_radix(&code, 8) {
            Ok(b) => out.push(b as char),
            Err(_) => {
                out.push('\\');
                out.push_str(&code);
            }
        }
    }
    PathBuf::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_proc_mounts_fields() {
        assert_eq!(unescape("/a\\040b/c"), PathBuf::from("/a b/c"));
        assert_eq!(unescape("/plain"), PathBuf::from("/plain"));
    }

    #[test]
    fn active_snapshots_are_swept_committed_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let snaps = Snapshotter::open(tmp.path()).unwrap();
        snaps.prepare("base-key", None).unwrap();
        snaps.commit("base", "base-key").unwrap();
        snaps.prepare("crashed-step", Some("base")).unwrap();
        let report = sweep_snapshots(tmp.path(), false).unwrap();
        assert_eq!(report.snapshots, 1);
        let left: Vec<String> = snaps.list().unwrap().into_iter().map(|i| i.name).collect();
        assert_eq!(left, vec!["base".to_string()]);
        let report = sweep_snapshots(tmp.path(), true).unwrap();
        assert_eq!(report.snapshots, 1);
        assert!(!tmp.path().join("snapshots").exists());
    }
}

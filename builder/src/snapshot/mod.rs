//! Overlay snapshots, in containerd's vocabulary.
//!
//! A *snapshot* is a directory tree that is either being written or frozen:
//!
//! - [`Snapshotter::prepare`]`(key, parent)` creates an **active** snapshot named by its *key*:
//!   an empty upper dir (`fs`) and a work dir on top of the parent's chain. It returns the
//!   [`Mount`]s that assemble the writable view (an overlay: lower dirs = the parent chain's
//!   `fs` dirs, upper = this snapshot's `fs`).
//! - [`Snapshotter::commit`]`(name, key)` freezes an active snapshot under a *name*. The key is
//!   gone afterwards; the name can be the parent of later snapshots. Committed snapshots are
//!   immutable and shared by every build that uses them.
//! - [`Snapshotter::view`]`(key, parent)` makes a read-only active snapshot (nothing to commit).
//! - [`Snapshotter::remove`]`(key_or_name)` deletes an active snapshot or a committed one that
//!   no other snapshot uses as parent.
//!
//! Layers from the store become committed snapshots named by their chain id
//! ([`chain_id`]): [`Snapshotter::create_committed_from`] hands an empty `fs` dir to a closure
//! that extracts the layer into it (the store's layer module does the extracting and turns
//! `.wh.` entries into overlay whiteouts), then commits it. [`Snapshotter::extracted`] says
//! whether a chain id is already there.
//!
//! On disk, under `<store root>/snapshots/`:
//!
//! ```text
//! <id>/fs          upper dir (active) or extracted layer (committed)
//! <id>/work        overlay work dir
//! <id>/mnt         mount point for the assembled rootfs (created on demand)
//! <id>/meta.json   kind, key or name, parent id, short link name
//! l/<link>         symlink to ../<id>/fs with an 8-character name, for long chains
//! index/<sha256(key or name)>   symlink to <id>: O(1) lookup, atomic creation
//! empty/           an empty dir: the lower dir of a snapshot without parent (FROM scratch)
//! ```
//!
//! One overlay mount takes its options in a single page (4096 bytes). When the absolute
//! lower dir list does not fit (about 60 layers with these paths), the mount uses the short
//! `l/` link names relative to the `l/` dir (like docker's overlay2), which fits several
//! hundred layers: the mount carries [`Mount::cwd`] and the mounting process changes into that
//! directory first.

pub mod host;
mod meta;
mod ops;
mod overlay;

use std::path::{Path, PathBuf};

use rbuild_store::Digest;

pub use host::{mount_all, MountGuard};

/// Errors from the snapshotter. Each variant names the snapshot key/name or the path.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A file system operation failed.
    #[error("snapshot I/O on {path}: {source}")]
    Io {
        /// The path operated on.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A metadata file could not be read or written.
    #[error("snapshot metadata {path}: {source}")]
    Meta {
        /// The metadata file.
        path: PathBuf,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// No snapshot has this key or name.
    #[error("snapshot {key:?} not found")]
    NotFound {
        /// The key or name looked up.
        key: String,
    },
    /// A snapshot with this key or name already exists.
    #[error("snapshot {key:?} already exists")]
    AlreadyExists {
        /// The key or name.
        key: String,
    },
    /// The operation needs an active (writable) snapshot.
    #[error("snapshot {key:?} is not an active writable snapshot")]
    NotActive {
        /// The key given.
        key: String,
    },
    /// A parent must be a committed snapshot.
    #[error("parent snapshot {name:?} is not committed")]
    ParentNotCommitted {
        /// The parent given.
        name: String,
    },
    /// A committed snapshot still has children.
    #[error("snapshot {name:?} is the parent of {children} other snapshot(s)")]
    HasChildren {
        /// The snapshot to remove.
        name: String,
        /// How many snapshots use it as parent.
        children: usize,
    },
    /// The closure filling a new committed snapshot failed.
    #[error("filling snapshot {name:?}: {source}")]
    Fill {
        /// The name the snapshot would have had.
        name: String,
        /// The closure's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A mount or unmount failed.
    #[error("mount {fstype} on {target}: {source}")]
    Mount {
        /// The mount point.
        target: PathBuf,
        /// The file system type.
        fstype: String,
        /// The errno.
        source: nix::errno::Errno,
    },
}

/// Whether a snapshot can still be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Writable, named by a key; becomes committed by [`Snapshotter::commit`].
    Active,
    /// Read-only view, named by a key; can only be removed.
    View,
    /// Frozen, named by a name; usable as a parent.
    Committed,
}

/// What the snapshotter knows about one snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// The internal directory id (`snapshots/<id>`).
    pub id: String,
    /// Active, view or committed.
    pub kind: Kind,
    /// The key (active, view) or name (committed).
    pub name: String,
    /// The parent's name, if any.
    pub parent: Option<String>,
}

/// One mount, in containerd's shape: mounting all of a snapshot's mounts in order at the same
/// target assembles its root file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// File system type: `overlay` here.
    pub fstype: String,
    /// The source (`overlay`).
    pub source: String,
    /// Mount options, e.g. `lowerdir=…`, `upperdir=…`, `workdir=…`, `ro`.
    pub options: Vec<String>,
    /// When set, relative paths in `options` are relative to this directory: the mounting
    /// process must change into it before calling `mount(2)`.
    pub cwd: Option<PathBuf>,
}

impl Mount {
    /// The options joined with commas, as `mount(2)` takes them (without `ro`, a flag).
    pub fn data(&self) -> String {
        let opts: Vec<&str> = self
            .options
            .iter()
            .map(String::as_str)
            .filter(|o| *o != "ro")
            .collect();
        opts.join(",")
    }

    /// Whether the mount is read-only.
    pub fn read_only(&self) -> bool {
        self.options.iter().any(|o| o == "ro")
    }
}

/// Everything the step executor needs to assemble and clean up an active snapshot's rootfs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rootfs {
    /// The mounts, from [`Snapshotter::mounts`].
    pub mounts: Vec<Mount>,
    /// An empty directory to mount them on.
    pub mountpoint: PathBuf,
    /// The upper dir: where the step's changes land.
    pub upper: PathBuf,
    /// The lower dirs, topmost first.
    pub lowers: Vec<PathBuf>,
}

/// The overlay snapshotter rooted at `<store root>/snapshots`. Cheap to clone; safe to use
/// from several threads and processes at once (index entries are created atomically).
#[derive(Debug, Clone)]
pub struct Snapshotter {
    root: PathBuf,
    extra_options: Vec<String>,
    page_limit: usize,
}

/// Marks `dir` as a top of a directory hierarchy (`chattr +T`, ext2/3/4) so each snapshot
/// directory is placed as top-level directories are (spread over block groups) rather than
/// next to its parent. Without it, a snapshot created right after another was deleted lands
/// in that one's block group, and on an ext4 without a journal each new inode is then checked
/// against every inode freed there in the last 30 s: a 50,000-file COPY right after deleting a
/// 50,000-file store took 24 s instead of 4 s. With it, 6 of 8 such builds here took 4-4.5 s
/// (two still landed on the freed inodes: 15 s, 36 s). Best effort: other file systems do
/// not have the flag.
fn spread_children(dir: &Path) {
    use rustix::fs::{ioctl_getflags, ioctl_setflags, IFlags};
    let Ok(f) = std::fs::File::open(dir) else {
        return;
    };
    if let Ok(flags) = ioctl_getflags(&f) {
        if !flags.contains(IFlags::TOPDIR) {
            let _ = ioctl_setflags(&f, flags | IFlags::TOPDIR);
        }
    }
}

/// The OCI chain id of a layer on top of a chain: `sha256(parent + " " + diff_id)`, or the
/// diff id itself for a base layer. Committed layer snapshots are named by it, because the
/// same layer on a different parent is a different tree.
pub fn chain_id(parent: Option<&Digest>, diff_id: &Digest) -> Digest {
    match parent {
        None => diff_id.clone(),
        Some(p) => rbuild_store::digest::sha256_of(format!("{p} {diff_id}").as_bytes()),
    }
}

impl Snapshotter {
    /// Opens (creating if needed) the snapshot area under `store_root`.
    pub fn open(store_root: &Path) -> Result<Self, SnapshotError> {
        let root = store_root.join("snapshots");
        for dir in ["l", "index", "empty"] {
            let path = root.join(dir);
            std::fs::create_dir_all(&path).map_err(|source| SnapshotError::Io { path, source })?;
        }
        spread_children(&root);
        Ok(Self {
            root,
            extra_options: overlay::module_options(Path::new("/sys/module/overlay/parameters")),
            page_limit: overlay::PAGE_LIMIT,
        })
    }

    /// The `snapshots/` directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Lowers the option-length limit (tests use it to force the short-link form).
    #[cfg(test)]
    fn with_page_limit(mut self, limit: usize) -> Self {
        self.page_limit = limit;
        self
    }
}

#[cfg(test)]
mod tests;

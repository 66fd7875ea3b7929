//! The snapshot lifecycle: prepare, view, commit, remove, and lookups.

use std::path::PathBuf;

use rbuild_store::Digest;

use super::meta::{fresh_hex, io, remove_if_present, Meta};
use super::overlay::Upper;
use super::{Info, Kind, Mount, Rootfs, SnapshotError, Snapshotter};

impl Snapshotter {
    /// Creates an active snapshot `key` on top of the committed snapshot `parent` (none for an
    /// empty base) and returns the mounts of its writable view.
    pub fn prepare(&self, key: &str, parent: Option<&str>) -> Result<Vec<Mount>, SnapshotError> {
        self.create(key, parent, Kind::Active)?;
        self.mounts(key)
    }

    /// Creates a read-only active snapshot `key` of `parent` and returns its mounts.
    pub fn view(&self, key: &str, parent: Option<&str>) -> Result<Vec<Mount>, SnapshotError> {
        self.create(key, parent, Kind::View)?;
        self.mounts(key)
    }

    /// The mounts of the active snapshot or view `key`.
    pub fn mounts(&self, key: &str) -> Result<Vec<Mount>, SnapshotError> {
        let (id, meta) = self.find(key)?;
        let lowers = match &meta.parent {
            Some(p) => self.chain(p)?,
            None => Vec::new(),
        };
        let dir = self.dir(&id);
        let (fs, work) = (dir.join("fs"), dir.join("work"));
        let upper = match meta.kind {
            Kind::Active => Some(Upper {
                fs: &fs,
                work: &work,
            }),
            Kind::View => None,
            Kind::Committed => {
                return Err(SnapshotError::NotActive {
                    key: key.to_string(),
                })
            }
        };
        Ok(vec![self.overlay_mount(&lowers, upper)?])
    }

    /// Freezes the active snapshot `key` under `name`. Fails with `AlreadyExists` when `name`
    /// is taken (another build committed the same content first): the caller then removes
    /// `key` and uses `name`.
    pub fn commit(&self, name: &str, key: &str) -> Result<Info, SnapshotError> {
        let (id, mut meta) = self.find(key)?;
        if meta.kind != Kind::Active {
            return Err(SnapshotError::NotActive {
                key: key.to_string(),
            });
        }
        // Metadata first, index last: whoever finds `name` finds a finished snapshot.
        let active = meta.clone();
        let link = self.make_link(&id)?;
        meta.link = Some(link.clone());
        meta.kind = Kind::Committed;
        meta.name = name.to_string();
        self.write_meta(&id, &meta)?;
        if let Err(e) = self.add_index(name, &id) {
            self.write_meta(&id, &active)?;
            remove_if_present(&self.root.join("l").join(link))?;
            return Err(e);
        }
        self.remove_index(key)?;
        let mnt = self.dir(&id).join("mnt");
        if mnt.exists() {
            std::fs::remove_dir(&mnt).map_err(io(&mnt))?;
        }
        self.info(&id, meta)
    }

    /// Removes a snapshot by key or name. A committed snapshot that is the parent of another
    /// snapshot cannot be removed (`HasChildren`).
    pub fn remove(&self, key_or_name: &str) -> Result<(), SnapshotError> {
        let (id, meta) = self.find(key_or_name)?;
        let children = self.children_of(&id)?;
        if children > 0 {
            return Err(SnapshotError::HasChildren {
                name: key_or_name.to_string(),
                children,
            });
        }
        self.remove_index(key_or_name)?;
        if let Some(link) = &meta.link {
            remove_if_present(&self.root.join("l").join(link))?;
        }
        let dir = self.dir(&id);
        std::fs::remove_dir_all(&dir).map_err(io(&dir))
    }

    /// The snapshot with this key or name, if any.
    pub fn stat(&self, key_or_name: &str) -> Result<Option<Info>, SnapshotError> {
        match self.find(key_or_name) {
            Ok((id, meta)) => self.info(&id, meta).map(Some),
            Err(SnapshotError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every snapshot, sorted by id.
    pub fn list(&self) -> Result<Vec<Info>, SnapshotError> {
        let ids = self.ids()?;
        ids.into_iter()
            .map(|id| self.read_meta(&id).and_then(|m| self.info(&id, m)))
            .collect()
    }

    /// The `fs` dir of a snapshot: the upper dir of an active one (what the differ reads after a
    /// step), the extracted tree of a committed one.
    pub fn fs_dir(&self, key_or_name: &str) -> Result<PathBuf, SnapshotError> {
        let (id, _) = self.find(key_or_name)?;
        Ok(self.dir(&id).join("fs"))
    }

    /// Everything needed to mount the active snapshot `key` for a RUN step.
    pub fn rootfs(&self, key: &str) -> Result<Rootfs, SnapshotError> {
        let mounts = self.mounts(key)?;
        let (id, meta) = self.find(key)?;
        let lowers = match &meta.parent {
            Some(p) => self
                .chain(p)?
                .iter()
                .map(|l| self.dir(l).join("fs"))
                .collect(),
            None => Vec::new(),
        };
        let mountpoint = self.dir(&id).join("mnt");
        std::fs::create_dir_all(&mountpoint).map_err(io(&mountpoint))?;
        Ok(Rootfs {
            mounts,
            mountpoint,
            upper: self.dir(&id).join("fs"),
            lowers,
        })
    }

    /// The committed snapshot of a layer chain (named by its [`super::chain_id`]), if present.
    pub fn extracted(&self, chain_id: &Digest) -> Result<Option<Info>, SnapshotError> {
        let info = self.stat(chain_id.as_ref())?;
        Ok(info.filter(|i| i.kind == Kind::Committed))
    }

    /// Returns the committed snapshot `name`, creating it first if needed: a temporary active
    /// snapshot on `parent` is handed to `fill` (which writes the tree into the given `fs` dir,
    /// e.g. by extracting a layer) and committed as `name`. Concurrent callers are safe: the
    /// loser of the commit race discards its copy and returns the winner's.
    pub fn create_committed_from<F, E>(
        &self,
        name: &str,
        parent: Option<&str>,
        fill: F,
    ) -> Result<Info, SnapshotError>
    where
        F: FnOnce(&std::path::Path) -> Result<(), E>,
        E: std::error::Error + Send + Sync + 'static,
    {
        if let Some(info) = self.stat(name)? {
            return Ok(info);
        }
        let key = format!("fill-{}", fresh_hex(16));
        self.create(&key, parent, Kind::Active)?;
        if let Err(e) = fill(&self.fs_dir(&key)?) {
            self.remove(&key)?;
            return Err(SnapshotError::Fill {
                name: name.to_string(),
                source: Box::new(e),
            });
        }
        match self.commit(name, &key) {
            Err(SnapshotError::AlreadyExists { .. }) => {
                self.remove(&key)?;
                self.stat(name)?.ok_or_else(|| SnapshotError::NotFound {
                    key: name.to_string(),
                })
            }
            other => other,
        }
    }

    /// Creates the directory, metadata and index entry of a new snapshot.
    fn create(&self, key: &str, parent: Option<&str>, kind: Kind) -> Result<(), SnapshotError> {
        let parent_id = parent.map(|p| self.committed_id(p)).transpose()?;
        let id = fresh_hex(16);
        let dir = self.dir(&id);
        for sub in ["fs", "work"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(io(&path))?;
        }
        let meta = Meta {
            kind,
            name: key.to_string(),
            parent: parent_id,
            link: None,
        };
        self.write_meta(&id, &meta)?;
        if let Err(e) = self.add_index(key, &id) {
            std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
            return Err(e);
        }
        Ok(())
    }

    /// The id of the committed snapshot `name`.
    fn committed_id(&self, name: &str) -> Result<String, SnapshotError> {
        let (id, meta) = self.find(name)?;
        if meta.kind != Kind::Committed {
            return Err(SnapshotError::ParentNotCommitted {
                name: name.to_string(),
            });
        }
        Ok(id)
    }

    /// How many snapshots have `id` as parent.
    fn children_of(&self, id: &str) -> Result<usize, SnapshotError> {
        let mut n = 0;
        for other in self.ids()? {
            // Another build may remove a snapshot between the listing and the read.
            let meta = match self.read_meta(&other) {
                Err(SnapshotError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    continue
                }
                other => other?,
            };
            if meta.parent.as_deref() == Some(id) {
                n += 1;
            }
        }
        Ok(n)
    }

    /// The public [`Info`] of a snapshot.
    fn info(&self, id: &str, meta: Meta) -> Result<Info, SnapshotError> {
        let parent = match &meta.parent {
            Some(p) => Some(self.read_meta(p)?.name),
            None => None,
        };
        Ok(Info {
            id: id.to_string(),
            kind: meta.kind,
            name: meta.name,
            parent,
        })
    }
}

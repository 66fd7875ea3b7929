//! Extracting a layer into a directory, safely.
//!
//! Rules (a hostile layer is refused or contained, never obeyed):
//!
//! * Entry paths are cleaned lexically. A leading `/` is dropped (as docker does:
//!   `/etc/x` lands at `TARGET/etc/x`); a `..` that would climb above the target is
//!   an error naming the entry.
//! * Paths are resolved one component at a time from the target's directory fd with
//!   `O_NOFOLLOW`: a symlink on disk is never followed. A symlink *entry* may point
//!   anywhere (images carry absolute symlinks), but an entry whose path runs through
//!   it is refused. This is stricter than docker, which follows links inside a chroot.
//! * The final component is always replaced, never opened in place: a device node or
//!   symlink left by an earlier entry cannot redirect a write.
//! * A hard link must name an existing path inside the target (cleaned the same way).
//! * Extension headers are bounded ([`super::MAX_EXTENSION`]); truncated or corrupt
//!   streams are errors naming the entry being read.
//! * `trusted.overlay.*` / `user.overlay.*` xattrs from the layer are dropped: only
//!   whiteout entries may create overlay markers.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::FileType;
use thiserror::Error;

use super::compress::{decompress, Compression};
use super::extract_fs::{self as fs, FsError};
use super::read::{ReadError, TarReader};
use super::tarfmt::{Header, Kind};
use super::whiteout::{self, TarName};
use super::xattr;

/// What the target directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtractMode {
    /// A rootfs that already holds the lower layers: whiteouts delete from it.
    Apply,
    /// An empty directory that becomes an overlayfs lower dir: whiteouts become
    /// `0:0` char devices and opaque markers the `trusted.overlay.opaque` xattr.
    Overlay,
}

/// Options of [`extract`].
#[derive(Debug, Clone, Copy)]
pub struct ExtractOptions {
    /// How whiteouts are applied.
    pub mode: ExtractMode,
    /// Keep the layer's uid/gid (`lchown`); needs root.
    pub same_owner: bool,
}

impl ExtractOptions {
    /// `mode`, keeping owners exactly when running as root.
    pub fn new(mode: ExtractMode) -> Self {
        ExtractOptions {
            mode,
            same_owner: rustix::process::geteuid().is_root(),
        }
    }
}

/// What [`extract`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExtractStats {
    /// Entries processed (whiteouts included, extension headers not).
    pub entries: u64,
    /// Bytes of regular file data written.
    pub file_bytes: u64,
    /// Whiteout and opaque markers applied.
    pub whiteouts: u64,
    /// The compression the stream turned out to have.
    pub compression: Compression,
}

/// Extraction failed; every variant names the entry when there is one.
#[derive(Debug, Error)]
pub enum ExtractError {
    /// The target directory cannot be opened.
    #[error("opening the extraction target {path}: {source}")]
    Target {
        /// The target.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The tar stream is broken between entries.
    #[error("reading the layer after entry {after:?}: {source}")]
    Read {
        /// The last entry read completely, if any.
        after: Option<String>,
        /// What went wrong.
        source: ReadError,
    },
    /// Reading an entry's data failed (truncated or corrupt compressed stream).
    #[error("entry {entry:?}: reading its data: {source}")]
    Data {
        /// The entry.
        entry: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The entry's path is unacceptable.
    #[error("entry {entry:?}: {reason}")]
    BadPath {
        /// The entry.
        entry: String,
        /// Why.
        reason: &'static str,
    },
    /// A hard link's target is outside the target or does not exist.
    #[error("entry {entry:?}: hard link target {link:?} {reason}")]
    BadLink {
        /// The entry.
        entry: String,
        /// The link target as written in the tar.
        link: String,
        /// Why.
        reason: &'static str,
    },
    /// A file system operation failed or was refused.
    #[error("entry {entry:?}: {source}")]
    Fs {
        /// The entry.
        entry: String,
        /// The failed operation.
        source: FsError,
    },
    /// The entry type is not supported in layers (sparse files, …).
    #[error("entry {entry:?}: unsupported tar entry type {flag:?}")]
    Unsupported {
        /// The entry.
        entry: String,
        /// The type flag.
        flag: char,
    },
}

/// Extracts the layer read from `reader` (plain, gzip or zstd, detected) into
/// `target`, which must exist.
pub fn extract<R: Read>(
    reader: R,
    target: &Path,
    opts: &ExtractOptions,
) -> Result<ExtractStats, ExtractError> {
    let read_err = |source| ExtractError::Read {
        after: None,
        source: ReadError::Io { offset: 0, source },
    };
    let stream = decompress(reader).map_err(read_err)?;
    let compression = stream.compression();
    let root = std::fs::File::open(target).map_err(|source| ExtractError::Target {
        path: target.into(),
        source,
    })?;
    let mut x = Extractor {
        root: OwnedFd::from(root),
        opts: *opts,
        tar: TarReader::new(stream),
        dirs: Vec::new(),
        created: HashSet::new(),
        stats: ExtractStats {
            compression,
            ..ExtractStats::default()
        },
        last: None,
        buf: vec![0; 256 * 1024],
    };
    loop {
        let h = match x.tar.next() {
            Ok(Some(h)) => h,
            Ok(None) => break,
            Err(source) => {
                return Err(ExtractError::Read {
                    after: x.last.clone(),
                    source,
                })
            }
        };
        let name = String::from_utf8_lossy(&h.path).into_owned();
        x.entry(&h, &name)?;
        x.stats.entries += 1;
        x.last = Some(name);
    }
    if let Err(source) = x.tar.drain() {
        return Err(ExtractError::Read {
            after: x.last.clone(),
            source,
        });
    }
    x.finish_dirs()?;
    Ok(x.stats)
}

struct Extractor<R> {
    root: OwnedFd,
    opts: ExtractOptions,
    tar: TarReader<R>,
    /// Directories whose mode and mtime are set last (children change the mtime).
    dirs: Vec<(Vec<Vec<u8>>, u32, i64)>,
    /// Paths this layer created (Apply mode): an opaque marker keeps them.
    created: HashSet<Vec<u8>>,
    stats: ExtractStats,
    last: Option<String>,
    buf: Vec<u8>,
}

/// Splits and cleans an entry path; `None` when `..` climbs above the root.
fn clean(path: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut comps: Vec<Vec<u8>> = Vec::new();
    for comp in path.split(|b| *b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                comps.pop()?;
            }
            _ => comps.push(comp.to_vec()),
        }
    }
    Some(comps)
}

impl<R: Read> Extractor<R> {
    fn entry(&mut self, h: &Header, name: &str) -> Result<(), ExtractError> {
        let bad = |reason| ExtractError::BadPath {
            entry: name.to_string(),
            reason,
        };
        let comps = clean(&h.path).ok_or_else(|| bad("climbs out of the target with `..`"))?;
        let Some((last, parent)) = comps.split_last() else {
            return match h.kind {
                Kind::Dir => self.root_dir(h, name),
                _ => Err(bad(
                    "names the target directory itself but is not a directory",
                )),
            };
        };
        let parent: Vec<&[u8]> = parent.iter().map(Vec::as_slice).collect();
        match whiteout::classify(std::ffi::OsStr::from_bytes(last)) {
            TarName::Plain => self.create(h, name, &parent, last),
            TarName::Whiteout(target) => self.whiteout(name, &parent, target.as_bytes()),
            TarName::Opaque => self.opaque(name, &parent),
            TarName::Meta => Ok(()),
            TarName::Invalid => Err(bad("is a whiteout without a valid name")),
        }
    }

    fn fs_err(name: &str) -> impl Fn(FsError) -> ExtractError + '_ {
        move |source| ExtractError::Fs {
            entry: name.to_string(),
            source,
        }
    }

    fn owner(&self, h: &Header) -> Option<(rustix::fs::Uid, rustix::fs::Gid)> {
        if self.opts.same_owner {
            fs::ids(h.uid, h.gid)
        } else {
            None
        }
    }

    fn root_dir(&mut self, h: &Header, name: &str) -> Result<(), ExtractError> {
        fs::set_owner_mode(&self.root, self.owner(h), 0o700).map_err(Self::fs_err(name))?;
        self.set_xattrs(&self.root, h, name)?;
        self.dirs.push((Vec::new(), h.mode, h.mtime));
        Ok(())
    }

    fn create(
        &mut self,
        h: &Header,
        name: &str,
        parent: &[&[u8]],
        last: &[u8],
    ) -> Result<(), ExtractError> {
        let dir = fs::open_dir(&self.root, parent, true).map_err(Self::fs_err(name))?;
        let dir = dir.ok_or_else(|| ExtractError::BadPath {
            entry: name.into(),
            reason: "parent vanished",
        })?;
        match h.kind {
            Kind::Dir => self.create_dir(h, name, &dir, parent, last)?,
            Kind::Regular => self.create_file(h, name, &dir, last)?,
            Kind::Link => self.create_link(h, name, &dir, last)?,
            Kind::Symlink => {
                fs::clear(&dir, last, false).map_err(Self::fs_err(name))?;
                fs::symlink(&dir, last, &h.link).map_err(Self::fs_err(name))?;
                fs::set_meta_at(&dir, last, self.owner(h), None, h.mtime)
                    .map_err(Self::fs_err(name))?;
            }
            Kind::Char | Kind::Block | Kind::Fifo => self.create_node(h, name, &dir, last)?,
            other => {
                let flag = char::from(other.flag());
                return Err(ExtractError::Unsupported {
                    entry: name.into(),
                    flag,
                });
            }
        }
        self.remember(parent, last);
        Ok(())
    }

    /// Records a created path and its ancestors, for opaque markers in Apply mode.
    fn remember(&mut self, parent: &[&[u8]], last: &[u8]) {
        if self.opts.mode != ExtractMode::Apply {
            return;
        }
        let mut path = Vec::new();
        for comp in parent.iter().copied().chain([last]) {
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(comp);
            if !self.created.contains(&path) {
                self.created.insert(path.clone());
            }
        }
    }

    fn create_dir(
        &mut self,
        h: &Header,
        name: &str,
        dir: &OwnedFd,
        parent: &[&[u8]],
        last: &[u8],
    ) -> Result<(), ExtractError> {
        let err = Self::fs_err(name);
        if !fs::clear(dir, last, true).map_err(&err)? {
            fs::mkdir(dir, last).map_err(&err)?;
        }
        let me = fs::open_dir(dir, &[last], false).map_err(&err)?;
        let me = me.ok_or_else(|| ExtractError::BadPath {
            entry: name.into(),
            reason: "directory vanished",
        })?;
        fs::set_owner_mode(&me, self.owner(h), 0o700).map_err(&err)?;
        self.set_xattrs(&me, h, name)?;
        let mut comps: Vec<Vec<u8>> = parent.iter().map(|c| c.to_vec()).collect();
        comps.push(last.to_vec());
        self.dirs.push((comps, h.mode, h.mtime));
        Ok(())
    }

    fn create_file(
        &mut self,
        h: &Header,
        name: &str,
        dir: &OwnedFd,
        last: &[u8],
    ) -> Result<(), ExtractError> {
        let err = Self::fs_err(name);
        fs::clear(dir, last, false).map_err(&err)?;
        let mut file = fs::create_file(dir, last).map_err(&err)?;
        self.copy_data(&mut file, name)?;
        fs::set_owner_mode(&file, self.owner(h), h.mode).map_err(&err)?;
        self.set_xattrs(&file, h, name)?;
        fs::set_mtime(&file, h.mtime).map_err(&err)
    }

    fn copy_data(&mut self, file: &mut std::fs::File, name: &str) -> Result<(), ExtractError> {
        let mut data = self.tar.data();
        loop {
            let n = match data.read(&mut self.buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(ExtractError::Data {
                        entry: name.into(),
                        source,
                    })
                }
            };
            file.write_all(&self.buf[..n])
                .map_err(|source| ExtractError::Fs {
                    entry: name.into(),
                    source: FsError::Io {
                        op: "write",
                        source,
                    },
                })?;
            self.stats.file_bytes += n as u64;
        }
    }

    fn create_link(
        &mut self,
        h: &Header,
        name: &str,
        dir: &OwnedFd,
        last: &[u8],
    ) -> Result<(), ExtractError> {
        let link = String::from_utf8_lossy(&h.link).into_owned();
        let bad = |reason| ExtractError::BadLink {
            entry: name.into(),
            link: link.clone(),
            reason,
        };
        let comps = clean(&h.link).ok_or_else(|| bad("climbs out of the target with `..`"))?;
        let (target, target_parent) = comps
            .split_last()
            .ok_or_else(|| bad("names the target directory"))?;
        let target_parent: Vec<&[u8]> = target_parent.iter().map(Vec::as_slice).collect();
        let err = Self::fs_err(name);
        let from = fs::open_dir(&self.root, &target_parent, false).map_err(&err)?;
        let from = from.ok_or_else(|| bad("does not exist in the target"))?;
        if fs::lstat(&from, target).map_err(&err)?.is_none() {
            return Err(bad("does not exist in the target"));
        }
        fs::clear(dir, last, false).map_err(&err)?;
        fs::hardlink(&from, target, dir, last).map_err(&err)
    }

    fn create_node(
        &mut self,
        h: &Header,
        name: &str,
        dir: &OwnedFd,
        last: &[u8],
    ) -> Result<(), ExtractError> {
        let err = Self::fs_err(name);
        let kind = match h.kind {
            Kind::Char => FileType::CharacterDevice,
            Kind::Block => FileType::BlockDevice,
            _ => FileType::Fifo,
        };
        fs::clear(dir, last, false).map_err(&err)?;
        let dev = rustix::fs::makedev(h.dev_major, h.dev_minor);
        fs::mknod(dir, last, kind, dev).map_err(&err)?;
        fs::set_meta_at(dir, last, self.owner(h), Some(h.mode), h.mtime).map_err(&err)
    }

    fn set_xattrs(
        &self,
        fd: &impl std::os::fd::AsFd,
        h: &Header,
        name: &str,
    ) -> Result<(), ExtractError> {
        for (key, value) in h.xattrs.iter().filter(|(k, _)| xattr::is_archived(k)) {
            xattr::set(fd, key, value).map_err(|source| ExtractError::Fs {
                entry: name.into(),
                source: FsError::Io {
                    op: "fsetxattr",
                    source,
                },
            })?;
        }
        Ok(())
    }

    fn whiteout(
        &mut self,
        name: &str,
        parent: &[&[u8]],
        target: &[u8],
    ) -> Result<(), ExtractError> {
        let err = Self::fs_err(name);
        self.stats.whiteouts += 1;
        let overlay = self.opts.mode == ExtractMode::Overlay;
        let Some(dir) = fs::open_dir(&self.root, parent, overlay).map_err(&err)? else {
            return Ok(()); // nothing below to delete
        };
        fs::remove(&dir, target).map_err(&err)?;
        if overlay {
            whiteout::make_overlay_whiteout(&dir, std::ffi::OsStr::from_bytes(target)).map_err(
                |source| {
                    err(FsError::Io {
                        op: "mknodat(whiteout 0:0)",
                        source,
                    })
                },
            )?;
        }
        Ok(())
    }

    fn opaque(&mut self, name: &str, parent: &[&[u8]]) -> Result<(), ExtractError> {
        let err = Self::fs_err(name);
        self.stats.whiteouts += 1;
        let overlay = self.opts.mode == ExtractMode::Overlay;
        let Some(dir) = fs::open_dir(&self.root, parent, overlay).map_err(&err)? else {
            return Ok(());
        };
        if overlay {
            return whiteout::mark_overlay_opaque(&dir).map_err(|source| {
                err(FsError::Io {
                    op: "fsetxattr(trusted.overlay.opaque)",
                    source,
                })
            });
        }
        let prefix = parent.join(&b'/');
        let created = &self.created;
        fs::remove_children(&dir, |child| {
            let mut path = prefix.clone();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(child);
            created.contains(&path)
        })
        .map_err(&err)
    }

    /// Sets the deferred modes and mtimes of directories, deepest last-created first.
    /// A directory that a later entry removed or replaced is skipped.
    fn finish_dirs(&mut self) -> Result<(), ExtractError> {
        for (comps, mode, mtime) in self.dirs.iter().rev() {
            let parts: Vec<&[u8]> = comps.iter().map(Vec::as_slice).collect();
            let name = String::from_utf8_lossy(&parts.join(&b'/')).into_owned();
            let Ok(Some(fd)) = fs::open_dir(&self.root, &parts, false) else {
                continue;
            };
            let err = Self::fs_err(&name);
            fs::set_owner_mode(&fd, None, *mode).map_err(&err)?;
            fs::set_mtime(&fd, *mtime).map_err(&err)?;
        }
        Ok(())
    }
}

use std::os::unix::ffi::OsStrExt;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_paths() {
        let c = |p: &str| {
            clean(p.as_bytes()).map(|v| {
                v.iter()
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(c("a/b/../c"), Some(vec!["a".into(), "c".into()]));
        assert_eq!(c("/etc/x"), Some(vec!["etc".into(), "x".into()]));
        assert_eq!(c("./a//b/"), Some(vec!["a".into(), "b".into()]));
        assert_eq!(c("../x"), None);
        assert_eq!(c("a/../../x"), None);
        assert_eq!(c("./"), Some(vec![]));
    }
}

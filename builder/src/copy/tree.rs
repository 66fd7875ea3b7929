//! Copying resolved sources into the destination rootfs.

use std::collections::{HashMap, HashSet};
use std::fs::Metadata;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::owner::Owner;
use super::rootpath::{self, InRoot};
use super::source::Source;
use super::{archive, fsops, CopyError, CopyStats, Dest};
use crate::context::{walk, IgnoreMatcher};

/// A directory and the (atime, mtime) pairs of seconds and nanoseconds to give it.
pub(crate) type DirTimes = (PathBuf, (i64, i64), (i64, i64));

/// One COPY/ADD step's writer into a rootfs.
pub(crate) struct Copier<'a> {
    root: &'a Path,
    /// `--chown`, when given.
    chown: Option<Owner>,
    /// Keep source owners (`--from` without `--chown`); otherwise 0:0.
    keep_owner: bool,
    chmod: Option<u32>,
    /// Source (dev, inode) → first destination path, to keep hardlinks.
    links: HashMap<(u64, u64), PathBuf>,
    /// Directories this copier made for the source being copied: nothing is in the way of
    /// an entry placed in one of them, so it needs no `lstat` + remove first.
    fresh: HashSet<PathBuf>,
    /// The buffer small files are copied through.
    scratch: Vec<u8>,
    /// Directories whose times are set once their contents are written.
    pub(crate) dir_times: Vec<DirTimes>,
    pub(crate) stats: CopyStats,
}

impl<'a> Copier<'a> {
    /// A copier into `root`.
    pub(crate) fn new(
        root: &'a Path,
        chown: Option<Owner>,
        keep_owner: bool,
        chmod: Option<u32>,
    ) -> Self {
        let (links, dir_times, stats) = (HashMap::new(), Vec::new(), CopyStats::default());
        Copier {
            root,
            chown,
            keep_owner,
            chmod,
            links,
            fresh: HashSet::new(),
            scratch: Vec::new(),
            dir_times,
            stats,
        }
    }

    /// `--chown`, when given.
    pub(crate) fn chown(&self) -> Option<Owner> {
        self.chown
    }

    /// Owner of created parent directories and generated files: `--chown` or 0:0.
    pub(crate) fn base_owner(&self) -> Owner {
        self.chown.unwrap_or(Owner { uid: 0, gid: 0 })
    }

    /// The destination rootfs.
    pub(crate) fn root(&self) -> &Path {
        self.root
    }

    /// The owner of a copied entry whose source owner is `src`.
    pub(crate) fn owner_for(&self, src: Owner) -> Owner {
        match self.chown {
            Some(o) => o,
            None if self.keep_owner => src,
            None => Owner { uid: 0, gid: 0 },
        }
    }

    /// The mode for a copied file or directory: `--chmod` wins.
    pub(crate) fn mode_for(&self, src_mode: u32) -> u32 {
        self.chmod.unwrap_or(src_mode & 0o7777)
    }

    /// Sets directory times last, deepest first; returns the statistics.
    pub(crate) fn finish(mut self) -> Result<CopyStats, CopyError> {
        while let Some((path, atime, mtime)) = self.dir_times.pop() {
            fsops::set_times(&path, atime, mtime)?;
        }
        Ok(self.stats)
    }

    /// Copies one resolved source to `dest`; `extract` enables ADD's archive handling.
    pub(crate) fn copy_source(
        &mut self,
        src: &Source,
        src_root: &Path,
        filter: Filter<'_>,
        dest: &Dest,
        extract: bool,
    ) -> Result<(), CopyError> {
        self.fresh.clear(); // this source may put entries into dirs an earlier one made
        if src.meta.is_dir() {
            let dir = self.mkdir_p(&dest.path, Some(src))?;
            return self.copy_contents(src, src_root, filter, dir);
        }
        if extract && src.meta.is_file() {
            if let Some(reader) = archive::open_if_archive(&src.host)? {
                let dir = self.mkdir_p(&dest.path, None)?;
                return archive::extract(self, reader, &src.name, &dir);
            }
        }
        let target = self.file_target(dest, &src.name)?;
        self.place(&src.host, &src.meta, &target)
    }

    /// Where a single file named `name` lands for `dest`.
    pub(crate) fn file_target(&mut self, dest: &Dest, name: &str) -> Result<PathBuf, CopyError> {
        let resolved = rootpath::resolve(self.root, &dest.path, true, None)?;
        if dest.as_dir || (resolved.exists && resolved.host.is_dir()) {
            let dir = self.mkdir_p(&dest.path, None)?;
            return Ok(dir.host.join(name));
        }
        let parent =
            resolved
                .inner
                .rsplit_once('/')
                .map_or("/", |(p, _)| if p.is_empty() { "/" } else { p });
        self.mkdir_p(parent, None)?;
        Ok(resolved.host)
    }

    /// `mkdir -p` of an in-root path, every component resolved inside the root. Created
    /// parents are 0755 and owned by the base owner; when `top` is given and the last
    /// component is created, it takes the source directory's metadata instead.
    pub(crate) fn mkdir_p(
        &mut self,
        inner: &str,
        top: Option<&Source>,
    ) -> Result<InRoot, CopyError> {
        let parts: Vec<&str> = inner.split('/').filter(|p| !p.is_empty()).collect();
        let mut prefix = String::from("/");
        let mut current = rootpath::resolve(self.root, "/", true, None)?;
        for (i, part) in parts.iter().enumerate() {
            prefix = rootpath::join_inner(&prefix, part);
            current = rootpath::resolve(self.root, &prefix, true, None)?;
            if current.exists {
                continue;
            }
            fsops::mkdir(&current.host)?;
            self.stats.dirs += 1;
            match top.filter(|_| i + 1 == parts.len()) {
                Some(src) => self.apply_dir_meta(&src.host, &src.meta, &current.host)?,
                None => {
                    fsops::set_owner(&current.host, self.base_owner())?;
                    fsops::set_mode(&current.host, 0o755)?;
                }
            }
        }
        if !current.host.is_dir() {
            return Err(match top {
                Some(src) => CopyError::DirOntoFile {
                    src: src.inner.clone(),
                    dest: current.inner,
                },
                None => CopyError::NotADirectory {
                    path: current.inner,
                },
            });
        }
        Ok(current)
    }

    /// Copies what is below a directory source into `dir`.
    fn copy_contents(
        &mut self,
        src: &Source,
        src_root: &Path,
        filter: Filter<'_>,
        dir: InRoot,
    ) -> Result<(), CopyError> {
        let start = if src.inner == "/" {
            "."
        } else {
            &src.inner[1..]
        };
        let entries = walk(src_root, start, filter.ignore).map_err(|e| walk_error(&src.host, e))?;
        let prefix_len = if start == "." { 0 } else { start.len() + 1 };
        let keep = filter.keep(&entries, prefix_len);
        let mut dirs: HashMap<String, InRoot> = HashMap::from([(String::new(), dir)]);
        for (e, _) in entries.iter().zip(keep).filter(|(_, k)| *k) {
            let suffix = &e.rel[prefix_len..];
            let (parent, name) = suffix.rsplit_once('/').unwrap_or(("", suffix));
            let Some(parent) = dirs.get(parent).cloned() else {
                continue;
            };
            let target = parent.host.join(name);
            if e.meta.is_dir() {
                let inner = rootpath::join_inner(&parent.inner, name);
                let made = self.child_dir(&e.path, &e.meta, target, inner)?;
                dirs.insert(suffix.to_string(), made);
            } else {
                self.place(&e.path, &e.meta, &target)?;
            }
        }
        Ok(())
    }

    /// Makes (or reuses) the directory `host` for a source directory.
    fn child_dir(
        &mut self,
        src: &Path,
        meta: &Metadata,
        host: PathBuf,
        inner: String,
    ) -> Result<InRoot, CopyError> {
        let existing = std::fs::symlink_metadata(&host).ok();
        if existing.as_ref().is_some_and(|m| m.is_dir()) {
            return Ok(InRoot {
                inner,
                host,
                exists: true,
            });
        }
        if existing
            .as_ref()
            .is_some_and(|m| m.file_type().is_symlink())
        {
            let through = rootpath::resolve(self.root, &inner, true, None)?;
            if through.exists && through.host.is_dir() {
                return Ok(through);
            }
        }
        fsops::clear(&host, false)?;
        fsops::mkdir(&host)?;
        self.fresh.insert(host.clone());
        self.stats.dirs += 1;
        self.apply_dir_meta(src, meta, &host)?;
        Ok(InRoot {
            inner,
            host,
            exists: true,
        })
    }

    /// Owner, mode and xattrs of a new directory now; its times at [`Copier::finish`].
    fn apply_dir_meta(
        &mut self,
        src: &Path,
        meta: &Metadata,
        host: &Path,
    ) -> Result<(), CopyError> {
        fsops::set_owner(host, self.owner_for(owner_of(meta)))?;
        fsops::set_mode(host, self.mode_for(meta.mode()))?;
        fsops::copy_xattrs(src, host)?;
        let (atime, mtime) = fsops::times_of(meta);
        self.dir_times.push((host.to_path_buf(), atime, mtime));
        Ok(())
    }

    /// Writes one non-directory source entry at `target`, replacing what is there.
    pub(crate) fn place(
        &mut self,
        src: &Path,
        meta: &Metadata,
        target: &Path,
    ) -> Result<(), CopyError> {
        if !target.parent().is_some_and(|p| self.fresh.contains(p)) {
            fsops::clear(target, true)?;
        }
        let ft = meta.file_type();
        if ft.is_socket() {
            return Ok(());
        }
        if meta.nlink() > 1 && !ft.is_symlink() {
            if let Some(first) = self.links.get(&(meta.dev(), meta.ino())) {
                std::fs::hard_link(first, target).map_err(|e| CopyError::io("link", target, e))?;
                self.stats.hardlinks += 1;
                return Ok(());
            }
            self.links
                .insert((meta.dev(), meta.ino()), target.to_path_buf());
        }
        if ft.is_symlink() {
            let link = std::fs::read_link(src).map_err(|e| CopyError::io("readlink", src, e))?;
            fsops::symlink(&link, target)?;
            fsops::set_owner(target, self.owner_for(owner_of(meta)))?;
            self.stats.symlinks += 1;
            return fsops::copy_times(target, meta);
        }
        if ft.is_file() {
            let mut from = std::fs::File::open(src).map_err(|e| CopyError::io("open", src, e))?;
            let to = match meta.len() <= SMALL_FILE {
                // One read and one write: copy_file_range fails with EXDEV from the context
                // into the overlay mount, and the sendfile fallback costs two more calls.
                true => {
                    let mut buf = std::mem::take(&mut self.scratch);
                    let n = read_small(&mut from, src, &mut buf)?;
                    let to = self.fill_file(&mut &buf[..n], target);
                    self.scratch = buf;
                    to?
                }
                false => self.fill_file(&mut from, target)?,
            };
            let (owner, mode) = (self.owner_for(owner_of(meta)), self.mode_for(meta.mode()));
            return fsops::finish_file(&to, target, owner, mode, &from, meta);
        } else {
            fsops::mknod(target, meta)?;
            self.stats.specials += 1;
        }
        self.finish_entry(src, meta, target)
    }

    /// Owner, mode, xattrs and times of a new file or special entry.
    fn finish_entry(
        &mut self,
        src: &Path,
        meta: &Metadata,
        target: &Path,
    ) -> Result<(), CopyError> {
        fsops::set_owner(target, self.owner_for(owner_of(meta)))?;
        fsops::set_mode(target, self.mode_for(meta.mode()))?;
        fsops::copy_xattrs(src, target)?;
        fsops::copy_times(target, meta)
    }

    /// Streams `content` into a new file at `target` (which must be clear).
    pub(crate) fn write_file<R: Read + ?Sized>(
        &mut self,
        content: &mut R,
        target: &Path,
    ) -> Result<u64, CopyError> {
        let before = self.stats.bytes;
        self.fill_file(content, target)?;
        Ok(self.stats.bytes - before)
    }

    /// [`Copier::write_file`], returning the open file.
    fn fill_file<R: Read + ?Sized>(
        &mut self,
        content: &mut R,
        target: &Path,
    ) -> Result<std::fs::File, CopyError> {
        let mut to = fsops::create_file(target)?;
        let n = std::io::copy(content, &mut to).map_err(|e| CopyError::io("write", target, e))?;
        self.stats.files += 1;
        self.stats.bytes += n;
        Ok(to)
    }
}

/// Files up to this size are copied through a buffer (see [`Copier::place`]).
const SMALL_FILE: u64 = 64 << 10;

/// Reads a small file whole (whatever its length is by now) into `buf`; returns its length.
fn read_small(from: &mut std::fs::File, src: &Path, buf: &mut Vec<u8>) -> Result<usize, CopyError> {
    let mut n = 0;
    loop {
        if n == buf.len() {
            buf.resize((n * 2).max(SMALL_FILE as usize + 1), 0); // first use, or it grew
        }
        match from.read(&mut buf[n..]) {
            Ok(0) => return Ok(n),
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(CopyError::io("read", src, e)),
        }
    }
}

/// The uid/gid of an `lstat` result.
pub(crate) fn owner_of(meta: &Metadata) -> Owner {
    Owner {
        uid: meta.uid(),
        gid: meta.gid(),
    }
}

/// Maps a walk error to a copy error on the source directory.
pub(crate) fn walk_error(path: &Path, e: crate::context::ContextError) -> CopyError {
    match e {
        crate::context::ContextError::Io { path, source } => CopyError::io("read", &path, source),
        other => CopyError::io("walk", path, std::io::Error::other(other.to_string())),
    }
}

/// `entry`'s path below the source (`prefix_len` bytes of its `rel` name the source).
fn rel(entry: &crate::context::WalkEntry, prefix_len: usize) -> &str {
    &entry.rel[prefix_len..]
}

/// Which entries below a source directory are copied: not ignored by `.dockerignore` (paths
/// relative to the source root), not excluded by `--exclude` (relative to the source), and,
/// with an include pattern (`COPY --parents`), matched by it or a parent of a match.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Filter<'a> {
    /// The `.dockerignore` rules of the source root.
    pub ignore: &'a IgnoreMatcher,
    /// The `--exclude` patterns.
    pub excludes: &'a IgnoreMatcher,
    /// Only these paths (and the dirs leading to them), when given.
    pub include: Option<&'a IgnoreMatcher>,
    /// Where the source lies below the root `excludes` are relative to (`--parents`: the
    /// pivot), `""` for the source itself.
    pub exclude_base: &'a str,
}

impl Filter<'_> {
    /// For each of `entries` (walk order; `prefix_len` bytes of `rel` name the source), whether
    /// it is copied.
    pub(crate) fn keep(
        &self,
        entries: &[crate::context::WalkEntry],
        prefix_len: usize,
    ) -> Vec<bool> {
        if self.excludes.is_empty() && self.include.is_none() {
            return vec![true; entries.len()]; // a plain COPY: no per-entry work
        }
        let mut keep: Vec<bool> = entries
            .iter()
            .map(|e| {
                let excluded = match self.exclude_base {
                    "" => self.excludes.is_excluded(rel(e, prefix_len)),
                    base => self
                        .excludes
                        .is_excluded(&format!("{base}/{}", rel(e, prefix_len))),
                };
                !excluded
                    && self
                        .include
                        .is_none_or(|i| i.is_excluded(rel(e, prefix_len)))
            })
            .collect();
        if self.include.is_some() {
            let mut ancestors = HashSet::new();
            for (e, _) in entries.iter().zip(&keep).filter(|(_, k)| **k) {
                let mut rest = rel(e, prefix_len);
                while let Some((parent, _)) = rest.rsplit_once('/') {
                    ancestors.insert(parent);
                    rest = parent;
                }
            }
            for (e, k) in entries.iter().zip(keep.iter_mut()) {
                *k = *k || (e.meta.is_dir() && ancestors.contains(rel(e, prefix_len)));
            }
        }
        keep
    }
}

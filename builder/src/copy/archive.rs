//! ADD's archive handling: detect a local tar (plain, gzip, bzip2 or xz) by its content and
//! extract it into the destination directory, safely.
//!
//! Safety rules, as docker's untar: an entry whose name leaves the extraction directory
//! (`../x`) refuses the archive; so does a relative symlink or a hardlink whose target leaves
//! it. Every entry's parent directory is resolved inside the rootfs (an absolute symlink
//! the archive made earlier points inside the rootfs, not at the host), and nothing is ever
//! opened through a symlink.

use std::fs::File;
use std::io::{Cursor, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use tar::EntryType;

use super::owner::Owner;
use super::rootpath::{self, InRoot};
use super::tree::Copier;
use super::{fsops, CopyError};
use crate::context::ignore::clean_path;

/// A decompressed archive stream.
pub(crate) type ArchiveReader = Box<dyn Read>;

/// Size of a tar header block.
const BLOCK: usize = 512;

/// Opens `path` as a tar stream when its content is a (possibly compressed) tar archive.
pub(crate) fn open_if_archive(path: &Path) -> Result<Option<ArchiveReader>, CopyError> {
    let open = || File::open(path).map_err(|e| CopyError::io("open", path, e));
    let magic = read_up_to(&mut open()?, 6).map_err(|e| CopyError::io("read", path, e))?;
    let file = open()?;
    let stream: Box<dyn Read> = match magic.as_slice() {
        [0x1f, 0x8b, ..] => Box::new(flate2::read::MultiGzDecoder::new(file)),
        [b'B', b'Z', b'h', ..] => Box::new(bzip2::read::MultiBzDecoder::new(file)),
        [0xfd, b'7', b'z', b'X', b'Z', 0x00] => {
            Box::new(liblzma::read::XzDecoder::new_multi_decoder(file))
        }
        _ => Box::new(file),
    };
    let mut stream = stream;
    let head = match read_up_to(&mut stream, BLOCK) {
        Ok(head) => head,
        Err(_) => return Ok(None),
    };
    if !is_tar_header(&head) {
        return Ok(None);
    }
    Ok(Some(Box::new(Cursor::new(head).chain(stream))))
}

/// Reads until `n` bytes or end of stream.
fn read_up_to(r: &mut dyn Read, n: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(n);
    r.take(n as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// A full 512-byte block whose stored checksum matches (ustar, gnu and v7 headers).
fn is_tar_header(block: &[u8]) -> bool {
    if block.len() < BLOCK || block.iter().all(|b| *b == 0) {
        return false;
    }
    let field = String::from_utf8_lossy(&block[148..156]);
    let Ok(stored) = u32::from_str_radix(field.trim_matches(|c: char| c == '\0' || c == ' '), 8)
    else {
        return false;
    };
    let sum: u32 = block[..BLOCK]
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                u32::from(b' ')
            } else {
                u32::from(*b)
            }
        })
        .sum();
    sum == stored
}

/// Extracts a tar stream into the in-root directory `dir`.
pub(crate) fn extract(
    copier: &mut Copier<'_>,
    reader: ArchiveReader,
    name: &str,
    dir: &InRoot,
) -> Result<(), CopyError> {
    let err = |source| CopyError::Archive {
        archive: name.to_string(),
        source,
    };
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(err)? {
        let mut entry = entry.map_err(err)?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Some(rel) = entry_rel(&raw, name)? else {
            continue;
        };
        Unpacker {
            copier: &mut *copier,
            archive: name,
            dir,
        }
        .entry(&mut entry, &rel)?;
    }
    Ok(())
}

/// The clean relative path of an entry; `None` for the extraction root itself.
fn entry_rel(raw: &str, archive: &str) -> Result<Option<String>, CopyError> {
    let rel = clean_path(raw.trim_start_matches('/'));
    if rel == ".." || rel.starts_with("../") {
        return Err(CopyError::ArchiveBreakout {
            archive: archive.to_string(),
            entry: raw.to_string(),
        });
    }
    Ok((rel != ".").then_some(rel))
}

/// Writes the entries of one archive.
struct Unpacker<'c, 'a, 'd> {
    copier: &'c mut Copier<'a>,
    archive: &'d str,
    dir: &'d InRoot,
}

impl Unpacker<'_, '_, '_> {
    /// Writes one entry at `rel` below the extraction directory.
    fn entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        rel: &str,
    ) -> Result<(), CopyError> {
        let header = entry.header().clone();
        let inner = rootpath::join_inner(&self.dir.inner, rel);
        let kind = header.entry_type();
        if kind == EntryType::Directory {
            let made = self.copier.mkdir_p(&inner, None)?;
            return self.finish(&made.host, &header, false);
        }
        let (parent, file) = inner.rsplit_once('/').unwrap_or(("", &inner));
        let parent = self
            .copier
            .mkdir_p(if parent.is_empty() { "/" } else { parent }, None)?;
        let target = parent.host.join(file);
        fsops::clear(&target, true)?;
        match kind {
            EntryType::Regular | EntryType::Continuous => {
                self.copier.write_file(entry, &target)?;
            }
            EntryType::Symlink => return self.symlink(&header, rel, &target),
            EntryType::Link => return self.hardlink(&header, &target),
            EntryType::Char | EntryType::Block | EntryType::Fifo => self.mknod(&header, &target)?,
            _ => return Ok(()),
        }
        self.xattrs(entry, &target)?;
        self.finish(&target, &header, false)
    }

    /// Owner, mode and time of a written entry (`--chown` beats the archive's owner).
    fn finish(&mut self, target: &Path, header: &tar::Header, link: bool) -> Result<(), CopyError> {
        let err = |e| CopyError::Archive {
            archive: self.archive.to_string(),
            source: e,
        };
        let archived = Owner {
            uid: header.uid().map_err(err)? as u32,
            gid: header.gid().map_err(err)? as u32,
        };
        fsops::set_owner(target, self.copier.chown().unwrap_or(archived))?;
        if !link {
            fsops::set_mode(target, self.copier.mode_for(header.mode().map_err(err)?))?;
        }
        let mtime = (header.mtime().map_err(err)? as i64, 0);
        if target.is_dir() && !link {
            self.copier
                .dir_times
                .push((target.to_path_buf(), mtime, mtime));
            return Ok(());
        }
        fsops::set_times(target, mtime, mtime)
    }

    /// A symlink entry; a relative target must stay inside the extraction directory.
    fn symlink(&mut self, header: &tar::Header, rel: &str, target: &Path) -> Result<(), CopyError> {
        let link = self.link_name(header)?;
        if !link.starts_with('/') {
            let joined = match rel.rsplit_once('/') {
                Some((parent, _)) => format!("{parent}/{link}"),
                None => link.clone(),
            };
            self.check_inside(&joined, &link)?;
        }
        fsops::symlink(Path::new(&link), target)?;
        self.copier.stats.symlinks += 1;
        self.finish(target, header, true)
    }

    /// A hardlink entry; its target must be inside the extraction directory and exist.
    fn hardlink(&mut self, header: &tar::Header, target: &Path) -> Result<(), CopyError> {
        let link = self.link_name(header)?;
        let rel = self.check_inside(link.trim_start_matches('/'), &link)?;
        let inner = rootpath::join_inner(&self.dir.inner, &rel);
        let existing = rootpath::resolve(self.copier.root(), &inner, false, None)?;
        std::fs::hard_link(&existing.host, target).map_err(|e| CopyError::io("link", target, e))?;
        self.copier.stats.hardlinks += 1;
        Ok(())
    }

    /// A device or fifo entry.
    fn mknod(&mut self, header: &tar::Header, target: &Path) -> Result<(), CopyError> {
        let err = |e| CopyError::Archive {
            archive: self.archive.to_string(),
            source: e,
        };
        let kind = match header.entry_type() {
            EntryType::Char => rustix::fs::FileType::CharacterDevice,
            EntryType::Block => rustix::fs::FileType::BlockDevice,
            _ => rustix::fs::FileType::Fifo,
        };
        let major = header.device_major().map_err(err)?.unwrap_or(0);
        let minor = header.device_minor().map_err(err)?.unwrap_or(0);
        let dev = rustix::fs::makedev(major, minor);
        let mode = rustix::fs::Mode::from_raw_mode(header.mode().map_err(err)? & 0o7777);
        rustix::fs::mknodat(rustix::fs::CWD, target, kind, mode, dev)
            .map_err(|e| CopyError::io("mknod", target, e.into()))?;
        self.copier.stats.specials += 1;
        Ok(())
    }

    /// Applies `SCHILY.xattr.*` PAX records.
    fn xattrs<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        target: &Path,
    ) -> Result<(), CopyError> {
        let err = |e| CopyError::Archive {
            archive: self.archive.to_string(),
            source: e,
        };
        let Some(exts) = entry.pax_extensions().map_err(err)? else {
            return Ok(());
        };
        for ext in exts {
            let ext = ext.map_err(err)?;
            let Some(name) = ext.key_bytes().strip_prefix(b"SCHILY.xattr.") else {
                continue;
            };
            let name = std::ffi::OsStr::from_bytes(name);
            rustix::fs::lsetxattr(
                target,
                name,
                ext.value_bytes(),
                rustix::fs::XattrFlags::empty(),
            )
            .map_err(|e| CopyError::io("setxattr", target, e.into()))?;
        }
        Ok(())
    }

    /// The entry's link name.
    fn link_name(&self, header: &tar::Header) -> Result<String, CopyError> {
        let bytes = header.link_name_bytes().unwrap_or_default();
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Cleans `rel` (relative to the extraction dir) and refuses it when it leaves the dir.
    fn check_inside(&self, rel: &str, shown: &str) -> Result<String, CopyError> {
        let clean = clean_path(rel);
        if clean == ".." || clean.starts_with("../") {
            let entry = shown.to_string();
            return Err(CopyError::ArchiveBreakout {
                archive: self.archive.to_string(),
                entry,
            });
        }
        Ok(clean)
    }
}

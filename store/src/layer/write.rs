//! Directory tree → deterministic tar stream.
//!
//! The same tree (names, contents, modes, owners, mtimes, xattrs, link structure)
//! always gives the same bytes: entries come depth first with each directory's
//! names sorted by bytes (so parents precede children), uname/gname are empty,
//! atime/ctime are never written, and only whole-second mtimes are kept. Nothing
//! about the host (inode numbers, readdir order, user names) leaks into the stream.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::tarfmt::{self, Header, Kind};
use super::whiteout;
use super::xattr::{self, XattrError};

/// How to read the tree given to [`write_tree`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TreeMode {
    /// A plain directory tree (a rootfs): every file is what it is.
    #[default]
    Plain,
    /// The upper dir of an overlay mount: `0:0` char devices become `.wh.NAME`
    /// entries, `trusted.overlay.opaque=y` directories get a `.wh..wh..opq` entry.
    OverlayUpper,
}

/// Options of [`write_tree`].
#[derive(Debug, Clone, Copy, Default)]
pub struct TreeOptions {
    /// How to interpret the tree.
    pub mode: TreeMode,
    /// `SOURCE_DATE_EPOCH`: mtimes later than this are written as this.
    pub clamp_mtime: Option<i64>,
}

/// What [`write_tree`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeStats {
    /// Number of entries (PAX headers not counted).
    pub entries: u64,
    /// Bytes of the tar stream, end-of-archive blocks included.
    pub bytes: u64,
}

/// A failure while turning a tree into a tar stream.
#[derive(Debug, Error)]
pub enum WriteError {
    /// Reading the tree failed.
    #[error("reading {path}: {source}")]
    Read {
        /// The file or directory being read.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Reading the xattrs of a file failed.
    #[error(transparent)]
    Xattr(#[from] XattrError),
    /// Writing the tar stream failed.
    #[error("writing the tar stream at {path}: {source}")]
    Write {
        /// The entry being written.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A file changed size while it was being archived.
    #[error("{path} changed while being archived: expected {expected} bytes, read {actual}")]
    FileChanged {
        /// The file.
        path: PathBuf,
        /// Size from lstat, as written in the header.
        expected: u64,
        /// Bytes actually read.
        actual: u64,
    },
    /// The upper dir uses an overlay feature whose files are not self-contained.
    #[error(
        "{path}: overlay xattr {xattr} (metacopy/redirect_dir) is not supported; mount without it"
    )]
    UnsupportedOverlay {
        /// The file.
        path: PathBuf,
        /// The xattr found.
        xattr: String,
    },
    /// A real file whose name a layer tar reserves for whiteouts (`.wh.*`): every reader
    /// would take it for a deletion, so it cannot be represented (OCI image spec).
    #[error("{path}: file names starting with .wh. are reserved for whiteouts and cannot be stored in a layer")]
    ReservedName {
        /// The file.
        path: PathBuf,
    },
}

/// Writes the tree under `root` (not the root itself) as a tar stream into `out`.
///
/// File contents are streamed; memory use is bounded by one directory listing per
/// level plus one path per multiply-linked inode.
pub fn write_tree<W: Write>(
    root: &Path,
    opts: &TreeOptions,
    out: W,
) -> Result<TreeStats, WriteError> {
    let mut w = TreeWriter {
        out: CountingWriter {
            inner: out,
            count: 0,
        },
        opts: *opts,
        links: HashMap::new(),
        buf: vec![0; 256 * 1024],
        entries: 0,
    };
    w.walk(root, b"")?;
    w.finish(root)
}

struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

struct TreeWriter<W> {
    out: CountingWriter<W>,
    opts: TreeOptions,
    /// (dev, ino) of multiply-linked files → the entry path that carried the data.
    links: HashMap<(u64, u64), Vec<u8>>,
    buf: Vec<u8>,
    entries: u64,
}

impl<W: Write> TreeWriter<W> {
    fn walk(&mut self, dir: &Path, rel: &[u8]) -> Result<(), WriteError> {
        for name in sorted_names(dir)? {
            let path = dir.join(&name);
            let meta = std::fs::symlink_metadata(&path).map_err(|source| WriteError::Read {
                path: path.clone(),
                source,
            })?;
            let mut child = rel.to_vec();
            child.extend_from_slice(name.as_bytes());
            if self.entry(&path, &child, &meta)? {
                child.push(b'/');
                self.walk(&path, &child)?;
            }
        }
        Ok(())
    }

    /// Emits the entry for one file; true when it is a directory to descend into.
    fn entry(&mut self, path: &Path, rel: &[u8], meta: &Metadata) -> Result<bool, WriteError> {
        let upper = self.opts.mode == TreeMode::OverlayUpper;
        if upper && whiteout::is_overlay_whiteout(meta) {
            self.emit_whiteout(path, rel, meta)?;
            return Ok(false);
        }
        let name = path.file_name().unwrap_or_default();
        if whiteout::classify(name) != whiteout::TarName::Plain {
            return Err(WriteError::ReservedName {
                path: path.to_path_buf(),
            });
        }
        let ft = meta.file_type();
        if ft.is_socket() {
            return Ok(false); // sockets cannot be archived (docker skips them too)
        }
        let (attrs, opaque) = self.xattrs(path, meta)?;
        let mut h = self.base_header(rel, meta);
        h.xattrs = attrs;
        if ft.is_dir() {
            h.kind = Kind::Dir;
            h.path.push(b'/');
            self.emit(path, &h)?;
            if opaque {
                self.emit_opaque(path, rel, meta)?;
            }
            return Ok(true);
        }
        if ft.is_file() {
            self.emit_file(path, h, meta)?;
        } else {
            self.emit_special(path, h, meta)?;
        }
        Ok(false)
    }

    fn base_header(&self, rel: &[u8], meta: &Metadata) -> Header {
        let mut h = Header::new(Kind::Regular, rel.to_vec());
        h.mode = meta.mode() & 0o7777;
        h.uid = u64::from(meta.uid());
        h.gid = u64::from(meta.gid());
        h.mtime = self.clamp(meta.mtime());
        h
    }

    fn clamp(&self, mtime: i64) -> i64 {
        match self.opts.clamp_mtime {
            Some(max) if mtime > max => max,
            _ => mtime,
        }
    }

    /// Reads the xattrs to archive, and whether an overlay upper dir marks it opaque.
    fn xattrs(&self, path: &Path, meta: &Metadata) -> Result<(xattr::Xattrs, bool), WriteError> {
        let mut keep = Vec::new();
        let mut opaque = false;
        for (name, value) in xattr::list(path)? {
            if self.opts.mode == TreeMode::OverlayUpper {
                if name.ends_with(".overlay.metacopy") || name.ends_with(".overlay.redirect") {
                    return Err(WriteError::UnsupportedOverlay {
                        path: path.into(),
                        xattr: name,
                    });
                }
                opaque |= meta.is_dir() && whiteout::is_overlay_opaque(&name, &value);
            }
            if xattr::is_archived(&name) {
                keep.push((name, value));
            }
        }
        keep.sort();
        Ok((keep, opaque))
    }

    fn emit_whiteout(
        &mut self,
        path: &Path,
        rel: &[u8],
        meta: &Metadata,
    ) -> Result<(), WriteError> {
        let (parent, name) = split_last(rel);
        let mut marker = parent.to_vec();
        marker.extend_from_slice(
            whiteout::whiteout_name(std::ffi::OsStr::from_bytes(name)).as_bytes(),
        );
        let mut h = Header::new(Kind::Regular, marker);
        h.mtime = self.clamp(meta.mtime());
        self.emit(path, &h)
    }

    fn emit_opaque(&mut self, path: &Path, rel: &[u8], meta: &Metadata) -> Result<(), WriteError> {
        let mut marker = rel.to_vec();
        marker.push(b'/');
        marker.extend_from_slice(whiteout::opaque_name().as_bytes());
        let mut h = Header::new(Kind::Regular, marker);
        h.mtime = self.clamp(meta.mtime());
        self.emit(path, &h)
    }

    fn emit_file(&mut self, path: &Path, mut h: Header, meta: &Metadata) -> Result<(), WriteError> {
        if self.hardlink(&mut h, meta) {
            return self.emit(path, &h);
        }
        let mut file = File::open(path).map_err(|source| WriteError::Read {
            path: path.into(),
            source,
        })?;
        h.size = meta.len();
        self.emit(path, &h)?;
        self.copy_exact(path, &mut file, h.size)
    }

    fn emit_special(
        &mut self,
        path: &Path,
        mut h: Header,
        meta: &Metadata,
    ) -> Result<(), WriteError> {
        let ft = meta.file_type();
        if ft.is_symlink() {
            h.kind = Kind::Symlink;
            let target = std::fs::read_link(path).map_err(|source| WriteError::Read {
                path: path.into(),
                source,
            })?;
            h.link = target.as_os_str().as_bytes().to_vec();
            return self.emit(path, &h);
        }
        if self.hardlink(&mut h, meta) {
            return self.emit(path, &h);
        }
        h.kind = if ft.is_char_device() {
            Kind::Char
        } else if ft.is_block_device() {
            Kind::Block
        } else {
            Kind::Fifo
        };
        if h.kind != Kind::Fifo {
            h.dev_major = rustix::fs::major(meta.rdev());
            h.dev_minor = rustix::fs::minor(meta.rdev());
        }
        self.emit(path, &h)
    }

    /// Turns `h` into a link entry when its inode was already archived.
    fn hardlink(&mut self, h: &mut Header, meta: &Metadata) -> bool {
        if meta.nlink() < 2 {
            return false;
        }
        match self.links.get(&(meta.dev(), meta.ino())) {
            Some(first) => {
                h.kind = Kind::Link;
                h.link = first.clone();
                true
            }
            None => {
                self.links.insert((meta.dev(), meta.ino()), h.path.clone());
                false
            }
        }
    }

    fn emit(&mut self, path: &Path, h: &Header) -> Result<(), WriteError> {
        let mut bytes = Vec::with_capacity(tarfmt::BLOCK);
        tarfmt::encode(h, &mut bytes);
        self.entries += 1;
        self.out
            .write_all(&bytes)
            .map_err(|source| WriteError::Write {
                path: path.into(),
                source,
            })
    }

    /// Streams exactly `size` bytes of `file`, then the block padding.
    fn copy_exact(&mut self, path: &Path, file: &mut File, size: u64) -> Result<(), WriteError> {
        let mut done = 0u64;
        while done < size {
            let want = (size - done).min(self.buf.len() as u64) as usize;
            let n = match file.read(&mut self.buf[..want]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(WriteError::Read {
                        path: path.into(),
                        source,
                    })
                }
            };
            let werr = |source| WriteError::Write {
                path: path.into(),
                source,
            };
            self.out.write_all(&self.buf[..n]).map_err(werr)?;
            done += n as u64;
        }
        let mut probe = [0u8; 1];
        let grew = matches!(file.read(&mut probe), Ok(n) if n > 0);
        if done != size || grew {
            let actual = done + u64::from(grew);
            return Err(WriteError::FileChanged {
                path: path.into(),
                expected: size,
                actual,
            });
        }
        let pad = [0u8; tarfmt::BLOCK];
        let n = tarfmt::padding(size);
        self.out
            .write_all(&pad[..n])
            .map_err(|source| WriteError::Write {
                path: path.into(),
                source,
            })
    }

    fn finish(mut self, root: &Path) -> Result<TreeStats, WriteError> {
        let werr = |source| WriteError::Write {
            path: root.into(),
            source,
        };
        self.out
            .write_all(&[0u8; 2 * tarfmt::BLOCK])
            .map_err(werr)?;
        self.out.flush().map_err(werr)?;
        Ok(TreeStats {
            entries: self.entries,
            bytes: self.out.count,
        })
    }
}

/// The names in `dir`, sorted by bytes.
fn sorted_names(dir: &Path) -> Result<Vec<OsString>, WriteError> {
    let rerr = |source| WriteError::Read {
        path: dir.into(),
        source,
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(rerr)? {
        names.push(entry.map_err(rerr)?.file_name());
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

/// Splits `a/b/c` into (`a/b/`, `c`).
fn split_last(rel: &[u8]) -> (&[u8], &[u8]) {
    match rel.iter().rposition(|b| *b == b'/') {
        Some(i) => (&rel[..=i], &rel[i + 1..]),
        None => (&rel[..0], rel),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(root: &Path, opts: &TreeOptions) -> Vec<u8> {
        let mut out = Vec::new();
        let stats = write_tree(root, opts, &mut out).expect("write_tree");
        assert_eq!(stats.bytes, out.len() as u64);
        out
    }

    fn names(tar: &[u8]) -> Vec<String> {
        let mut archive = tar::Archive::new(tar);
        let entries = archive.entries().expect("entries");
        entries
            .map(|e| String::from_utf8_lossy(&e.expect("entry").path_bytes()).into_owned())
            .collect()
    }

    #[test]
    fn entries_are_sorted_depth_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        for d in ["b", "a/z", "a-b"] {
            std::fs::create_dir_all(dir.path().join(d)).expect("mkdir");
        }
        std::fs::write(dir.path().join("a/file"), b"x").expect("write");
        let tar = tar_of(dir.path(), &TreeOptions::default());
        assert_eq!(names(&tar), ["a/", "a/file", "a/z/", "a-b/", "b/"]);
    }

    #[test]
    fn a_real_file_named_like_a_whiteout_is_refused() {
        for name in [".wh.foo", ".wh..wh..opq"] {
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::write(dir.path().join(name), b"x").expect("write");
            let err = write_tree(dir.path(), &TreeOptions::default(), Vec::new()).unwrap_err();
            assert!(
                matches!(err, WriteError::ReservedName { .. }),
                "{name}: {err}"
            );
        }
    }

    #[test]
    fn file_growing_while_archived_is_detected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").expect("write");
        let meta = std::fs::symlink_metadata(&path).expect("lstat");
        std::fs::write(&path, b"0123456789abc").expect("grow");
        let mut w = TreeWriter {
            out: CountingWriter {
                inner: Vec::new(),
                count: 0,
            },
            opts: TreeOptions::default(),
            links: HashMap::new(),
            buf: vec![0; 4],
            entries: 0,
        };
        let h = w.base_header(b"f", &meta);
        let err = w.emit_file(&path, h, &meta).expect_err("must fail");
        assert!(
            matches!(err, WriteError::FileChanged { expected: 10, .. }),
            "{err}"
        );
    }

    #[test]
    fn clamp_only_lowers_mtimes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, b"x").expect("write");
        let old = rustix::fs::Timestamps {
            last_access: rustix::fs::Timespec {
                tv_sec: 100,
                tv_nsec: 0,
            },
            last_modification: rustix::fs::Timespec {
                tv_sec: 100,
                tv_nsec: 0,
            },
        };
        rustix::fs::utimensat(rustix::fs::CWD, &path, &old, rustix::fs::AtFlags::empty())
            .expect("utimes");
        for (clamp, want) in [(None, 100), (Some(50), 50), (Some(500), 100)] {
            let tar = tar_of(
                dir.path(),
                &TreeOptions {
                    mode: TreeMode::Plain,
                    clamp_mtime: clamp,
                },
            );
            let mut archive = tar::Archive::new(&tar[..]);
            let mut entries = archive.entries().expect("entries");
            let entry = entries.next().expect("one entry").expect("entry");
            assert_eq!(entry.header().mtime().expect("mtime"), want);
        }
    }
}

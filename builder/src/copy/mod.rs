//! COPY and ADD: putting files from a source root into a destination rootfs, as docker and
//! BuildKit do.
//!
//! The caller hands over the destination rootfs directory (a mounted snapshot or an upper dir)
//! and a [`CopyRequest`]. Sources are resolved against a [`SourceRoot`] (the context after
//! `.dockerignore`, or another stage's or image's rootfs) like a chroot: `..` and symlinks never
//! leave it. Destination paths are resolved inside the rootfs the same way, so a symlink in the
//! image (`/app -> /etc`, `x -> ../../../../etc`) redirects inside the rootfs, never onto the host.
//!
//! Rules kept from docker: a directory source copies its contents; a file onto `dest/` or an
//! existing directory goes inside it; several sources need a `dest/`; a relative dest is taken
//! from the WORKDIR; missing parents are created 0755; context files are owned by 0:0 unless
//! `--chown`, `--from` sources keep their owners; `--chmod` applies to copied files and dirs;
//! symlinks are copied as symlinks, hardlinks stay hardlinks, modes, xattrs and mtimes are
//! kept. A source path whose last component is a symlink is followed (inside the source root)
//! when [`CopyRequest::follow_symlinks`] is set, as BuildKit's Dockerfile frontend does.
//! ADD also extracts local tar archives (plain, gzip, bzip2, xz; detected by content) and
//! downloads URLs through a caller-supplied [`UrlFetcher`].

mod archive;
mod digest;
mod fsops;
mod owner;
mod parents;
mod remote;
mod rootpath;
mod source;
#[cfg(test)]
mod tests;
mod tree;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use digest::source_digest;
pub use owner::{parse_chmod, resolve_chown, Owner};
pub use remote::UrlFetcher;

use crate::context::{HashError, IgnoreMatcher};

/// Errors from COPY/ADD. Every variant names the path, pattern or URL it is about.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// A source matched no file (a glob with no match).
    #[error("no source files were specified: {pattern:?} matched nothing")]
    NoSourceFiles {
        /// The source pattern as written.
        pattern: String,
    },
    /// A literal source does not exist (or is excluded by `.dockerignore`).
    #[error("file not found in build context or excluded by .dockerignore: stat {path}: file does not exist")]
    SourceNotFound {
        /// The source as written.
        path: String,
    },
    /// A source path climbs out of the source root with `..`.
    #[error("forbidden path outside the build context: {path}")]
    OutsideSourceRoot {
        /// The source as written.
        path: String,
    },
    /// A COPY/ADD has no context to read from (`-` context) but names local sources.
    #[error("no build context: cannot copy {path}")]
    NoContext {
        /// The source as written.
        path: String,
    },
    /// Several sources but the destination does not end with `/`.
    #[error("When using COPY with more than one source file, the destination must be a directory and end with a /: {dest}")]
    DestNotDirectory {
        /// The destination as written.
        dest: String,
    },
    /// A directory would be copied onto an existing non-directory.
    #[error("cannot copy directory {src} to {dest}: not a directory")]
    DirOntoFile {
        /// The source directory.
        src: String,
        /// The destination in the rootfs.
        dest: String,
    },
    /// A directory the destination needs (a parent, or the destination itself) exists as a
    /// non-directory in the rootfs.
    #[error("{path} exists in the rootfs and is not a directory")]
    NotADirectory {
        /// The path in the rootfs, symlinks resolved.
        path: String,
    },
    /// Too many symlinks while resolving a path inside a root.
    #[error("too many levels of symbolic links resolving {path}")]
    SymlinkLoop {
        /// The path being resolved.
        path: String,
    },
    /// `--chown` names a user or group that the destination rootfs does not have.
    #[error("unable to convert uid/gid chown string to host mapping: can't find {what} {name} in {file}")]
    UnknownOwner {
        /// `uid` or `gid`.
        what: &'static str,
        /// The user or group name.
        name: String,
        /// `/etc/passwd` or `/etc/group`.
        file: &'static str,
    },
    /// An `--exclude` pattern does not compile.
    #[error("invalid --exclude pattern: {source}")]
    BadExclude {
        /// Why.
        #[source]
        source: crate::context::ignore::IgnoreError,
    },
    /// `--chmod` is not an octal mode.
    #[error("invalid chmod parameter {value:?}: must be an octal number up to 7777")]
    BadChmod {
        /// The value as written.
        value: String,
    },
    /// COPY was given a URL.
    #[error("source can't be a URL for COPY: {url}")]
    UrlInCopy {
        /// The URL.
        url: String,
    },
    /// ADD of a URL without a fetcher.
    #[error("ADD of a URL is not supported in this build: {url}")]
    UrlNotSupported {
        /// The URL.
        url: String,
    },
    /// Downloading a URL failed.
    #[error("downloading {url}: {source}")]
    Download {
        /// The URL.
        url: String,
        /// The error the fetcher returned.
        source: std::io::Error,
    },
    /// `--checksum` is malformed or does not match.
    #[error("checksum of {url} does not match: expected {expected}, got {actual}")]
    ChecksumMismatch {
        /// The URL.
        url: String,
        /// The expected checksum as given.
        expected: String,
        /// The computed digest.
        actual: String,
    },
    /// `--checksum` is not `sha256:<64 hex>`.
    #[error("unsupported checksum {checksum:?} for {url}: expected sha256:<hex>")]
    BadChecksum {
        /// The URL.
        url: String,
        /// The checksum as given.
        checksum: String,
    },
    /// An archive entry would land outside the extraction directory.
    #[error("refusing archive {archive}: entry {entry:?} is outside of the destination")]
    ArchiveBreakout {
        /// The archive source.
        archive: String,
        /// The hostile entry name (or link target).
        entry: String,
    },
    /// An archive could not be read.
    #[error("reading archive {archive}: {source}")]
    Archive {
        /// The archive source.
        archive: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A filesystem operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The host path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Hashing sources for the cache key failed.
    #[error(transparent)]
    Hash(#[from] HashError),
}

impl CopyError {
    /// An I/O error with its operation and path.
    pub(crate) fn io(op: &'static str, path: &Path, source: std::io::Error) -> CopyError {
        CopyError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Where COPY/ADD sources are read from.
#[derive(Debug, Clone)]
pub enum SourceRoot {
    /// The build context directory; paths excluded by the ignore rules do not exist.
    /// Copied files are owned by 0:0 unless `--chown`.
    Context {
        /// The context directory.
        dir: PathBuf,
        /// The `.dockerignore` rules.
        ignore: Arc<IgnoreMatcher>,
    },
    /// Another stage's or an image's rootfs (`--from`); owners are kept unless `--chown`.
    Rootfs(PathBuf),
    /// No context (`-` as context): only heredocs and URLs can be copied.
    None,
}

impl SourceRoot {
    /// The directory sources are resolved in, if any.
    pub fn dir(&self) -> Option<&Path> {
        match self {
            SourceRoot::Context { dir, .. } | SourceRoot::Rootfs(dir) => Some(dir),
            SourceRoot::None => None,
        }
    }

    /// The ignore rules that apply to this root.
    pub(crate) fn ignore(&self) -> Option<&IgnoreMatcher> {
        match self {
            SourceRoot::Context { ignore, .. } => Some(ignore),
            _ => None,
        }
    }
}

/// COPY or ADD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyKind {
    /// COPY: files and directories only.
    Copy,
    /// ADD: also extracts local archives and downloads URLs.
    Add,
}

/// A heredoc source (`COPY <<EOF /dest`): the file name and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The file name (the heredoc's delimiter word).
    pub name: String,
    /// The file content.
    pub body: String,
}

/// One COPY/ADD step, after word expansion.
#[derive(Clone)]
pub struct CopyRequest {
    /// COPY or ADD.
    pub kind: CopyKind,
    /// Where local sources come from.
    pub source: SourceRoot,
    /// Source paths or globs as written (relative to the source root), or URLs for ADD.
    pub sources: Vec<String>,
    /// Heredoc sources.
    pub heredocs: Vec<Heredoc>,
    /// The destination as written (absolute, or relative to `workdir`).
    pub dest: String,
    /// The stage's WORKDIR (absolute path inside the rootfs).
    pub workdir: String,
    /// `--chown=user[:group]`, resolved through the destination rootfs.
    pub chown: Option<String>,
    /// `--chmod=0755` (octal).
    pub chmod: Option<String>,
    /// ADD `--checksum=sha256:...` for URL sources.
    pub checksum: Option<String>,
    /// Follow a symlink that is the last component of a source path (inside the source root).
    pub follow_symlinks: bool,
    /// `--exclude` patterns (`.dockerignore` syntax), matched against paths relative to each
    /// source directory; the sources themselves are never excluded (BuildKit's rule).
    pub excludes: Vec<String>,
    /// `COPY --parents`: sources keep their directories (see `parents`).
    pub parents: bool,
    /// `ADD --unpack`: `Some(false)` copies local archives as they are.
    pub unpack: Option<bool>,
    /// mtime (unix seconds) for heredoc files and downloads without a Last-Modified time;
    /// `None` means now. Set it from `SOURCE_DATE_EPOCH` for reproducible builds.
    pub created_time: Option<i64>,
    /// Downloads URLs for ADD; `None` makes ADD of a URL an error.
    pub fetcher: Option<Arc<dyn UrlFetcher>>,
}

impl std::fmt::Debug for CopyRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyRequest")
            .field("kind", &self.kind)
            .field("sources", &self.sources)
            .field("dest", &self.dest)
            .field("workdir", &self.workdir)
            .field("chown", &self.chown)
            .field("chmod", &self.chmod)
            .finish_non_exhaustive()
    }
}

impl CopyRequest {
    /// Whether local archives are extracted (ADD, unless `--unpack=false`).
    pub(crate) fn extracts(&self) -> bool {
        self.kind == CopyKind::Add && self.unpack != Some(false)
    }

    /// The compiled `--exclude` patterns.
    pub(crate) fn exclude_matcher(&self) -> Result<IgnoreMatcher, CopyError> {
        IgnoreMatcher::new(&self.excludes).map_err(|source| CopyError::BadExclude { source })
    }

    /// A COPY of `sources` to `dest` from `source` with docker's defaults (workdir `/`,
    /// symlink sources followed, no chown/chmod).
    pub fn new(
        kind: CopyKind,
        source: SourceRoot,
        sources: Vec<String>,
        dest: &str,
    ) -> CopyRequest {
        CopyRequest {
            kind,
            source,
            sources,
            heredocs: Vec::new(),
            dest: dest.to_string(),
            workdir: "/".to_string(),
            chown: None,
            chmod: None,
            checksum: None,
            follow_symlinks: true,
            excludes: Vec::new(),
            parents: false,
            unpack: None,
            created_time: None,
            fetcher: None,
        }
    }
}

/// What a copy wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyStats {
    /// Regular files written.
    pub files: u64,
    /// Directories created.
    pub dirs: u64,
    /// Symlinks created.
    pub symlinks: u64,
    /// Hardlinks created (to a file copied earlier in this step).
    pub hardlinks: u64,
    /// Device nodes and fifos created.
    pub specials: u64,
    /// Content bytes written.
    pub bytes: u64,
}

/// Whether `s` is an ADD URL source.
pub fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// Runs one COPY/ADD into the rootfs at `root`; returns what was written.
pub fn copy_into(root: &Path, req: &CopyRequest) -> Result<CopyStats, CopyError> {
    let dest = dest_path(req)?;
    let chmod = req.chmod.as_deref().map(parse_chmod).transpose()?;
    let chown = req
        .chown
        .as_deref()
        .map(|c| resolve_chown(root, c))
        .transpose()?;
    let keep = matches!(req.source, SourceRoot::Rootfs(_));
    let mut copier = tree::Copier::new(root, chown, keep, chmod);
    let (urls, locals): (Vec<&String>, Vec<&String>) = req.sources.iter().partition(|s| is_url(s));
    if let (Some(url), CopyKind::Copy) = (urls.first(), req.kind) {
        return Err(CopyError::UrlInCopy {
            url: url.to_string(),
        });
    }
    let dest = copy_locals(&mut copier, req, &locals, dest)?;
    for url in urls {
        remote::add_url(&mut copier, req, url, &dest)?;
    }
    for doc in &req.heredocs {
        remote::write_heredoc(&mut copier, doc, &dest, req.created_time)?;
    }
    copier.finish()
}

/// Copies the sources that are paths in the source root (with `--parents`, each below its
/// own directory); returns `dest`, a directory when there were several sources.
fn copy_locals(
    copier: &mut tree::Copier<'_>,
    req: &CopyRequest,
    locals: &[&String],
    dest: Dest,
) -> Result<Dest, CopyError> {
    let no_rules = IgnoreMatcher::default();
    let ignore = req.source.ignore().unwrap_or(&no_rules);
    let excludes = req.exclude_matcher()?;
    let filter = tree::Filter {
        ignore,
        excludes: &excludes,
        include: None,
        exclude_base: "",
    };
    let Some(src_root) = req.source.dir() else {
        source::resolve_all(&req.source, locals, req.follow_symlinks)?; // the NoContext error
        return Ok(dest);
    };
    if req.parents {
        for p in parents::plan(req, locals, &dest.path, &excludes)? {
            let filter = tree::Filter {
                include: p.include.as_ref(),
                exclude_base: &p.exclude_base,
                ..filter
            };
            let to = Dest {
                path: p.dest,
                as_dir: true,
            };
            copier.copy_source(&p.source, src_root, filter, &to, false)?;
        }
        return Ok(dest);
    }
    let resolved = source::resolve_all(&req.source, locals, req.follow_symlinks)?;
    let dest = Dest {
        as_dir: dest.as_dir || resolved.len() > 1,
        ..dest
    };
    for src in &resolved {
        copier.copy_source(src, src_root, filter, &dest, req.extracts())?;
    }
    Ok(dest)
}

/// The destination inside the rootfs, and whether it names a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dest {
    /// Clean absolute path inside the rootfs.
    pub(crate) path: String,
    /// The dest ends with `/` (or is `.`), so sources go inside it.
    pub(crate) as_dir: bool,
}

/// Joins the dest with the workdir and checks docker's several-sources rule.
fn dest_path(req: &CopyRequest) -> Result<Dest, CopyError> {
    let d = req.dest.as_str();
    let as_dir = d.is_empty() || d == "." || d.ends_with('/') || d.ends_with("/.");
    let count = req.sources.len() + req.heredocs.len();
    if count > 1 && !as_dir {
        return Err(CopyError::DestNotDirectory {
            dest: d.to_string(),
        });
    }
    let joined = if d.starts_with('/') {
        d.to_string()
    } else {
        format!("{}/{d}", req.workdir)
    };
    let path = crate::context::ignore::clean_path(&format!("/{joined}"));
    Ok(Dest { path, as_dir })
}

/// Creates directory `path` (and its parents) inside the rootfs at `root`, resolving every
/// symlink on the way *inside* the root (WORKDIR). Existing directories are left alone.
pub fn mkdir_in_root(root: &Path, path: &str) -> Result<(), CopyError> {
    let resolved = rootpath::resolve(root, path, true, None)?;
    if resolved.exists {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .create(&resolved.host)
        .map_err(|e| CopyError::io("mkdir", &resolved.host, e))
}

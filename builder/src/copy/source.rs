//! Resolving COPY/ADD sources (paths and `filepath.Match` globs) inside the source root.

use std::fs::Metadata;
use std::path::PathBuf;

use super::rootpath::{self, InRoot};
use super::{CopyError, SourceRoot};
use crate::context::ignore::{clean_path, component_matches, has_meta};
use crate::context::IgnoreMatcher;

/// One resolved source entry.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    /// The real path inside the source root (clean, absolute).
    pub(crate) inner: String,
    /// The host path.
    pub(crate) host: PathBuf,
    /// `lstat` of the host path.
    pub(crate) meta: Metadata,
    /// The name a file source gets inside a destination directory (the name as written or
    /// matched, not a followed symlink's target).
    pub(crate) name: String,
}

/// Resolves every local source; errors name the first source that fails.
/// `follow` follows a symlink that is the last component of a source (inside the root).
pub(crate) fn resolve_all(
    root: &SourceRoot,
    sources: &[&String],
    follow: bool,
) -> Result<Vec<Source>, CopyError> {
    let mut out = Vec::new();
    for src in sources {
        let Some(dir) = root.dir() else {
            return Err(CopyError::NoContext {
                path: src.to_string(),
            });
        };
        let resolver = Resolver {
            dir: dir.to_path_buf(),
            ignore: root.ignore(),
            follow,
        };
        out.extend(resolver.resolve(src)?);
    }
    Ok(out)
}

/// Resolves sources in one root.
struct Resolver<'a> {
    dir: PathBuf,
    ignore: Option<&'a IgnoreMatcher>,
    follow: bool,
}

impl Resolver<'_> {
    /// Resolves one source as written: a literal path or a glob.
    fn resolve(&self, src: &str) -> Result<Vec<Source>, CopyError> {
        let rel = clean_path(src.trim_start_matches('/'));
        if rel == ".." || rel.starts_with("../") {
            return Err(CopyError::OutsideSourceRoot {
                path: src.to_string(),
            });
        }
        if has_meta(&rel) {
            let found = self.glob(&rel)?;
            if found.is_empty() {
                return Err(CopyError::NoSourceFiles {
                    pattern: src.to_string(),
                });
            }
            return Ok(found);
        }
        let not_found = || CopyError::SourceNotFound {
            path: src.to_string(),
        };
        let name = rel.rsplit('/').next().unwrap_or(".").to_string();
        self.entry(&format!("/{rel}"), name)?
            .map(|s| vec![s])
            .ok_or_else(not_found)
    }

    /// Resolves one in-root path; `None` when it is missing or excluded.
    fn entry(&self, path: &str, name: String) -> Result<Option<Source>, CopyError> {
        let InRoot {
            inner,
            host,
            exists,
        } = rootpath::resolve(&self.dir, path, self.follow, self.ignore)?;
        if !exists {
            return Ok(None);
        }
        let meta =
            std::fs::symlink_metadata(&host).map_err(|e| CopyError::io("lstat", &host, e))?;
        Ok(Some(Source {
            inner,
            host,
            meta,
            name,
        }))
    }

    /// Expands a glob one component at a time, in sorted order.
    fn glob(&self, pattern: &str) -> Result<Vec<Source>, CopyError> {
        let parts: Vec<&str> = pattern.split('/').collect();
        let mut current = vec!["/".to_string()];
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            let mut next = Vec::new();
            for dir in &current {
                next.extend(self.expand(dir, part, last)?);
            }
            current = next;
        }
        let mut out = Vec::new();
        for path in current {
            let name = path.rsplit('/').next().unwrap_or_default().to_string();
            out.extend(self.entry(&path, name)?);
        }
        Ok(out)
    }

    /// The children of in-root directory `dir` that match one pattern component.
    fn expand(&self, dir: &str, part: &str, last: bool) -> Result<Vec<String>, CopyError> {
        let join = |name: &str| rootpath::join_inner(dir, name);
        if !has_meta(part) {
            return Ok(vec![join(part)]);
        }
        let resolved = rootpath::resolve(&self.dir, dir, true, self.ignore)?;
        if !resolved.exists || !resolved.host.is_dir() {
            return Ok(Vec::new());
        }
        let mut names = Vec::new();
        let rd = std::fs::read_dir(&resolved.host)
            .map_err(|e| CopyError::io("readdir", &resolved.host, e))?;
        for entry in rd {
            let entry = entry.map_err(|e| CopyError::io("readdir", &resolved.host, e))?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        let keep = |name: &String| {
            let real = rootpath::join_inner(&resolved.inner, name);
            component_matches(part, name) && (last || !self.excluded_dir(&real))
        };
        Ok(names.iter().filter(|n| keep(n)).map(|n| join(n)).collect())
    }

    /// An excluded directory with nothing re-included below it.
    fn excluded_dir(&self, inner: &str) -> bool {
        let rel = &inner[1..];
        self.ignore
            .is_some_and(|ig| ig.is_excluded(rel) && !ig.must_descend(rel))
    }
}

//! `COPY --parents`: sources keep their directories below the source root, or below a
//! `/./` pivot (`COPY --parents ./x/./y/*.txt /p/` gives `/p/y/a.txt`), as BuildKit does:
//! the directory before the first wildcard is copied to the same place under the
//! destination, filtered by the rest of the pattern (an entry is copied when the pattern
//! matches it or one of its parents; directories that lead to a match come along).

use super::source::{self, Source};
use super::{CopyError, CopyRequest};
use crate::context::ignore::{clean_path, has_meta};
use crate::context::IgnoreMatcher;

/// One source directory of a `--parents` copy and where its matches go.
pub(crate) struct Planned {
    /// The resolved source directory.
    pub source: Source,
    /// The destination directory (inner path) for it.
    pub dest: String,
    /// Only what this matches (relative to `source`); everything when `None`.
    pub include: Option<IgnoreMatcher>,
    /// `source` relative to the pivot (or the source root): `--exclude` patterns match
    /// paths relative to the pivot.
    pub exclude_base: String,
}

/// The directory to copy from, its destination and the include pattern for one source.
#[derive(Debug, PartialEq, Eq)]
struct Split {
    dir: String,
    dest: String,
    pattern: String,
    required: bool,
    prefix: String,
}

fn split(src: &str, dest: &str) -> Split {
    let (root, pattern) = match src.split_once("/./") {
        Some((root, pattern)) => (clean_path(root), clean_path(pattern)),
        None => (".".to_string(), clean_path(src)),
    };
    let pattern = pattern.trim_start_matches('/').to_string();
    let parts: Vec<&str> = pattern.split('/').filter(|p| *p != ".").collect();
    let literal = parts
        .iter()
        .take(parts.len().saturating_sub(1))
        .take_while(|p| !has_meta(p))
        .count();
    let prefix = parts[..literal].join("/");
    let join = |a: &str, b: &str| match (a, b) {
        (_, "") => a.to_string(),
        (".", _) => b.to_string(),
        _ => format!("{}/{b}", a.trim_end_matches('/')),
    };
    Split {
        dir: join(&root, &prefix),
        dest: clean_path(&join(dest, &prefix)),
        pattern: parts[literal..].join("/"),
        required: !has_meta(&root) && !has_meta(&pattern),
        prefix,
    }
}

/// The source directories of `req`'s `--parents` copy of `locals`, with their destinations
/// under `dest`; a directory that `excludes` (the `--exclude` patterns) excludes as a whole is
/// left out. A source without wildcards must exist.
pub(crate) fn plan(
    req: &CopyRequest,
    locals: &[&String],
    dest: &str,
    excludes: &IgnoreMatcher,
) -> Result<Vec<Planned>, CopyError> {
    let mut out = Vec::new();
    for src in locals {
        let s = split(src, dest);
        if s.required {
            let full = format!("{}/{}", s.dir, s.pattern);
            source::resolve_all(&req.source, &[&full], req.follow_symlinks)?;
        }
        let dirs = match source::resolve_all(&req.source, &[&s.dir], req.follow_symlinks) {
            Ok(found) => found,
            Err(CopyError::SourceNotFound { .. } | CopyError::NoSourceFiles { .. })
                if !s.required =>
            {
                continue
            }
            Err(e) => return Err(e),
        };
        if !s.prefix.is_empty() && excludes.is_excluded(&s.prefix) {
            continue; // the whole directory is excluded
        }
        let include = match s.pattern.as_str() {
            "" | "." => None,
            p => Some(IgnoreMatcher::new(&[p]).map_err(|source| CopyError::BadExclude { source })?),
        };
        for source in dirs.into_iter().filter(|d| d.meta.is_dir()) {
            out.push(Planned {
                source,
                dest: s.dest.clone(),
                include: include.clone(),
                exclude_base: s.prefix.clone(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(dir: &str, dest: &str, pattern: &str, required: bool) -> Split {
        let prefix = dest_prefix(dest);
        let (dir, dest, pattern) = (dir.into(), dest.into(), pattern.into());
        Split {
            dir,
            dest,
            pattern,
            required,
            prefix,
        }
    }

    /// The literal prefix is what the dest gained under `/p` (or `/`).
    fn dest_prefix(dest: &str) -> String {
        let rest = dest.strip_prefix("/p").unwrap_or(dest);
        rest.trim_start_matches('/').to_string()
    }

    #[test]
    fn sources_split_at_the_pivot_and_the_first_wildcard() {
        assert_eq!(split("./x/a.txt", "/p"), s("x", "/p/x", "a.txt", true));
        assert_eq!(
            split("./x/./y/*.txt", "/p"),
            s("x/y", "/p/y", "*.txt", false)
        );
        assert_eq!(
            split("src/**/*.txt", "/p"),
            s("src", "/p/src", "**/*.txt", false)
        );
        assert_eq!(split("*.txt", "/p"), s(".", "/p", "*.txt", false));
        assert_eq!(split("a/b/c", "/"), s("a/b", "/a/b", "c", true));
        assert_eq!(split("dir*/./f", "/p"), s("dir*", "/p", "f", false));
    }
}

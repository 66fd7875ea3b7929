//! `.dockerignore` files with Docker's exact semantics.
//!
//! Reading follows moby/patternmatcher's `ignorefile.ReadAll`: a UTF-8 BOM is dropped, lines
//! starting with `#` are comments, whitespace is trimmed, blank lines are skipped, each pattern
//! is `filepath.Clean`ed and a leading `/` is removed (also after `!`).
//! Matching follows `PatternMatcher.MatchesOrParentMatches`: patterns are tried in order, a
//! pattern matches a path when it matches the path or one of its parent directories, and the
//! last pattern that matches decides (`!pattern` re-includes).

mod pattern;
#[cfg(test)]
mod tests;

use std::io::BufRead;
use std::path::{Path, PathBuf};

pub use pattern::clean_path;
use pattern::Pattern;
pub(crate) use pattern::{component_matches, has_meta};

/// Errors from reading or compiling `.dockerignore` patterns.
#[derive(Debug, thiserror::Error)]
pub enum IgnoreError {
    /// A pattern has bad `filepath.Match` syntax (unclosed `[`, empty class, bad range).
    #[error("syntax error in .dockerignore pattern {pattern:?}")]
    BadPattern {
        /// The offending pattern.
        pattern: String,
    },
    /// A line is a lone `!`.
    #[error("illegal exclusion pattern: \"!\"")]
    LoneExclusion,
    /// The ignore file could not be read.
    #[error("reading ignore file {path}: {source}")]
    Read {
        /// The ignore file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Parsed `.dockerignore` rules; the default value ignores nothing.
#[derive(Debug, Clone, Default)]
pub struct IgnoreMatcher {
    patterns: Vec<Pattern>,
}

/// Splits `.dockerignore` text into cleaned patterns (exceptions keep their `!`).
pub fn read_patterns(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines().filter_map(clean_line).collect()
}

/// Cleans one ignore-file line, or `None` for comments and blank lines.
fn clean_line(line: &str) -> Option<String> {
    if line.starts_with('#') {
        return None;
    }
    let mut pattern = line.trim();
    if pattern.is_empty() {
        return None;
    }
    let invert = pattern.starts_with('!');
    if invert {
        pattern = pattern[1..].trim();
    }
    let mut cleaned = String::new();
    if !pattern.is_empty() {
        cleaned = clean_path(pattern);
        if cleaned.len() > 1 && cleaned.starts_with('/') {
            cleaned.remove(0);
        }
    }
    Some(if invert {
        format!("!{cleaned}")
    } else {
        cleaned
    })
}

impl IgnoreMatcher {
    /// Compiles patterns as `read_patterns` returns them (`!` marks an exception).
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<IgnoreMatcher, IgnoreError> {
        let mut compiled = Vec::new();
        for raw in patterns {
            let raw = raw.as_ref().trim();
            if raw.is_empty() {
                continue;
            }
            let cleaned = clean_path(raw);
            let (exclusion, body) = match cleaned.strip_prefix('!') {
                Some("") => return Err(IgnoreError::LoneExclusion),
                Some(rest) => (true, rest),
                None => (false, cleaned.as_str()),
            };
            compiled.push(Pattern::compile(body, exclusion)?);
        }
        Ok(IgnoreMatcher { patterns: compiled })
    }

    /// Parses `.dockerignore` text.
    pub fn parse(text: &str) -> Result<IgnoreMatcher, IgnoreError> {
        IgnoreMatcher::new(&read_patterns(text))
    }

    /// Reads an ignore file; a missing file gives an empty matcher.
    pub fn load(path: &Path) -> Result<IgnoreMatcher, IgnoreError> {
        let read_err = |source| IgnoreError::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(read_err(e)),
        };
        let mut lines = Vec::new();
        for line in std::io::BufReader::new(file).lines() {
            lines.push(line.map_err(read_err)?);
        }
        Self::parse(&lines.join("\n"))
    }

    /// True when there are no patterns at all.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether the slash-separated context-relative `path` is excluded (`MatchesOrParentMatches`).
    /// The context root `.` is never excluded.
    pub fn is_excluded(&self, path: &str) -> bool {
        let path = clean_path(path);
        if path == "." {
            return false;
        }
        let parents: Vec<&str> = parent_prefixes(&path);
        let mut matched = false;
        for p in &self.patterns {
            if p.exclusion != matched {
                continue;
            }
            let hit = p.matches(&path) || parents.iter().any(|dir| p.matches(dir));
            if hit {
                matched = !p.exclusion;
            }
        }
        matched
    }

    /// Whether a walker must still descend into the excluded directory `dir` because an
    /// exception (`!pattern`) could re-include something below it.
    pub fn must_descend(&self, dir: &str) -> bool {
        let dir = clean_path(dir);
        self.patterns
            .iter()
            .any(|p| p.exclusion && p.could_match_below(&dir))
    }
}

/// The proper parent directories of `path`: `a/b/c` → `["a", "a/b"]`.
fn parent_prefixes(path: &str) -> Vec<&str> {
    path.match_indices('/').map(|(i, _)| &path[..i]).collect()
}

//! The build context: where the Dockerfile, the `.dockerignore` and the context files come from.
//!
//! Docker's CLI rules, followed here: the context is a directory (or `-`: the Dockerfile is
//! read from stdin and there is no context); `-f` is relative to the current directory, not
//! to the context, and `-f -` reads the Dockerfile from stdin; without `-f` the Dockerfile is
//! `CONTEXT/Dockerfile` (or `CONTEXT/dockerfile`). The ignore file is `<Dockerfile>.dockerignore`
//! beside the Dockerfile when it exists, otherwise `CONTEXT/.dockerignore`. The Dockerfile and
//! the ignore file are read by the frontend even when the ignore rules exclude them.

pub mod hash;
pub mod ignore;
pub mod walk;

use std::path::{Path, PathBuf};

pub use hash::{EntryKind, EntryRecord, HashCache, HashError};
pub use ignore::{IgnoreError, IgnoreMatcher};
pub use walk::{walk, WalkEntry};

/// Errors from resolving the build inputs and walking the context.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// The context directory does not exist.
    #[error("unable to prepare context: path {path:?} not found")]
    ContextNotFound {
        /// The context path as given.
        path: PathBuf,
    },
    /// The context path is not a directory.
    #[error("unable to prepare context: context must be a directory: {path}")]
    ContextNotDir {
        /// The context path.
        path: PathBuf,
    },
    /// The Dockerfile does not exist.
    #[error("unable to prepare context: Cannot locate specified Dockerfile: {path}")]
    DockerfileNotFound {
        /// The Dockerfile path that was tried.
        path: PathBuf,
    },
    /// Both the context and the Dockerfile were asked to come from stdin.
    #[error("invalid argument: can't use stdin for both build context and dockerfile")]
    StdinTwice,
    /// An I/O error on a context path.
    #[error("{path}: {source}")]
    Io {
        /// The path the operation was on.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The ignore file is unreadable or has a bad pattern.
    #[error(transparent)]
    Ignore(#[from] IgnoreError),
}

/// Where the Dockerfile text comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockerfileSource {
    /// A file on disk (absolute path).
    Path(PathBuf),
    /// Standard input.
    Stdin,
}

/// The resolved inputs of one build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInputs {
    /// The absolute context directory, or `None` for `-` (no context).
    pub context: Option<PathBuf>,
    /// Where the Dockerfile is read from.
    pub dockerfile: DockerfileSource,
    /// The ignore file that applies, if one exists.
    pub ignore_file: Option<PathBuf>,
}

impl BuildInputs {
    /// Resolves `CONTEXT` and `-f` as docker does; relative paths are taken from `cwd`.
    pub fn resolve(
        context: &str,
        dockerfile: Option<&str>,
        cwd: &Path,
    ) -> Result<BuildInputs, ContextError> {
        if context == "-" {
            if dockerfile == Some("-") {
                return Err(ContextError::StdinTwice);
            }
            let df = DockerfileSource::Stdin;
            return Ok(BuildInputs {
                context: None,
                dockerfile: df,
                ignore_file: None,
            });
        }
        let dir = context_dir(&cwd.join(context))?;
        let dockerfile = match dockerfile {
            Some("-") => DockerfileSource::Stdin,
            Some(f) => DockerfileSource::Path(existing_dockerfile(&cwd.join(f))?),
            None => DockerfileSource::Path(default_dockerfile(&dir)?),
        };
        let ignore_file = ignore_file_for(&dir, &dockerfile);
        Ok(BuildInputs {
            context: Some(dir),
            dockerfile,
            ignore_file,
        })
    }

    /// Loads the ignore rules (empty when there is no ignore file).
    pub fn ignore(&self) -> Result<IgnoreMatcher, ContextError> {
        match &self.ignore_file {
            Some(path) => Ok(IgnoreMatcher::load(path)?),
            None => Ok(IgnoreMatcher::default()),
        }
    }

    /// Reads the Dockerfile from its file (stdin sources are read by the caller).
    pub fn read_dockerfile(&self) -> Result<Option<String>, ContextError> {
        match &self.dockerfile {
            DockerfileSource::Path(p) => {
                std::fs::read_to_string(p)
                    .map(Some)
                    .map_err(|source| ContextError::Io {
                        path: p.clone(),
                        source,
                    })
            }
            DockerfileSource::Stdin => Ok(None),
        }
    }
}

/// Checks that `path` is a directory and makes it absolute and clean.
fn context_dir(path: &Path) -> Result<PathBuf, ContextError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => std::fs::canonicalize(path).map_err(|source| ContextError::Io {
            path: path.to_path_buf(),
            source,
        }),
        Ok(_) => Err(ContextError::ContextNotDir {
            path: path.to_path_buf(),
        }),
        Err(_) => Err(ContextError::ContextNotFound {
            path: path.to_path_buf(),
        }),
    }
}

/// Checks that a `-f` Dockerfile exists.
fn existing_dockerfile(path: &Path) -> Result<PathBuf, ContextError> {
    if path.is_file() {
        Ok(path.to_path_buf())
    } else {
        Err(ContextError::DockerfileNotFound {
            path: path.to_path_buf(),
        })
    }
}

/// `CONTEXT/Dockerfile`, falling back to `CONTEXT/dockerfile` like the docker CLI.
fn default_dockerfile(dir: &Path) -> Result<PathBuf, ContextError> {
    let upper = dir.join("Dockerfile");
    if upper.is_file() {
        return Ok(upper);
    }
    let lower = dir.join("dockerfile");
    if lower.is_file() {
        return Ok(lower);
    }
    Err(ContextError::DockerfileNotFound { path: upper })
}

/// `<Dockerfile>.dockerignore` beside the Dockerfile wins over `CONTEXT/.dockerignore`.
fn ignore_file_for(dir: &Path, dockerfile: &DockerfileSource) -> Option<PathBuf> {
    if let DockerfileSource::Path(df) = dockerfile {
        if let Some(name) = df.file_name() {
            let mut beside = name.to_os_string();
            beside.push(".dockerignore");
            let beside = df.with_file_name(beside);
            if beside.is_file() {
                return Some(beside);
            }
        }
    }
    let default = dir.join(".dockerignore");
    default.is_file().then_some(default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn setup() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join("ctx/sub")).unwrap();
        fs::write(t.path().join("ctx/Dockerfile"), "FROM scratch\n").unwrap();
        t
    }

    #[test]
    fn default_dockerfile_and_ignore() {
        let t = setup();
        fs::write(t.path().join("ctx/.dockerignore"), "*.log\n").unwrap();
        let got = BuildInputs::resolve("ctx", None, t.path()).unwrap();
        let ctx = fs::canonicalize(t.path().join("ctx")).unwrap();
        assert_eq!(
            got.dockerfile,
            DockerfileSource::Path(ctx.join("Dockerfile"))
        );
        assert_eq!(got.ignore_file, Some(ctx.join(".dockerignore")));
        assert!(got.ignore().unwrap().is_excluded("a.log"));
        assert_eq!(
            got.read_dockerfile().unwrap().as_deref(),
            Some("FROM scratch\n")
        );
    }

    #[test]
    fn dash_f_is_relative_to_cwd_and_its_ignore_file_wins() {
        let t = setup();
        fs::write(t.path().join("ctx/.dockerignore"), "a\n").unwrap();
        fs::write(t.path().join("dev.Dockerfile"), "FROM scratch\n").unwrap();
        fs::write(t.path().join("dev.Dockerfile.dockerignore"), "b\n").unwrap();
        let got = BuildInputs::resolve("ctx", Some("dev.Dockerfile"), t.path()).unwrap();
        assert_eq!(
            got.dockerfile,
            DockerfileSource::Path(t.path().join("dev.Dockerfile"))
        );
        assert_eq!(
            got.ignore_file,
            Some(t.path().join("dev.Dockerfile.dockerignore"))
        );
        let m = got.ignore().unwrap();
        assert!(m.is_excluded("b") && !m.is_excluded("a"));
    }

    #[test]
    fn lowercase_dockerfile_fallback() {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("dockerfile"), "FROM scratch\n").unwrap();
        let got = BuildInputs::resolve(".", None, t.path()).unwrap();
        let ctx = fs::canonicalize(t.path()).unwrap();
        assert_eq!(
            got.dockerfile,
            DockerfileSource::Path(ctx.join("dockerfile"))
        );
        assert_eq!(got.ignore_file, None);
    }

    #[test]
    fn stdin_forms() {
        let t = setup();
        let got = BuildInputs::resolve("-", None, t.path()).unwrap();
        assert_eq!(
            (got.context, got.dockerfile),
            (None, DockerfileSource::Stdin)
        );
        let got = BuildInputs::resolve("ctx", Some("-"), t.path()).unwrap();
        assert!(got.context.is_some());
        assert_eq!(got.dockerfile, DockerfileSource::Stdin);
        let err = BuildInputs::resolve("-", Some("-"), t.path()).unwrap_err();
        assert!(matches!(err, ContextError::StdinTwice));
    }

    #[test]
    fn errors_name_the_path() {
        let t = setup();
        let err = BuildInputs::resolve("nope", None, t.path()).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        let err = BuildInputs::resolve("ctx", Some("missing.df"), t.path()).unwrap_err();
        assert!(err.to_string().contains("missing.df"), "{err}");
        let err = BuildInputs::resolve("ctx/Dockerfile", None, t.path()).unwrap_err();
        assert!(matches!(err, ContextError::ContextNotDir { .. }));
        let err = BuildInputs::resolve("ctx/sub", None, t.path()).unwrap_err();
        assert!(matches!(err, ContextError::DockerfileNotFound { .. }));
    }
}

//! The Dockerfile frontend, in three typed passes as BuildKit does it:
//!
//! 1. [`parse`]: text to an [`Ast`] of logical lines (directives, comments, continuations,
//!    flags, heredocs), every node with its [`Span`];
//! 2. [`to_stages`]: the [`Ast`] to a [`Dockerfile`] of global ARGs and [`StageDef`]s of
//!    typed [`Instruction`]s (errors attached to the instruction's span);
//! 3. [`crate::plan::plan`]: stages and a target to an immutable build plan.
//!
//! Words stay raw (unexpanded); [`expand`] expands them later with [`shell`]'s lexer.

pub mod ast;
pub mod convert;
mod convert_cmd;
mod convert_copy;
mod convert_misc;
pub mod dump;
mod duration;
pub mod error;
pub mod expand;
mod flags;
pub mod heredoc;
pub mod instruction;
pub mod lines;
mod mounts;
pub mod shell;
pub mod span;
mod suggest;
mod words;

#[cfg(test)]
mod fuzz_tests;

use std::path::Path;
use std::sync::Arc;

pub use ast::{parse, Ast, Node, Warning};
pub use convert::{to_stages, Dockerfile, StageDef, KEYWORDS};
pub use dump::dump;
pub use error::{DockerfileError, SyntaxError};
pub use heredoc::Heredoc;
pub use instruction::*;
pub use lines::Directive;
pub use mounts::{parse_mount, MountError, MountSpec, MountType, Sharing};
pub use span::{Location, Span};
pub(crate) use suggest::closest as suggest_closest;

/// Parses Dockerfile text (passes 1 and 2); `file` names it in error messages.
pub fn parse_dockerfile(text: &str, file: Option<&str>) -> Result<Dockerfile, DockerfileError> {
    let file: Option<Arc<str>> = file.map(Arc::from);
    let mut ast = parse(text).map_err(|e| e.with_file(file.clone()))?;
    ast.file = file;
    to_stages(&ast)
}

/// Reads and parses the Dockerfile at `path` (passes 1 and 2); errors name `path`.
pub fn parse_dockerfile_path(path: &Path) -> Result<Dockerfile, DockerfileError> {
    let text = std::fs::read_to_string(path).map_err(|source| DockerfileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_dockerfile(&text, Some(&path.display().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_dockerfile_path_reads_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Dockerfile");
        std::fs::write(&path, "FROM a\nBOGUS x\n").unwrap();
        let err = parse_dockerfile_path(&path).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("{}:2: unknown instruction: BOGUS", path.display())
        );
        let err = parse_dockerfile_path(&dir.path().join("missing")).unwrap_err();
        assert!(matches!(err, DockerfileError::Read { .. }));
    }

    #[test]
    fn parse_errors_of_pass_one_are_named_too() {
        let err = parse_dockerfile("FROM a\nRUN <<EOF\n", Some("Dockerfile")).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("Dockerfile:2: unterminated heredoc"));
    }
}

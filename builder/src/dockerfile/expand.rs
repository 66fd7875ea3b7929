//! Variable expansion of instructions with ARG/ENV scoping, as BuildKit's
//! `dockerfile2llb` does it.
//!
//! Which instructions expand (BuildKit's `Expand` methods and dispatchers):
//!
//! | instruction | expanded | not expanded |
//! |---|---|---|
//! | FROM | image, `--platform` (global scope only) | `AS name` |
//! | ENV, LABEL | keys and values | |
//! | ADD, COPY | sources, destination, `--chown`, `--chmod`, ADD `--checksum`, heredoc bodies with an unquoted delimiter | heredoc names, `--exclude`, `--from` (an error if it would expand) |
//! | EXPOSE | each port, split into fields | |
//! | USER, WORKDIR, STOPSIGNAL, VOLUME | the argument(s) | |
//! | RUN | `--mount` option values | the command and its heredocs (the shell expands them), `--network`, `--security` |
//! | ARG | the default, when declared and not overridden ([`StageEnv::declare_arg`]) | the name |
//! | CMD, ENTRYPOINT, SHELL, HEALTHCHECK, MAINTAINER, ONBUILD | | everything |
//!
//! A stage is expanded instruction by instruction:
//!
//! ```ignore
//! let mut scope = global.stage();
//! scope.seed_base_env(&base_image_env);
//! for instr in &stage.instructions {
//!     let expanded = expand_instruction(instr, &scope)?;
//!     scope.apply(&expanded).map_err(|e| ExpandError::word(&expanded, e))?;
//!     // ... execute `expanded` with `scope.run_env()` ...
//! }
//! ```

mod instr;
mod platform;
mod scope;
#[cfg(test)]
mod tests;

pub use instr::{check_copy_from, expand_from, expand_instruction};
pub use platform::Platform;
pub use scope::{
    unused_build_args, unused_build_args_warning, ArgOptions, GlobalScope, StageEnv, DEFAULT_PATH,
    PROXY_ARGS,
};

use super::convert::Dockerfile;
use super::instruction::Instruction;
use super::shell::ShellError;
use super::span::Span;

/// An instruction that cannot be expanded; each variant names the lines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    /// A word of the instruction does not expand.
    #[error("line {span}: {keyword}: {source}")]
    Word {
        /// Lines of the instruction.
        span: Span,
        /// The instruction keyword (`COPY`, `ENV`, ...).
        keyword: &'static str,
        /// What is wrong with the word.
        #[source]
        source: ShellError,
    },
    /// `COPY --from=$X`: BuildKit refuses variables there.
    #[error("line {span}: variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround ({from})")]
    CopyFromVariable {
        /// Lines of the instruction.
        span: Span,
        /// The `--from` value as written.
        from: String,
    },
    /// `RUN --mount=from=$X`: BuildKit refuses variables there.
    #[error("line {span}: 'from' doesn't support variable expansion, define alias stage instead ({from})")]
    MountFromVariable {
        /// Lines of the instruction.
        span: Span,
        /// The `from=` value as written.
        from: String,
    },
    /// A `--mount` value that is not valid CSV (an unterminated or stray quote).
    #[error("line {span}: failed to parse csv mounts: {mount}")]
    MountCsv {
        /// Lines of the instruction.
        span: Span,
        /// The `--mount` value as written.
        mount: String,
    },
    /// FROM's image expanded to nothing.
    #[error("line {span}: base name ({image}) should not be blank")]
    BlankBaseName {
        /// Lines of the instruction.
        span: Span,
        /// The image as written.
        image: String,
    },
    /// FROM's `--platform` expanded to nothing.
    #[error("line {span}: empty platform value from expression {platform}")]
    BlankPlatform {
        /// Lines of the instruction.
        span: Span,
        /// The platform as written.
        platform: String,
    },
}

impl ExpandError {
    /// Attaches an instruction's span and keyword to a word's error.
    pub fn word(instr: &Instruction, source: ShellError) -> ExpandError {
        ExpandError::Word {
            span: instr.span(),
            keyword: instr.keyword(),
            source,
        }
    }
}

impl GlobalScope {
    /// The global scope of a parsed Dockerfile: the platform ARGs, then its
    /// ARGs before the first FROM, in order.
    pub fn for_dockerfile(
        dockerfile: &Dockerfile,
        options: &ArgOptions,
    ) -> Result<GlobalScope, ExpandError> {
        let mut scope = GlobalScope::new(options, dockerfile.escape);
        for arg in &dockerfile.meta_args {
            for decl in &arg.args {
                scope
                    .declare_arg(&decl.name, decl.default.as_deref())
                    .map_err(|source| ExpandError::Word {
                        span: arg.span,
                        keyword: "ARG",
                        source,
                    })?;
            }
        }
        Ok(scope)
    }
}

impl StageEnv {
    /// Records what an expanded instruction changes in the scope: ENV sets
    /// its (already expanded) pairs; ARG declares its names with their raw
    /// defaults. Other instructions change nothing.
    pub fn apply(&mut self, expanded: &Instruction) -> Result<(), ShellError> {
        match expanded {
            Instruction::Env(env) => {
                for pair in &env.pairs {
                    self.set_env(&pair.key, &pair.value);
                }
            }
            Instruction::Arg(arg) => {
                for decl in &arg.args {
                    self.declare_arg(&decl.name, decl.default.as_deref())?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

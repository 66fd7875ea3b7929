//! Errors of the Dockerfile frontend: each names the file and line, then what is wrong.
//!
//! The messages follow BuildKit's wording where BuildKit has one, so that users searching for
//! a message find the same explanations.

use std::path::PathBuf;
use std::sync::Arc;

use super::span::{Location, Span};

/// An error while reading or parsing a Dockerfile.
#[derive(Debug, thiserror::Error)]
pub enum DockerfileError {
    /// The Dockerfile could not be read.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// The file that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not a valid Dockerfile; `at` says where.
    #[error("{at}: {kind}")]
    Syntax {
        /// File name (if known) and lines at fault.
        at: Location,
        /// What is wrong.
        kind: SyntaxError,
    },
}

impl DockerfileError {
    /// A syntax error at `span` of an unnamed file.
    pub fn at(span: Span, kind: SyntaxError) -> DockerfileError {
        DockerfileError::Syntax {
            at: Location::new(span),
            kind,
        }
    }

    /// The span at fault, if this is a syntax error.
    pub fn span(&self) -> Option<Span> {
        match self {
            DockerfileError::Read { .. } => None,
            DockerfileError::Syntax { at, .. } => Some(at.span),
        }
    }

    /// Sets the file name shown in the message.
    pub fn with_file(mut self, file: Option<Arc<str>>) -> DockerfileError {
        if let DockerfileError::Syntax { at, .. } = &mut self {
            at.file = file;
        }
        self
    }
}

/// Renders an optional "did you mean" suffix.
pub(crate) fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean {s}?)"),
        None => String::new(),
    }
}

/// What is wrong with a Dockerfile, without the location.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxError {
    /// `# escape=` names something other than `\` or `` ` ``.
    #[error("invalid escape token '{value}' does not match ` or \\")]
    InvalidEscape {
        /// The value given.
        value: String,
    },
    /// A parser directive appears twice.
    #[error("only one {name} parser directive can be used")]
    DuplicateDirective {
        /// The directive's (lowercase) name.
        name: String,
    },
    /// The file ended before a heredoc's terminator line.
    #[error("unterminated heredoc: no line \"{name}\" closes the heredoc <<{name} before the end of the file")]
    UnterminatedHeredoc {
        /// The heredoc delimiter.
        name: String,
    },
    /// The file contains only comments, directives and blank lines.
    #[error("file with no instructions")]
    NoInstructions,
    /// The keyword is not a Dockerfile instruction.
    #[error("unknown instruction: {name}{}", did_you_mean(suggestion))]
    UnknownInstruction {
        /// The keyword as written.
        name: String,
        /// The closest instruction name, if one is close.
        suggestion: Option<String>,
    },
    /// A flag that no instruction takes.
    #[error("unknown flag: {flag} on {instruction}{}", did_you_mean(suggestion))]
    UnknownFlag {
        /// The flag as written, e.g. `--form`.
        flag: String,
        /// The instruction it was given to.
        instruction: &'static str,
        /// The closest flag this instruction takes, if one is close.
        suggestion: Option<String>,
    },
    /// A flag that exists, but not for this instruction.
    #[error("{instruction} does not take the flag {flag} (it is a flag of {owner})")]
    FlagNotAllowed {
        /// The flag as written.
        flag: String,
        /// The instruction it was given to.
        instruction: &'static str,
        /// The instructions that do take it.
        owner: &'static str,
    },
    /// A non-repeatable flag given twice.
    #[error("duplicate flag specified: {flag}")]
    DuplicateFlag {
        /// The flag as written.
        flag: String,
    },
    /// A flag that needs `=value` has none.
    #[error("missing a value on flag: {flag}")]
    MissingFlagValue {
        /// The flag as written.
        flag: String,
    },
    /// A boolean flag with a value other than true/false.
    #[error("expecting boolean value for flag {flag}, not: {value}")]
    BadBool {
        /// The flag as written.
        flag: String,
        /// The value given.
        value: String,
    },
    /// A HEALTHCHECK duration flag that is not a Go duration.
    #[error("invalid duration {value:?} for {flag}: {reason}")]
    BadDuration {
        /// The flag as written.
        flag: String,
        /// The value given.
        value: String,
        /// Why it does not parse.
        reason: &'static str,
    },
    /// A HEALTHCHECK duration below BuildKit's minimum.
    #[error("{flag} cannot be less than 1ms")]
    DurationTooShort {
        /// The flag as written.
        flag: String,
    },
    /// `--retries` is not a non-negative 32-bit integer.
    #[error("invalid value {value:?} for --retries: expected a non-negative integer")]
    BadRetries {
        /// The value given.
        value: String,
    },
    /// A JSON array with an element that is not a string.
    #[error(
        "{instruction}: when using JSON array syntax, arrays must be comprised of strings only"
    )]
    NotStringArray {
        /// The instruction.
        instruction: &'static str,
    },
    /// SHELL in shell form.
    #[error("{instruction} requires the arguments to be in JSON form")]
    NotJson {
        /// The instruction.
        instruction: &'static str,
    },
    /// An instruction without arguments.
    #[error("{instruction} requires at least one argument")]
    AtLeastOneArgument {
        /// The instruction.
        instruction: &'static str,
    },
    /// An instruction that takes exactly one argument got none.
    #[error("{instruction} requires exactly one argument")]
    ExactlyOneArgument {
        /// The instruction.
        instruction: &'static str,
    },
    /// COPY/ADD with a single argument.
    #[error("{instruction} requires at least two arguments, but only one was provided. Destination could not be determined")]
    NoDestination {
        /// The instruction.
        instruction: &'static str,
    },
    /// COPY/ADD whose destination is a heredoc.
    #[error("{instruction} cannot accept a heredoc as a destination")]
    HeredocDestination {
        /// The instruction.
        instruction: &'static str,
    },
    /// FROM with a number of words other than 1 or 3 (`image AS name`).
    #[error("FROM requires either one or three arguments (FROM [--platform=...] image [AS name])")]
    FromArguments,
    /// A stage name that does not match `^[a-z][a-z0-9-_.]*$` once lowercased.
    #[error(
        "invalid name for build stage: {name:?}, name can't start with a number or contain symbols"
    )]
    InvalidStageName {
        /// The name as written.
        name: String,
    },
    /// `ENV key` without a value (legacy form).
    #[error("{instruction} must have two arguments")]
    TwoArguments {
        /// The instruction.
        instruction: &'static str,
    },
    /// `ENV a=1 b` mixes the forms.
    #[error("Syntax error - can't find = in {word:?}. Must be of the form: name=value")]
    MissingEquals {
        /// The instruction.
        instruction: &'static str,
        /// The word without `=`.
        word: String,
    },
    /// `ENV =value`.
    #[error("{instruction} names can not be blank")]
    BlankName {
        /// The instruction.
        instruction: &'static str,
    },
    /// `ONBUILD ONBUILD ...`.
    #[error("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")]
    OnbuildChain,
    /// `ONBUILD FROM` or `ONBUILD MAINTAINER`.
    #[error("{trigger} isn't allowed as an ONBUILD trigger")]
    OnbuildTrigger {
        /// The rejected trigger keyword.
        trigger: String,
    },
    /// `HEALTHCHECK NONE something`.
    #[error("HEALTHCHECK NONE takes no arguments")]
    HealthcheckNoneArgs,
    /// `HEALTHCHECK CMD` without a command.
    #[error("Missing command after HEALTHCHECK CMD")]
    HealthcheckMissingCmd,
    /// `HEALTHCHECK FOO ...`.
    #[error("Unknown type {kind:?} in HEALTHCHECK (try CMD)")]
    HealthcheckType {
        /// The type word as written.
        kind: String,
    },
    /// `VOLUME [""]`.
    #[error("VOLUME specified can not be an empty string")]
    EmptyVolume,
    /// `RUN --mount=from=$X`.
    #[error("'from' doesn't support variable expansion, define alias stage instead (in --mount={mount})")]
    MountFromVariable {
        /// The mount flag's value.
        mount: String,
    },
    /// A `RUN --mount` value that BuildKit's rules reject.
    #[error("invalid --mount {mount:?}: {reason}")]
    InvalidMount {
        /// The mount flag's value.
        mount: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An instruction other than ARG before the first FROM.
    #[error("no build stage in current context: {instruction} before the first FROM (only ARG may precede FROM)")]
    InstructionBeforeFrom {
        /// The instruction.
        instruction: &'static str,
    },
    /// Only global ARGs, no FROM at all.
    #[error("dockerfile contains no stages to build (no FROM instruction)")]
    NoStages,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_line_and_problem() {
        let err = DockerfileError::at(
            Span::new(7, 9),
            SyntaxError::UnknownInstruction {
                name: "RUNN".into(),
                suggestion: Some("RUN".into()),
            },
        );
        assert_eq!(
            err.to_string(),
            "line 7: unknown instruction: RUNN (did you mean RUN?)"
        );
        let err = err.with_file(Some(Arc::from("Dockerfile")));
        assert_eq!(
            err.to_string(),
            "Dockerfile:7: unknown instruction: RUNN (did you mean RUN?)"
        );
        assert_eq!(err.span(), Some(Span::new(7, 9)));
    }
}

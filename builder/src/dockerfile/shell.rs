//! Word expansion with the behaviour of BuildKit's Dockerfile shell lexer
//! (`frontend/dockerfile/shell/lex.go`).
//!
//! A Dockerfile word goes through one pass that removes quotes, applies the
//! escape character and substitutes variables:
//!
//! - `'...'` keeps everything literally; `"..."` expands `$` and lets the
//!   escape character quote only `"`, `$` and the escape character itself.
//! - The escape character (`\`, or `` ` `` under `# escape=`) outside quotes
//!   makes the next character literal; at the end of the word it is dropped.
//! - `$NAME`, `${NAME}` and the operators `${NAME:-word}`, `${NAME-word}`,
//!   `${NAME:+word}`, `${NAME+word}`, `${NAME:?msg}`, `${NAME?msg}`,
//!   `${NAME#pat}`, `${NAME##pat}`, `${NAME%pat}`, `${NAME%%pat}`,
//!   `${NAME/pat/repl}` and `${NAME//pat/repl}`. Patterns know `*` and `?`.
//! - Positional (`$1`, `$001`) and special parameters (`$@ $* $# $? $- $$ $! $0`)
//!   are names like any other: they are never set, so they expand to "".
//! - `$` followed by anything that cannot start a name stays a literal `$`.
//!
//! [`expand_words`] also splits the result into fields on unquoted white
//! space produced by the text or by a substitution (BuildKit's `ProcessWords`,
//! used for `EXPOSE`).
//!
//! Deliberate differences from BuildKit:
//! - Since BuildKit v0.15 (Dockerfile frontend 1.10) the nested word of
//!   `${X:-word}` shares the field buffer with the enclosing word, so
//!   [`expand_words`] of `a${X:-b}c` gives `["bc"]`; we keep the enclosing
//!   text (`["abc"]`), as BuildKit v0.14 and bash do. [`expand_word`] agrees.
//! - `${NAME` cut off right after the name is reported as a missing `}`
//!   (BuildKit says "unsupported modifier (\u{FFFD})"); both are errors.
//! - Names use Rust's `char::is_alphabetic`/`is_numeric` where Go uses
//!   `unicode.IsLetter`/`IsDigit`; they differ only for rare non-ASCII characters.

mod lexer;
mod pattern;
#[cfg(test)]
mod tests;

/// The replacement for a missing character in messages, as Go prints `%c` of EOF.
const EOF_CHAR: char = '\u{FFFD}';

/// A word that the lexer cannot expand; every variant names the whole word.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShellError {
    /// A `'` without its closing quote.
    #[error("failed to process {word:?}: unexpected end of statement while looking for matching single-quote")]
    UnterminatedSingleQuote {
        /// The word being expanded.
        word: String,
    },
    /// A `"` without its closing quote.
    #[error("failed to process {word:?}: unexpected end of statement while looking for matching double-quote")]
    UnterminatedDoubleQuote {
        /// The word being expanded.
        word: String,
    },
    /// A `${` without its closing `}`.
    #[error("failed to process {word:?}: syntax error: missing '}}'")]
    MissingBrace {
        /// The word being expanded.
        word: String,
    },
    /// `${NAME/pattern` without the `/` that ends the pattern.
    #[error("failed to process {word:?}: syntax error: missing '/' in ${{}}")]
    MissingSlash {
        /// The word being expanded.
        word: String,
    },
    /// `${}`, `${{`, `${:` and similar forms without a name.
    #[error("failed to process {word:?}: syntax error: bad substitution")]
    BadSubstitution {
        /// The word being expanded.
        word: String,
    },
    /// An operator that BuildKit does not know, such as `${X:=y}` or `${X:#y}`.
    #[error("failed to process {word:?}: unsupported modifier ({modifier}) in substitution")]
    UnsupportedModifier {
        /// The word being expanded.
        word: String,
        /// The operator characters, e.g. `:=`.
        modifier: String,
    },
    /// `${NAME?msg}` with NAME unset, or `${NAME:?msg}` with NAME unset or empty.
    #[error("failed to process {word:?}: {name}: {message}")]
    Required {
        /// The word being expanded.
        word: String,
        /// The variable that must be set.
        name: String,
        /// The user's message, or BuildKit's default text.
        message: String,
    },
    /// A `#`, `%` or `/` pattern with a `\` before something other than `*`, `?`, `\`, `}` or `/`.
    #[error("failed to process {word:?}: invalid pattern ({pattern}) in substitution: invalid escape '\\{escaped}'")]
    InvalidPattern {
        /// The word being expanded.
        word: String,
        /// The pattern after variable substitution.
        pattern: String,
        /// The character after the backslash (U+FFFD at the end of the pattern).
        escaped: char,
    },
    /// A nested word ran out before its terminator (BuildKit reports it as a missing `}` or `/`).
    #[error(
        "failed to process {word:?}: unexpected end of statement while looking for matching {stop}"
    )]
    Unterminated {
        /// The word being expanded.
        word: String,
        /// The terminator that was expected.
        stop: char,
    },
}

/// Switches of BuildKit's `Lex` that some callers need.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LexOptions {
    /// Keep the quote characters in the result (BuildKit `RawQuotes`).
    pub raw_quotes: bool,
    /// Keep the escape characters in the result (BuildKit `RawEscapes`).
    pub raw_escapes: bool,
    /// Treat quotes as ordinary characters (BuildKit `SkipProcessQuotes`, used for heredoc bodies).
    pub skip_quotes: bool,
    /// Leave references to unset variables as written (BuildKit `SkipUnsetEnv`).
    pub skip_unset: bool,
}

/// The result of one pass of the lexer over a word.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expansion {
    /// The whole word with quotes removed and variables substituted.
    pub word: String,
    /// The same text split into fields on unquoted white space.
    pub words: Vec<String>,
}

/// Expands one word the way BuildKit's `ProcessWord` does: quotes and escapes
/// are removed, variables substituted, and white space is kept.
///
/// `vars` answers `Some(value)` for a set variable (possibly empty) and `None`
/// for an unset one; `escape` is the Dockerfile's escape character.
pub fn expand_word(
    word: &str,
    vars: &dyn Fn(&str) -> Option<String>,
    escape: char,
) -> Result<String, ShellError> {
    process(word, vars, escape, LexOptions::default()).map(|e| e.word)
}

/// Expands one word and splits it into fields the way BuildKit's
/// `ProcessWords` does: unquoted white space, including white space that a
/// substitution produced, separates fields; empty fields are dropped.
pub fn expand_words(
    word: &str,
    vars: &dyn Fn(&str) -> Option<String>,
    escape: char,
) -> Result<Vec<String>, ShellError> {
    process(word, vars, escape, LexOptions::default()).map(|e| e.words)
}

/// Runs the lexer with explicit [`LexOptions`] and returns both the joined
/// word and its fields.
pub fn process(
    word: &str,
    vars: &dyn Fn(&str) -> Option<String>,
    escape: char,
    options: LexOptions,
) -> Result<Expansion, ShellError> {
    lexer::Lexer::new(word, vars, escape, options).run()
}

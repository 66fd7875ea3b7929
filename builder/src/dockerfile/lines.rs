//! Physical-line helpers: parser directives, comments and line continuations.

use super::error::SyntaxError;

/// A parser directive from the top of the file (`# escape=\``, `# syntax=...`, `# check=...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// The directive's name, lowercased (`escape`, `syntax` or `check`).
    pub name: String,
    /// Its value, trimmed.
    pub value: String,
    /// The line it is on.
    pub line: usize,
}

/// Recognises parser directives until the first line that is not one (BuildKit's
/// `DirectiveParser`): a blank line, an instruction, a plain comment or an unknown
/// directive name all end the directive block.
#[derive(Debug, Default)]
pub(crate) struct DirectiveParser {
    done: bool,
    seen: Vec<String>,
}

impl DirectiveParser {
    /// Looks at one physical line (leading whitespace already trimmed).
    pub(crate) fn parse_line(
        &mut self,
        line: &str,
        number: usize,
    ) -> Result<Option<Directive>, SyntaxError> {
        if self.done {
            return Ok(None);
        }
        let Some((name, value)) = line.strip_prefix('#').and_then(split_directive) else {
            self.done = true;
            return Ok(None);
        };
        let name = name.to_ascii_lowercase();
        if !matches!(name.as_str(), "syntax" | "escape" | "check") {
            self.done = true;
            return Ok(None);
        }
        if self.seen.contains(&name) {
            return Err(SyntaxError::DuplicateDirective { name });
        }
        self.seen.push(name.clone());
        Ok(Some(Directive {
            name,
            value: value.to_string(),
            line: number,
        }))
    }
}

/// Matches `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$` after the `#` and leading whitespace.
fn split_directive(text: &str) -> Option<(&str, &str)> {
    let text = text.trim_start();
    let name_end = text
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(text.len());
    let name = &text[..name_end];
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let value = text[name_end..].trim_start().strip_prefix('=')?.trim();
    if value.is_empty() {
        return None;
    }
    Some((name, value))
}

/// Validates an `escape` directive's value.
pub(crate) fn escape_token(value: &str) -> Result<char, SyntaxError> {
    match value {
        "\\" => Ok('\\'),
        "`" => Ok('`'),
        _ => Err(SyntaxError::InvalidEscape {
            value: value.to_string(),
        }),
    }
}

/// Whether a line is a comment: `#` after optional leading whitespace.
pub(crate) fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Strips a trailing line-continuation escape, as BuildKit's regex
/// `([^E])E[ \t]*$|^E[ \t]*$` does: returns the line without the escape (and the blanks
/// after it) and whether the line continues. An escaped escape (`\\`) does not continue.
pub(crate) fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    let Some(before) = trimmed.strip_suffix(escape) else {
        return (line, false);
    };
    if before.is_empty() || !before.ends_with(escape) {
        (before, true)
    } else {
        (line, false)
    }
}

/// Removes the line ending (any trailing `\r` and `\n`).
pub(crate) fn trim_newline(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_case_insensitive_with_spaces() {
        let mut p = DirectiveParser::default();
        let d = p.parse_line("# ESCAPE = `", 1).unwrap().unwrap();
        assert_eq!(
            (d.name.as_str(), d.value.as_str(), d.line),
            ("escape", "`", 1)
        );
        let d = p.parse_line("#syntax=docker/dockerfile:1", 2).unwrap();
        assert_eq!(d.unwrap().value, "docker/dockerfile:1");
    }

    #[test]
    fn duplicate_directive_is_an_error() {
        let mut p = DirectiveParser::default();
        p.parse_line("# check=skip=all", 1).unwrap();
        let err = p.parse_line("# CHECK=error=true", 2).unwrap_err();
        assert_eq!(
            err.to_string(),
            "only one check parser directive can be used"
        );
    }

    #[test]
    fn directives_stop_at_first_other_line() {
        let mut p = DirectiveParser::default();
        assert!(p.parse_line("# a comment", 1).unwrap().is_none());
        assert!(p.parse_line("# escape=`", 2).unwrap().is_none());
        let mut p = DirectiveParser::default();
        assert!(p.parse_line("# unknown=1", 1).unwrap().is_none());
        assert!(p.parse_line("# escape=`", 2).unwrap().is_none());
        let mut p = DirectiveParser::default();
        assert!(p.parse_line("", 1).unwrap().is_none());
        assert!(p.parse_line("# escape=`", 2).unwrap().is_none());
    }

    #[test]
    fn escape_values() {
        assert_eq!(escape_token("`"), Ok('`'));
        assert_eq!(escape_token("\\"), Ok('\\'));
        assert!(escape_token("x").is_err());
    }

    #[test]
    fn continuation_rules() {
        assert_eq!(trim_continuation("echo a \\", '\\'), ("echo a ", true));
        assert_eq!(trim_continuation("echo a\\  \t", '\\'), ("echo a", true));
        assert_eq!(trim_continuation("\\", '\\'), ("", true));
        assert_eq!(trim_continuation("a\\\\", '\\'), ("a\\\\", false));
        assert_eq!(trim_continuation("a `", '`'), ("a ", true));
        assert_eq!(trim_continuation("a \\", '`'), ("a \\", false));
        assert_eq!(trim_continuation("plain", '\\'), ("plain", false));
    }

    #[test]
    fn comment_and_newline() {
        assert!(is_comment("   # x"));
        assert!(!is_comment("RUN # x"));
        assert_eq!(trim_newline("a\r\n"), "a");
    }
}

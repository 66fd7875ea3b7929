//! Source positions: the lines an AST node or instruction came from.

use std::fmt;
use std::sync::Arc;

/// The physical lines (1-based, inclusive) a node spans in the Dockerfile.
///
/// A continued instruction spans all its continuation lines; an instruction with heredocs
/// also spans the heredoc bodies and their terminators, as in BuildKit's `StartLine/EndLine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// First line of the node.
    pub start_line: usize,
    /// Last line of the node (equal to `start_line` for a one-line instruction).
    pub end_line: usize,
}

impl Span {
    /// A span from `start_line` to `end_line`; an `end_line` before the start collapses to the start.
    pub fn new(start_line: usize, end_line: usize) -> Span {
        Span {
            start_line,
            end_line: end_line.max(start_line),
        }
    }

    /// A span covering a single line.
    pub fn line(line: usize) -> Span {
        Span::new(line, line)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start_line == self.end_line {
            write!(f, "{}", self.start_line)
        } else {
            write!(f, "{}-{}", self.start_line, self.end_line)
        }
    }
}

/// Where an error happened: the file name when known, and the span.
///
/// Displays as `Dockerfile:3` (the first line of the span, as compilers do), or `line 3`
/// when the file name is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The Dockerfile's name as the user gave it, if known.
    pub file: Option<Arc<str>>,
    /// The lines at fault.
    pub span: Span,
}

impl Location {
    /// A location in an unnamed file.
    pub fn new(span: Span) -> Location {
        Location { file: None, span }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}:{}", file, self.span.start_line),
            None => write!(f, "line {}", self.span.start_line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_display_and_clamp() {
        assert_eq!(Span::new(3, 3).to_string(), "3");
        assert_eq!(Span::new(3, 5).to_string(), "3-5");
        assert_eq!(Span::new(5, 2), Span::line(5));
    }

    #[test]
    fn location_display() {
        let mut at = Location::new(Span::new(4, 6));
        assert_eq!(at.to_string(), "line 4");
        at.file = Some(Arc::from("ctx/Dockerfile"));
        assert_eq!(at.to_string(), "ctx/Dockerfile:4");
    }
}

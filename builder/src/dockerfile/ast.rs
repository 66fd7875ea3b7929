//! Pass 1: Dockerfile text to an [`Ast`] of logical lines (BuildKit's `parser.Parse`).
//!
//! This pass handles the byte-order mark, parser directives, comments, line continuations
//! with the active escape token, instruction flags and heredoc bodies. It does not know the
//! instructions' argument grammars; [`super::convert`] does.

use std::sync::Arc;

use super::error::{DockerfileError, SyntaxError};
use super::heredoc::{heredocs_in_line, Heredoc};
use super::lines::{
    escape_token, is_comment, trim_continuation, trim_newline, Directive, DirectiveParser,
};
use super::span::Span;
use super::words::{parse_json, split_command, Json};

/// The result of pass 1: directives, warnings and one [`Node`] per instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ast {
    /// The Dockerfile's name as given by the caller, used in error messages.
    pub file: Option<Arc<str>>,
    /// The escape token in force (`\` unless `# escape=` said `` ` ``).
    pub escape: char,
    /// The parser directives found at the top of the file, in order.
    pub directives: Vec<Directive>,
    /// Things that are accepted but deserve a note (`# syntax=` ignored, empty continuation lines).
    pub warnings: Vec<Warning>,
    /// The instructions, in file order.
    pub nodes: Vec<Node>,
}

/// A non-fatal remark about the Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The lines concerned.
    pub span: Span,
    /// What is remarkable.
    pub message: String,
}

/// One instruction as a logical line: keyword, flags, argument text and heredocs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Lines from the keyword to the last continuation line or heredoc terminator.
    pub span: Span,
    /// The keyword as written (any case).
    pub keyword: String,
    /// The leading `--flag[=value]` words, quotes removed, in order.
    pub flags: Vec<String>,
    /// The argument text after the flags, trimmed, with continuations joined.
    pub rest: String,
    /// The heredocs introduced by this line (RUN, COPY and ADD in shell form only).
    pub heredocs: Vec<Heredoc>,
    /// The whole logical line (continuations joined), as BuildKit's `Node.Original`.
    pub original: String,
    /// For ONBUILD: the trigger instruction parsed from `rest`; it owns the heredocs.
    pub trigger: Option<Box<Node>>,
}

/// Parses Dockerfile text into an [`Ast`] (pass 1).
pub fn parse(text: &str) -> Result<Ast, DockerfileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parser = Parser {
        lines: text.split_inclusive('\n').collect(),
        next: 0,
        escape: '\\',
        directives: DirectiveParser::default(),
        ast: Ast {
            file: None,
            escape: '\\',
            directives: Vec::new(),
            warnings: Vec::new(),
            nodes: Vec::new(),
        },
    };
    parser.run()?;
    Ok(parser.ast)
}

/// The scanning state of pass 1.
struct Parser<'a> {
    lines: Vec<&'a str>,
    /// Index of the next physical line to read (0-based; its line number is `next + 1`).
    next: usize,
    escape: char,
    directives: DirectiveParser,
    ast: Ast,
}

impl<'a> Parser<'a> {
    fn run(&mut self) -> Result<(), DockerfileError> {
        while let Some(raw) = self.read() {
            let line = trim_newline(raw).trim_start();
            self.directive(line)?;
            if is_comment(line) {
                continue;
            }
            let (first, ends) = trim_continuation(line, self.escape);
            if !ends && first.is_empty() {
                continue;
            }
            let start = self.next;
            let joined = self.join_continuations(first, ends, start);
            let node = self.node(&joined, start)?;
            self.ast.nodes.push(node);
        }
        if self.ast.nodes.is_empty() {
            let line = self.next.max(1);
            return Err(DockerfileError::at(
                Span::line(line),
                SyntaxError::NoInstructions,
            ));
        }
        self.ast.escape = self.escape;
        Ok(())
    }

    /// The next physical line, or `None` at the end of the file.
    fn read(&mut self) -> Option<&'a str> {
        let line = self.lines.get(self.next).copied();
        if line.is_some() {
            self.next += 1;
        }
        line
    }

    /// Feeds a first line to the directive parser; applies `escape` and warns on `syntax`.
    fn directive(&mut self, line: &str) -> Result<(), DockerfileError> {
        let number = self.next;
        let found = self
            .directives
            .parse_line(line, number)
            .map_err(|kind| DockerfileError::at(Span::line(number), kind))?;
        let Some(directive) = found else {
            return Ok(());
        };
        match directive.name.as_str() {
            "escape" => {
                self.escape = escape_token(&directive.value)
                    .map_err(|kind| DockerfileError::at(Span::line(number), kind))?;
            }
            "syntax" => self.ast.warnings.push(Warning {
                span: Span::line(number),
                message: format!(
                    "syntax directive {:?} ignored: rbuild has a built-in Dockerfile frontend",
                    directive.value
                ),
            }),
            _ => {}
        }
        self.ast.directives.push(directive);
        Ok(())
    }

    /// Appends continuation lines while the previous line ended with the escape token.
    /// Comment lines and blank lines inside a continuation are skipped (blank ones with a
    /// warning, as BuildKit does); the end of the file simply ends the instruction.
    fn join_continuations(&mut self, first: &str, mut more: bool, start: usize) -> String {
        let mut joined = first.to_string();
        let mut empty_seen = false;
        while more {
            let Some(raw) = self.read() else { break };
            let line = trim_newline(raw);
            if is_comment(line) {
                continue;
            }
            if line.trim_start().is_empty() {
                empty_seen = true;
                continue;
            }
            let (text, again) = trim_continuation(line, self.escape);
            joined.push_str(text);
            more = again;
        }
        if empty_seen {
            self.ast.warnings.push(Warning {
                span: Span::new(start, self.next),
                message: format!("Empty continuation line found in: {}", joined.trim()),
            });
        }
        joined
    }

    /// Builds the node for a logical line and reads its heredoc bodies.
    fn node(&mut self, line: &str, start: usize) -> Result<Node, DockerfileError> {
        let mut node = node_from_line(line, self.escape);
        let heredoc_node = match node.trigger.as_deref_mut() {
            Some(trigger) => trigger,
            None => &mut node,
        };
        if can_contain_heredoc(heredoc_node) && line.contains("<<") {
            let mut docs = heredocs_in_line(line);
            for doc in &mut docs {
                self.read_heredoc(doc, start)?;
            }
            heredoc_node.heredocs = docs;
        }
        node.span = Span::new(start, self.next);
        if let Some(trigger) = node.trigger.as_mut() {
            trigger.span = node.span;
        }
        Ok(node)
    }

    /// Reads body lines up to the terminator into `doc.body`.
    fn read_heredoc(&mut self, doc: &mut Heredoc, start: usize) -> Result<(), DockerfileError> {
        while let Some(raw) = self.read() {
            if doc.is_terminator(trim_newline(raw)) {
                return Ok(());
            }
            doc.body.push_str(raw);
        }
        Err(DockerfileError::at(
            Span::new(start, self.next),
            SyntaxError::UnterminatedHeredoc {
                name: doc.name.clone(),
            },
        ))
    }
}

/// Splits a logical line into a node; ONBUILD's argument text becomes its trigger node.
fn node_from_line(line: &str, escape: char) -> Node {
    let (keyword, flags, rest) = split_command(line, escape);
    let trigger = (keyword.eq_ignore_ascii_case("onbuild") && !rest.is_empty())
        .then(|| Box::new(node_from_line(&rest, escape)));
    Node {
        span: Span::line(1),
        keyword,
        flags,
        rest,
        heredocs: Vec::new(),
        original: line.to_string(),
        trigger,
    }
}

/// Heredocs belong to RUN, COPY and ADD in shell form only.
fn can_contain_heredoc(node: &Node) -> bool {
    let kw = node.keyword.to_ascii_lowercase();
    matches!(kw.as_str(), "run" | "copy" | "add")
        && !matches!(parse_json(&node.rest), Json::Strings(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw_span(ast: &Ast) -> Vec<(String, usize, usize)> {
        ast.nodes
            .iter()
            .map(|n| (n.keyword.clone(), n.span.start_line, n.span.end_line))
            .collect()
    }

    #[test]
    fn continuation_comments_and_spans() {
        let ast = parse("FROM a\n\nRUN echo \\\n # c\n\n  b\nCMD x\n").unwrap();
        let spans = kw_span(&ast);
        assert_eq!(spans[1], ("RUN".into(), 3, 6));
        assert_eq!(ast.nodes[1].rest, "echo   b");
        assert_eq!(spans[2], ("CMD".into(), 7, 7));
        assert_eq!(ast.warnings.len(), 1);
        assert!(ast.warnings[0].message.contains("Empty continuation"));
    }

    #[test]
    fn continuation_at_eof_ends_instruction() {
        let ast = parse("FROM a\nRUN something \\").unwrap();
        assert_eq!(ast.nodes[1].rest, "something");
        assert_eq!(ast.nodes[1].span, Span::line(2));
    }

    #[test]
    fn escape_directive_changes_continuation() {
        let ast = parse("# escape=`\nFROM a\nRUN dir c:\\ `\n  d\n").unwrap();
        assert_eq!(ast.escape, '`');
        assert_eq!(ast.nodes[1].rest, "dir c:\\   d");
        assert_eq!(ast.directives[0].line, 1);
    }

    #[test]
    fn heredoc_bodies_are_not_instructions() {
        let ast = parse("FROM a\nRUN <<EOF\nFROM b\nEOF\nUSER x\n").unwrap();
        assert_eq!(kw_span(&ast)[1], ("RUN".into(), 2, 4));
        assert_eq!(ast.nodes[1].heredocs[0].body, "FROM b\n");
        assert_eq!(ast.nodes.len(), 3);
    }

    #[test]
    fn onbuild_heredoc_goes_to_trigger() {
        let ast = parse("FROM a\nONBUILD RUN <<EOF\nx\nEOF\n").unwrap();
        let trigger = ast.nodes[1].trigger.as_ref().unwrap();
        assert_eq!(trigger.keyword, "RUN");
        assert_eq!(trigger.heredocs[0].body, "x\n");
        assert_eq!(trigger.span, Span::new(2, 4));
    }

    #[test]
    fn errors_carry_lines() {
        let err = parse("FROM a\nRUN <<EOF\nx\n").unwrap_err();
        assert_eq!(err.span(), Some(Span::new(2, 3)));
        let err = parse("# escape=x\nFROM a").unwrap_err();
        assert_eq!(err.span(), Some(Span::line(1)));
        let err = parse("\n# only a comment\n\n").unwrap_err();
        assert!(err.to_string().contains("file with no instructions"));
    }

    #[test]
    fn bom_and_crlf() {
        let ast = parse("\u{feff}FROM a\r\nRUN b \\\r\n c\r\n").unwrap();
        assert_eq!(ast.nodes[0].rest, "a");
        assert_eq!(ast.nodes[1].rest, "b  c");
    }
}

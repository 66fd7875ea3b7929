//! Pass 2: [`Ast`] nodes to typed [`Instruction`]s grouped into stages (BuildKit's
//! `instructions.Parse`). One dispatch `match` picks the per-instruction parser; any error
//! is attached to the node's span there, once.

use std::sync::Arc;

use super::ast::{Ast, Node, Warning};
use super::error::{DockerfileError, SyntaxError};
use super::flags::Flags;
use super::instruction::{ArgInstr, FromInstr, Instruction};
use super::lines::Directive;
use super::span::{Location, Span};
use super::suggest::closest;
use super::{convert_cmd, convert_copy, convert_misc};

/// All instruction keywords, upper case.
pub const KEYWORDS: [&str; 18] = [
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// A Dockerfile after pass 2: global ARGs and stages of typed instructions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The Dockerfile's name, for messages.
    pub file: Option<Arc<str>>,
    /// The escape token in force (needed to expand words later).
    pub escape: char,
    /// Parser directives from the top of the file.
    pub directives: Vec<Directive>,
    /// Warnings from pass 1.
    pub warnings: Vec<Warning>,
    /// ARG instructions before the first FROM (the "meta args" FROM lines may use).
    pub meta_args: Vec<ArgInstr>,
    /// The stages, in file order (a stage's index is its position).
    pub stages: Vec<StageDef>,
}

/// One stage as written: its FROM and the instructions after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageDef {
    /// The FROM instruction that opens the stage.
    pub from: FromInstr,
    /// The stage's instructions after FROM, in order.
    pub instructions: Vec<Instruction>,
    /// From the FROM line to the stage's last instruction.
    pub span: Span,
}

/// The per-instruction parser's input: the node, its checked flags and the escape token.
pub(crate) struct Request<'a> {
    /// The node being converted.
    pub node: &'a Node,
    /// Its flags, already checked against what the instruction accepts.
    pub flags: Flags,
    /// The escape token in force.
    pub escape: char,
}

/// Converts pass 1's [`Ast`] into stages of typed instructions (pass 2).
pub fn to_stages(ast: &Ast) -> Result<Dockerfile, DockerfileError> {
    let mut out = Dockerfile {
        file: ast.file.clone(),
        escape: ast.escape,
        directives: ast.directives.clone(),
        warnings: ast.warnings.clone(),
        meta_args: Vec::new(),
        stages: Vec::new(),
    };
    for node in &ast.nodes {
        let instruction =
            convert_node(node, ast.escape).map_err(|e| e.with_file(ast.file.clone()))?;
        add_instruction(&mut out, instruction).map_err(|kind| syntax(ast, node.span, kind))?;
    }
    if out.stages.is_empty() {
        let last = ast.nodes.last().map_or(Span::line(1), |n| n.span);
        return Err(syntax(ast, last, SyntaxError::NoStages));
    }
    Ok(out)
}

/// Places one instruction: FROM opens a stage, ARG before any FROM is global.
fn add_instruction(out: &mut Dockerfile, instruction: Instruction) -> Result<(), SyntaxError> {
    if let Instruction::From(from) = instruction {
        out.stages.push(StageDef {
            span: from.span,
            from,
            instructions: Vec::new(),
        });
        return Ok(());
    }
    match (instruction, out.stages.last_mut()) {
        (Instruction::Arg(arg), None) => out.meta_args.push(arg),
        (other, None) => {
            return Err(SyntaxError::InstructionBeforeFrom {
                instruction: other.keyword(),
            })
        }
        (other, Some(stage)) => {
            stage.span = Span::new(stage.span.start_line, other.span().end_line);
            stage.instructions.push(other);
        }
    }
    Ok(())
}

fn syntax(ast: &Ast, span: Span, kind: SyntaxError) -> DockerfileError {
    DockerfileError::Syntax {
        at: Location {
            file: ast.file.clone(),
            span,
        },
        kind,
    }
}

/// Converts one node to its typed instruction; errors carry the node's span.
pub fn convert_node(node: &Node, escape: char) -> Result<Instruction, DockerfileError> {
    dispatch(node, escape).map_err(|kind| DockerfileError::at(node.span, kind))
}

/// The dispatch `match`: keyword to per-instruction parser.
pub(crate) fn dispatch(node: &Node, escape: char) -> Result<Instruction, SyntaxError> {
    let keyword = canonical_keyword(&node.keyword)?;
    let flags = Flags::parse(keyword, &node.flags)?;
    let req = Request {
        node,
        flags,
        escape,
    };
    match keyword {
        "FROM" => convert_misc::from(req),
        "RUN" => convert_cmd::run(req),
        "CMD" => convert_cmd::cmd(req),
        "ENTRYPOINT" => convert_cmd::entrypoint(req),
        "SHELL" => convert_cmd::shell(req),
        "HEALTHCHECK" => convert_cmd::healthcheck(req),
        "ONBUILD" => convert_cmd::onbuild(req),
        "COPY" => convert_copy::copy(req),
        "ADD" => convert_copy::add(req),
        "VOLUME" => convert_copy::volume(req),
        "ENV" => convert_misc::env(req),
        "LABEL" => convert_misc::label(req),
        "ARG" => convert_misc::arg(req),
        "EXPOSE" => convert_misc::expose(req),
        "USER" => convert_misc::user(req),
        "WORKDIR" => convert_misc::workdir(req),
        "MAINTAINER" => convert_misc::maintainer(req),
        _ => convert_misc::stopsignal(req),
    }
}

/// The upper-case keyword, or an "unknown instruction" error with a suggestion.
pub(crate) fn canonical_keyword(word: &str) -> Result<&'static str, SyntaxError> {
    KEYWORDS
        .iter()
        .find(|k| k.eq_ignore_ascii_case(word))
        .copied()
        .ok_or_else(|| SyntaxError::UnknownInstruction {
            name: word.to_string(),
            suggestion: closest(word, &KEYWORDS, true),
        })
}

/// Converts the one instruction in `text` (after an implicit `FROM a`), for unit tests.
#[cfg(test)]
pub(crate) fn convert_one(text: &str) -> Result<Instruction, super::error::DockerfileError> {
    let ast = super::ast::parse(&format!("FROM a\n{text}"))?;
    convert_node(&ast.nodes[1], ast.escape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerfile::ast::parse;

    fn stages(text: &str) -> Result<Dockerfile, DockerfileError> {
        to_stages(&parse(text)?)
    }

    #[test]
    fn groups_instructions_into_stages() {
        let df = stages("ARG V=1\nFROM a AS one\nRUN x\nFROM b\nCOPY --from=one / /\n").unwrap();
        assert_eq!(df.meta_args.len(), 1);
        assert_eq!(df.stages.len(), 2);
        assert_eq!(df.stages[0].from.name.as_deref(), Some("one"));
        assert_eq!(df.stages[0].span, Span::new(2, 3));
        assert_eq!(df.stages[1].instructions[0].keyword(), "COPY");
    }

    #[test]
    fn only_arg_before_from() {
        let err = stages("RUN x\nFROM a\n").unwrap_err();
        assert_eq!(err.span(), Some(Span::line(1)));
        assert!(err.to_string().contains("RUN before the first FROM"));
        let err = stages("ARG a\n").unwrap_err();
        assert!(err.to_string().contains("no stages"));
    }

    #[test]
    fn unknown_instruction_suggests() {
        let err = stages("FROM a\nRUNN x\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: unknown instruction: RUNN (did you mean RUN?)"
        );
        let err = stages("FROM a\nfrobnicate bar\n").unwrap_err();
        assert_eq!(err.to_string(), "line 2: unknown instruction: frobnicate");
    }

    #[test]
    fn file_name_appears_in_errors() {
        let mut ast = parse("FROM a\nCOPY x\n").unwrap();
        ast.file = Some(Arc::from("app/Dockerfile"));
        let err = to_stages(&ast).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("app/Dockerfile:2: COPY requires at least two"));
    }
}

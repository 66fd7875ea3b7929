//! Pass 2 for FROM and the metadata instructions: ENV, LABEL, ARG, EXPOSE, USER, WORKDIR,
//! MAINTAINER and STOPSIGNAL.

use super::convert::Request;
use super::error::SyntaxError;
use super::instruction::{
    ArgDecl, ArgInstr, EnvInstr, ExposeInstr, FromInstr, Instruction, KeyValue, LabelInstr,
    MaintainerInstr, StopSignalInstr, UserInstr, WorkdirInstr,
};
use super::words::{is_sep, parse_words, split_ws};

/// `FROM [--platform=P] image [AS name]`.
pub(crate) fn from(req: Request<'_>) -> Result<Instruction, SyntaxError> {
    let words = split_ws(&req.node.rest);
    let name = match words.as_slice() {
        [_] => None,
        [_, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => Some(stage_name(name)?),
        _ => return Err(SyntaxError::FromArguments),
    };
    Ok(Instruction::From(FromInstr {
        span: req.node.span,
        image: words[0].clone(),
        name,
        platform: req.flags.string("platform"),
    }))
}

/// Lowercases and validates a stage name against `^[a-z][a-z0-9-_.]*$`.
fn stage_name(name: &str) -> Result<String, SyntaxError> {
    let lower = name.to_lowercase();
    let mut chars = lower.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
    if valid {
        Ok(lower)
    } else {
        Err(SyntaxError::InvalidStageName {
            name: name.to_string(),
        })
    }
}

/// ENV and LABEL pairs: legacy `KEY value` when the first word has no `=`, else `k=v ...`.
fn name_values(req: &Request<'_>, instruction: &'static str) -> Result<Vec<KeyValue>, SyntaxError> {
    let rest = req.node.rest.as_str();
    let words = parse_words(rest, req.escape);
    let Some(first) = words.first() else {
        return Err(SyntaxError::AtLeastOneArgument { instruction });
    };
    if !first.contains('=') {
        let Some(i) = rest.find(is_sep) else {
            return Err(SyntaxError::TwoArguments { instruction });
        };
        let (key, value) = (&rest[..i], rest[i..].trim_start_matches(is_sep));
        return Ok(vec![KeyValue {
            key: key.to_string(),
            value: value.to_string(),
            legacy: true,
        }]);
    }
    words.into_iter().map(|w| pair(w, instruction)).collect()
}

fn pair(word: String, instruction: &'static str) -> Result<KeyValue, SyntaxError> {
    let Some((key, value)) = word.split_once('=') else {
        return Err(SyntaxError::MissingEquals { instruction, word });
    };
    if key.is_empty() {
        return Err(SyntaxError::BlankName { instruction });
    }
    Ok(KeyValue {
        key: key.to_string(),
        value: value.to_string(),
        legacy: false,
    })
}

/// `ENV`.
pub(crate) fn env(req: Request<'_>) -> Result<Instruction, SyntaxError> {
    Ok(Instruction::Env(EnvInstr {
        span: req.node.span,
        pairs: name_values(&req, "ENV")?,
    }))
}

/// `LABEL`.
pub(crate) fn label(req: Request<'_>) -> Result<Instruction, SyntaxError> {
    Ok(Instruction::Label(LabelInstr {
        span: req.node.span,
        pairs: name_values(&req, "LABEL")?,
    }))
}

/// `ARG name[=default] ...`.
pub(crate) fn arg(req: Request<'_>) -> Result<Instruction, SyntaxError> {
    let words = parse_words(&req.node.rest, req.escape);
    if words.is_empty() {
        return Err(SyntaxError::AtLeastOneArgument { instruction: "ARG" });
    }
    let mut args = Vec::with_capacity(words.len());
    for word in words {
        let decl = match word.split_once('=') {
            Some(("", _)) => return Err(SyntaxError::BlankName { instruction: "ARG" }),
            Some((name, value)) => ArgDecl {
                name: name.to_string(),
                default: Some(value.to_string()),
            },
            None => ArgDecl {
                name: word,
                default: None,
            },
        };
        args.push(decl);
    }
    Ok(Instruction::Arg(ArgInstr {
        span: req.node.span,
        args,
    }))
}

/// `EXPOSE`.
pub(crate) fn expose(req: Request<'_>) -> Result<Instruction, SyntaxError> {
    let ports = split_ws(&req.node.rest);
    if ports.is_empty() {
        return Err(SyntaxError::AtLeastOneArgument {
            instruction: "EXPOSE",
        });
    }
    Ok(Instruction::Expose(ExposeInstr {
        span: req.node.span,
        ports,
    }))
}

/// The whole argument text of a one-argument instruction.
fn one_argument(req: &Request<'_>, instruction: &'static str) -> Result<String, SyntaxError> {
    if req.node.rest.is_empty() {
        return Err(SyntaxError::ExactlyOneArgument { instruction });
    }
    Ok(req.node.rest.clone())
}

/// `USER`.
pub(crate) fn user(req: Request<'_>) -> Result<Instruction, SyntaxError> {
    Ok(Instruction::User(UserInstr {
        span: req.node.span,
        user: one_argument(&req, "USER")?,
    }))
}

/// `WORKDIR`.
pub(crate) fn workdir(req: Request<'_>) -> Result<Instruction, SyntaxError> {
    Ok(Instruction::Workdir(WorkdirInstr {
        span: req.node.span,
        path: one_argument(&req, "WORKDIR")?,
    }))
}

/// `MAINTAINER`.
pub(crate) fn maintainer(req: Request<'_>) -> Result<Instruction, SyntaxError> {
    Ok(Instruction::Maintainer(MaintainerInstr {
        span: req.node.span,
        name: one_argument(&req, "MAINTAINER")?,
    }))
}

/// `STOPSIGNAL`.
pub(crate) fn stopsignal(req: Request<'_>) -> Result<Instruction, SyntaxError> {
    Ok(Instruction::StopSignal(StopSignalInstr {
        span: req.node.span,
        signal: one_argument(&req, "STOPSIGNAL")?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerfile::convert::convert_one as one;

    #[test]
    fn from_forms() {
        let Instruction::From(f) = one("FROM --platform=$BUILDPLATFORM golang AS Build-1").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (f.image.as_str(), f.name.as_deref()),
            ("golang", Some("build-1"))
        );
        assert_eq!(f.platform.as_deref(), Some("$BUILDPLATFORM"));
        let e = |t: &str| one(t).unwrap_err().to_string();
        assert!(e("FROM a b").contains("one or three"));
        assert!(e("FROM a AS 1x").contains("invalid name for build stage: \"1x\""));
        assert!(e("FROM").contains("one or three"));
    }

    #[test]
    fn env_forms() {
        let Instruction::Env(e) = one("ENV A \"b c\"  d").unwrap() else {
            panic!()
        };
        assert_eq!(e.pairs[0].key, "A");
        assert_eq!(e.pairs[0].value, "\"b c\"  d");
        assert!(e.pairs[0].legacy);
        let Instruction::Env(e) = one("ENV A=\"b c\" D=e\\ f").unwrap() else {
            panic!()
        };
        assert_eq!(e.pairs[0].value, "\"b c\"");
        assert_eq!(e.pairs[1].value, "e\\ f");
        let err = |t: &str| one(t).unwrap_err().to_string();
        assert!(err("ENV A").contains("ENV must have two arguments"));
        assert!(err("ENV A=1 B").contains("can't find = in \"B\""));
        assert!(err("LABEL =x").contains("LABEL names can not be blank"));
        assert!(err("ENV").contains("ENV requires at least one"));
    }

    #[test]
    fn arg_and_single_argument_instructions() {
        let Instruction::Arg(a) = one("ARG a=1 b c=").unwrap() else {
            panic!()
        };
        let got: Vec<_> = a
            .args
            .iter()
            .map(|d| (d.name.as_str(), d.default.as_deref()))
            .collect();
        assert_eq!(got, vec![("a", Some("1")), ("b", None), ("c", Some(""))]);
        let Instruction::User(u) = one("USER app:app").unwrap() else {
            panic!()
        };
        assert_eq!(u.user, "app:app");
        let Instruction::Workdir(w) = one("WORKDIR /my dir").unwrap() else {
            panic!()
        };
        assert_eq!(w.path, "/my dir");
        assert!(one("WORKDIR")
            .unwrap_err()
            .to_string()
            .contains("exactly one"));
        assert!(one("EXPOSE")
            .unwrap_err()
            .to_string()
            .contains("at least one"));
    }
}

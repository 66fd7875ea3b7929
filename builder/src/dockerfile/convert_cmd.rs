//! Pass 2 for the command-like instructions: RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK and
//! ONBUILD.

use std::time::Duration;

use super::convert::{canonical_keyword, dispatch, Request};
use super::duration::parse_go_duration;
use super::error::SyntaxError;
use super::instruction::{
    CmdInstr, CommandLine, EntrypointInstr, HealthCheck, HealthOptions, HealthcheckInstr,
    Instruction, OnbuildInstr, RunInstr, RunMount, ShellInstr,
};
use super::mounts::{csv_fields, MountError};
use super::words::{parse_json, Json};

/// Reads arguments as exec form (JSON array of strings) or shell form (the raw text).
fn command_line(rest: &str, instruction: &'static str) -> Result<CommandLine, SyntaxError> {
    match parse_json(rest) {
        Json::Strings(words) => Ok(CommandLine::Exec(words)),
        Json::NotStrings => Err(SyntaxError::NotStringArray { instruction }),
        Json::No => Ok(CommandLine::Shell(rest.to_string())),
    }
}

/// `RUN`.
pub(crate) fn run(req: Request<'_>) -> Result<Instruction, SyntaxError> {
    let node = req.node;
    if node.rest.is_empty() {
        return Err(SyntaxError::AtLeastOneArgument { instruction: "RUN" });
    }
    let mounts = req
        .flags
        .list("mount")
        .into_iter()
        .map(run_mount)
        .collect::<Result<_, _>>()?;
    Ok(Instruction::Run(RunInstr {
        span: node.span,
        command: command_line(&node.rest, "RUN")?,
        heredocs: node.heredocs.clone(),
        mounts,
        network: req.flags.string("network"),
        security: req.flags.string("security"),
    }))
}

/// Reads the `from=` field of a `--mount` value (comma-separated, `"` quotes allowed). As in
/// BuildKit, only the CSV and `from` are checked now; the rest once ARGs are expanded, when
/// (and only if) the stage is built.
fn run_mount(raw: String) -> Result<RunMount, SyntaxError> {
    let invalid = |raw: &str, e: MountError| SyntaxError::InvalidMount {
        mount: raw.to_string(),
        reason: e.0,
    };
    let fields = csv_fields(&raw).map_err(|e| invalid(&raw, e))?;
    let from = fields.into_iter().find_map(|field| {
        let (key, value) = field.split_once('=')?;
        key.eq_ignore_ascii_case("from").then(|| value.to_string())
    });
    if let Some(value) = &from {
        if value.find('$').is_some_and(|i| i + 1 != value.len()) {
            return Err(SyntaxError::MountFromVariable { mount: raw });
        }
    }
    Ok(RunMount { raw, from })
}

/// `CMD`: no arguments is allowed (an empty shell command, as BuildKit records it).
pub(crate) fn cmd(req: Request<'_>) -> Result<Instruction, SyntaxError> {
    Ok(Instruction::Cmd(CmdInstr {
        span: req.node.span,
        command: command_line(&req.node.rest, "CMD")?,
    }))
}

/// `ENTRYPOINT`: no arguments resets the entrypoint.
pub(crate) fn entrypoint(req: Request<'_>) -> Result<Instruction, SyntaxError> {
    Ok(Instruction::Entrypoint(EntrypointInstr {
        span: req.node.span,
        command: command_line(&req.node.rest, "ENTRYPOINT")?,
    }))
}

/// `SHELL`: JSON form only.
pub(crate) fn shell(req: Request<'_>) -> Result<Instruction, SyntaxError> {
    let instruction = "SHELL";
    match command_line(&req.node.rest, instruction)? {
        CommandLine::Exec(words) if !words.is_empty() => Ok(Instruction::Shell(ShellInstr {
            span: req.node.span,
            shell: words,
        })),
        CommandLine::Shell(text) if !text.is_empty() => Err(SyntaxError::NotJson { instruction }),
        _ => Err(SyntaxError::AtLeastOneArgument { instruction }),
    }
}

/// `HEALTHCHECK [options] CMD command` or `HEALTHCHECK NONE`.
pub(crate) fn healthcheck(req: Request<'_>) -> Result<Instruction, SyntaxError> {
    let rest = req.node.rest.as_str();
    let (kind, after) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], rest[i..].trim_start()),
        None => (rest, ""),
    };
    let check = match kind.to_ascii_uppercase().as_str() {
        "" => {
            return Err(SyntaxError::AtLeastOneArgument {
                instruction: "HEALTHCHECK",
            })
        }
        "NONE" if after.is_empty() => HealthCheck::None,
        "NONE" => return Err(SyntaxError::HealthcheckNoneArgs),
        "CMD" => HealthCheck::Cmd {
            command: health_command(after)?,
            options: health_options(&req)?,
        },
        other => {
            return Err(SyntaxError::HealthcheckType {
                kind: other.to_string(),
            })
        }
    };
    Ok(Instruction::Healthcheck(HealthcheckInstr {
        span: req.node.span,
        check,
    }))
}

fn health_command(after: &str) -> Result<CommandLine, SyntaxError> {
    let command = command_line(after, "HEALTHCHECK")?;
    let empty = match &command {
        CommandLine::Exec(words) => words.is_empty(),
        CommandLine::Shell(text) => text.is_empty(),
    };
    if empty {
        return Err(SyntaxError::HealthcheckMissingCmd);
    }
    Ok(command)
}

fn health_options(req: &Request<'_>) -> Result<HealthOptions, SyntaxError> {
    let retries = match req.flags.string("retries") {
        None => None,
        Some(v) => match v.parse::<i32>() {
            Ok(n) if n >= 0 => u32::try_from(n).ok().filter(|n| *n > 0),
            _ => return Err(SyntaxError::BadRetries { value: v }),
        },
    };
    Ok(HealthOptions {
        interval: interval(req, "interval")?,
        timeout: interval(req, "timeout")?,
        start_period: interval(req, "start-period")?,
        start_interval: interval(req, "start-interval")?,
        retries,
    })
}

/// A duration flag: `None` when absent or zero; below 1ms is an error (BuildKit's rule).
fn interval(req: &Request<'_>, name: &str) -> Result<Option<Duration>, SyntaxError> {
    let Some(value) = req.flags.string(name) else {
        return Ok(None);
    };
    let flag = format!("--{name}");
    let nanos = parse_go_duration(&value).map_err(|reason| SyntaxError::BadDuration {
        flag: flag.clone(),
        value: value.clone(),
        reason,
    })?;
    match nanos {
        0 => Ok(None),
        n if n < 1_000_000 => Err(SyntaxError::DurationTooShort { flag }),
        n => Ok(Some(Duration::from_nanos(
            u64::try_from(n).unwrap_or(u64::MAX),
        ))),
    }
}

/// `ONBUILD trigger`: the trigger is parsed now; ONBUILD, FROM and MAINTAINER are refused.
pub(crate) fn onbuild(req: Request<'_>) -> Result<Instruction, SyntaxError> {
    let node = req.node;
    let Some(trigger) = node.trigger.as_deref() else {
        return Err(SyntaxError::AtLeastOneArgument {
            instruction: "ONBUILD",
        });
    };
    match canonical_keyword(&trigger.keyword)? {
        "ONBUILD" => return Err(SyntaxError::OnbuildChain),
        kw @ ("FROM" | "MAINTAINER") => {
            return Err(SyntaxError::OnbuildTrigger {
                trigger: kw.to_string(),
            })
        }
        _ => {}
    }
    let parsed = dispatch(trigger, req.escape)?;
    Ok(Instruction::Onbuild(OnbuildInstr {
        span: node.span,
        trigger: Box::new(parsed),
        expression: onbuild_expression(node, trigger),
    }))
}

/// The trigger text BuildKit stores: the line without `ONBUILD`, then each heredoc's body
/// and terminator.
fn onbuild_expression(node: &super::ast::Node, trigger: &super::ast::Node) -> String {
    let line = node.original.trim_start();
    let mut out = line[node.keyword.len()..].trim_start().to_string();
    for doc in &trigger.heredocs {
        out.push('\n');
        out.push_str(&doc.body);
        out.push_str(&doc.name);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerfile::convert::convert_one as one;

    #[test]
    fn run_forms_and_mounts() {
        let Instruction::Run(r) = one("RUN --mount=type=bind,from=b,target=/x [\"ls\"]").unwrap()
        else {
            panic!("not RUN")
        };
        assert_eq!(r.command, CommandLine::Exec(vec!["ls".into()]));
        assert_eq!(r.mounts[0].from.as_deref(), Some("b"));
        let err = one("RUN --mount=from=$X ls").unwrap_err();
        assert!(err
            .to_string()
            .contains("doesn't support variable expansion"));
        assert!(one("RUN")
            .unwrap_err()
            .to_string()
            .contains("RUN requires at least one"));
    }

    #[test]
    fn run_mounts_are_checked_when_built_but_their_csv_now() {
        // A bad type is the build's error (BuildKit: only stages that are built check it).
        assert!(one("RUN --mount=type=bogus,target=/x ls").is_ok());
        let Instruction::Run(r) = one("RUN --mount=type=cache,target=$DIR ls").unwrap() else {
            panic!("not RUN")
        };
        assert_eq!(r.mounts[0].raw, "type=cache,target=$DIR");
        assert_eq!(r.mounts[0].from, None);
        assert!(one("RUN --mount=type=$T,target=/x ls").is_ok());
        let err = one(r#"RUN --mount=target=/a\"b,from=$X ls"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("failed to parse csv mounts"), "{err}");
        let Instruction::Run(r) = one(r#"RUN --mount=\"target=/a,b\",from=s ls"#).unwrap() else {
            panic!("not RUN")
        };
        assert_eq!(r.mounts[0].from.as_deref(), Some("s"));
    }

    #[test]
    fn healthcheck_variants() {
        let Instruction::Healthcheck(h) =
            one("HEALTHCHECK --interval=5s --retries=3 CMD curl x").unwrap()
        else {
            panic!("not HEALTHCHECK")
        };
        let HealthCheck::Cmd { command, options } = h.check else {
            panic!("not CMD")
        };
        assert_eq!(command, CommandLine::Shell("curl x".into()));
        assert_eq!(options.interval, Some(Duration::from_secs(5)));
        assert_eq!(options.retries, Some(3));
        let e = |t: &str| one(t).unwrap_err().to_string();
        assert!(e("HEALTHCHECK NONE x").contains("takes no arguments"));
        assert!(e("HEALTHCHECK CMD").contains("Missing command"));
        assert!(e("HEALTHCHECK CONNECT x").contains("Unknown type \"CONNECT\""));
        assert!(e("HEALTHCHECK --timeout=1us CMD x").contains("cannot be less than 1ms"));
        assert!(e("HEALTHCHECK --retries=-1 CMD x").contains("--retries"));
    }

    #[test]
    fn onbuild_rules() {
        let Instruction::Onbuild(o) = one("ONBUILD RUN echo hi").unwrap() else {
            panic!()
        };
        assert_eq!(o.expression, "RUN echo hi");
        assert_eq!(o.trigger.keyword(), "RUN");
        let e = |t: &str| one(t).unwrap_err().to_string();
        assert!(e("ONBUILD ONBUILD RUN x").contains("Chaining ONBUILD"));
        assert!(e("ONBUILD from x").contains("FROM isn't allowed"));
        assert!(e("ONBUILD").contains("ONBUILD requires at least one argument"));
    }

    #[test]
    fn shell_needs_json() {
        assert!(one("SHELL [\"sh\", \"-c\"]").is_ok());
        assert!(one("SHELL sh -c")
            .unwrap_err()
            .to_string()
            .contains("JSON form"));
        assert!(one("SHELL []")
            .unwrap_err()
            .to_string()
            .contains("at least one"));
        assert!(one("CMD [\"a\", 1]")
            .unwrap_err()
            .to_string()
            .contains("strings only"));
    }
}

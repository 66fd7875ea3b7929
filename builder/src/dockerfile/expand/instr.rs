//! Expanding the fields of one instruction (BuildKit's `Expand` methods).

use super::scope::StageEnv;
use super::ExpandError;
use crate::dockerfile::heredoc::Heredoc;
use crate::dockerfile::instruction::{
    AddInstr, CopyInstr, CopySource, ExposeInstr, FromInstr, Instruction, KeyValue, RunInstr,
    RunMount,
};
use crate::dockerfile::shell::{self, ShellError};
use crate::dockerfile::span::Span;

/// Returns `instr` with the fields BuildKit expands replaced by their
/// expansion in `scope` (see the table in the module docs). ARG is returned
/// unchanged: its defaults are expanded by [`StageEnv::declare_arg`].
pub fn expand_instruction(
    instr: &Instruction,
    scope: &StageEnv,
) -> Result<Instruction, ExpandError> {
    let word = |w: &str| scope.expand(w).map_err(|e| ExpandError::word(instr, e));
    let expanded = match instr {
        Instruction::From(from) => Instruction::From(expand_from(from, scope)?),
        Instruction::Env(env) => {
            let mut env = env.clone();
            env.pairs = expand_pairs(&env.pairs, &word)?;
            Instruction::Env(env)
        }
        Instruction::Label(label) => {
            let mut label = label.clone();
            label.pairs = expand_pairs(&label.pairs, &word)?;
            Instruction::Label(label)
        }
        Instruction::Expose(expose) => Instruction::Expose(expand_expose(expose, scope, instr)?),
        Instruction::Copy(copy) => Instruction::Copy(expand_copy(copy, scope, instr)?),
        Instruction::Add(add) => Instruction::Add(expand_add(add, scope, instr)?),
        Instruction::Run(run) => Instruction::Run(expand_run(run, scope, instr)?),
        Instruction::User(user) => {
            let mut user = user.clone();
            user.user = word(&user.user)?;
            Instruction::User(user)
        }
        Instruction::Workdir(workdir) => {
            let mut workdir = workdir.clone();
            workdir.path = word(&workdir.path)?;
            Instruction::Workdir(workdir)
        }
        Instruction::StopSignal(stop) => {
            let mut stop = stop.clone();
            stop.signal = word(&stop.signal)?;
            Instruction::StopSignal(stop)
        }
        Instruction::Volume(volume) => {
            let mut volume = volume.clone();
            volume.paths = volume
                .paths
                .iter()
                .map(|p| word(p))
                .collect::<Result<_, _>>()?;
            Instruction::Volume(volume)
        }
        Instruction::Arg(_)
        | Instruction::Cmd(_)
        | Instruction::Entrypoint(_)
        | Instruction::Shell(_)
        | Instruction::Healthcheck(_)
        | Instruction::Maintainer(_)
        | Instruction::Onbuild(_) => instr.clone(),
    };
    Ok(expanded)
}

/// Expands a FROM line with the global scope: the image (an error if it
/// becomes empty) and `--platform` (likewise). The stage name is kept.
pub fn expand_from(from: &FromInstr, scope: &StageEnv) -> Result<FromInstr, ExpandError> {
    let word_err = |source| ExpandError::Word {
        span: from.span,
        keyword: "FROM",
        source,
    };
    let image = scope.expand_global(&from.image).map_err(word_err)?;
    if image.is_empty() {
        return Err(ExpandError::BlankBaseName {
            span: from.span,
            image: from.image.clone(),
        });
    }
    let platform = match &from.platform {
        Some(raw) => {
            let value = scope.expand_global(raw).map_err(word_err)?;
            if value.is_empty() {
                return Err(ExpandError::BlankPlatform {
                    span: from.span,
                    platform: raw.clone(),
                });
            }
            Some(value)
        }
        None => None,
    };
    Ok(FromInstr {
        image,
        platform,
        ..from.clone()
    })
}

/// BuildKit's check on `COPY --from`: the value must come out of the lexer
/// unchanged (no variables, no quotes), since stages are resolved before any
/// variable is known.
pub fn check_copy_from(from: &str, escape: char, span: Span) -> Result<(), ExpandError> {
    let unchanged = shell::expand_word(from, &|_| None, escape).is_ok_and(|w| w == from);
    if unchanged {
        Ok(())
    } else {
        Err(ExpandError::CopyFromVariable {
            span,
            from: from.to_string(),
        })
    }
}

fn expand_pairs(
    pairs: &[KeyValue],
    word: &dyn Fn(&str) -> Result<String, ExpandError>,
) -> Result<Vec<KeyValue>, ExpandError> {
    pairs
        .iter()
        .map(|pair| {
            Ok(KeyValue {
                key: word(&pair.key)?,
                value: word(&pair.value)?,
                legacy: pair.legacy,
            })
        })
        .collect()
}

fn expand_expose(
    expose: &ExposeInstr,
    scope: &StageEnv,
    instr: &Instruction,
) -> Result<ExposeInstr, ExpandError> {
    let mut ports = Vec::new();
    for port in &expose.ports {
        let fields = scope
            .expand_words(port)
            .map_err(|e| ExpandError::word(instr, e))?;
        ports.extend(fields);
    }
    Ok(ExposeInstr {
        ports,
        ..expose.clone()
    })
}

/// Expands an optional flag value.
fn expand_opt(
    value: &Option<String>,
    scope: &StageEnv,
    instr: &Instruction,
) -> Result<Option<String>, ExpandError> {
    value
        .as_deref()
        .map(|v| scope.expand(v).map_err(|e| ExpandError::word(instr, e)))
        .transpose()
}

/// Sources: paths expand as words; heredoc bodies expand (after tab
/// stripping, with quotes literal) only when the delimiter was unquoted.
fn expand_sources(
    sources: &[CopySource],
    scope: &StageEnv,
    instr: &Instruction,
) -> Result<Vec<CopySource>, ExpandError> {
    let err = |e: ShellError| ExpandError::word(instr, e);
    sources
        .iter()
        .map(|source| match source {
            CopySource::Path(path) => scope.expand(path).map(CopySource::Path).map_err(err),
            CopySource::Heredoc(doc) if doc.expand => {
                let body = scope.expand_heredoc(&doc.content()).map_err(err)?;
                Ok(CopySource::Heredoc(Heredoc {
                    body,
                    strip_tabs: false,
                    ..doc.clone()
                }))
            }
            CopySource::Heredoc(_) => Ok(source.clone()),
        })
        .collect()
}

fn expand_copy(
    copy: &CopyInstr,
    scope: &StageEnv,
    instr: &Instruction,
) -> Result<CopyInstr, ExpandError> {
    if let Some(from) = &copy.from {
        check_copy_from(from, scope.escape(), copy.span)?;
    }
    Ok(CopyInstr {
        sources: expand_sources(&copy.sources, scope, instr)?,
        dest: scope
            .expand(&copy.dest)
            .map_err(|e| ExpandError::word(instr, e))?,
        chown: expand_opt(&copy.chown, scope, instr)?,
        chmod: expand_opt(&copy.chmod, scope, instr)?,
        ..copy.clone()
    })
}

fn expand_add(
    add: &AddInstr,
    scope: &StageEnv,
    instr: &Instruction,
) -> Result<AddInstr, ExpandError> {
    Ok(AddInstr {
        sources: expand_sources(&add.sources, scope, instr)?,
        dest: scope
            .expand(&add.dest)
            .map_err(|e| ExpandError::word(instr, e))?,
        chown: expand_opt(&add.chown, scope, instr)?,
        chmod: expand_opt(&add.chmod, scope, instr)?,
        checksum: expand_opt(&add.checksum, scope, instr)?,
        ..add.clone()
    })
}

/// RUN: only the `--mount` values expand; the command is the shell's business.
fn expand_run(
    run: &RunInstr,
    scope: &StageEnv,
    instr: &Instruction,
) -> Result<RunInstr, ExpandError> {
    let mounts = run
        .mounts
        .iter()
        .map(|m| expand_mount(m, scope, instr))
        .collect::<Result<_, _>>()?;
    Ok(RunInstr {
        mounts,
        ..run.clone()
    })
}

/// Expands every `key=value` field's value of a `--mount` (BuildKit's
/// `parseMount` with an expander); `from=` must not hold a variable.
fn expand_mount(
    mount: &RunMount,
    scope: &StageEnv,
    instr: &Instruction,
) -> Result<RunMount, ExpandError> {
    let span = instr.span();
    let fields = csv_fields(&mount.raw).ok_or_else(|| ExpandError::MountCsv {
        span,
        mount: mount.raw.clone(),
    })?;
    let mut out = Vec::with_capacity(fields.len());
    let mut from = None;
    for field in fields {
        let Some((key, value)) = field.split_once('=') else {
            out.push(field);
            continue;
        };
        let is_from = key.eq_ignore_ascii_case("from");
        if is_from && value.find('$').is_some_and(|i| i + 1 != value.len()) {
            return Err(ExpandError::MountFromVariable {
                span,
                from: value.to_string(),
            });
        }
        let value = scope
            .expand(value)
            .map_err(|e| ExpandError::word(instr, e))?;
        if is_from {
            from = Some(value.clone());
        }
        out.push(format!("{key}={value}"));
    }
    let raw = out
        .iter()
        .map(|f| csv_quote(f))
        .collect::<Vec<_>>()
        .join(",");
    Ok(RunMount { raw, from })
}

/// Splits one CSV record as Go's `encoding/csv` does (`"` quotes a field, `""`
/// is a quote inside it); `None` for a stray or unterminated quote.
fn csv_fields(line: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => break,
                    c => field.push(c),
                }
            }
            if !matches!(chars.peek(), None | Some(',')) {
                return None;
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',') {
                if c == '"' {
                    return None;
                }
                field.push(c);
            }
        }
        fields.push(field);
        if chars.next().is_none() {
            return Some(fields);
        }
    }
}

/// Quotes a CSV field when Go's `csv.Writer` would.
fn csv_quote(field: &str) -> String {
    let needs = field.contains([',', '"', '\r', '\n']) || field.starts_with(char::is_whitespace);
    if needs {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trip() {
        assert_eq!(
            csv_fields(r#"type=cache,"target=/a,b",ro"#),
            Some(vec!["type=cache".into(), "target=/a,b".into(), "ro".into()])
        );
        assert_eq!(csv_fields(r#""a""b""#), Some(vec![r#"a"b"#.into()]));
        assert_eq!(csv_fields(""), Some(vec![String::new()]));
        assert_eq!(csv_fields(r#""open"#), None);
        assert_eq!(csv_fields(r#"a"b"#), None);
        assert_eq!(csv_quote("target=/a,b"), r#""target=/a,b""#);
        assert_eq!(csv_quote("type=bind"), "type=bind");
    }
}

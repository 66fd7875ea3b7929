//! A stable, readable text dump of a parsed [`Dockerfile`]: one line per instruction (span,
//! keyword, flags, arguments and form), heredocs on indented lines below. Used by the golden
//! tests and handy for debugging (`rbuild` can print it).

use std::fmt::Write;

use super::convert::Dockerfile;
use super::heredoc::Heredoc;
use super::instruction::{
    AddInstr, CommandLine, CopyInstr, CopySource, Form, HealthCheck, Instruction, KeyValue,
    RunInstr,
};

/// Renders the directives, warnings, global ARGs and stages of `df`.
pub fn dump(df: &Dockerfile) -> String {
    let mut out = String::new();
    for d in &df.directives {
        let _ = writeln!(out, "directive {}={:?} (line {})", d.name, d.value, d.line);
    }
    for w in &df.warnings {
        let _ = writeln!(out, "warning {}: {}", w.span, w.message);
    }
    for arg in &df.meta_args {
        dump_instruction(&mut out, "meta ", &Instruction::Arg(arg.clone()));
    }
    for (index, stage) in df.stages.iter().enumerate() {
        let _ = writeln!(out, "stage {index} (lines {})", stage.span);
        dump_instruction(&mut out, "  ", &Instruction::From(stage.from.clone()));
        for instruction in &stage.instructions {
            dump_instruction(&mut out, "  ", instruction);
        }
    }
    out
}

/// Writes one instruction line (and its heredoc lines).
fn dump_instruction(out: &mut String, indent: &str, instruction: &Instruction) {
    let _ = writeln!(
        out,
        "{indent}{} {}{}",
        instruction.span(),
        instruction.keyword(),
        details(instruction)
    );
    for doc in heredocs(instruction) {
        let _ = writeln!(out, "{indent}    {}", heredoc(doc));
    }
}

/// The heredocs an instruction carries (ONBUILD: its trigger's).
fn heredocs(instruction: &Instruction) -> Vec<&Heredoc> {
    match instruction {
        Instruction::Run(r) => r.heredocs.iter().collect(),
        Instruction::Copy(c) => source_heredocs(&c.sources),
        Instruction::Add(a) => source_heredocs(&a.sources),
        Instruction::Onbuild(o) => heredocs(&o.trigger),
        _ => Vec::new(),
    }
}

fn source_heredocs(sources: &[CopySource]) -> Vec<&Heredoc> {
    sources
        .iter()
        .filter_map(|s| match s {
            CopySource::Heredoc(h) => Some(h),
            CopySource::Path(_) => None,
        })
        .collect()
}

fn heredoc(doc: &Heredoc) -> String {
    let fd = doc.fd.map_or(String::new(), |fd| format!(" fd={fd}"));
    format!(
        "heredoc {:?}{fd} expand={} strip_tabs={} body={:?} content={:?}",
        doc.name,
        doc.expand,
        doc.strip_tabs,
        doc.body,
        doc.content()
    )
}

/// Everything after the keyword.
fn details(instruction: &Instruction) -> String {
    match instruction {
        Instruction::From(f) => {
            let mut s = opt("platform", &f.platform);
            let _ = write!(s, " image={:?}", f.image);
            if let Some(name) = &f.name {
                let _ = write!(s, " name={name:?}");
            }
            s
        }
        Instruction::Run(r) => run(r),
        Instruction::Cmd(c) => command(&c.command),
        Instruction::Entrypoint(e) => command(&e.command),
        Instruction::Shell(s) => format!(" exec={:?}", s.shell),
        Instruction::Label(l) => pairs(&l.pairs),
        Instruction::Env(e) => pairs(&e.pairs),
        Instruction::Maintainer(m) => format!(" {:?}", m.name),
        Instruction::User(u) => format!(" {:?}", u.user),
        Instruction::Workdir(w) => format!(" {:?}", w.path),
        Instruction::StopSignal(s) => format!(" {:?}", s.signal),
        Instruction::Expose(e) => format!(" {:?}", e.ports),
        Instruction::Volume(v) => format!(" {}{:?}", form(v.form), v.paths),
        Instruction::Arg(a) => a.args.iter().fold(String::new(), |mut s, d| {
            let _ = match &d.default {
                Some(v) => write!(s, " {}={:?}", d.name, v),
                None => write!(s, " {}", d.name),
            };
            s
        }),
        Instruction::Copy(c) => copy(c),
        Instruction::Add(a) => add(a),
        Instruction::Healthcheck(h) => healthcheck(&h.check),
        Instruction::Onbuild(o) => format!(
            " expression={:?} trigger: {}{}",
            o.expression,
            o.trigger.keyword(),
            details(&o.trigger)
        ),
    }
}

fn opt(name: &str, value: &Option<String>) -> String {
    value
        .as_ref()
        .map_or(String::new(), |v| format!(" --{name}={v:?}"))
}

fn flag(name: &str, on: bool) -> String {
    if on {
        format!(" --{name}")
    } else {
        String::new()
    }
}

fn list(name: &str, values: &[String]) -> String {
    values.iter().map(|v| format!(" --{name}={v:?}")).collect()
}

fn command(c: &CommandLine) -> String {
    match c {
        CommandLine::Exec(words) => format!(" exec={words:?}"),
        CommandLine::Shell(text) => format!(" shell={text:?}"),
    }
}

fn form(f: Form) -> &'static str {
    match f {
        Form::Exec => "exec=",
        Form::Shell => "words=",
    }
}

fn pairs(pairs: &[KeyValue]) -> String {
    pairs
        .iter()
        .map(|p| {
            let legacy = if p.legacy { " (legacy form)" } else { "" };
            format!(" {:?}={:?}{legacy}", p.key, p.value)
        })
        .collect()
}

fn run(r: &RunInstr) -> String {
    let mut s = String::new();
    for m in &r.mounts {
        let from = m
            .from
            .as_ref()
            .map_or(String::new(), |f| format!("(from {f:?})"));
        let _ = write!(s, " --mount={:?}{from}", m.raw);
    }
    s + &opt("network", &r.network) + &opt("security", &r.security) + &command(&r.command)
}

fn sources(sources: &[CopySource], f: Form, dest: &str) -> String {
    let names: Vec<String> = sources
        .iter()
        .map(|s| match s {
            CopySource::Path(p) => format!("{p:?}"),
            CopySource::Heredoc(h) => format!("<<{}", h.name),
        })
        .collect();
    format!(" {}[{}] dest={dest:?}", form(f), names.join(", "))
}

fn copy(c: &CopyInstr) -> String {
    opt("from", &c.from)
        + &opt("chown", &c.chown)
        + &opt("chmod", &c.chmod)
        + &flag("link", c.link)
        + &flag("parents", c.parents)
        + &list("exclude", &c.excludes)
        + &sources(&c.sources, c.form, &c.dest)
}

fn add(a: &AddInstr) -> String {
    let keep = a
        .keep_git_dir
        .map_or(String::new(), |b| format!(" --keep-git-dir={b}"));
    let unpack = a.unpack.map_or(String::new(), |b| format!(" --unpack={b}"));
    opt("chown", &a.chown)
        + &opt("chmod", &a.chmod)
        + &flag("link", a.link)
        + &keep
        + &opt("checksum", &a.checksum)
        + &unpack
        + &list("exclude", &a.excludes)
        + &sources(&a.sources, a.form, &a.dest)
}

fn healthcheck(check: &HealthCheck) -> String {
    let HealthCheck::Cmd {
        command: cmd,
        options: o,
    } = check
    else {
        return " NONE".to_string();
    };
    let mut s = String::new();
    for (name, d) in [
        ("interval", o.interval),
        ("timeout", o.timeout),
        ("start-period", o.start_period),
        ("start-interval", o.start_interval),
    ] {
        if let Some(d) = d {
            let _ = write!(s, " --{name}={d:?}");
        }
    }
    if let Some(r) = o.retries {
        let _ = write!(s, " --retries={r}");
    }
    s + " CMD" + &command(cmd)
}

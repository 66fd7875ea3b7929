//! RUN: the step's snapshot becomes the rootfs of an isolated process (see `crate::run`).

use super::super::error::BuildError;
use super::super::meta::default_shell;
use super::super::progress::Event;
use super::super::stage::StageState;
use super::super::{Ctx, Network};
use crate::dockerfile::{CommandLine, Instruction, MountSpec, RunInstr};
use crate::run::{run_step, Limits, RunSpec, StepCommand};

/// Runs the RUN instruction `instr` in the active snapshot `key`.
pub(crate) fn run(
    ctx: &Ctx<'_>,
    st: &StageState,
    instr: &Instruction,
    key: &str,
    id: usize,
    mounts: &[MountSpec],
) -> Result<(), BuildError> {
    let Instruction::Run(r) = instr else {
        unreachable!("run::run is only called for RUN");
    };
    let rootfs = ctx.snaps.rootfs(key)?;
    let mut spec = spec(ctx, st, r);
    let mut prepared = super::mounts::prepare(ctx, st, r, mounts)?; // held until the step ends
    spec.mounts = std::mem::take(&mut prepared.mounts);
    spec.env.append(&mut prepared.env);
    let mut on_line = |_stream, line: &str| {
        ctx.progress.event(Event::Output {
            id,
            line: line.to_string(),
        })
    };
    run_step(&rootfs, &spec, &mut on_line).map_err(|e| BuildError::Step {
        location: ctx.location(r.span.start_line),
        step: super::display_text(instr, ""),
        message: e.to_string(),
    })
}

fn spec(ctx: &Ctx<'_>, st: &StageState, r: &RunInstr) -> RunSpec {
    let rc = &st.out.config.config;
    let mut spec = RunSpec::new(command(r));
    spec.shell = rc.shell.clone().unwrap_or_else(default_shell);
    spec.env = st.env.run_env();
    spec.user = rc.user.clone();
    spec.workdir = if rc.working_dir.is_empty() {
        "/".to_string()
    } else {
        rc.working_dir.clone()
    };
    spec.network = match (ctx.opts.network, r.network.as_deref()) {
        (_, Some("none")) | (Network::None, _) => crate::run::Network::None,
        _ => crate::run::Network::Host,
    };
    spec.limits = Limits {
        memory: ctx.opts.memory,
        cpus: ctx.opts.cpus,
    };
    spec
}

/// The command a RUN executes; a RUN that is only a heredoc runs its body as a script.
fn command(r: &RunInstr) -> StepCommand {
    match &r.command {
        CommandLine::Exec(v) => StepCommand::Exec(v.clone()),
        CommandLine::Shell(s) => match r.heredocs.as_slice() {
            [h] if s.trim() == format!("<<{}", h.name)
                || s.trim().starts_with("<<") && is_lone_marker(s) =>
            {
                StepCommand::lone_heredoc(&h.name, &h.content())
            }
            [] => StepCommand::Shell(s.clone()),
            heredocs => StepCommand::Shell(with_heredocs(s, heredocs)),
        },
    }
}

fn is_lone_marker(s: &str) -> bool {
    s.split_whitespace().count() == 1
}

/// A shell command with its heredoc bodies appended, as a shell script would hold them.
fn with_heredocs(cmd: &str, heredocs: &[crate::dockerfile::Heredoc]) -> String {
    let mut out = cmd.to_string();
    for h in heredocs {
        out.push('\n');
        out.push_str(&h.body);
        if !h.body.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&h.name);
    }
    out
}

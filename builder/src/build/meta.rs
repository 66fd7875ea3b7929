//! Instructions that change only the image config (ENV, LABEL, CMD, …), and the docker-style
//! `created_by` text of every step.

use std::path::{Component, Path, PathBuf};

use crate::dockerfile::{CommandLine, HealthCheck, Instruction};

use super::config::{Empty, Healthcheck, ImageConfig};

/// The shell a stage uses when SHELL was never set.
pub fn default_shell() -> Vec<String> {
    vec!["/bin/sh".to_string(), "-c".to_string()]
}

/// A command line as argv: exec form as is, shell form through `shell`.
pub fn argv(cmd: &CommandLine, shell: &[String]) -> Vec<String> {
    match cmd {
        CommandLine::Exec(v) => v.clone(),
        CommandLine::Shell(s) => {
            let mut v = shell.to_vec();
            v.push(s.clone());
            v
        }
    }
}

/// Per-stage facts that metadata steps need besides the config.
#[derive(Debug, Clone, Default)]
pub struct MetaState {
    /// CMD was set in this stage (an ENTRYPOINT then keeps it).
    pub cmd_set: bool,
}

/// Applies a metadata instruction (already expanded) to `cfg`. Returns false for
/// instructions that are not metadata-only.
pub fn apply(
    cfg: &mut ImageConfig,
    st: &mut MetaState,
    instr: &Instruction,
    env: &[String],
) -> bool {
    let shell = cfg.config.shell.clone().unwrap_or_else(default_shell);
    let rc = &mut cfg.config;
    match instr {
        Instruction::Env(_) | Instruction::Arg(_) => rc.env = env.to_vec(),
        Instruction::Label(l) => l.pairs.iter().for_each(|p| {
            rc.labels.insert(p.key.clone(), p.value.clone());
        }),
        Instruction::Maintainer(m) => cfg.author = Some(m.name.clone()),
        Instruction::Expose(e) => e.ports.iter().for_each(|p| {
            rc.exposed_ports.insert(port_key(p), Empty {});
        }),
        Instruction::Cmd(c) => {
            rc.cmd = Some(argv(&c.command, &shell));
            st.cmd_set = true;
        }
        Instruction::Entrypoint(e) => {
            rc.entrypoint =
                Some(argv(&e.command, &shell)).filter(|v| !v.is_empty() || e.command.is_exec());
            if !st.cmd_set {
                rc.cmd = None; // docker: a new ENTRYPOINT resets an inherited CMD
            }
        }
        Instruction::Volume(v) => v.paths.iter().for_each(|p| {
            rc.volumes.insert(p.clone(), Empty {});
        }),
        Instruction::User(u) => rc.user = u.user.clone(),
        Instruction::Workdir(w) => rc.working_dir = join_workdir(&rc.working_dir, &w.path),
        Instruction::StopSignal(s) => rc.stop_signal = s.signal.clone(),
        Instruction::Healthcheck(h) => rc.healthcheck = Some(healthcheck(&h.check)),
        Instruction::Shell(s) => rc.shell = Some(s.shell.clone()),
        Instruction::Onbuild(o) => rc
            .on_build
            .get_or_insert_with(Vec::new)
            .push(o.expression.clone()),
        Instruction::From(_) | Instruction::Run(_) | Instruction::Copy(_) | Instruction::Add(_) => {
            return false
        }
    }
    !matches!(instr, Instruction::Workdir(_))
}

/// `80` → `80/tcp`; `53/UDP` → `53/udp`.
fn port_key(p: &str) -> String {
    match p.split_once('/') {
        Some((port, proto)) => format!("{port}/{}", proto.to_ascii_lowercase()),
        None => format!("{p}/tcp"),
    }
}

fn healthcheck(h: &HealthCheck) -> Healthcheck {
    let nanos = |d: Option<std::time::Duration>| d.map(|d| d.as_nanos() as u64).unwrap_or(0);
    match h {
        HealthCheck::None => Healthcheck {
            test: vec!["NONE".to_string()],
            ..Healthcheck::default()
        },
        HealthCheck::Cmd { command, options } => Healthcheck {
            test: match command {
                CommandLine::Exec(v) => std::iter::once("CMD".to_string())
                    .chain(v.iter().cloned())
                    .collect(),
                CommandLine::Shell(s) => vec!["CMD-SHELL".to_string(), s.clone()],
            },
            interval: nanos(options.interval),
            timeout: nanos(options.timeout),
            start_period: nanos(options.start_period),
            start_interval: nanos(options.start_interval),
            retries: options.retries.map(u64::from).unwrap_or(0),
        },
    }
}

/// WORKDIR semantics: relative paths join the current one; the result is cleaned.
pub fn join_workdir(current: &str, path: &str) -> String {
    let base = if current.is_empty() { "/" } else { current };
    let joined = if path.starts_with('/') {
        PathBuf::from(path)
    } else {
        Path::new(base).join(path)
    };
    let mut parts: Vec<String> = Vec::new();
    for c in joined.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workdir_joins_and_cleans() {
        assert_eq!(join_workdir("", "app"), "/app");
        assert_eq!(join_workdir("/app", "src"), "/app/src");
        assert_eq!(join_workdir("/app", "/opt/../srv/"), "/srv");
        assert_eq!(join_workdir("/a/b", "../c"), "/a/c");
    }

    #[test]
    fn ports_get_protocols() {
        assert_eq!(port_key("80"), "80/tcp");
        assert_eq!(port_key("53/UDP"), "53/udp");
    }
}

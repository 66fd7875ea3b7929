//! What to run: [`RunSpec`], [`StepCommand`], [`Network`], and their translation into the
//! child's prepared plan.

use std::ffi::CString;

use super::cgroup::Limits;
use super::child::{ChildFds, ChildPlan};
use super::env::{argv, effective_env, exec_candidates, host_resolv_conf, hosts_file, lookup};
use super::mounts::StepMount;
use super::setup::{c, setup_ops, SetupInput};
use super::RunError;
use crate::snapshot::Rootfs;

/// The command of a RUN step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepCommand {
    /// Exec form: `RUN ["prog", "arg"]`, run as is (the program is looked up in `PATH`).
    Exec(Vec<String>),
    /// Shell form: `RUN prog arg`, run as `<shell...> "<line>"`. A RUN with heredocs that is
    /// not a lone heredoc (`RUN python3 <<EOF` …) is shell form too: the line is the command
    /// followed by each heredoc body and terminator, and the shell reads the heredocs itself.
    Shell(String),
    /// A lone heredoc with a shebang (`RUN <<EOF` / `#!/usr/bin/env python3` …): written to
    /// `/dev/pipes/<name>` (mode 0755, in the step's private `/dev`) and executed directly.
    Script {
        /// The heredoc's delimiter word (`EOF`), used as the file name.
        name: String,
        /// The heredoc body.
        body: String,
    },
}

impl StepCommand {
    /// BuildKit's rule for `RUN <<NAME` with nothing else: a body starting with `#!` becomes
    /// a script run directly; any other body is run by the shell as a command line.
    pub fn lone_heredoc(name: &str, body: &str) -> Self {
        if body.starts_with("#!") {
            StepCommand::Script {
                name: name.to_string(),
                body: body.to_string(),
            }
        } else {
            StepCommand::Shell(body.to_string())
        }
    }
}

/// The step's network.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Network {
    /// The host's network namespace (`--network host`, the default).
    #[default]
    Host,
    /// A new network namespace with only `lo`, up (`--network none`).
    None,
}

/// Everything about a RUN step except its rootfs.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    /// The command.
    pub command: StepCommand,
    /// The shell for shell form (SHELL instruction); default `["/bin/sh", "-c"]`.
    pub shell: Vec<String>,
    /// The environment as `KEY=VALUE` (image Env, ENV, visible build args). `PATH` defaults to
    /// [`super::DEFAULT_PATH`], `HOME` to the user's home from passwd.
    pub env: Vec<String>,
    /// USER: `""` (root), `name`, `uid`, `name:group`, `uid:gid`.
    pub user: String,
    /// WORKDIR (absolute; `""` = `/`). Created, owned by the user, when missing.
    pub workdir: String,
    /// The network.
    pub network: Network,
    /// Memory and CPU limits.
    pub limits: Limits,
    /// The hostname; a random 12-character id when `None`.
    pub hostname: Option<String>,
    /// `RUN --mount`s, placed in order after everything else.
    pub mounts: Vec<StepMount>,
}

impl RunSpec {
    /// A spec with docker's defaults: root, `/`, `/bin/sh -c`, host network, no limits.
    pub fn new(command: StepCommand) -> Self {
        Self {
            command,
            shell: vec!["/bin/sh".to_string(), "-c".to_string()],
            env: Vec::new(),
            user: String::new(),
            workdir: "/".to_string(),
            network: Network::Host,
            limits: Limits::default(),
            hostname: None,
            mounts: Vec::new(),
        }
    }

    /// The argv the step runs.
    pub fn argv(&self) -> Vec<String> {
        argv(&self.command, &self.shell)
    }
}

/// The script of a [`StepCommand::Script`], checked: a plain file name.
fn script(command: &StepCommand) -> Result<Option<(&str, &[u8])>, RunError> {
    let StepCommand::Script { name, body } = command else {
        return Ok(None);
    };
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(RunError::InvalidSpec {
            field: "heredoc name",
            value: name.clone(),
        });
    }
    Ok(Some((name.as_str(), body.as_bytes())))
}

/// `/a`, `/a/b`, `/a/b/c` for `/a/b/c` (normalising `.`, `..` and repeated slashes).
pub(crate) fn workdir_prefixes(workdir: &str) -> Vec<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in workdir.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    (1..=parts.len())
        .map(|n| format!("/{}", parts[..n].join("/")))
        .collect()
}

/// C strings for a list of strings.
fn cstrings(field: &'static str, items: &[String]) -> Result<Vec<CString>, RunError> {
    items.iter().map(|s| c(field, s.as_str())).collect()
}

/// Builds the child's plan for `spec` on `rootfs` with `hostname`.
pub(crate) fn child_plan(
    rootfs: &Rootfs,
    spec: &RunSpec,
    hostname: &str,
) -> Result<ChildPlan, RunError> {
    let argv = spec.argv();
    let Some(program) = argv.first() else {
        return Err(RunError::InvalidSpec {
            field: "command",
            value: String::new(),
        });
    };
    let env = effective_env(&spec.env);
    let candidates = exec_candidates(program, lookup(&env, "PATH").unwrap_or(""));
    let input = SetupInput {
        rootfs,
        hostname,
        hosts: hosts_file(hostname),
        resolv: host_resolv_conf(),
        isolated_net: spec.network == Network::None,
        script: script(&spec.command)?,
        mounts: &spec.mounts,
    };
    let prefixes = workdir_prefixes(&spec.workdir);
    let workdir = prefixes.last().cloned().unwrap_or_else(|| "/".to_string());
    Ok(ChildPlan {
        ops: setup_ops(&input)?,
        workdir_prefixes: cstrings("workdir", &prefixes)?,
        workdir: c("workdir", workdir)?,
        has_home: lookup(&env, "HOME").is_some(),
        argv: cstrings("command", &argv)?,
        env: cstrings("env", &env)?,
        candidates: cstrings("command", &candidates)?,
        fds: ChildFds {
            stdin: -1,
            stdout: -1,
            stderr: -1,
            status: -1,
            cred: -1,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_heredoc_follows_buildkit() {
        assert_eq!(
            StepCommand::lone_heredoc("EOF", "echo hi\n"),
            StepCommand::Shell("echo hi\n".into())
        );
        assert!(matches!(
            StepCommand::lone_heredoc("EOF", "#!/bin/sh\necho hi\n"),
            StepCommand::Script { .. }
        ));
    }

    #[test]
    fn workdir_prefixes_are_normalised() {
        assert_eq!(
            workdir_prefixes("/app//src/./x/../y"),
            ["/app", "/app/src", "/app/src/y"]
        );
        assert!(workdir_prefixes("/").is_empty());
    }

    #[test]
    fn bad_specs_are_rejected_before_any_clone() {
        let rootfs = Rootfs {
            mounts: vec![],
            mountpoint: "/m".into(),
            upper: "/u".into(),
            lowers: vec![],
        };
        let spec = RunSpec::new(StepCommand::Exec(vec![]));
        assert!(matches!(
            child_plan(&rootfs, &spec, "h"),
            Err(RunError::InvalidSpec {
                field: "command",
                ..
            })
        ));
        let spec = RunSpec::new(StepCommand::Script {
            name: "../x".into(),
            body: "#!/bin/sh".into(),
        });
        assert!(matches!(
            child_plan(&rootfs, &spec, "h"),
            Err(RunError::InvalidSpec {
                field: "heredoc name",
                ..
            })
        ));
        let spec = RunSpec {
            env: vec!["A=\0".into()],
            ..RunSpec::new(StepCommand::Shell("true".into()))
        };
        assert!(matches!(
            child_plan(&rootfs, &spec, "h"),
            Err(RunError::InvalidSpec { field: "env", .. })
        ));
    }
}

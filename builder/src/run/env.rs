//! The step's process environment: variables, `PATH` lookup, argv, hostname and `/etc/hosts`.

use super::StepCommand;

/// The `PATH` a step gets when its environment has none (docker's and BuildKit's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The environment as given, plus the default `PATH` when there is none.
pub(crate) fn effective_env(env: &[String]) -> Vec<String> {
    let mut out = env.to_vec();
    if !env.iter().any(|kv| kv.starts_with("PATH=")) {
        out.push(format!("PATH={DEFAULT_PATH}"));
    }
    out
}

/// The value of `name` in `env` (last one wins, as in a shell).
pub(crate) fn lookup<'a>(env: &'a [String], name: &str) -> Option<&'a str> {
    env.iter()
        .rev()
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

/// The paths to try `execve` on, in order: the program itself when it names a path, otherwise
/// each `PATH` entry joined with it (an empty entry means the working directory).
pub(crate) fn exec_candidates(program: &str, path: &str) -> Vec<String> {
    if program.contains('/') {
        return vec![program.to_string()];
    }
    path.split(':')
        .map(|dir| {
            if dir.is_empty() {
                format!("./{program}")
            } else {
                format!("{}/{program}", dir.trim_end_matches('/'))
            }
        })
        .collect()
}

/// The argv of a step: exec form as is, shell form after the shell, a heredoc script run
/// directly from `/dev/pipes` (where the kernel honours its shebang).
pub(crate) fn argv(command: &StepCommand, shell: &[String]) -> Vec<String> {
    match command {
        StepCommand::Exec(args) => args.clone(),
        StepCommand::Shell(line) => shell.iter().cloned().chain([line.clone()]).collect(),
        StepCommand::Script { name, .. } => vec![format!("/dev/pipes/{name}")],
    }
}

/// A short random hostname like docker's (12 hex characters).
pub(crate) fn random_hostname() -> String {
    let mut buf = [0u8; 6];
    if getrandom(&mut buf).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        buf[..4].copy_from_slice(&nanos.to_le_bytes());
    }
    hex::encode(buf)
}

/// Fills `buf` from the kernel's random pool.
fn getrandom(buf: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}

/// The generated `/etc/hosts`.
pub(crate) fn hosts_file(hostname: &str) -> Vec<u8> {
    format!("127.0.0.1\tlocalhost {hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n")
        .into_bytes()
}

/// The host's `/etc/resolv.conf`, if readable.
pub(crate) fn host_resolv_conf() -> Option<Vec<u8>> {
    std::fs::read("/etc/resolv.conf").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_path_only_when_missing() {
        let env = effective_env(&["A=1".to_string()]);
        assert_eq!(lookup(&env, "PATH"), Some(DEFAULT_PATH));
        let env = effective_env(&["PATH=/x".to_string()]);
        assert_eq!(env, ["PATH=/x"]);
        assert_eq!(
            lookup(&["A=1".into(), "A=2".into(), "AB=3".into()], "A"),
            Some("2")
        );
    }

    #[test]
    fn exec_candidates_follow_path_unless_the_program_has_a_slash() {
        assert_eq!(
            exec_candidates("ls", "/usr/bin:/bin/:"),
            ["/usr/bin/ls", "/bin/ls", "./ls"]
        );
        assert_eq!(exec_candidates("./run.sh", "/bin"), ["./run.sh"]);
    }

    #[test]
    fn argv_per_form() {
        let sh = vec!["/bin/sh".to_string(), "-c".to_string()];
        assert_eq!(
            argv(&StepCommand::Shell("echo hi".into()), &sh),
            ["/bin/sh", "-c", "echo hi"]
        );
        assert_eq!(
            argv(&StepCommand::Exec(vec!["ls".into(), "-l".into()]), &sh),
            ["ls", "-l"]
        );
        let script = StepCommand::Script {
            name: "EOF".into(),
            body: "#!/bin/sh\n".into(),
        };
        assert_eq!(argv(&script, &sh), ["/dev/pipes/EOF"]);
    }

    #[test]
    fn hostnames_are_short_and_differ() {
        let (a, b) = (random_hostname(), random_hostname());
        assert_eq!(a.len(), 12);
        assert_ne!(a, b);
        assert!(String::from_utf8(hosts_file(&a))
            .expect("utf8")
            .contains(&a));
    }
}

//! Authentication against an htpasswd registry: refusal without credentials, `login`,
//! a hand-written config.json, a credential helper, and no password in any output.

use std::path::{Path, PathBuf};

use rbuild_registry_client::auth::ConfigPaths;
use rbuild_registry_client::{
    login_blocking, pull_blocking, push_blocking, Credentials, PullOptions, PushOptions, Secret,
};

use super::{client_opts, make_image, open_store, push_opts, random_layer, reference};
use crate::registry_harness::{write_script, Registry};
use crate::util::Env;

fn auth_config(dir: &Path, host: &str, user: &str, pass: &str) -> PathBuf {
    use base64_engine::encode;
    let path = dir.join("handwritten.json");
    let text = format!(
        r#"{{"auths":{{"{host}":{{"auth":"{}"}}}}}}"#,
        encode(&format!("{user}:{pass}"))
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// A tiny base64 encoder so the test does not need a base64 crate.
mod base64_engine {
    pub fn encode(s: &str) -> String {
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let b = s.as_bytes();
        let mut out = String::new();
        for c in b.chunks(3) {
            let n = (c[0] as u32) << 16
                | (*c.get(1).unwrap_or(&0) as u32) << 8
                | *c.get(2).unwrap_or(&0) as u32;
            for i in 0..4 {
                out.push(if i <= c.len() {
                    T[(n >> (18 - 6 * i) & 63) as usize] as char
                } else {
                    '='
                });
            }
        }
        out
    }
}

#[test]
fn basic_auth_refuses_then_works_with_login_and_config() {
    let pass = "Sup3r-s3cret-pw";
    let Some(reg) = Registry::start_with_auth("basic_auth", Some(("alice", pass))) else {
        return;
    };
    let env = Env::new();
    let a = open_store(&env.path("a"));
    make_image(
        &a,
        "p:1",
        &[random_layer(env.tmp.path(), "p", 5000, 1)],
        "amd64",
    );
    let target = reference(&reg.host(), "private/img:1");
    let err = push_blocking(&a, "p:1", &target, &push_opts(&env)).unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(
        text.contains("authentication failed") && text.contains("rbuild login"),
        "{text}"
    );

    let cfg = env.path("docker/config.json");
    let wrong = Credentials {
        username: "alice".into(),
        password: Secret::new("wrong-pw"),
    };
    let err = login_blocking(
        &reg.host(),
        &wrong,
        Some(&ConfigPaths::file(&cfg)),
        &client_opts(&cfg),
    )
    .unwrap_err();
    assert!(err.to_string().contains("refused"), "{err}");
    assert!(!cfg.exists(), "a failed login stores nothing");
    let right = Credentials {
        username: "alice".into(),
        password: Secret::new(pass),
    };
    login_blocking(
        &reg.host(),
        &right,
        Some(&ConfigPaths::file(&cfg)),
        &client_opts(&cfg),
    )
    .unwrap();
    let opts = PushOptions {
        client: client_opts(&cfg),
        ..PushOptions::default()
    };
    let pushed = push_blocking(&a, "p:1", &target, &opts).unwrap();

    let hand = auth_config(env.tmp.path(), &reg.host(), "alice", pass);
    let b = open_store(&env.path("b"));
    let pulled = pull_blocking(
        &b,
        &target,
        &PullOptions {
            client: client_opts(&hand),
            ..PullOptions::default()
        },
    )
    .unwrap();
    assert_eq!(pulled.digest(), &pushed);
}

#[test]
fn cli_login_helper_and_no_password_in_output() {
    let pass = "Pw-never-printed-42";
    let Some(reg) = Registry::start_with_auth("cli_login", Some(("bob", pass))) else {
        return;
    };
    let env = Env::new();
    let a = open_store(&env.root());
    make_image(
        &a,
        "img:1",
        &[random_layer(env.tmp.path(), "q", 5000, 2)],
        "amd64",
    );
    drop(a);
    let docker = env.path("docker");
    let mut transcript = String::new();
    let mut sh = |args: &[&str], stdin: Option<&str>, path_extra: Option<&Path>| {
        let mut cmd = env.rbuild(args);
        cmd.env("DOCKER_CONFIG", &docker)
            .env_remove("REGISTRY_AUTH_FILE");
        if let Some(dir) = path_extra {
            cmd.env(
                "PATH",
                format!(
                    "{}:{}",
                    dir.display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            );
        }
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(input) = stdin {
            std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        transcript.push_str(&text);
        (out.status.success(), text)
    };
    let target = format!("{}/cli/img:1", reg.host());
    let (ok, text) = sh(&["push", "img:1", &target], None, None);
    assert!(!ok && text.contains("rbuild login"), "{text}");
    let (ok, text) = sh(
        &[
            "login",
            "--username",
            "bob",
            "--password-stdin",
            &reg.host(),
        ],
        Some("not-the-pw\n"),
        None,
    );
    assert!(!ok, "{text}");
    let (ok, text) = sh(
        &[
            "login",
            "--username",
            "bob",
            "--password-stdin",
            &reg.host(),
        ],
        Some(&format!("{pass}\n")),
        None,
    );
    assert!(ok && text.contains("Login Succeeded"), "{text}");
    let digestfile = env.path("digest.txt");
    let (ok, text) = sh(
        &[
            "push",
            "--digestfile",
            digestfile.to_str().unwrap(),
            "img:1",
            &target,
        ],
        None,
        None,
    );
    assert!(ok, "{text}");
    let digest = std::fs::read_to_string(&digestfile).unwrap();
    assert!(
        digest.starts_with("sha256:") && text.contains(&format!("digest: {digest}")),
        "{digest} / {text}"
    );
    let (ok, text) = sh(&["logout", &reg.host()], None, None);
    assert!(ok && text.contains("Removing login credentials"), "{text}");
    // A credential helper on PATH answers instead of the config file.
    let bin = env.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = env.path("helper-calls");
    write_script(
        &bin.join("docker-credential-test"),
        &format!("#!/bin/sh\nread server\necho \"$1 $server\" >> {}\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"bob\",\"Secret\":\"{pass}\"}}' \"$server\"\n", calls.display()),
    );
    std::fs::write(
        docker.join("config.json"),
        format!(r#"{{"credHelpers":{{"{}":"test"}}}}"#, reg.host()),
    )
    .unwrap();
    let (ok, text) = sh(&["pull", &target], None, Some(&bin));
    assert!(ok, "{text}");
    let called = std::fs::read_to_string(&calls).unwrap_or_default();
    assert!(
        called.contains(&format!("get {}", reg.host())),
        "helper called: {called:?}"
    );
    assert!(
        !transcript.contains(pass),
        "the password leaked into the output:\n{transcript}"
    );
}

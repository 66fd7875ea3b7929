//! `RUN --mount` end to end: cache, bind (context and stage), tmpfs, secret; what reaches the
//! image, the cache key and the host (needs root for namespaces and overlayfs).

use std::fs;

use crate::util::{is_root, Env};

/// Builds with `--progress=plain`; returns stderr (the step log) or panics with it.
fn build(env: &Env, args: &[&str]) -> String {
    let out = env
        .rbuild(&[&["build", "--progress=plain"], args].concat())
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "rbuild build {args:?} failed:\n{log}");
    log
}

/// Runs `script` in a step on top of `image` and returns what it printed.
fn probe(env: &Env, image: &str, script: &str) -> String {
    let df = format!("FROM {image}\nRUN {script}\n");
    let ctx = env.context("probe", &df);
    let log = build(env, &["--no-cache", ctx.to_str().unwrap()]);
    step_output(&log, "RUN ")
}

/// The lines a step printed in a plain log (`#N line`), the step found by its title.
fn step_output(log: &str, title: &str) -> String {
    let id = log
        .lines()
        .find_map(|l| {
            l.split_once(' ')
                .filter(|(_, rest)| rest.contains(&format!("] {title}")))
        })
        .map(|(id, _)| format!("{id} "))
        .unwrap_or_else(|| panic!("no step {title} in:\n{log}"));
    log.lines()
        .filter_map(|l| l.strip_prefix(&id))
        .filter(|l| !l.starts_with('[') && !l.starts_with("DONE") && *l != "run")
        .collect::<Vec<_>>()
        .join("\n")
}

fn setup(test: &str) -> Option<Env> {
    if !is_root(test) {
        return None;
    }
    let env = Env::new();
    env.busybox("busybox:latest");
    Some(env)
}

#[test]
fn cache_mounts_persist_across_builds_and_never_reach_the_image() {
    let Some(env) = setup("cache mounts") else {
        return;
    };
    let df = "FROM busybox\n\
              RUN --mount=type=cache,target=/var/cache/t sh -c 'echo run >> /var/cache/t/log; wc -l < /var/cache/t/log > /count'\n\
              RUN --mount=type=cache,id=shared,target=/a --mount=type=cache,id=shared,target=/b,ro sh -c 'echo hi > /a/f && cat /b/f > /seen'\n\
              RUN --mount=type=cache,target=/owned,uid=1000,gid=1000,mode=0700 stat -c '%u %g %a' /owned > /owner\n\
              RUN --mount=type=cache,id=l,target=/x,sharing=locked --mount=type=cache,id=l,target=/y,sharing=locked true\n";
    let ctx = env.context("cache", df);
    let c = ctx.to_str().unwrap();
    build(&env, &["--no-cache", "-t", "c:1", c]);
    build(&env, &["--no-cache", "-t", "c:1", c]);
    let got = probe(&env, "c:1", "cat /count /seen /owner; test ! -e /var/cache/t && test ! -e /a && test ! -e /owned && test ! -e /x && echo clean");
    assert_eq!(
        got, "2\nhi\n1000 1000 700\nclean",
        "the cache kept the first build's line"
    );
    let out = env.ok(&["prune", "--cache"]);
    assert!(out.contains("cache mounts: 4"), "{out}");
    build(&env, &["-t", "c:1", c]);
    assert_eq!(
        probe(&env, "c:1", "cat /count"),
        "1",
        "prune --cache emptied it"
    );
}

#[test]
fn context_binds_are_read_only_filtered_and_part_of_the_cache_key() {
    let Some(env) = setup("context bind mounts") else {
        return;
    };
    let df = "FROM busybox\n\
              WORKDIR /src\n\
              RUN --mount=type=bind,source=go.mod,target=go.mod cat go.mod > /seen\n\
              RUN --mount=target=/ctx sh -c 'ls -A /ctx > /listing; touch /ctx/x 2>/dev/null && echo writable || echo read-only' > /ro\n\
              RUN --mount=target=/ctx,rw touch /ctx/created\n";
    let ctx = env.context("bind", df);
    fs::write(ctx.join("go.mod"), "module v1\n").unwrap();
    fs::write(ctx.join("ignored.txt"), "no\n").unwrap();
    fs::write(ctx.join(".dockerignore"), "ignored.txt\n").unwrap();
    let c = ctx.to_str().unwrap();
    build(&env, &["-t", "b:1", c]);
    let got = probe(&env, "b:1", "cat /seen /ro; grep -c . /listing; grep -x go.mod /listing; grep ignored /listing; test ! -e /src/go.mod && test ! -e /ctx && echo clean");
    assert_eq!(
        got, "module v1\nread-only\n3\ngo.mod\nclean",
        "Dockerfile, .dockerignore, go.mod; no ignored.txt"
    );
    assert!(
        !ctx.join("created").exists(),
        "a rw bind never writes to the context"
    );
    assert!(!ctx.join("x").exists());

    let log = build(&env, &["-t", "b:1", c]);
    assert_eq!(
        log.matches(" CACHED").count(),
        4,
        "unchanged: all cached\n{log}"
    );
    fs::write(ctx.join("ignored.txt"), "still ignored\n").unwrap();
    let log = build(&env, &["-t", "b:1", c]);
    assert_eq!(
        log.matches(" CACHED").count(),
        4,
        "an ignored file is not an input\n{log}"
    );
    fs::write(ctx.join("go.mod"), "module v2\n").unwrap();
    let log = build(&env, &["-t", "b:1", c]);
    assert_eq!(
        log.matches(" CACHED").count(),
        1,
        "the go.mod steps rerun (WORKDIR stays)\n{log}"
    );
    assert_eq!(probe(&env, "b:1", "cat /seen"), "module v2");
}

#[test]
fn stage_binds_resolve_inside_the_stage() {
    let Some(env) = setup("stage bind mounts") else {
        return;
    };
    let df = "FROM busybox AS b\n\
              RUN mkdir /d && echo inside > /d/f && ln -s /d /esc && ln -s ../../../../d/f /up\n\
              FROM busybox\n\
              RUN --mount=from=b,source=/esc/f,target=/in cat /in > /via-link\n\
              RUN --mount=from=b,source=/up,target=/in2 cat /in2 > /via-dots\n\
              RUN --mount=from=b,target=/stage,rw sh -c 'rm /stage/d/f && ls /stage/d | wc -l' > /after-rm\n\
              RUN --mount=from=b,source=/d,target=/again cat /again/f > /still\n";
    let ctx = env.context("stage", df);
    build(&env, &["-t", "s:1", ctx.to_str().unwrap()]);
    let got = probe(
        &env,
        "s:1",
        "cat /via-link /via-dots /after-rm /still; test ! -e /in && echo clean",
    );
    assert_eq!(
        got, "inside\ninside\n0\ninside\nclean",
        "symlinks resolve in the stage; rw writes are discarded"
    );
}

#[test]
fn tmpfs_and_secrets_leave_nothing_behind() {
    let Some(env) = setup("tmpfs and secret mounts") else {
        return;
    };
    let secret = env.path("token");
    fs::write(&secret, "s3cr3t-value").unwrap();
    let df = "FROM busybox\n\
              RUN --mount=type=tmpfs,target=/scratch sh -c 'echo x > /scratch/f && grep -c \" /scratch tmpfs\" /proc/mounts' > /tmpfs\n\
              RUN --mount=type=secret,id=tok --mount=target=/ctx sh -c 'cmp /run/secrets/tok /ctx/expected && stat -c \"%a %u\" /run/secrets/tok' > /mode\n\
              RUN --mount=type=secret,id=tok,env=TOK,uid=5,mode=0440,target=/etc/tok --mount=target=/ctx sh -c 'test \"$TOK\" = \"$(cat /ctx/expected)\" && stat -c \"%a %u\" /etc/tok' > /mode2\n\
              RUN --mount=type=secret,id=absent test ! -e /run/secrets/absent\n";
    let ctx = env.context("secret", df);
    fs::write(ctx.join("expected"), "s3cr3t-value").unwrap(); // bound, never copied
    let src = format!("id=tok,src={}", secret.display());
    build(
        &env,
        &["--secret", &src, "-t", "t:1", ctx.to_str().unwrap()],
    );
    let got = probe(&env, "t:1", "cat /tmpfs /mode /mode2; test ! -e /scratch && test ! -e /run/secrets && test ! -e /etc/tok && echo clean");
    assert_eq!(got, "1\n400 0\n440 5\nclean");
    let tar = env.path("t.tar");
    env.ok(&["save", "-o", tar.to_str().unwrap(), "t:1"]);
    let bytes = fs::read(&tar).unwrap();
    assert!(
        !bytes.windows(12).any(|w| w == b"s3cr3t-value"),
        "the secret is in no layer, config or history"
    );

    let df = "FROM busybox\nRUN --mount=type=secret,id=absent,required true\n";
    let ctx = env.context("required", df);
    let err = env.fails(&["build", ctx.to_str().unwrap()]);
    assert!(
        err.contains("Dockerfile:2") && err.contains("secret absent is required"),
        "{err}"
    );
}

#[test]
fn bad_mounts_are_refused_with_the_line() {
    let Some(env) = setup("bad mounts") else {
        return;
    };
    let cases = [
        (
            "RUN --mount=type=bogus,target=/x true",
            "unsupported mount type",
        ),
        ("RUN --mount=type=ssh true", "not supported"),
        ("RUN --mount=type=cache true", "target is required"),
        (
            "RUN --mount=type=bind,source=../outside,target=/x true",
            "outside",
        ),
        ("RUN --mount=type=tmpfs,target=/ true", "mount target"),
    ];
    for (i, (line, want)) in cases.iter().enumerate() {
        let ctx = env.context(&format!("bad{i}"), &format!("FROM busybox\n{line}\n"));
        let err = env.fails(&["build", ctx.to_str().unwrap()]);
        assert!(
            err.contains("Dockerfile:2") && err.contains(want),
            "{line}: {err}"
        );
    }
    // As in BuildKit, a stage that is not built is not checked.
    let df = "FROM busybox AS unused\nRUN --mount=type=bogus true\nFROM busybox\nRUN true\n";
    let ctx = env.context("unused", df);
    env.ok(&["build", "-q", ctx.to_str().unwrap()]);
    // Nothing of a failed mount is left mounted or in the scratch area.
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(!mounts.contains(env.root().to_str().unwrap()), "{mounts}");
    let scratch = env.root().join("snapshots/tmp");
    let left = fs::read_dir(&scratch).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "scratch dirs left in {}", scratch.display());
}

//! `COPY --exclude` and `COPY --parents` end to end, on the examples of BuildKit's Dockerfile
//! reference (needs root for namespaces and overlayfs).

use std::fs;
use std::path::Path;

use crate::util::{is_root, Env};

/// Builds `dockerfile` in `ctx`; returns the log (plain progress) or panics with it.
fn build(env: &Env, ctx: &Path, extra: &[&str]) -> String {
    let c = ctx.to_str().unwrap();
    let out = env
        .rbuild(&[&["build", "--progress=plain"], extra, &[c]].concat())
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "build failed:\n{log}");
    log
}

/// The lines the last step (a `RUN find … | sort`) printed.
fn listing(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.split_once(' ').map(|(_, rest)| rest))
        .filter(|l| l.starts_with('/'))
        .map(str::to_string)
        .collect()
}

fn files(ctx: &Path, list: &[&str]) {
    for f in list {
        let path = ctx.join(f);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, f).unwrap();
    }
}

#[test]
fn exclude_patterns_match_below_each_source_and_stay_out_of_the_key() {
    if !is_root("COPY --exclude") {
        return;
    }
    let env = Env::new();
    env.busybox("busybox:latest");
    let df = "FROM busybox\n\
              COPY --exclude=*.md --exclude=sub/*.md . /all\n\
              COPY --exclude=*.mp3 dir* /4/\n\
              COPY --exclude=**/*.mp3 --exclude=*.png dir2 /5/\n\
              COPY --exclude=*.txt a.txt /6/\n\
              RUN find /all /4 /5 /6 | sort\n";
    let ctx = env.context("exclude", df);
    files(
        &ctx,
        &[
            "a.txt",
            "r.md",
            "sub/n.md",
            "sub/k.txt",
            "dir1/a.mp3",
            "dir1/b.txt",
        ],
    );
    files(&ctx, &["dir2/d.png", "dir2/deep/c.mp3"]);
    let got = listing(&build(&env, &ctx, &["-t", "x:1"]));
    let want = [
        "/4",
        "/4/b.txt",
        "/4/d.png",
        "/4/deep",
        "/4/deep/c.mp3",
        "/5",
        "/5/deep",
        "/6",
        "/6/a.txt",
        "/all",
        "/all/Dockerfile",
        "/all/a.txt",
        "/all/dir1",
        "/all/dir1/a.mp3",
        "/all/dir1/b.txt",
        "/all/dir2",
        "/all/dir2/d.png",
        "/all/dir2/deep",
        "/all/dir2/deep/c.mp3",
        "/all/sub",
        "/all/sub/k.txt",
    ];
    assert_eq!(
        got, want,
        "a source itself is never excluded; * stays in one directory"
    );
    fs::write(ctx.join("r.md"), "changed").unwrap();
    fs::write(ctx.join("sub/n.md"), "changed").unwrap();
    let log = build(&env, &ctx, &["-t", "x:1"]);
    assert_eq!(
        log.matches(" CACHED").count(),
        5,
        "excluded files are no input:\n{log}"
    );
}

#[test]
fn parents_keep_directories_below_the_root_or_the_pivot() {
    if !is_root("COPY --parents") {
        return;
    }
    let env = Env::new();
    env.busybox("busybox:latest");
    let df = "FROM busybox\n\
              COPY ./x/a.txt ./y/a.txt /no_parents/\n\
              COPY --parents ./x/a.txt ./y/a.txt /parents/\n\
              COPY --parents ./x/./y/*.txt /pivot/\n\
              COPY --parents ./src/**/*.txt /star/\n\
              COPY --parents --exclude=x/y/b.txt --exclude=y ./x/y/*.txt ./y/a.txt /ex/\n\
              RUN find /no_parents /parents /pivot /star /ex | sort\n";
    let ctx = env.context("parents", df);
    files(
        &ctx,
        &["x/a.txt", "y/a.txt", "x/y/a.txt", "x/y/b.txt", "x/y/c.md"],
    );
    files(
        &ctx,
        &["src/a.txt", "src/x/b.txt", "src/x/y/c.txt", "src/x/y/d.md"],
    );
    let got = listing(&build(&env, &ctx, &[]));
    let want = [
        "/ex",
        "/ex/x",
        "/ex/x/y",
        "/ex/x/y/a.txt",
        "/no_parents",
        "/no_parents/a.txt",
        "/parents",
        "/parents/x",
        "/parents/x/a.txt",
        "/parents/y",
        "/parents/y/a.txt",
        "/pivot",
        "/pivot/y",
        "/pivot/y/a.txt",
        "/pivot/y/b.txt",
        "/star",
        "/star/src",
        "/star/src/a.txt",
        "/star/src/x",
        "/star/src/x/b.txt",
        "/star/src/x/y",
        "/star/src/x/y/c.txt",
    ];
    assert_eq!(got, want);
    let missing = env.context("missing", "FROM busybox\nCOPY --parents ./nope/a.txt /p/\n");
    let err = env.fails(&["build", missing.to_str().unwrap()]);
    assert!(
        err.contains("Dockerfile:2") && err.contains("nope/a.txt"),
        "{err}"
    );
}

#[test]
fn add_unpack_false_keeps_a_local_archive_as_it_is() {
    if !is_root("ADD --unpack") || !crate::util::have("tar", "ADD --unpack") {
        return;
    }
    let env = Env::new();
    env.busybox("busybox:latest");
    let df = "FROM busybox\nADD a.tar /x/\nADD --unpack=false a.tar /y/\nRUN find /x /y | sort\n";
    let ctx = env.context("unpack", df);
    files(&ctx, &["t/f"]);
    let tar = ctx.join("a.tar");
    let status = std::process::Command::new("tar")
        .args([
            "-C",
            ctx.join("t").to_str().unwrap(),
            "-cf",
            tar.to_str().unwrap(),
            "f",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let got = listing(&build(&env, &ctx, &[]));
    assert_eq!(got, ["/x", "/x/f", "/y", "/y/a.tar"]);
}

//! `rbuild build` end to end on the busybox test image (needs root for namespaces and overlayfs).

use std::fs;
use std::process::Command;

use serde_json::Value;

use crate::util::{have, is_root, run, Env};

fn demo_context(env: &Env) -> std::path::PathBuf {
    let ctx = env.path("demo");
    fs::create_dir_all(&ctx).unwrap();
    for f in ["Dockerfile", "app.sh"] {
        let src = crate::util::workspace().join("testdata/demo").join(f);
        fs::copy(&src, ctx.join(f)).unwrap();
    }
    ctx
}

fn build(env: &Env, args: &[&str]) -> (String, String) {
    let out = env.rbuild(args).arg("--progress=plain").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "rbuild {args:?} failed:\n{stderr}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

fn image_id(env: &Env, name: &str) -> String {
    env.ok(&["images", "--format", "json"])
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| {
            format!(
                "{}:{}",
                r["Repository"].as_str().unwrap(),
                r["Tag"].as_str().unwrap()
            ) == name
        })
        .map(|r| r["ID"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("{name} not listed"))
}

#[test]
fn demo_builds_exports_and_unpacks() {
    if !is_root("demo build") || !have("umoci", "demo build") || !have("skopeo", "demo build") {
        return;
    }
    let env = Env::new();
    env.busybox("busybox:latest");
    let ctx = demo_context(&env);
    build(&env, &["-t", "demo:0.0.1", ctx.to_str().unwrap()]);
    let oci = env.path("oci");
    env.ok(&["export", "demo:0.0.1", oci.to_str().unwrap()]);
    let bundle = env.path("bundle");
    run(Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:0.0.1", oci.display()))
        .arg(&bundle));
    let rootfs = bundle.join("rootfs");
    assert!(
        !rootfs.join("bin/vi").exists(),
        "the RUN deleted /bin/vi of the base"
    );
    assert_eq!(
        fs::read_to_string(rootfs.join("app/greeting.txt")).unwrap(),
        "hello from rbuild\n"
    );
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let greeting = fs::metadata(rootfs.join("app/greeting.txt")).unwrap();
    assert_eq!(greeting.permissions().mode() & 0o777, 0o640);
    let data = fs::metadata(rootfs.join("app/data")).unwrap();
    assert_eq!(
        (data.uid(), data.gid()),
        (65534, 65534),
        "chown nobody:nogroup kept"
    );
    let app = fs::metadata(rootfs.join("app/app.sh")).unwrap();
    assert_eq!(app.permissions().mode() & 0o777, 0o755);
    assert_eq!(
        app.uid(),
        0,
        "COPY from the context resets the owner to root"
    );
    let config: Value = serde_json::from_str(&run(Command::new("skopeo")
        .args(["inspect", "--config"])
        .arg(format!("oci:{}:0.0.1", oci.display()))))
    .unwrap();
    let c = &config["config"];
    assert_eq!(c["WorkingDir"], "/app");
    assert_eq!(
        c["Entrypoint"],
        serde_json::json!(["/bin/sh", "/app/app.sh"])
    );
    assert!(c["ExposedPorts"]["8080/tcp"].is_object());
    let env_list: Vec<&str> = c["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for want in [
        "APP_NAME=demo",
        "APP_VERSION=0.0.1",
        "GREETING=hello from rbuild",
    ] {
        assert!(env_list.contains(&want), "{env_list:?}");
    }
    let mounts = fs::read_to_string("/proc/mounts").unwrap();
    assert!(
        !mounts.contains(env.root().to_str().unwrap()),
        "no mount left behind"
    );
}

#[test]
fn rebuild_is_cached_touch_is_cached_edit_reruns_the_rest() {
    if !is_root("cache test") {
        return;
    }
    let env = Env::new();
    env.busybox("busybox:latest");
    let ctx = demo_context(&env);
    let c = ctx.to_str().unwrap();
    build(&env, &["-t", "demo:1", c]);
    let first = image_id(&env, "demo:1");
    let (_, log) = build(&env, &["-t", "demo:1", c]);
    assert_eq!(
        log.matches(" CACHED").count(),
        3,
        "WORKDIR, RUN and COPY cached:\n{log}"
    );
    assert_eq!(
        image_id(&env, "demo:1"),
        first,
        "a fully cached rebuild is the same image"
    );
    run(Command::new("touch").arg(ctx.join("app.sh")));
    let (_, log) = build(&env, &["-t", "demo:1", c]);
    assert_eq!(
        log.matches(" CACHED").count(),
        3,
        "an mtime-only change is a hit:\n{log}"
    );
    assert_eq!(image_id(&env, "demo:1"), first, "and still the same image");
    fs::write(ctx.join("app.sh"), "#!/bin/sh\necho edited\n").unwrap();
    let (_, log) = build(&env, &["-t", "demo:1", c]);
    assert_eq!(
        log.matches(" CACHED").count(),
        2,
        "COPY reruns, WORKDIR and RUN stay cached:\n{log}"
    );
    let (_, log) = build(&env, &["--no-cache", "-t", "demo:1", c]);
    assert_eq!(log.matches(" CACHED").count(), 0, "{log}");
}

#[test]
fn source_date_epoch_makes_builds_reproducible() {
    if !is_root("reproducible build") {
        return;
    }
    let a = Env::new();
    let b = Env::new();
    for env in [&a, &b] {
        env.busybox("busybox:latest");
    }
    let ctx_a = demo_context(&a);
    let ctx_b = demo_context(&b);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    build(
        &a,
        &[
            "--source-date-epoch",
            "1700000000",
            "-t",
            "r:1",
            ctx_a.to_str().unwrap(),
        ],
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    build(
        &b,
        &[
            "--source-date-epoch",
            "1700000000",
            "-t",
            "r:1",
            ctx_b.to_str().unwrap(),
        ],
    );
    // The base images were imported at different times, so compare the layers built on top.
    let layers = |env: &Env| -> Vec<String> {
        let oci = env.path("out");
        env.ok(&["export", "r:1", oci.to_str().unwrap()]);
        let m = fs::read_to_string(oci.join("index.json")).unwrap();
        let idx: Value = serde_json::from_str(&m).unwrap();
        let digest = idx["manifests"][0]["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:")
            .to_string();
        let man: Value = serde_json::from_str(
            &fs::read_to_string(oci.join("blobs/sha256").join(digest)).unwrap(),
        )
        .unwrap();
        man["layers"]
            .as_array()
            .unwrap()
            .iter()
            .skip(1)
            .map(|l| l["digest"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(layers(&a), layers(&b));
}

#[test]
fn failing_run_names_the_step_and_leaves_no_mount() {
    if !is_root("failing RUN") {
        return;
    }
    let env = Env::new();
    env.busybox("busybox:latest");
    let ctx = env.path("fail");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN echo about to fail && exit 3\n",
    )
    .unwrap();
    let out = env
        .rbuild(&["-t", "x", ctx.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Dockerfile:2"), "{err}");
    assert!(
        err.contains("about to fail"),
        "output tail in the error: {err}"
    );
    assert!(err.contains('3'), "{err}");
    let mounts = fs::read_to_string("/proc/mounts").unwrap();
    assert!(!mounts.contains(env.root().to_str().unwrap()), "{mounts}");
}

#[test]
fn multistage_copy_from_and_target_skips_unneeded_stage() {
    if !is_root("multi-stage") {
        return;
    }
    let env = Env::new();
    env.busybox("busybox:latest");
    let ctx = env.path("ms");
    fs::create_dir_all(&ctx).unwrap();
    let df = "FROM busybox AS builder\nRUN echo built > /out.txt\n\
              FROM busybox AS unused\nRUN exit 1\n\
              FROM busybox\nCOPY --from=builder /out.txt /final.txt\nRUN cat /final.txt\n";
    fs::write(ctx.join("Dockerfile"), df).unwrap();
    let (_, log) = build(&env, &["-t", "ms:1", ctx.to_str().unwrap()]);
    assert!(
        !log.contains("exit 1"),
        "the unused stage must not run:\n{log}"
    );
    assert!(log.contains("built"), "{log}");
    assert!(
        log.contains("COPY --from=builder /out.txt /final.txt"),
        "{log}"
    );
    let (_, log) = build(
        &env,
        &[
            "--target",
            "builder",
            "-t",
            "ms:builder",
            ctx.to_str().unwrap(),
        ],
    );
    assert!(!log.contains("COPY --from"), "{log}");
}

#[test]
fn dockerfile_from_stdin_with_a_directory_context() {
    if !is_root("-f -") {
        return;
    }
    let env = Env::new();
    env.busybox("busybox:latest");
    let ctx = env.path("stdin-ctx");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(ctx.join("hello.txt"), "from the context\n").unwrap();
    let mut child = env
        .rbuild(&[
            "build",
            "--progress=plain",
            "-f",
            "-",
            "-t",
            "s:1",
            ctx.to_str().unwrap(),
        ])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let df = "FROM busybox\nCOPY hello.txt /hello.txt\nRUN cat /hello.txt\n";
    child
        .stdin
        .take()
        .unwrap()
        .write_all(df.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("from the context"), "{log}");
    assert!(log.contains("COPY hello.txt /hello.txt"), "{log}");
}

/// A one-file HTTP server on 127.0.0.1 (python3's http.server), stopped on drop.
struct FileServer {
    child: std::process::Child,
    port: u16,
}

impl Drop for FileServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &std::path::Path) -> Option<FileServer> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
        ])
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(FileServer { child, port });
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    None
}

#[test]
fn add_downloads_urls_and_checks_the_checksum() {
    if !is_root("ADD URL") || !have("python3", "ADD URL") {
        return;
    }
    let env = Env::new();
    env.busybox("busybox:latest");
    let www = env.path("www");
    fs::create_dir_all(&www).unwrap();
    fs::write(www.join("data.txt"), "downloaded\n").unwrap();
    let server = serve(&www).expect("http server");
    let sum = rbuild_store::digest::sha256_of(b"downloaded\n");
    let url = format!("http://127.0.0.1:{}/data.txt", server.port);
    let ctx = env.path("add-url");
    fs::create_dir_all(&ctx).unwrap();
    let df = format!("FROM busybox\nADD --checksum={sum} {url} /dl/\nRUN cat /dl/data.txt && stat -c %a /dl/data.txt\n");
    fs::write(ctx.join("Dockerfile"), df).unwrap();
    let (_, log) = build(&env, &["-t", "url:1", ctx.to_str().unwrap()]);
    assert!(log.contains("downloaded"), "{log}");
    assert!(
        log.contains("600"),
        "ADD of a URL gets mode 0600 as in docker:\n{log}"
    );
    // Without --checksum the download's content is the cache input: same file → hit,
    // changed file on the server → the step reruns.
    fs::write(
        ctx.join("Dockerfile"),
        format!("FROM busybox\nADD {url} /dl/\nRUN cat /dl/data.txt\n"),
    )
    .unwrap();
    build(&env, &["-t", "url:3", ctx.to_str().unwrap()]);
    let (_, log) = build(&env, &["-t", "url:3", ctx.to_str().unwrap()]);
    assert_eq!(
        log.matches(" CACHED").count(),
        2,
        "unchanged remote file is a hit:\n{log}"
    );
    fs::write(www.join("data.txt"), "changed upstream\n").unwrap();
    let (_, log) = build(&env, &["-t", "url:3", ctx.to_str().unwrap()]);
    assert!(
        log.contains("changed upstream"),
        "a changed remote file reruns the step:\n{log}"
    );
    let wrong = rbuild_store::digest::sha256_of(b"something else");
    fs::write(
        ctx.join("Dockerfile"),
        format!("FROM busybox\nADD --checksum={wrong} {url} /dl/\n"),
    )
    .unwrap();
    let err = env.fails(&["build", "-t", "url:2", ctx.to_str().unwrap()]);
    assert!(err.contains("Dockerfile:2"), "{err}");
    assert!(err.to_lowercase().contains("checksum"), "{err}");
}

#[test]
fn onbuild_triggers_run_in_the_child_and_are_not_inherited() {
    if !is_root("ONBUILD") {
        return;
    }
    let env = Env::new();
    env.busybox("busybox:latest");
    let parent = env.path("parent");
    fs::create_dir_all(&parent).unwrap();
    fs::write(
        parent.join("Dockerfile"),
        "FROM busybox\nONBUILD RUN echo triggered > /t\n",
    )
    .unwrap();
    build(&env, &["-t", "parent:1", parent.to_str().unwrap()]);
    let inspect: Value = serde_json::from_str(&env.ok(&["inspect", "parent:1"])).unwrap();
    assert_eq!(
        inspect[0]["Config"]["OnBuild"],
        serde_json::json!(["RUN echo triggered > /t"])
    );
    let child = env.path("child");
    fs::create_dir_all(&child).unwrap();
    let df = "FROM parent:1 AS mid\nRUN cat /t\nFROM mid\nRUN test ! -e /never\n";
    fs::write(child.join("Dockerfile"), df).unwrap();
    let (_, log) = build(&env, &["-t", "child:1", child.to_str().unwrap()]);
    assert!(
        log.contains("triggered"),
        "the trigger ran before the child's steps:\n{log}"
    );
    let inspect: Value = serde_json::from_str(&env.ok(&["inspect", "child:1"])).unwrap();
    assert!(
        inspect[0]["Config"]["OnBuild"].is_null(),
        "triggers are consumed: {inspect}"
    );
}

#[test]
fn a_missing_copy_source_fails_its_step_with_the_path() {
    if !is_root("missing COPY source") {
        return;
    }
    let env = Env::new();
    env.busybox("busybox:latest");
    let ctx = env.path("missing");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(ctx.join("Dockerfile"), "FROM busybox\nCOPY nope.txt /x\n").unwrap();
    let out = env
        .rbuild(&[
            "build",
            "--progress=plain",
            "-t",
            "m",
            ctx.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("#2 ERROR"),
        "the step is reported failed:\n{err}"
    );
    assert!(
        err.contains("Dockerfile:2") && err.contains("nope.txt"),
        "{err}"
    );
}

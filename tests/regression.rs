//! Regression tests for the bugs users of other builders hit most (issue 5), plus the
//! isolation and limit acceptance checks, all through the `rbuild` binary. Each test names
//! the behaviour it pins. They need root (namespaces, overlayfs) and skip with a reason
//! otherwise; the ones that look at the final tree also need `umoci`.

mod kept_layers;
mod parallel;
mod support;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use support::{
    base, build, check_in_fresh_store, context, entry, find, link_target, marked, names, read,
    stdin_run, Exported,
};

const DELETE_STEPS: &str = "FROM busybox
RUN echo x > /a.txt && mkdir -p /d/sub && echo y > /d/sub/f
RUN rm /a.txt /bin/vi && rm -rf /d
";

// A file deleted in one step stays deleted after a cache hit: the cached layer keeps its
// whiteouts, a new step built on the cached layers does not see the file, and neither does
// `umoci unpack` nor a fresh store that extracts the layers from their tars.
#[test]
fn r5_deleted_file_stays_deleted_after_cache_hit() {
    let Some(env) = base("r5_deleted_file_stays_deleted_after_cache_hit", true) else {
        return;
    };
    let ctx = context(&env, "del", DELETE_STEPS);
    build(&env, &["-t", "del:1"], &ctx);
    let log = build(&env, &["-t", "del:1"], &ctx);
    assert_eq!(
        log.matches(" CACHED").count(),
        2,
        "both RUN steps are cache hits:\n{log}"
    );
    let rootfs = Exported::new(&env, "del:1").unpack();
    for gone in ["a.txt", "d", "bin/vi"] {
        assert!(
            fs::symlink_metadata(rootfs.join(gone)).is_err(),
            "/{gone} must stay deleted"
        );
    }
    assert!(rootfs.join("bin/busybox").is_file());
    let more = format!("{DELETE_STEPS}RUN test ! -e /a.txt && test ! -e /d && test ! -e /bin/vi\n");
    fs::write(ctx.join("Dockerfile"), more).unwrap();
    let log = build(&env, &["-t", "del:2"], &ctx);
    assert_eq!(log.matches(" CACHED").count(), 2, "{log}");
    check_in_fresh_store(
        &env,
        "del:1",
        "test ! -e /a.txt && test ! -e /d && test ! -e /bin/vi && test -x /bin/busybox",
    );
}

const SWAP_MID: &str = "FROM busybox
RUN mkdir -p /x/d1/sub /x/d2 && echo a > /x/d1/sub/f && echo b > /x/f1 && echo c > /x/f2 && echo d > /x/d2/g && ln -s f1 /x/l1
RUN rm -rf /x/d1 && echo file > /x/d1 && rm /x/f1 && ln -s f2 /x/f1 && rm -rf /x/d2 && ln -s /tmp /x/d2 && rm /x/l1 && mkdir /x/l1 && echo in > /x/l1/n
";

const SWAP_BACK: &str = "RUN rm /x/d1 && mkdir /x/d1 && echo new > /x/d1/n && rm /x/f1 && echo back > /x/f1 && rm /x/d2 && mkdir /x/d2 && echo z > /x/d2/z && rm -r /x/l1 && ln -s f2 /x/l1\n";

// A directory replaced by a file, a file by a symlink, a directory by a symlink, a symlink by
// a directory, and each back again in a later step: every intermediate and the final tree are
// right, and a directory that used to be a symlink to /tmp does not send its children there.
#[test]
fn r5_type_changes_across_steps_and_back() {
    let Some(env) = base("r5_type_changes_across_steps_and_back", true) else {
        return;
    };
    let ctx = context(&env, "swap", SWAP_MID);
    build(&env, &["-t", "swap:mid"], &ctx);
    let mid = Exported::new(&env, "swap:mid").unpack().join("x");
    assert_eq!(read(&mid.join("d1")), "file\n", "dir → file");
    assert_eq!(link_target(&mid.join("f1")), "f2", "file → symlink");
    assert_eq!(link_target(&mid.join("d2")), "/tmp", "dir → symlink");
    assert_eq!(names(&mid.join("l1")), ["n"], "symlink → dir");
    fs::write(ctx.join("Dockerfile"), format!("{SWAP_MID}{SWAP_BACK}")).unwrap();
    build(&env, &["-t", "swap:end"], &ctx);
    let rootfs = Exported::new(&env, "swap:end").unpack();
    let end = rootfs.join("x");
    assert_eq!(
        names(&end.join("d1")),
        ["n"],
        "file → dir, without the old dir's children"
    );
    assert_eq!(read(&end.join("f1")), "back\n", "symlink → file");
    assert!(!fs::symlink_metadata(end.join("f1"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        names(&end.join("d2")),
        ["z"],
        "symlink → dir, without the old dir's children"
    );
    assert_eq!(link_target(&end.join("l1")), "f2", "dir → symlink");
    assert!(
        !rootfs.join("tmp/z").exists(),
        "a child of the new dir followed the old symlink"
    );
    let script = "test \"$(cat /x/f1)\" = back && test ! -L /x/f1 && test \"$(ls -A /x/d1)\" = n \
                  && test \"$(ls -A /x/d2)\" = z && test ! -e /tmp/z && test \"$(readlink /x/l1)\" = f2";
    check_in_fresh_store(&env, "swap:end", script);
}

// `rm -rf dir && mkdir dir` makes an opaque directory: the layer carries `dir/.wh..wh..opq`,
// and the old children are gone from the final tree (umoci's and our own extraction).
#[test]
fn r5_rm_rf_then_mkdir_is_an_opaque_dir() {
    let Some(env) = base("r5_rm_rf_then_mkdir_is_an_opaque_dir", true) else {
        return;
    };
    let df = "FROM busybox
RUN mkdir -p /dir/sub && echo old > /dir/old && echo o2 > /dir/sub/x
RUN rm -rf /dir && mkdir /dir && echo new > /dir/new
";
    let ctx = context(&env, "opq", df);
    build(&env, &["-t", "opq:1"], &ctx);
    let image = Exported::new(&env, "opq:1");
    let layers = image.layers();
    let top = layers.last().expect("layers");
    assert!(
        find(top, "dir/.wh..wh..opq").is_some(),
        "opaque marker in {top:#?}"
    );
    assert!(find(top, "dir/new").is_some());
    assert!(find(top, "dir/old").is_none() && find(top, "dir/sub").is_none());
    assert_eq!(names(&image.unpack().join("dir")), ["new"]);
    check_in_fresh_store(&env, "opq:1", "test \"$(ls -A /dir)\" = new");
}

// Hardlinked files copied by COPY (from the context) and by COPY --from (from a stage) stay
// hardlinked in the final rootfs and are stored once: one regular entry plus one link entry.
#[test]
fn r5_hardlinks_survive_copy_and_are_stored_once() {
    let Some(env) = base("r5_hardlinks_survive_copy_and_are_stored_once", true) else {
        return;
    };
    let df = "FROM busybox AS src
RUN mkdir /src && echo hello > /src/one && ln /src/one /src/two
FROM busybox
COPY ctx/ /h/
COPY --from=src /src /h2
";
    let ctx = context(&env, "hl", df);
    fs::create_dir_all(ctx.join("ctx")).unwrap();
    fs::write(ctx.join("ctx/a"), "data\n").unwrap();
    fs::hard_link(ctx.join("ctx/a"), ctx.join("ctx/b")).unwrap();
    build(&env, &["-t", "hl:1"], &ctx);
    let image = Exported::new(&env, "hl:1");
    let layers = image.layers();
    assert_eq!(layers.len(), 3, "base + two COPY layers");
    assert_stored_once(&layers[1], "h/a", "h/b");
    assert_stored_once(&layers[2], "h2/one", "h2/two");
    let rootfs = image.unpack();
    for (a, b) in [("h/a", "h/b"), ("h2/one", "h2/two")] {
        let (ma, mb) = (
            fs::metadata(rootfs.join(a)).unwrap(),
            fs::metadata(rootfs.join(b)).unwrap(),
        );
        assert_eq!(
            (ma.ino(), ma.nlink()),
            (mb.ino(), 2),
            "{a} and {b} are one inode"
        );
    }
    let fresh = "test $(stat -c %i /h/a) = $(stat -c %i /h/b) && test $(stat -c %i /h2/one) = $(stat -c %i /h2/two)";
    check_in_fresh_store(&env, "hl:1", fresh);
}

fn assert_stored_once(layer: &[support::Entry], a: &str, b: &str) {
    let pair: Vec<_> = layer
        .iter()
        .filter(|e| e.path == a || e.path == b)
        .collect();
    let regular: Vec<_> = pair
        .iter()
        .filter(|e| e.kind == tar::EntryType::Regular)
        .collect();
    let links: Vec<_> = pair
        .iter()
        .filter(|e| e.kind == tar::EntryType::Link)
        .collect();
    assert_eq!(
        (regular.len(), links.len()),
        (1, 1),
        "{a}, {b}: one file + one hardlink in {layer:#?}"
    );
    assert_eq!(links[0].link.as_deref(), Some(regular[0].path.as_str()));
}

/// Removes the host files a symlink test could have written, whatever happens.
struct HostSentinel {
    prefix: String,
}

impl Drop for HostSentinel {
    fn drop(&mut self) {
        for suffix in ["", "-rel", "-deep", "-final"] {
            let _ = fs::remove_file(format!("{}{suffix}", self.prefix));
        }
        let _ = fs::remove_dir_all(format!("{}-wd", self.prefix));
    }
}

// COPY onto a destination that runs through a symlink in the image (`/app -> /srv/app`)
// lands inside the image; symlinks to `/etc`, `../../../../etc` and a final-component symlink
// to `/etc/x` cannot redirect COPY or WORKDIR onto the host, and COPY --from through such a
// symlink reads the stage's file, not the host's.
#[test]
fn r5_copy_through_image_symlinks_stays_in_the_image() {
    let Some(env) = base("r5_copy_through_image_symlinks_stays_in_the_image", true) else {
        return;
    };
    let name = format!("rbuild-r5-sentinel-{}", std::process::id());
    let guard = HostSentinel {
        prefix: format!("/etc/{name}"),
    };
    fs::write(&guard.prefix, "host sentinel\n").unwrap();
    let df = format!(
        "FROM busybox AS src
RUN mkdir -p /srv/app /deep/a && ln -s /srv/app /app && ln -s /etc /hostetc && ln -s ../../../../etc /rel \
 && ln -s ../../../../../../etc /deep/a/up && ln -s /etc/{name}-final /final
FROM src
COPY f.txt /app/
COPY f.txt /app/sub/
COPY evil.conf /hostetc/{name}
COPY evil.conf /rel/{name}-rel
COPY evil.conf /deep/a/up/{name}-deep
COPY evil.conf /final
COPY --from=src /hostetc/passwd /from-abs-passwd
COPY --from=src /deep/a/up/passwd /from-rel-passwd
WORKDIR /hostetc/{name}-wd
"
    );
    let ctx = context(&env, "sym", &df);
    fs::write(ctx.join("f.txt"), "payload\n").unwrap();
    fs::write(ctx.join("evil.conf"), "written by COPY\n").unwrap();
    build(&env, &["-t", "sym:1"], &ctx);
    assert_eq!(
        read(Path::new(&guard.prefix)),
        "host sentinel\n",
        "host /etc/{name} untouched"
    );
    for suffix in ["-rel", "-deep", "-final", "-wd"] {
        assert!(
            !Path::new(&format!("{}{suffix}", guard.prefix)).exists(),
            "host /etc/{name}{suffix} created"
        );
    }
    let rootfs = Exported::new(&env, "sym:1").unpack();
    assert_eq!(
        link_target(&rootfs.join("app")),
        "/srv/app",
        "the symlink itself is kept"
    );
    assert_eq!(read(&rootfs.join("srv/app/f.txt")), "payload\n");
    assert_eq!(read(&rootfs.join("srv/app/sub/f.txt")), "payload\n");
    for suffix in ["", "-rel", "-deep", "-final"] {
        assert_eq!(
            read(&rootfs.join(format!("etc/{name}{suffix}"))),
            "written by COPY\n",
            "image /etc/{name}{suffix}"
        );
    }
    assert!(
        rootfs.join(format!("etc/{name}-wd")).is_dir(),
        "WORKDIR made inside the image"
    );
    let passwd = support::busybox_file("etc/passwd");
    for from in ["from-abs-passwd", "from-rel-passwd"] {
        assert_eq!(
            read(&rootfs.join(from)),
            passwd,
            "{from}: the stage's passwd, not the host's"
        );
    }
}

// A file whose mode alone changes (chmod) and one whose owner alone changes (chown) each give
// a layer holding that file with its full content; a mode-only change of a context file
// misses the COPY cache.
#[test]
fn r5_mode_or_owner_only_change_makes_a_layer() {
    let Some(env) = base("r5_mode_or_owner_only_change_makes_a_layer", false) else {
        return;
    };
    let df = "FROM busybox
RUN echo m > /m && echo o > /o && chmod 644 /m /o
RUN chmod 755 /m && chmod 600 /etc/passwd
RUN chown 65534:65534 /o /etc/group
COPY s.sh /s.sh
";
    let ctx = context(&env, "meta", df);
    fs::write(ctx.join("s.sh"), "echo hi\n").unwrap();
    fs::set_permissions(ctx.join("s.sh"), fs::Permissions::from_mode(0o644)).unwrap();
    build(&env, &["-t", "meta:1"], &ctx);
    let layers = Exported::new(&env, "meta:1").layers();
    let passwd = support::busybox_file("etc/passwd");
    let chmod = &layers[2];
    assert_eq!(entry(chmod, "m").mode, 0o755);
    assert_eq!(
        (
            entry(chmod, "etc/passwd").mode,
            entry(chmod, "etc/passwd").data.as_slice()
        ),
        (0o600, passwd.as_bytes())
    );
    assert!(
        find(chmod, "o").is_none(),
        "only the changed files: {chmod:#?}"
    );
    let chown = &layers[3];
    for f in ["o", "etc/group"] {
        assert_eq!(
            (entry(chown, f).uid, entry(chown, f).gid),
            (65534, 65534),
            "{f}"
        );
    }
    assert_eq!(entry(chown, "o").data, b"o\n");
    assert!(
        find(chown, "m").is_none(),
        "only the changed files: {chown:#?}"
    );
    assert_eq!(entry(&layers[4], "s.sh").mode, 0o644);
    fs::set_permissions(ctx.join("s.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    let log = build(&env, &["-t", "meta:2"], &ctx);
    assert_eq!(
        log.matches(" CACHED").count(),
        3,
        "the three RUNs hit, the COPY reruns:\n{log}"
    );
    assert_eq!(
        entry(&Exported::new(&env, "meta:2").layers()[4], "s.sh").mode,
        0o755
    );
}

// Isolation through the binary: with `--network none` a RUN sees only `lo`; `ps` shows the
// step as pid 1 and nothing of the host; the hostname is not the host's; /proc/sys is not
// writable; `USER nobody` runs as 65534.
#[test]
fn r5_run_is_isolated() {
    let Some(env) = base("r5_run_is_isolated", false) else {
        return;
    };
    let df = r#"FROM busybox
RUN tail -n +3 /proc/net/dev | cut -d: -f1 | sed "s/^ */R5""NET /"
RUN ps -o pid,args > /tmp/ps.txt && while read -r pid args; do echo "R5""PS $pid $args"; done < /tmp/ps.txt
RUN echo "R5""HOST $(hostname)"
RUN v=$(cat /proc/sys/vm/swappiness); if (echo $v > /proc/sys/vm/swappiness) 2>/dev/null; then echo "R5""SYS writable"; else echo "R5""SYS refused"; fi
USER nobody
RUN echo "R5""UID $(id -u):$(id -g)"
"#;
    let ctx = context(&env, "iso", df);
    let log = build(&env, &["--network", "none", "-t", "iso:1"], &ctx);
    assert_eq!(
        marked(&log, "R5NET"),
        ["lo"],
        "only lo with --network none:\n{log}"
    );
    let ps: Vec<&str> = marked(&log, "R5PS")
        .into_iter()
        .filter(|l| !l.starts_with("PID"))
        .collect();
    assert!(ps.len() <= 3, "only the step's processes: {ps:?}");
    let pid = |l: &&str| {
        l.split_whitespace()
            .next()
            .and_then(|p| p.parse::<u32>().ok())
    };
    assert!(
        ps.iter().all(|l| pid(l).is_some_and(|p| p < 10)),
        "pids of a fresh namespace: {ps:?}"
    );
    assert!(
        ps.iter()
            .any(|l| l.starts_with("1 /bin/sh -c ps -o pid,args > /tmp/ps.txt")),
        "the step is pid 1: {ps:?}"
    );
    let host = read(Path::new("/proc/sys/kernel/hostname"));
    let inside = marked(&log, "R5HOST");
    assert_eq!(inside.len(), 1, "{log}");
    assert_ne!(inside[0], host.trim(), "the hostname is the step's own");
    assert_eq!(marked(&log, "R5SYS"), ["refused"], "{log}");
    assert_eq!(marked(&log, "R5UID"), ["65534:65534"], "{log}");
}

// `--memory 32m` makes a memory hog fail with a message that says it ran out of memory;
// the same step passes without the limit.
#[test]
fn r5_memory_limit_kills_a_hog_with_a_clear_message() {
    let Some(env) = base("r5_memory_limit_kills_a_hog_with_a_clear_message", false) else {
        return;
    };
    let ctx = context(
        &env,
        "oom",
        "FROM busybox\nRUN dd if=/dev/zero of=/dev/null bs=128M count=1\n",
    );
    let out = env
        .rbuild(&[
            "build",
            "--progress=plain",
            "--memory",
            "32m",
            "-t",
            "oom:1",
        ])
        .arg(&ctx)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a 128 MiB buffer under a 32 MiB limit must fail:\n{err}"
    );
    let msg = err
        .lines()
        .find(|l| l.starts_with("Error:"))
        .unwrap_or_else(|| panic!("no error line:\n{err}"));
    assert!(
        msg.contains("Dockerfile:2") && msg.contains("out of memory"),
        "{msg}"
    );
    assert!(msg.contains("memory limit"), "{msg}");
    build(&env, &["--no-cache", "-t", "oom:1"], &ctx);
}

// `-` as the context reads the Dockerfile from stdin; `-q` prints only the image id;
// `--iidfile` writes it; `--label` lands in the config; `--build-arg` reaches an ARG;
// `--target` picks a stage and leaves out the later one.
#[test]
fn r5_stdin_context_and_build_flags() {
    let Some(env) = base("r5_stdin_context_and_build_flags", false) else {
        return;
    };
    let df = "FROM busybox AS one\nARG GREET=default\nRUN echo \"greet=$GREET\" > /greet\nFROM one AS two\nRUN echo two > /two\n";
    let iid = env.path("iid.txt");
    let mut cmd = env.rbuild(&[
        "build",
        "-q",
        "--iidfile",
        iid.to_str().unwrap(),
        "--label",
        "k=v",
        "--label",
        "a.b=c=d",
    ]);
    cmd.args([
        "--build-arg",
        "GREET=hi",
        "--target",
        "one",
        "-t",
        "flags:1",
        "-",
    ]);
    let out = stdin_run(cmd, df);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    crate::util::check(&out, "rbuild build -q … -");
    let id = stdout.trim_end_matches('\n');
    assert!(
        id.starts_with("sha256:") && id.len() == 71 && !id.contains('\n'),
        "-q prints only the id: {stdout:?}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("#1"),
        "-q hides progress"
    );
    assert_eq!(read(&iid).trim(), id);
    let image = Exported::new(&env, "flags:1");
    assert_eq!(image.id(), id);
    let config = image.config();
    assert_eq!(
        config["config"]["Labels"],
        serde_json::json!({"k": "v", "a.b": "c=d"})
    );
    let layers = image.layers();
    assert_eq!(layers.len(), 2, "--target one: base + the RUN of stage one");
    assert_eq!(
        entry(&layers[1], "greet").data,
        b"greet=hi\n",
        "--build-arg reached the ARG"
    );
    assert!(
        layers.iter().all(|l| find(l, "two").is_none()),
        "stage two was not built"
    );
    let nocopy = env.rbuild(&["build", "-t", "nocopy:1", "-"]);
    let out = stdin_run(nocopy, "FROM busybox\nCOPY a /a\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "COPY without a context must fail");
    assert_eq!(
        err.matches("no build context").count(),
        1,
        "a clear error, said once:\n{err}"
    );
}

// A RUN that changes nothing adds no layer and its history entry says `empty_layer: true`;
// a RUN that writes one file gives a layer with only that file (none of the step's /dev,
// /proc, /etc/hosts or /etc/resolv.conf mounts leak into it).
#[test]
fn r5_run_that_changes_nothing_adds_no_layer() {
    let Some(env) = base("r5_run_that_changes_nothing_adds_no_layer", false) else {
        return;
    };
    let df = "FROM busybox\nRUN true\nRUN cat /etc/passwd /etc/hosts >/dev/null && ls / /dev /proc >/dev/null\nRUN echo hi > /only\n";
    let ctx = context(&env, "empty", df);
    build(&env, &["-t", "empty:1"], &ctx);
    let image = Exported::new(&env, "empty:1");
    let config = image.config();
    let diff_ids = config["rootfs"]["diff_ids"].as_array().unwrap();
    assert_eq!(diff_ids.len(), 2, "base + the RUN that wrote /only");
    let history = config["history"].as_array().unwrap();
    let runs: Vec<(bool, &str)> = history
        .iter()
        .map(|h| {
            (
                h["empty_layer"].as_bool().unwrap_or(false),
                h["created_by"].as_str().unwrap_or(""),
            )
        })
        .filter(|(_, by)| by.starts_with("RUN"))
        .collect();
    assert_eq!(runs.len(), 3, "{history:#?}");
    assert!(
        runs[0].0 && runs[0].1.contains("true"),
        "RUN true is empty: {runs:?}"
    );
    assert!(runs[1].0, "a read-only RUN is empty: {runs:?}");
    assert!(!runs[2].0, "{runs:?}");
    let with_layer = history
        .iter()
        .filter(|h| !h["empty_layer"].as_bool().unwrap_or(false))
        .count();
    assert_eq!(
        with_layer,
        diff_ids.len(),
        "one non-empty history entry per layer"
    );
    let layers = image.layers();
    let paths: Vec<&str> = layers[1].iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["only"], "only the written file");
}

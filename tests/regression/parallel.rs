//! Regression tests for parallel stages (see `r5_parallel_stages_never_hang_in_setuid`).

use std::fs;

/// A RUN whose process was cloned while rbuild had other threads (parallel stages, the output
/// reader) hung forever in glibc's setuid wrapper (`__nptl_setxid` waits for the parent's
/// threads, which do not exist in the clone). The child now uses raw set*id syscalls. Also
/// caught: one stage's snapshot removal racing the other's listing of snapshots. Several
/// uncached builds of two parallel stages must each finish, in time.
#[test]
fn r5_parallel_stages_never_hang_in_setuid() {
    if !crate::util::is_root("parallel stages setuid") {
        return;
    }
    let env = crate::util::Env::new();
    env.busybox("busybox:latest");
    let ctx = env.path("par");
    fs::create_dir_all(&ctx).unwrap();
    let df = "FROM busybox AS a\nUSER nobody\nRUN id -u > /tmp/a\n\
              FROM busybox AS b\nRUN id -u > /tmp/b\n\
              FROM busybox\nCOPY --from=a /tmp/a /a\nCOPY --from=b /tmp/b /b\nRUN cat /a /b\n";
    fs::write(ctx.join("Dockerfile"), df).unwrap();
    for round in 0..6 {
        let mut child = env
            .rbuild(&[
                "build",
                "--no-cache",
                "-q",
                "-t",
                "par:1",
                ctx.to_str().unwrap(),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > std::time::Duration::from_secs(60) {
                let _ = child.kill();
                panic!("round {round}: the build hung");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let err = child
            .wait_with_output()
            .map(|o| o.stderr)
            .unwrap_or_default();
        let err = String::from_utf8_lossy(&err);
        assert!(status.success(), "round {round}: {status}\n{err}");
    }
}

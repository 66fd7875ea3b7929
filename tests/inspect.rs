//! Issue 7: `rbuild inspect`, `history`, `layers` (dive), `--ci`, `diff` and the
//! interactive view, against an image with known waste built by hand with the store API.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rbuild_store::layer::{Compression, LayerWriter};
use rbuild_store::{Descriptor, ImageName, MediaType, Store};
use serde_json::{json, Value};

use crate::util::{have, Env};

const MB10: u64 = 10 * 1024 * 1024;
/// Hand-computed from dive's efficiency.go: /big is visited 3 times (10 MiB, 10 MiB,
/// whiteout of a file = 0), /etc/conf twice (100, 100); wasted = Σ cumulative of both.
const WASTED: u64 = 2 * MB10 + 200;
/// Layer sizes without the base: 10 MiB + 0 + 100.
const USER: u64 = MB10 + 100;

enum Item<'a> {
    Dir(&'a str),
    File(&'a str, Vec<u8>, u32),
}

/// Writes a gzip layer of `items` into the store.
fn layer(store: &Store, items: &[Item]) -> (Descriptor, String) {
    let sink = rbuild_store::blob::BlobIngest::begin(store.blobs()).unwrap();
    let w = LayerWriter::new(sink, Compression::Gzip).unwrap();
    let mut b = tar::Builder::new(w);
    for item in items {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_700_000_000);
        let (path, data, mode, kind) = match item {
            Item::Dir(p) => (*p, &[][..], 0o755, tar::EntryType::Directory),
            Item::File(p, d, m) => (*p, &d[..], *m, tar::EntryType::Regular),
        };
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, path, data).unwrap();
    }
    let (sink, digests) = b.into_inner().unwrap().finish().unwrap();
    sink.commit(None).unwrap();
    (digests.descriptor(), digests.diff_id.to_string())
}

/// Tags `name` with the image: /big written, overwritten, removed; /etc/conf chmodded.
fn wasteful_image(env: &Env, name: &str, take: usize) {
    let store = Store::open(&env.root()).unwrap();
    let conf = b"x".repeat(100);
    let layers = [
        layer(
            &store,
            &[
                Item::Dir("etc/"),
                Item::File("etc/conf", conf.clone(), 0o644),
                Item::File("big", vec![1; MB10 as usize], 0o644),
            ],
        ),
        layer(&store, &[Item::File("big", vec![2; MB10 as usize], 0o644)]),
        layer(&store, &[Item::File(".wh.big", vec![], 0o644)]),
        layer(
            &store,
            &[Item::Dir("etc/"), Item::File("etc/conf", conf, 0o600)],
        ),
    ];
    let layers = &layers[..take];
    let history = [
        json!({"created": "2024-01-01T00:00:00Z", "created_by": "ADD rootfs /"}),
        json!({"created": "2024-01-01T00:00:01Z", "created_by": "ENV A=1", "empty_layer": true}),
        json!({"created": "2024-01-01T00:00:02Z", "created_by": "RUN write big"}),
        json!({"created": "2024-01-01T00:00:03Z", "created_by": "RUN rm /big"}),
        json!({"created": "2024-01-01T00:00:04Z", "created_by": "RUN chmod 600 /etc/conf"}),
    ];
    let config = json!({
        "created": "2024-01-01T00:00:04Z", "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/bin", "A=1"], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.1.clone()).collect::<Vec<_>>()},
        "history": history[..take + 1].to_vec(),
    });
    let config = store.put_json(MediaType::ImageConfig, &config).unwrap();
    let manifest = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config, "layers": layers.iter().map(|l| l.0.clone()).collect::<Vec<_>>(),
    });
    let manifest = store.put_json(MediaType::ImageManifest, &manifest).unwrap();
    store
        .tag(&ImageName::parse(name).unwrap(), &manifest)
        .unwrap();
}

fn layers_json(env: &Env, args: &[&str]) -> Value {
    serde_json::from_str(&env.ok(&[&["layers", "waste", "--json"], args].concat())).unwrap()
}

fn marks(layer: &Value) -> Vec<(String, String)> {
    let changes = layer["changes"].as_array().unwrap();
    changes
        .iter()
        .map(|c| {
            (
                c["path"].as_str().unwrap().into(),
                c["mark"].as_str().unwrap().into(),
            )
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn layers_json_marks_and_efficiency() {
    let env = Env::new();
    wasteful_image(&env, "waste", 4);
    let doc = layers_json(&env, &[]);
    let layers = doc["layers"].as_array().unwrap();
    assert_eq!(
        marks(&layers[0]),
        pairs(&[("/etc", "A"), ("/etc/conf", "A"), ("/big", "A")])
    );
    assert_eq!(marks(&layers[1]), pairs(&[("/big", "M")]));
    assert_eq!(marks(&layers[2]), pairs(&[("/big", "D")]));
    assert_eq!(
        marks(&layers[3]),
        pairs(&[("/etc", "U"), ("/etc/conf", "M")])
    );
    let by: Vec<&str> = layers
        .iter()
        .map(|l| l["createdBy"].as_str().unwrap())
        .collect();
    assert_eq!(
        by,
        [
            "ADD rootfs /",
            "RUN write big",
            "RUN rm /big",
            "RUN chmod 600 /etc/conf"
        ]
    );
    let e = &doc["efficiency"];
    assert_eq!(e["wasted_bytes"], WASTED);
    assert_eq!(e["minimum_bytes"], 100);
    assert_eq!(e["user_size_bytes"], USER);
    assert_eq!(e["score"].as_f64().unwrap(), 100.0 / WASTED as f64);
    assert_eq!(e["inefficiencies"][0]["path"], "big");
    assert_eq!(e["inefficiencies"][0]["count"], 3);
    let one = layers_json(&env, &["--layer", "3", "--changed-only"]);
    assert_eq!(marks(&one["layers"][0]), pairs(&[("/etc/conf", "M")]));
}

#[test]
fn layers_text_trees_and_merged_view() {
    let env = Env::new();
    wasteful_image(&env, "waste", 4);
    let text = env.ok(&["layers", "waste"]);
    let block = |n: usize| -> Vec<&str> {
        let start = text
            .find(&format!("\nLayer {n} "))
            .unwrap_or_else(|| panic!("layer {n}: {text}"));
        text[start + 1..]
            .lines()
            .skip(2)
            .take_while(|l| !l.is_empty())
            .collect()
    };
    assert_eq!(
        block(0),
        [
            "A   10.5MB  ├── big",
            "A       0B  └── etc/",
            "A     100B      └── conf"
        ]
    );
    assert_eq!(block(1), ["M   10.5MB  └── big"]);
    assert_eq!(block(2), ["D   10.5MB  └── big"]);
    assert_eq!(
        block(3),
        ["U       0B  └── etc/", "M     100B      └── conf"]
    );
    assert!(
        text.contains(&format!("wasted bytes: {WASTED} (21MB)")),
        "{text}"
    );
    assert!(text.contains("score: 0.000005"), "{text}");
    let merged = env.ok(&["layers", "waste", "--merged", "--layer", "2"]);
    assert!(
        merged.contains("D   10.5MB  ├── big\n") && merged.contains("     0B  └── etc/\n"),
        "{merged}"
    );
    let filtered = env.ok(&["dive", "waste", "--merged", "--path", "/etc"]);
    assert!(
        !filtered.contains("── big") && filtered.contains("M     100B      └── conf"),
        "{filtered}"
    );
    let err = env.fails(&["layers", "waste", "--layer", "9"]);
    assert!(err.contains("layer 9 does not exist"), "{err}");
}

fn ci(env: &Env, args: &[&str], dir: &Path) -> (i32, String) {
    let out = env
        .rbuild(&[&["layers", "waste", "--ci"], args].concat())
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn ci_thresholds_and_exit_codes() {
    let env = Env::new();
    wasteful_image(&env, "waste", 4);
    let dir = env.tmp.path();
    let (code, out) = ci(&env, &[], dir);
    assert_eq!(code, 1, "dive's default lowestEfficiency 0.9 fails: {out}");
    assert!(
        out.contains("FAIL: lowestEfficiency") && out.contains("Result:FAIL"),
        "{out}"
    );
    let lenient = [
        "--lowest-efficiency",
        "0",
        "--highest-wasted-bytes",
        "21MB",
        "--highest-user-wasted-percent",
        "2.1",
    ];
    let (code, out) = ci(&env, &lenient, dir);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("PASS: highestWastedBytes") && out.contains("[Passed:3]"),
        "{out}"
    );
    let (code, out) = ci(
        &env,
        &[
            "--lowest-efficiency",
            "0",
            "--highest-wasted-bytes",
            "20MiB",
        ],
        dir,
    );
    assert_eq!(code, 1, "20MiB < {WASTED}: {out}");
    assert!(out.contains("FAIL: highestWastedBytes"), "{out}");
    std::fs::write(
        dir.join(".dive-ci"),
        "rules:\n  lowestEfficiency: disabled\n  highestUserWastedPercent: 2.1\n",
    )
    .unwrap();
    let (code, out) = ci(&env, &[], dir);
    assert_eq!(code, 0, ".dive-ci in cwd: {out}");
    assert!(out.contains("SKIP: lowestEfficiency"), "{out}");
    let strict = env.path("strict.yaml");
    std::fs::write(&strict, "rules:\n  highestUserWastedPercent: 0.5\n").unwrap();
    let (code, out) = ci(&env, &["--ci-config", strict.to_str().unwrap()], dir);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL: highestUserWastedPercent"), "{out}");
}

#[test]
fn inspect_history_diff_and_archives() {
    let env = Env::new();
    wasteful_image(&env, "waste", 4);
    wasteful_image(&env, "early", 2);
    let doc: Value = serde_json::from_str(&env.ok(&["inspect", "waste"])).unwrap();
    assert_eq!(doc[0]["RepoTags"], json!(["waste:latest"]));
    assert_eq!(doc[0]["RootFS"]["Layers"].as_array().unwrap().len(), 4);
    let id = doc[0]["Id"].as_str().unwrap();
    assert_eq!(
        env.ok(&["inspect", "-f", "{{.Id}} {{.Config.Env}}", "waste"]),
        format!("{id} [PATH=/bin A=1]\n")
    );
    assert_eq!(
        env.ok(&["inspect", "--format", "{{json .Config.Cmd}}", "waste"]),
        "[\"sh\"]\n"
    );
    let hist = env.ok(&["history", "waste"]);
    let rows: Vec<&str> = hist.lines().collect();
    assert!(rows[0].starts_with("IMAGE") && rows.len() == 6, "{hist}");
    assert!(
        rows[1].starts_with(&id[7..19]) && rows[1].contains("100B"),
        "{hist}"
    );
    assert!(
        rows[2].starts_with("<missing>")
            && rows[2].contains("RUN rm /big")
            && rows[2].contains("0B"),
        "{hist}"
    );
    let raw = env.ok(&[
        "history",
        "--no-trunc",
        "-H=false",
        "--format",
        "json",
        "waste",
    ]);
    let sizes: Vec<Value> = raw
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["Size"].clone())
        .collect();
    assert_eq!(
        sizes,
        [
            json!("100"),
            json!("0"),
            json!(MB10.to_string()),
            json!("0"),
            json!((MB10 + 100).to_string())
        ]
    );
    let d: Value = serde_json::from_str(&env.ok(&["diff", "early", "waste", "--json"])).unwrap();
    assert_eq!(d["diff"]["removed"][0]["path"], "big");
    assert_eq!(d["diff"]["changed"][0]["path"], "etc/conf");
    assert_eq!(d["diff"]["changed"][0]["what"], json!(["mode"]));
    let text = env.ok(&["diff", "early", "waste"]);
    assert!(
        text.contains("These entries have been deleted from early:\nFILE   SIZE\n/big   10.5MB"),
        "{text}"
    );
    let layout = env.path("layout");
    env.ok(&["export", "waste", layout.to_str().unwrap()]);
    let from_dir: Value =
        serde_json::from_str(&env.ok(&["layers", layout.to_str().unwrap(), "--json"])).unwrap();
    assert_eq!(from_dir["efficiency"]["wasted_bytes"], WASTED);
}

/// Runs `tmux -L socket ARGS`.
fn tmux(socket: &str, args: &[&str]) -> String {
    let out = Command::new("tmux")
        .arg("-L")
        .arg(socket)
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_screen(socket: &str, want: &str) -> String {
    let start = Instant::now();
    loop {
        let screen = tmux(socket, &["capture-pane", "-p", "-t", "t"]);
        if screen.contains(want) || start.elapsed() > Duration::from_secs(20) {
            return screen;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn interactive_view_under_tmux() {
    if !have("tmux", "interactive_view_under_tmux") {
        return;
    }
    let env = Env::new();
    wasteful_image(&env, "waste", 4);
    let socket = format!("rbuild-inspect-{}", std::process::id());
    let stty = env.path("stty.txt");
    let script = env.path("run.sh");
    let mut f = std::fs::File::create(&script).unwrap();
    writeln!(f, "RBUILD_ROOT='{}' '{}' layers waste -i; code=$?; stty -a > '{}'; echo \"exit=$code\"; sleep 60",
        env.root().display(), env!("CARGO_BIN_EXE_rbuild"), stty.display()).unwrap();
    drop(f);
    tmux(
        &socket,
        &[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "120",
            "-y",
            "30",
            &format!("sh {}", script.display()),
        ],
    );
    let screen = wait_screen(&socket, "Layers (4)");
    assert!(
        screen.contains("Layer 0 contents") && screen.contains("ADD rootfs /"),
        "{screen}"
    );
    tmux(&socket, &["send-keys", "-t", "t", "j", "j"]);
    let screen = wait_screen(&socket, "Layer 2 contents");
    assert!(
        screen.contains("D   10.5MB  ├── big"),
        "layer 2 removes /big:\n{screen}"
    );
    tmux(&socket, &["send-keys", "-t", "t", "Tab", "c"]);
    let screen = wait_screen(&socket, "(changes only)");
    assert!(
        screen.contains("└── big") && !screen.contains("└── conf"),
        "{screen}"
    );
    tmux(&socket, &["send-keys", "-t", "t", "/", "z", "z", "Enter"]);
    let screen = wait_screen(&socket, "filter: zz");
    assert!(!screen.contains("── big"), "{screen}");
    tmux(&socket, &["send-keys", "-t", "t", "q"]);
    let screen = wait_screen(&socket, "exit=0");
    let modes = std::fs::read_to_string(&stty).unwrap_or_default();
    tmux(&socket, &["kill-server"]);
    assert!(
        screen.contains("exit=0"),
        "rbuild did not exit cleanly:\n{screen}"
    );
    assert!(
        !screen.contains("Layers (4)"),
        "alternate screen left:\n{screen}"
    );
    assert!(
        modes.contains(" icanon") && modes.contains(" echo") && !modes.contains("-icanon"),
        "raw mode left: {modes}"
    );
}

//! Golden tests over `testdata/dockerfiles/<case>/{Dockerfile, expected}` and
//! `testdata/dockerfiles-negative/<case>/{Dockerfile, error}`.
//!
//! A case may also hold `target` (the `--target` stage name) and `build-args` (`K=V` lines).
//! `RBUILD_BLESS=1 cargo test -p rbuild-builder` rewrites `expected`/`error` files.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::dockerfile::shell::{expand_word, ShellError};
use crate::dockerfile::{dump, parse_dockerfile, Dockerfile};
use crate::plan::{self, plan};

fn testdata(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(dir)
}

fn cases(dir: &str) -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = fs::read_dir(testdata(dir))
        .expect("testdata dir exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.join("Dockerfile").is_file())
        .collect();
    cases.sort();
    cases
}

fn read_optional(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok()
}

/// The global ARG values: meta ARG defaults (expanded in order) under `build-args`, plus
/// the platform ARGs of a linux/amd64 host.
fn global_args(df: &Dockerfile, case: &Path) -> BTreeMap<String, String> {
    let build_args: BTreeMap<String, String> = read_optional(&case.join("build-args"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut vars: BTreeMap<String, String> = ["BUILDPLATFORM", "TARGETPLATFORM"]
        .iter()
        .map(|k| (k.to_string(), "linux/amd64".to_string()))
        .collect();
    for decl in df.meta_args.iter().flat_map(|a| &a.args) {
        let value = match (build_args.get(&decl.name), &decl.default) {
            (Some(v), _) => Some(v.clone()),
            (None, Some(d)) => expand_word(d, &|k| vars.get(k).cloned(), df.escape).ok(),
            (None, None) => None,
        };
        if let Some(v) = value {
            vars.insert(decl.name.clone(), v);
        }
    }
    vars
}

/// Parses and plans one case; the output or the error text.
fn render(case: &Path) -> Result<String, String> {
    let text = fs::read_to_string(case.join("Dockerfile")).map_err(|e| e.to_string())?;
    let df = parse_dockerfile(&text, Some("Dockerfile")).map_err(|e| e.to_string())?;
    let target = read_optional(&case.join("target")).map(|t| t.trim().to_string());
    let vars = global_args(&df, case);
    let expand = |w: &str| -> Result<String, ShellError> {
        expand_word(w, &|k| vars.get(k).cloned(), df.escape)
    };
    let built = plan(&df, target.as_deref(), &expand).map_err(|e| e.to_string())?;
    let heading = target.map_or("default".to_string(), |t| format!("--target={t}"));
    Ok(format!(
        "{}\n# plan ({heading})\n{}",
        dump(&df),
        plan::dump::dump(&built)
    ))
}

/// A readable line diff: `-` expected, `+` actual, with line numbers.
fn diff(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let mut out = String::new();
    for i in 0..e.len().max(a.len()) {
        let (x, y) = (e.get(i), a.get(i));
        if x != y {
            if let Some(x) = x {
                out.push_str(&format!("  {:>3} - {x}\n", i + 1));
            }
            if let Some(y) = y {
                out.push_str(&format!("  {:>3} + {y}\n", i + 1));
            }
        }
    }
    out
}

/// Compares `actual` with the file, or rewrites it when blessing; returns a failure text.
fn check(file: &Path, actual: &str) -> Option<String> {
    if std::env::var_os("RBUILD_BLESS").is_some() {
        fs::write(file, actual).expect("write golden file");
        return None;
    }
    let expected = read_optional(file).unwrap_or_default();
    (expected != actual).then(|| format!("{}:\n{}", file.display(), diff(&expected, actual)))
}

#[test]
fn golden_dockerfiles() {
    let cases = cases("dockerfiles");
    assert!(cases.len() >= 65, "only {} golden cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        match render(case) {
            Ok(out) => failures.extend(check(&case.join("expected"), &out)),
            Err(e) => failures.push(format!("{}: unexpected error: {e}", case.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatches:\n{}",
        failures.join("\n")
    );
}

#[test]
fn negative_dockerfiles() {
    let cases = cases("dockerfiles-negative");
    assert!(cases.len() >= 12, "only {} negative cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        match render(case) {
            Ok(_) => failures.push(format!(
                "{}: parsed and planned without error",
                case.display()
            )),
            Err(e) => failures.extend(check(&case.join("error"), &format!("{e}\n"))),
        }
    }
    assert!(
        failures.is_empty(),
        "negative mismatches:\n{}",
        failures.join("\n")
    );
}

#[test]
fn diff_marks_changed_lines() {
    let d = diff("a\nb\nc\n", "a\nx\nc\nd\n");
    assert_eq!(d, "    2 - b\n    2 + x\n    4 + d\n");
}

//! The image config of an OCI layout, and a field-by-field comparison of two of them.

use std::fs;
use std::path::Path;

use serde_json::Value;

/// The fields of `config` the differential test compares (docker's names).
pub const FIELDS: [&str; 12] = [
    "Env",
    "Entrypoint",
    "Cmd",
    "WorkingDir",
    "User",
    "ExposedPorts",
    "Volumes",
    "Labels",
    "StopSignal",
    "Healthcheck",
    "Shell",
    "OnBuild",
];

/// The image config JSON of the manifest tagged `tag` in the OCI layout at `dir`.
pub fn read(dir: &Path, tag: &str) -> Value {
    let index = json(&dir.join("index.json"));
    let manifest = index["manifests"]
        .as_array()
        .and_then(|m| {
            m.iter()
                .find(|d| d["annotations"]["org.opencontainers.image.ref.name"] == tag)
        })
        .unwrap_or_else(|| panic!("{}: no manifest tagged {tag}: {index}", dir.display()));
    let manifest = json(&blob(dir, &manifest["digest"]));
    json(&blob(dir, &manifest["config"]["digest"]))
}

fn blob(dir: &Path, digest: &Value) -> std::path::PathBuf {
    let digest = digest.as_str().expect("digest string");
    let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
    dir.join("blobs/sha256").join(hex)
}

fn json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Lines describing every compared field that differs; a missing field and `null` are
/// the same thing to every runtime, so they compare equal.
pub fn diff(rbuild: &Value, buildah: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for field in FIELDS {
        let (a, b) = (field_of(rbuild, field), field_of(buildah, field));
        if a != b {
            out.push(format!(
                "  config {field}\n    rbuild : {a}\n    buildah: {b}"
            ));
        }
    }
    for field in ["architecture", "os"] {
        if rbuild[field] != buildah[field] {
            out.push(format!(
                "  {field}\n    rbuild : {}\n    buildah: {}",
                rbuild[field], buildah[field]
            ));
        }
    }
    out
}

fn field_of<'a>(image: &'a Value, field: &str) -> &'a Value {
    image
        .get("config")
        .and_then(|c| c.get(field))
        .unwrap_or(&Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn null_equals_missing_and_a_changed_field_is_named() {
        let a = json!({"os": "linux", "config": {"Cmd": null, "User": "1"}});
        let b = json!({"os": "linux", "config": {"User": "2"}});
        let lines = diff(&a, &b);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("config User"), "{lines:?}");
    }
}

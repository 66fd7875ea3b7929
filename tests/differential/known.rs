//! The known, explained differences between rbuild and buildah 1.28 (listed in
//! `testdata/README.md`, "Differential corpus vs buildah"). Each filter removes exactly
//! one of them, under narrow conditions, before the comparison; anything else still fails.

use serde_json::Value;

use super::tree::Tree;

/// What the filters may look at besides the trees.
pub struct Case<'a> {
    /// The case directory's name.
    pub name: &'a str,
    /// The case's Dockerfile text.
    pub dockerfile: &'a str,
    /// buildah's image config (already through [`filter_config`]).
    pub buildah_config: &'a Value,
}

/// `COPY --chmod` of a directory source, by case: (case, destination, mode). rbuild applies
/// the mode to the destination directory too, as BuildKit does since fsutil#228 (2025,
/// moby/buildkit#4945); buildah 1.28 (and older BuildKit) apply it to the copied entries
/// only and leave the destination directory at 0755.
const CHMOD_DEST_DIRS: [(&str, &str, u32); 2] = [
    ("copy-chown-chmod", "/d2", 0o750),
    ("context-hardlinks", "/files-640", 0o640),
];

/// Removes the known differences from the two trees.
pub fn filter_tree(case: &Case<'_>, rbuild: &mut Tree, buildah: &mut Tree) {
    run_mount_points(rbuild, buildah);
    volume_dirs(case, rbuild, buildah);
    lazy_workdirs(case, rbuild, buildah);
    for (name, path, mode) in CHMOD_DEST_DIRS {
        let theirs = buildah
            .get_mut(path)
            .filter(|e| e.kind == "dir" && e.mode == 0o755);
        if let (true, Some(entry)) = (name == case.name, theirs) {
            if rbuild.get(path).is_some_and(|e| e.mode == mode) {
                entry.mode = mode;
            }
        }
    }
}

/// buildah's RUN (chroot isolation) bind-mounts /etc/hostname, /etc/hosts and
/// /etc/resolv.conf onto files it creates first, and creates /run; the empty mount points
/// end up in the layer. rbuild's RUN mounts leave nothing behind. Filtered only when rbuild
/// has no such path and buildah's is empty.
fn run_mount_points(rbuild: &Tree, buildah: &mut Tree) {
    for path in ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"] {
        let empty_file = buildah
            .get(path)
            .is_some_and(|e| e.kind == "file" && e.size == 0);
        if empty_file && !rbuild.contains_key(path) {
            buildah.remove(path);
        }
    }
    let run_is_empty = !buildah.keys().any(|p| p.starts_with("/run/"));
    let run_dir = buildah.get("/run").is_some_and(|e| e.kind == "dir");
    if run_is_empty && run_dir && !rbuild.contains_key("/run") {
        buildah.remove("/run");
    }
}

/// buildah creates the directory of every VOLUME when a later RUN mounts it; rbuild, like
/// BuildKit, only records the volume in the config. Filtered: empty buildah-only dirs
/// that are volumes.
fn volume_dirs(case: &Case<'_>, rbuild: &Tree, buildah: &mut Tree) {
    let Some(volumes) = case.buildah_config["config"]["Volumes"].as_object() else {
        return;
    };
    for path in volumes.keys() {
        let prefix = format!("{path}/");
        let empty = !buildah.keys().any(|p| p.starts_with(&prefix));
        let dir = buildah.get(path).is_some_and(|e| e.kind == "dir");
        if empty && dir && !rbuild.contains_key(path) {
            buildah.remove(path);
        }
    }
}

/// buildah 1.28 creates a WORKDIR only when a later step runs in it; rbuild, like docker
/// and BuildKit, creates it at the WORKDIR step. Filtered: rbuild-only dirs on the path of
/// an absolute `WORKDIR` line that hold nothing but the rest of that path.
fn lazy_workdirs(case: &Case<'_>, rbuild: &mut Tree, buildah: &Tree) {
    for line in case.dockerfile.lines() {
        let Some(dir) = line.trim().strip_prefix("WORKDIR /") else {
            continue;
        };
        let chain: Vec<String> = ancestors(&format!("/{}", dir.trim()));
        for path in &chain {
            let prefix = format!("{path}/");
            let only_chain = rbuild
                .keys()
                .filter(|p| p.starts_with(&prefix))
                .all(|p| chain.contains(p));
            let rbuild_only_dir =
                rbuild.get(path).is_some_and(|e| e.kind == "dir") && !buildah.contains_key(path);
            if only_chain && rbuild_only_dir {
                rbuild.remove(path);
            }
        }
    }
}

/// `/a/b/c` → `["/a", "/a/b", "/a/b/c"]`.
fn ancestors(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        cur = format!("{cur}/{part}");
        out.push(cur.clone());
    }
    out
}

/// Removes the known differences from buildah's config (compared against rbuild's).
pub fn filter_config(rbuild: &Value, buildah: &mut Value) {
    // buildah stamps every image it builds with the label io.buildah.version.
    if let Some(labels) = buildah
        .pointer_mut("/config/Labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove("io.buildah.version");
        if labels.is_empty() {
            buildah["config"]["Labels"] = Value::Null;
        }
    }
    // `ENTRYPOINT []` / `CMD []`: rbuild keeps the empty list, as docker's classic builder
    // writes it; buildah (and BuildKit, through omitempty) drop the field. Both mean "none".
    for field in ["Entrypoint", "Cmd"] {
        let empty = rbuild["config"][field]
            .as_array()
            .is_some_and(Vec::is_empty);
        if empty && buildah["config"][field].is_null() {
            buildah["config"][field] = Value::Array(Vec::new());
        }
    }
    // `EXPOSE 53/UDP`: rbuild lowercases the protocol as docker does (go-connections'
    // ParsePortSpec); buildah 1.28 keeps it as written.
    if let Some(ports) = buildah
        .pointer_mut("/config/ExposedPorts")
        .and_then(Value::as_object_mut)
    {
        let lowered = ports
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        *ports = lowered;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_lists_every_prefix() {
        assert_eq!(ancestors("/a/b/c"), ["/a", "/a/b", "/a/b/c"]);
        assert_eq!(ancestors("/"), Vec::<String>::new());
    }
}

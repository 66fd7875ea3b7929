//! A real overlayfs round trip: changes made in a merged view come out of the upper
//! dir as whiteout entries, and applying that layer reproduces the merged view.

use std::path::Path;
use std::process::Command;

use super::*;

fn run(cmd: &mut Command) -> bool {
    cmd.status().map(|s| s.success()).unwrap_or(false)
}

fn names(tar: &[u8]) -> Vec<String> {
    tar::Archive::new(tar)
        .entries()
        .expect("entries")
        .map(|e| String::from_utf8_lossy(&e.expect("entry").path_bytes()).into_owned())
        .collect()
}

fn listing(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in walkdir(root) {
        out.push(entry);
    }
    out.sort();
    out
}

fn walkdir(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("read_dir") {
            let path = e.expect("entry").path();
            out.push(
                path.strip_prefix(root)
                    .expect("prefix")
                    .to_string_lossy()
                    .into_owned(),
            );
            if std::fs::symlink_metadata(&path).expect("lstat").is_dir() {
                stack.push(path);
            }
        }
    }
    out
}

/// Unmounts on drop so a failing assertion leaves no mount behind.
struct Mount<'a>(&'a Path);

impl Drop for Mount<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0).status();
    }
}

#[test]
fn overlay_upper_becomes_whiteout_entries() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: mounting overlayfs needs root");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let [lower, upper, work, merged] =
        ["lower", "upper", "work", "merged"].map(|d| tmp.path().join(d));
    for d in [&lower, &upper, &work, &merged] {
        std::fs::create_dir(d).expect("mkdir");
    }
    std::fs::create_dir(lower.join("dir")).expect("mkdir");
    for f in ["file", "kept", "dir/a", "dir/b"] {
        std::fs::write(lower.join(f), f).expect("write");
    }
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    if !run(Command::new("mount")
        .args(["-t", "overlay", "overlay", "-o", &opts])
        .arg(&merged))
    {
        eprintln!("skipped: cannot mount overlayfs here");
        return;
    }
    let mount = Mount(&merged);
    std::fs::remove_file(merged.join("file")).expect("rm file");
    std::fs::remove_dir_all(merged.join("dir")).expect("rm -rf dir");
    std::fs::create_dir(merged.join("dir")).expect("mkdir dir");
    std::fs::write(merged.join("dir/c"), b"c").expect("write c");
    let expected = listing(&merged);
    drop(mount);

    let mut tar = Vec::new();
    write_tree(
        &upper,
        &TreeOptions {
            mode: TreeMode::OverlayUpper,
            clamp_mtime: Some(0),
        },
        &mut tar,
    )
    .expect("diff");
    assert_eq!(
        names(&tar),
        ["dir/", "dir/.wh..wh..opq", "dir/c", ".wh.file"]
    );

    let rootfs = tmp.path().join("rootfs");
    std::fs::create_dir(&rootfs).expect("mkdir");
    let base = write_to_vec(&lower);
    extract(&base[..], &rootfs, &ExtractOptions::new(ExtractMode::Apply)).expect("base");
    extract(&tar[..], &rootfs, &ExtractOptions::new(ExtractMode::Apply)).expect("apply diff");
    assert_eq!(
        listing(&rootfs),
        expected,
        "applying the diff reproduces the merged view"
    );
}

fn write_to_vec(root: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    write_tree(root, &TreeOptions::default(), &mut out).expect("write_tree");
    out
}

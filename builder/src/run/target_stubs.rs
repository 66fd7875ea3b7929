//! Mount points of `RUN --mount` targets that the image did not have: like BuildKit, the
//! step leaves no trace of them in its layer. Before the step, each target's path is looked
//! up in the snapshot's layers (the upper dir and the lowers, never following a symlink);
//! the components found in none of them are the stubs the child will create. After the
//! step, those still empty are removed from the upper dir, deepest first, and so are the
//! directories overlayfs copied up only to hold them (empty, and with their lower's mode and
//! owner). Anything the step itself put there stays.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::RunError;

/// What one target needs cleaned up.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TargetStub {
    /// Rootfs-relative prefixes missing before the step, shallow to deep.
    missing: Vec<String>,
    /// Existing ancestors of the first missing one that were not in the upper dir, deep to
    /// shallow: overlayfs copies them up to create the stub.
    copied_up: Vec<String>,
}

/// The stubs of a step's mount targets, recorded before it runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TargetStubs(Vec<TargetStub>);

/// What a layer dir holds at a rootfs-relative path, without following symlinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    Nothing,
    Entry,
    /// A symlink on the way: the child's mkdir would follow it; nothing is ours to remove.
    Symlink,
}

fn lookup(layer: &Path, rel: &str) -> Found {
    let mut path = layer.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        path.push(part);
        match path.symlink_metadata() {
            Err(_) => return Found::Nothing,
            Ok(m) if m.file_type().is_symlink() => return Found::Symlink,
            Ok(m) if i + 1 < parts.len() && !m.is_dir() => return Found::Nothing,
            Ok(_) => {}
        }
    }
    Found::Entry
}

/// Records, for each absolute target, which of its components no layer has yet.
pub(crate) fn before(upper: &Path, lowers: &[PathBuf], targets: &[&str]) -> TargetStubs {
    let layers: Vec<&Path> = std::iter::once(upper)
        .chain(lowers.iter().map(PathBuf::as_path))
        .collect();
    let stubs = targets
        .iter()
        .filter_map(|t| target_stub(upper, &layers, t))
        .collect();
    TargetStubs(stubs)
}

fn target_stub(upper: &Path, layers: &[&Path], target: &str) -> Option<TargetStub> {
    let parts: Vec<&str> = target.split('/').filter(|p| !p.is_empty()).collect();
    let mut existing = Vec::new();
    for n in 1..=parts.len() {
        let rel = parts[..n].join("/");
        let found: Vec<Found> = layers.iter().map(|l| lookup(l, &rel)).collect();
        if found.contains(&Found::Symlink) {
            return None;
        }
        if found.contains(&Found::Entry) {
            existing.push(rel);
            continue;
        }
        let missing = (n..=parts.len()).map(|k| parts[..k].join("/")).collect();
        let copied_up = existing
            .into_iter()
            .rev()
            .filter(|rel| lookup(upper, rel) == Found::Nothing)
            .collect();
        return Some(TargetStub { missing, copied_up });
    }
    None
}

/// Removes the stubs recorded by [`before`] that the step left empty.
pub(crate) fn cleanup(
    upper: &Path,
    lowers: &[PathBuf],
    stubs: &TargetStubs,
) -> Result<(), RunError> {
    'stubs: for stub in &stubs.0 {
        for rel in stub.missing.iter().rev() {
            if !remove_if_empty(upper, rel)? {
                continue 'stubs; // the step put something there: it and its parents stay
            }
        }
        for rel in &stub.copied_up {
            if !same_as_lower(upper, lowers, rel) || !remove_if_empty(upper, rel)? {
                break;
            }
        }
    }
    Ok(())
}

/// Removes `upper/rel` when it is an empty dir or an empty regular file reached without a
/// symlink; true when it is gone (or was never there).
fn remove_if_empty(upper: &Path, rel: &str) -> Result<bool, RunError> {
    if lookup(upper, rel) != Found::Entry {
        return Ok(lookup(upper, rel) == Found::Nothing);
    }
    let path = upper.join(rel);
    let meta = path
        .symlink_metadata()
        .map_err(|source| RunError::Cleanup {
            path: path.clone(),
            source,
        })?;
    let res = if meta.is_dir() {
        std::fs::remove_dir(&path)
    } else if meta.is_file() && meta.len() == 0 {
        std::fs::remove_file(&path)
    } else {
        return Ok(false);
    };
    match res {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) => Ok(false),
        Err(source) => Err(RunError::Cleanup { path, source }),
    }
}

/// Whether `upper/rel` is a dir with the mode and owner of the topmost lower's `rel` (a
/// directory too): overlayfs copied it up, and nothing but its times changed.
pub(crate) fn same_as_lower(upper: &Path, lowers: &[PathBuf], rel: &str) -> bool {
    let Ok(up) = upper.join(rel).symlink_metadata() else {
        return false;
    };
    let lower = lowers
        .iter()
        .find(|l| lookup(l, rel) != Found::Nothing)
        .and_then(|l| l.join(rel).symlink_metadata().ok());
    lower.is_some_and(|lo| {
        up.is_dir()
            && lo.is_dir()
            && lo.mode() == up.mode()
            && lo.uid() == up.uid()
            && lo.gid() == up.gid()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    struct Layers {
        _dir: tempfile::TempDir,
        upper: PathBuf,
        lower: PathBuf,
    }

    fn layers() -> Layers {
        let dir = tempfile::tempdir().expect("tempdir");
        let (upper, lower) = (dir.path().join("u"), dir.path().join("l"));
        fs::create_dir_all(lower.join("root")).expect("mkdir");
        fs::create_dir(&upper).expect("mkdir");
        Layers {
            _dir: dir,
            upper,
            lower,
        }
    }

    #[test]
    fn created_mount_points_and_their_copied_up_parents_go() {
        let l = layers();
        let lowers = [l.lower.clone()];
        let stubs = before(&l.upper, &lowers, &["/root/.cache/go", "/run/secrets/t"]);
        // What the child and overlayfs do: copy up /root, create the stubs.
        fs::create_dir_all(l.upper.join("root/.cache/go")).expect("mkdir");
        let mode = fs::metadata(l.lower.join("root")).expect("stat").mode();
        fs::set_permissions(
            l.upper.join("root"),
            std::os::unix::fs::PermissionsExt::from_mode(mode),
        )
        .expect("chmod");
        fs::create_dir_all(l.upper.join("run/secrets")).expect("mkdir");
        fs::write(l.upper.join("run/secrets/t"), "").expect("write");
        cleanup(&l.upper, &lowers, &stubs).expect("cleanup");
        let left: Vec<_> = fs::read_dir(&l.upper).expect("read").collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }

    #[test]
    fn what_the_step_wrote_stays() {
        let l = layers();
        let lowers = [l.lower.clone()];
        let stubs = before(&l.upper, &lowers, &["/root/.cache/go", "/opt/x"]);
        fs::create_dir_all(l.upper.join("root/.cache/go")).expect("mkdir");
        fs::write(l.upper.join("root/.cache/kept"), "x").expect("write");
        fs::create_dir_all(l.upper.join("opt/x")).expect("mkdir");
        fs::write(l.upper.join("opt/file"), "y").expect("write");
        cleanup(&l.upper, &lowers, &stubs).expect("cleanup");
        assert!(!l.upper.join("root/.cache/go").exists());
        assert!(l.upper.join("root/.cache/kept").exists());
        assert!(!l.upper.join("opt/x").exists() && l.upper.join("opt/file").exists());
    }

    #[test]
    fn targets_through_symlinks_or_already_there_are_left_alone() {
        let l = layers();
        std::os::unix::fs::symlink("/etc", l.lower.join("link")).expect("symlink");
        fs::create_dir(l.lower.join("root/there")).expect("mkdir");
        let lowers = [l.lower.clone()];
        let stubs = before(&l.upper, &lowers, &["/link/x", "/root/there"]);
        assert_eq!(stubs, TargetStubs::default());
    }
}

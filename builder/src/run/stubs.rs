//! Removing the mount points the step's child had to create (`/proc`, `/etc/hosts`, …) from
//! the upper dir once the step is over, so they never reach the committed layer.
//!
//! The child reports which ones it created (bits of `plan::stub`). A created `/etc/hosts` in
//! an image that has `/etc` also made overlayfs copy `/etc` up; that copy is removed too when
//! the step left it empty and with the lower dir's mode and owner (only its mtime changed).

use std::path::{Path, PathBuf};

use super::plan::stub;
use super::RunError;

/// Upper-dir state recorded before the step starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Before {
    etc_in_upper: bool,
}

/// Records what [`cleanup`] needs to know about the upper dir before the step.
pub(crate) fn before(upper: &Path) -> Before {
    Before {
        etc_in_upper: upper.join("etc").symlink_metadata().is_ok(),
    }
}

/// Removes created mount points from `upper` (`lowers` topmost first).
pub(crate) fn cleanup(
    upper: &Path,
    lowers: &[PathBuf],
    created: u8,
    before: Before,
) -> Result<(), RunError> {
    let order = [
        stub::HOSTS,
        stub::RESOLV,
        stub::PROC,
        stub::DEV,
        stub::SYS,
        stub::ETC,
    ];
    for bit in order.into_iter().filter(|b| created & (1 << b) != 0) {
        let (rel, dir) = stub::PATHS[usize::from(bit)];
        remove_placeholder(&upper.join(rel), dir)?;
    }
    let etc_files = (1 << stub::HOSTS) | (1 << stub::RESOLV);
    if created & etc_files != 0 && created & (1 << stub::ETC) == 0 && !before.etc_in_upper {
        remove_copied_up_etc(upper, lowers)?;
    }
    Ok(())
}

/// Removes an empty placeholder dir or empty regular file; leaves anything else alone.
fn remove_placeholder(path: &Path, dir: bool) -> Result<(), RunError> {
    let Ok(meta) = path.symlink_metadata() else {
        return Ok(());
    };
    let res = if dir && meta.is_dir() {
        match std::fs::remove_dir(path) {
            Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) => Ok(()),
            other => other,
        }
    } else if !dir && meta.is_file() && meta.len() == 0 {
        std::fs::remove_file(path)
    } else {
        Ok(())
    };
    res.map_err(|source| RunError::Cleanup {
        path: path.to_path_buf(),
        source,
    })
}

/// Removes `upper/etc` if it is empty and matches the topmost lower `etc` in mode and owner.
fn remove_copied_up_etc(upper: &Path, lowers: &[PathBuf]) -> Result<(), RunError> {
    if super::target_stubs::same_as_lower(upper, lowers, "etc") {
        return remove_placeholder(&upper.join("etc"), true);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_created_placeholders_but_keeps_real_content() {
        let up = tempfile::tempdir().expect("tempdir");
        let u = up.path();
        let b = before(u);
        for d in ["proc", "dev", "etc"] {
            std::fs::create_dir(u.join(d)).expect("mkdir");
        }
        std::fs::write(u.join("etc/hosts"), "").expect("write");
        std::fs::write(u.join("dev/keep"), "x").expect("write");
        let created = (1 << stub::PROC) | (1 << stub::DEV) | (1 << stub::ETC) | (1 << stub::HOSTS);
        cleanup(u, &[], created, b).expect("cleanup");
        assert!(!u.join("proc").exists() && !u.join("etc").exists());
        assert!(
            u.join("dev/keep").exists(),
            "a non-empty dir is not a placeholder"
        );
    }

    #[test]
    fn copied_up_etc_goes_only_when_unchanged() {
        let lower = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(lower.path().join("etc")).expect("mkdir");
        let up = tempfile::tempdir().expect("tempdir");
        let b = before(up.path());
        std::fs::create_dir(up.path().join("etc")).expect("mkdir");
        std::fs::write(up.path().join("etc/hosts"), "").expect("write");
        let lowers = [lower.path().to_path_buf()];
        cleanup(up.path(), &lowers, 1 << stub::HOSTS, b).expect("cleanup");
        assert!(!up.path().join("etc").exists());

        std::fs::create_dir(up.path().join("etc")).expect("mkdir");
        std::fs::write(up.path().join("etc/hosts"), "").expect("write");
        std::fs::write(up.path().join("etc/motd"), "hi").expect("write");
        cleanup(up.path(), &lowers, 1 << stub::HOSTS, b).expect("cleanup");
        assert!(up.path().join("etc/motd").exists() && !up.path().join("etc/hosts").exists());
    }
}

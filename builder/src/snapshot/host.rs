//! Mounting a snapshot in the caller's own mount namespace (for COPY/ADD, which write through
//! the merged view). RUN steps do not use this: they mount inside their own namespace.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use super::{Mount, SnapshotError};
use crate::sys::{Errno, MntFlags, MountOps, MsFlags};

/// Mounted snapshot: unmounted (lazily, `MNT_DETACH`) by [`MountGuard::unmount`] or on drop.
#[must_use = "dropping the guard unmounts the snapshot"]
pub struct MountGuard<'a> {
    ops: &'a dyn MountOps,
    target: PathBuf,
    mounted: usize,
}

impl std::fmt::Debug for MountGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MountGuard")
            .field("target", &self.target)
            .field("mounted", &self.mounted)
            .finish()
    }
}

/// Converts a path or string to a C string; interior NULs become an `EINVAL` mount error.
fn cstr(bytes: impl Into<Vec<u8>>, target: &Path, fstype: &str) -> Result<CString, SnapshotError> {
    CString::new(bytes).map_err(|_| mount_err(target, fstype, Errno::EINVAL))
}

/// A `Mount` error for `target`.
fn mount_err(target: &Path, fstype: &str, source: Errno) -> SnapshotError {
    SnapshotError::Mount {
        target: target.to_path_buf(),
        fstype: fstype.to_string(),
        source,
    }
}

/// Mounts `mounts` in order on `target` through `ops` and returns a guard that unmounts them.
pub fn mount_all<'a>(
    ops: &'a dyn MountOps,
    mounts: &[Mount],
    target: &Path,
) -> Result<MountGuard<'a>, SnapshotError> {
    let mut guard = MountGuard {
        ops,
        target: target.to_path_buf(),
        mounted: 0,
    };
    let c_target = cstr(target.as_os_str().as_encoded_bytes(), target, "target")?;
    for m in mounts {
        mount_one(ops, m, &c_target, target)?;
        guard.mounted += 1;
    }
    Ok(guard)
}

/// Mounts one [`Mount`] on `c_target`.
fn mount_one(
    ops: &dyn MountOps,
    m: &Mount,
    c_target: &CString,
    target: &Path,
) -> Result<(), SnapshotError> {
    let source = cstr(m.source.as_str(), target, &m.fstype)?;
    let fstype = cstr(m.fstype.as_str(), target, &m.fstype)?;
    let data = cstr(m.data(), target, &m.fstype)?;
    let res = match &m.cwd {
        Some(cwd) => {
            let cwd = cstr(cwd.as_os_str().as_encoded_bytes(), target, &m.fstype)?;
            ops.mount_in(&cwd, &source, c_target, &fstype, &data)
        }
        None => ops.mount(&source, c_target, &fstype, MsFlags::empty(), Some(&data)),
    };
    res.map_err(|e| mount_err(target, &m.fstype, e))?;
    if m.read_only() {
        let flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY;
        ops.mount(c"none", c_target, c"none", flags, None)
            .map_err(|e| mount_err(target, &m.fstype, e))?;
    }
    Ok(())
}

impl MountGuard<'_> {
    /// Unmounts now and reports failure (dropping the guard unmounts too, ignoring errors).
    pub fn unmount(mut self) -> Result<(), SnapshotError> {
        self.unmount_all()
    }

    /// The mount point.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Detaches every mount this guard made, last first.
    fn unmount_all(&mut self) -> Result<(), SnapshotError> {
        let c_target = cstr(
            self.target.as_os_str().as_encoded_bytes(),
            &self.target,
            "target",
        )?;
        while self.mounted > 0 {
            self.ops
                .umount(&c_target, MntFlags::MNT_DETACH)
                .map_err(|e| mount_err(&self.target, "umount", e))?;
            self.mounted -= 1;
        }
        Ok(())
    }
}

impl Drop for MountGuard<'_> {
    fn drop(&mut self) {
        // Best effort: an explicit `unmount` reports errors.
        let _ = self.unmount_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::RecordingOps;

    fn overlay(cwd: Option<&str>) -> Mount {
        Mount {
            fstype: "overlay".into(),
            source: "overlay".into(),
            options: vec![
                "lowerdir=a:b".into(),
                "upperdir=/u".into(),
                "workdir=/w".into(),
            ],
            cwd: cwd.map(PathBuf::from),
        }
    }

    #[test]
    fn mounts_then_unmounts_on_drop() {
        let ops = RecordingOps::new();
        {
            let _guard = mount_all(&ops, &[overlay(None)], Path::new("/mnt/x")).expect("mount");
        }
        assert_eq!(
            ops.calls(),
            [
                "mount overlay on /mnt/x type overlay flags=0x0 data=lowerdir=a:b,upperdir=/u,workdir=/w",
                "umount /mnt/x flags=0x2",
            ]
        );
    }

    #[test]
    fn relative_form_mounts_from_the_link_dir() {
        let ops = RecordingOps::new();
        let guard = mount_all(&ops, &[overlay(Some("/s/l"))], Path::new("/m")).expect("mount");
        guard.unmount().expect("unmount");
        assert!(
            ops.calls()[0].starts_with("mount_in /s/l overlay on /m"),
            "{:?}",
            ops.calls()
        );
    }

    #[test]
    fn a_failed_mount_is_an_error_naming_the_target() {
        let ops = RecordingOps::new().fail_on("mount overlay", Errno::EINVAL);
        let err = mount_all(&ops, &[overlay(None)], Path::new("/m")).expect_err("must fail");
        assert!(err.to_string().contains("/m"), "{err}");
        assert_eq!(
            ops.calls().len(),
            1,
            "nothing to unmount: {:?}",
            ops.calls()
        );
    }
}

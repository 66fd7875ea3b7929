//! COPY/ADD and WORKDIR on the host: the step's snapshot is mounted on a scratch dir in
//! rbuild's own mount namespace for the duration of the copy, then unmounted.

use std::path::{Path, PathBuf};

use super::super::error::BuildError;
use super::super::layers::ensure_extracted;
use super::super::stage::StageState;
use super::super::Ctx;
use crate::copy::{copy_into, mkdir_in_root, CopyRequest};
use crate::dockerfile::Instruction;
use crate::snapshot::host::mount_all;
use crate::sys::RealOps;

static OPS: RealOps = RealOps;

/// Copies into the active snapshot `key`.
pub(crate) fn copy(
    ctx: &Ctx<'_>,
    _st: &StageState,
    key: &str,
    req: &CopyRequest,
    instr: &Instruction,
) -> Result<(), BuildError> {
    let rootfs = ctx.snaps.rootfs(key)?;
    let guard = mount_all(&OPS, &rootfs.mounts, &rootfs.mountpoint)?;
    let result = copy_into(&rootfs.mountpoint, req).map_err(|source| BuildError::Copy {
        location: ctx.location(instr.span().start_line),
        step: instr.keyword().to_string(),
        source,
    });
    guard.unmount()?;
    result.map(|_| ())
}

/// Creates the WORKDIR inside the active snapshot `key`.
pub(crate) fn mkdir(ctx: &Ctx<'_>, key: &str, path: &str) -> Result<(), BuildError> {
    let rootfs = ctx.snaps.rootfs(key)?;
    let guard = mount_all(&OPS, &rootfs.mounts, &rootfs.mountpoint)?;
    let result = mkdir_in_root(&rootfs.mountpoint, path).map_err(|source| BuildError::Copy {
        location: String::new(),
        step: format!("WORKDIR {path}"),
        source,
    });
    guard.unmount()?;
    result
}

/// A read-only view of another stage's or image's rootfs, mounted until dropped.
pub(crate) struct View {
    key: String,
    target: PathBuf,
    snaps: crate::snapshot::Snapshotter,
}

impl View {
    /// The mounted root.
    pub fn path(&self) -> &Path {
        &self.target
    }
}

impl Drop for View {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.target, nix::mount::MntFlags::MNT_DETACH);
        let _ = self.snaps.remove(&self.key);
    }
}

/// Mounts the rootfs of `--from=<from>` read-only.
pub(crate) fn from_view(ctx: &Ctx<'_>, from: &str, line: usize) -> Result<View, BuildError> {
    let out = super::from_source(ctx, from, line)?;
    let parent = ensure_extracted(ctx.store, &ctx.snaps, &out.layers)?;
    let key = format!("view-{}-{:016x}", std::process::id(), super::rand_u64());
    let mounts = ctx.snaps.view(&key, parent.as_deref())?;
    let target = super::scratch_dir(ctx, &key)?;
    let guard = mount_all(&OPS, &mounts, &target)?;
    std::mem::forget(guard); // View's Drop unmounts
    Ok(View {
        key,
        target,
        snaps: ctx.snaps.clone(),
    })
}

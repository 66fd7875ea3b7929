//! Building the overlay [`Mount`] of a snapshot: absolute lower dirs when they fit in one
//! page of mount options, short `l/` link names relative to the `l/` dir when they do not.

use std::path::Path;

use super::meta::io;
use super::{Mount, SnapshotError, Snapshotter};

/// The longest option string one `mount(2)` call accepts: one page minus the NUL.
pub(super) const PAGE_LIMIT: usize = 4095;

/// The link name of the shared empty lower dir (`l/empty` → `../empty`).
const EMPTY_LINK: &str = "empty";

/// Extra overlay options that keep upper dirs self-contained diffs: the kernel's defaults can
/// turn on the index (ties an upper to its lowers), metacopy (upper files without data) and
/// redirect_dir (renamed dirs as xattr redirects), none of which a layer tar can express.
pub(super) fn module_options(params: &Path) -> Vec<String> {
    let on = |name: &str| {
        std::fs::read_to_string(params.join(name))
            .map(|v| !matches!(v.trim(), "N" | "off" | "nofollow"))
            .unwrap_or(false)
    };
    ["index", "metacopy", "redirect_dir"]
        .into_iter()
        .filter(|name| on(name))
        .map(|name| format!("{name}=off"))
        .collect()
}

/// Where the upper and work dirs of a writable mount are.
pub(super) struct Upper<'a> {
    /// The upper dir.
    pub fs: &'a Path,
    /// The work dir.
    pub work: &'a Path,
}

impl Snapshotter {
    /// The overlay mount for lower snapshot ids `lowers` (topmost first) and an optional upper.
    pub(super) fn overlay_mount(
        &self,
        lowers: &[String],
        upper: Option<Upper<'_>>,
    ) -> Result<Mount, SnapshotError> {
        let read_only = upper.is_none();
        let mut abs: Vec<String> = lowers
            .iter()
            .map(|id| self.dir(id).join("fs").display().to_string())
            .collect();
        if abs.is_empty() || (read_only && abs.len() == 1) {
            abs.push(self.root.join("empty").display().to_string());
        }
        let tail = self.tail_options(upper, read_only);
        let options = with_lowers(abs.join(":"), &tail);
        if options.iter().map(|o| o.len() + 1).sum::<usize>() <= self.page_limit {
            return Ok(overlay(options, None));
        }
        let links = self.link_names(lowers, read_only)?;
        let options = with_lowers(links.join(":"), &tail);
        Ok(overlay(options, Some(self.root.join("l"))))
    }

    /// `upperdir=`, `workdir=` (or `ro`) and the module-dependent options.
    fn tail_options(&self, upper: Option<Upper<'_>>, read_only: bool) -> Vec<String> {
        let mut tail = Vec::new();
        if let Some(u) = upper {
            tail.push(format!("upperdir={}", u.fs.display()));
            tail.push(format!("workdir={}", u.work.display()));
        }
        tail.extend(self.extra_options.iter().cloned());
        if read_only {
            tail.push("ro".to_string());
        }
        tail
    }

    /// The short link names of `lowers` (plus the empty dir where one is needed).
    fn link_names(&self, lowers: &[String], read_only: bool) -> Result<Vec<String>, SnapshotError> {
        let mut links = Vec::with_capacity(lowers.len() + 1);
        for id in lowers {
            let meta = self.read_meta(id)?;
            links.push(
                meta.link
                    .ok_or_else(|| SnapshotError::ParentNotCommitted { name: meta.name })?,
            );
        }
        if links.is_empty() || (read_only && links.len() == 1) {
            links.push(self.empty_link()?);
        }
        Ok(links)
    }

    /// Makes sure `l/empty` → `../empty` exists and returns its name.
    fn empty_link(&self) -> Result<String, SnapshotError> {
        let path = self.root.join("l").join(EMPTY_LINK);
        match std::os::unix::fs::symlink("../empty", &path) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(io(&path)(e)),
            _ => Ok(EMPTY_LINK.to_string()),
        }
    }
}

/// `lowerdir=<lowers>` followed by `tail`.
fn with_lowers(lowers: String, tail: &[String]) -> Vec<String> {
    let mut options = vec![format!("lowerdir={lowers}")];
    options.extend(tail.iter().cloned());
    options
}

/// An overlay [`Mount`].
fn overlay(options: Vec<String>, cwd: Option<std::path::PathBuf>) -> Mount {
    Mount {
        fstype: "overlay".to_string(),
        source: "overlay".to_string(),
        options,
        cwd,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_options_turn_off_enabled_features_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("index"), "Y\n").expect("write");
        std::fs::write(dir.path().join("metacopy"), "N\n").expect("write");
        std::fs::write(dir.path().join("redirect_dir"), "on\n").expect("write");
        assert_eq!(
            module_options(dir.path()),
            ["index=off", "redirect_dir=off"]
        );
        assert!(module_options(&dir.path().join("missing")).is_empty());
    }
}

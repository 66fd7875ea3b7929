//! [`RecordingOps`]: a fake [`MountOps`] that records calls instead of making them.

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::os::fd::RawFd;
use std::sync::Mutex;

use super::{Errno, FileKind, MntFlags, MountOps, MsFlags};

/// A fake [`MountOps`] for tests: every call is appended to a log as one line of text
/// (`"mount overlay on /m type overlay data=lowerdir=…"`), `lstat_kind` answers from an
/// in-memory set of paths (which `mkdir`, `create_file`, `write_file`, `symlink` and
/// `mknod_char` extend), and failures can be injected per call prefix.
#[derive(Debug, Default)]
pub struct RecordingOps {
    calls: Mutex<Vec<String>>,
    files: Mutex<BTreeMap<String, FileKind>>,
    failures: Mutex<Vec<(String, Errno)>>,
    trees: Mutex<Vec<bool>>,
}

impl RecordingOps {
    /// An empty fake: no paths exist and nothing fails.
    pub fn new() -> Self {
        Self::default()
    }

    /// Pretends that `path` exists with the given kind.
    pub fn with_path(self, path: &str, kind: FileKind) -> Self {
        lock(&self.files).insert(path.to_string(), kind);
        self
    }

    /// Makes every call whose log line starts with `prefix` fail with `errno`.
    pub fn fail_on(self, prefix: &str, errno: Errno) -> Self {
        lock(&self.failures).push((prefix.to_string(), errno));
        self
    }

    /// The log lines recorded so far, in call order.
    pub fn calls(&self) -> Vec<String> {
        lock(&self.calls).clone()
    }

    /// Records `line`, then fails if an injected failure matches it.
    fn record(&self, line: String) -> Result<(), Errno> {
        let failure = lock(&self.failures)
            .iter()
            .find(|(prefix, _)| line.starts_with(prefix.as_str()))
            .map(|(_, errno)| *errno);
        lock(&self.calls).push(line);
        failure.map_or(Ok(()), Err)
    }

    /// Records `line` and, if it succeeds, adds `path` with `kind` to the fake tree.
    fn record_create(&self, line: String, path: &CStr, kind: FileKind) -> Result<(), Errno> {
        self.record(line)?;
        lock(&self.files).insert(s(path), kind);
        Ok(())
    }
}

/// Locks a mutex, recovering from poisoning (a panicking test must not hide the log).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Lossy text form of a C string for the log.
fn s(c: &CStr) -> String {
    c.to_string_lossy().into_owned()
}

impl MountOps for RecordingOps {
    fn mount(
        &self,
        source: &CStr,
        target: &CStr,
        fstype: &CStr,
        flags: MsFlags,
        data: Option<&CStr>,
    ) -> Result<(), Errno> {
        let data = data.map(s).unwrap_or_default();
        let line = format!(
            "mount {} on {} type {} flags={:#x} data={data}",
            s(source),
            s(target),
            s(fstype),
            flags.bits()
        );
        self.record(line)
    }

    fn mount_in(
        &self,
        cwd: &CStr,
        source: &CStr,
        target: &CStr,
        fstype: &CStr,
        data: &CStr,
    ) -> Result<(), Errno> {
        let line = format!(
            "mount_in {} {} on {} type {} data={}",
            s(cwd),
            s(source),
            s(target),
            s(fstype),
            s(data)
        );
        self.record(line)
    }

    fn umount(&self, target: &CStr, flags: MntFlags) -> Result<(), Errno> {
        self.record(format!("umount {} flags={:#x}", s(target), flags.bits()))
    }

    fn pivot_root(&self, new_root: &CStr, put_old: &CStr) -> Result<(), Errno> {
        self.record(format!("pivot_root {} {}", s(new_root), s(put_old)))
    }

    fn chdir(&self, path: &CStr) -> Result<(), Errno> {
        self.record(format!("chdir {}", s(path)))
    }

    fn mkdir(&self, path: &CStr, mode: u32) -> Result<(), Errno> {
        self.record_create(format!("mkdir {} {mode:o}", s(path)), path, FileKind::Dir)
    }

    fn mknod_char(&self, path: &CStr, mode: u32, major: u32, minor: u32) -> Result<(), Errno> {
        let line = format!("mknod {} {mode:o} c {major} {minor}", s(path));
        self.record_create(line, path, FileKind::Other)
    }

    fn symlink(&self, target: &CStr, link: &CStr) -> Result<(), Errno> {
        let line = format!("symlink {} -> {}", s(link), s(target));
        self.record_create(line, link, FileKind::Symlink)
    }

    fn lstat_kind(&self, path: &CStr) -> Result<Option<FileKind>, Errno> {
        Ok(lock(&self.files).get(&s(path)).copied())
    }

    fn create_file(&self, path: &CStr, mode: u32) -> Result<(), Errno> {
        if lock(&self.files).contains_key(&s(path)) {
            return Err(Errno::EEXIST);
        }
        self.record_create(format!("create {} {mode:o}", s(path)), path, FileKind::File)
    }

    fn write_file(&self, path: &CStr, data: &[u8], mode: u32) -> Result<(), Errno> {
        let line = format!("write {} {mode:o} {} bytes", s(path), data.len());
        self.record_create(line, path, FileKind::File)
    }

    fn lchown(&self, path: &CStr, uid: u32, gid: u32) -> Result<(), Errno> {
        self.record(format!("chown {} {uid}:{gid}", s(path)))
    }

    fn sethostname(&self, name: &CStr) -> Result<(), Errno> {
        self.record(format!("sethostname {}", s(name)))
    }

    fn loopback_up(&self) -> Result<(), Errno> {
        self.record("loopback_up".to_string())
    }

    /// Fake tree fds are 100 + the number of trees opened before; the fake tree answers
    /// whether `root/path` is a directory.
    fn open_tree(&self, root: &CStr, path: &CStr) -> Result<RawFd, Errno> {
        let full = format!(
            "{}/{}",
            s(root).trim_end_matches('/'),
            s(path).trim_start_matches('/')
        );
        self.record(format!("open_tree {full}"))?;
        let mut trees = lock(&self.trees);
        trees.push(lock(&self.files).get(&full) != Some(&FileKind::File));
        Ok(99 + trees.len() as RawFd)
    }

    fn fd_is_dir(&self, fd: RawFd) -> Result<bool, Errno> {
        let index = usize::try_from(fd - 100).map_err(|_| Errno::EBADF)?;
        lock(&self.trees).get(index).copied().ok_or(Errno::EBADF)
    }

    fn move_mount(&self, fd: RawFd, target: &CStr) -> Result<(), Errno> {
        self.record(format!("move_mount {fd} on {}", s(target)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_calls_and_tracks_created_paths() {
        let ops = RecordingOps::new().with_path("/etc", FileKind::Dir);
        ops.mkdir(c"/proc", 0o755).expect("mkdir");
        ops.create_file(c"/etc/hosts", 0o644).expect("create");
        assert_eq!(ops.lstat_kind(c"/proc"), Ok(Some(FileKind::Dir)));
        assert_eq!(ops.create_file(c"/etc/hosts", 0o644), Err(Errno::EEXIST));
        assert_eq!(ops.calls(), ["mkdir /proc 755", "create /etc/hosts 644"]);
    }

    #[test]
    fn injected_failures_are_returned_and_still_recorded() {
        let ops = RecordingOps::new().fail_on("mount proc", Errno::EPERM);
        let res = ops.mount(c"proc", c"/proc", c"proc", MsFlags::empty(), None);
        assert_eq!(res, Err(Errno::EPERM));
        assert_eq!(ops.calls().len(), 1);
    }
}

//! USER resolution with docker's rules (runc's `GetExecUser`), reading `/etc/passwd` and
//! `/etc/group` *inside* a root directory: paths are opened with `openat2(RESOLVE_IN_ROOT)`,
//! so a symlink in the image (`/etc/passwd -> /etc/shadow-of-the-host`) cannot lead out.
//!
//! - `""` is root; `name` must be in passwd; a numeric uid is used as is (gid 0, home `/`)
//!   when passwd has no entry for it.
//! - `user:group`: the group is looked up by name (must exist) or used as a number.
//! - Without an explicit group, the supplementary groups are those listing the user by name.

use std::io::Read;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};

/// The most bytes read from a passwd or group file.
const MAX_FILE: u64 = 16 << 20;

/// Errors resolving a USER.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// A user name that passwd does not have.
    #[error("unable to find user {name}: no matching entries in passwd file")]
    UnknownUser {
        /// The name asked for.
        name: String,
    },
    /// A group name that the group file does not have.
    #[error("unable to find group {name}: no matching entries in group file")]
    UnknownGroup {
        /// The name asked for.
        name: String,
    },
    /// Reading passwd or group failed for another reason than absence.
    #[error("reading {path} in the rootfs: {source}")]
    Read {
        /// The path inside the rootfs.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// The identity a step runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary group ids.
    pub groups: Vec<u32>,
    /// Home directory (for `HOME` when the environment has none).
    pub home: String,
}

/// One passwd entry.
struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

/// Parses passwd lines (`name:pw:uid:gid:gecos:home:shell`), skipping malformed ones.
fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    text.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 4 || line.starts_with('#') {
            return None;
        }
        let home = f.get(5).copied().unwrap_or("");
        Some(PasswdEntry {
            name: f[0],
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home,
        })
    })
}

/// Parses group lines (`name:pw:gid:member,member`) into (name, gid, members).
fn group_entries(text: &str) -> impl Iterator<Item = (&str, u32, Vec<&str>)> {
    text.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 3 || line.starts_with('#') {
            return None;
        }
        let members = f.get(3).map_or_else(Vec::new, |m| {
            m.split(',').filter(|s| !s.is_empty()).collect()
        });
        Some((f[0], f[2].parse().ok()?, members))
    })
}

/// Resolves `spec` against the texts of passwd and group (either may be missing).
pub fn resolve(spec: &str, passwd: &str, group: &str) -> Result<ExecUser, UserError> {
    let (user_arg, group_arg) = spec.split_once(':').unwrap_or((spec, ""));
    let mut user = ExecUser {
        uid: 0,
        gid: 0,
        groups: Vec::new(),
        home: "/".to_string(),
    };
    let numeric = user_arg.parse::<u32>().ok();
    let matched = passwd_entries(passwd).find(|e| match (user_arg, numeric) {
        ("", _) => e.uid == 0,
        (_, Some(uid)) => e.uid == uid,
        (name, None) => e.name == name,
    });
    let name = match (matched, numeric) {
        (Some(e), _) => {
            (user.uid, user.gid, user.home) = (e.uid, e.gid, e.home.to_string());
            Some(e.name)
        }
        (None, Some(uid)) => {
            user.uid = uid;
            None
        }
        (None, None) if user_arg.is_empty() => None,
        (None, None) => {
            return Err(UserError::UnknownUser {
                name: user_arg.to_string(),
            })
        }
    };
    if !group_arg.is_empty() {
        user.gid = explicit_group(group_arg, group)?;
    } else if let Some(name) = name {
        user.groups = group_entries(group)
            .filter(|(_, _, m)| m.contains(&name))
            .map(|(_, gid, _)| gid)
            .collect();
    }
    Ok(user)
}

/// The gid of an explicit group argument: a group name or number.
fn explicit_group(arg: &str, group: &str) -> Result<u32, UserError> {
    let numeric = arg.parse::<u32>().ok();
    let found = group_entries(group).find(|(name, gid, _)| match numeric {
        Some(n) => *gid == n,
        None => *name == arg,
    });
    match (found, numeric) {
        (Some((_, gid, _)), _) => Ok(gid),
        (None, Some(n)) => Ok(n),
        (None, None) => Err(UserError::UnknownGroup {
            name: arg.to_string(),
        }),
    }
}

/// Resolves `spec` with the passwd and group files of the tree at `root` (a rootfs directory,
/// or `/proc/<pid>/root` of a step).
pub fn resolve_in_root(root: &Path, spec: &str) -> Result<ExecUser, UserError> {
    let passwd = read_in_root(root, "etc/passwd")?;
    let group = read_in_root(root, "etc/group")?;
    resolve(spec, &passwd, &group)
}

/// Reads `rel` under `root` without letting symlinks escape `root`; absent reads as empty.
pub fn read_in_root(root: &Path, rel: &str) -> Result<String, UserError> {
    let err = |source: std::io::Error| UserError::Read {
        path: Path::new("/").join(rel),
        source,
    };
    let dir = rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| err(e.into()))?;
    let how = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    let fd = match rustix::fs::openat2(
        &dir,
        rel,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
        how,
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(String::new()),
        Err(e) => return Err(err(e.into())),
    };
    let mut text = String::new();
    std::fs::File::from(fd)
        .take(MAX_FILE)
        .read_to_string(&mut text)
        .map_err(err)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000::/home/app:/bin/sh\n";
    const GROUP: &str =
        "root:x:0:\nnogroup:x:65534:\napp:x:1000:\nwheel:x:10:app,root\naudio:x:29:app\n";

    fn ids(u: &ExecUser) -> (u32, u32, Vec<u32>) {
        (u.uid, u.gid, u.groups.clone())
    }

    #[test]
    fn names_numbers_and_groups() {
        assert_eq!(
            ids(&resolve("", PASSWD, GROUP).expect("root")),
            (0, 0, vec![10])
        );
        assert_eq!(
            ids(&resolve("nobody", PASSWD, GROUP).expect("nobody")),
            (65534, 65534, vec![])
        );
        assert_eq!(
            ids(&resolve("app", PASSWD, GROUP).expect("app")),
            (1000, 1000, vec![10, 29])
        );
        assert_eq!(
            resolve("app", PASSWD, GROUP).expect("app").home,
            "/home/app"
        );
        assert_eq!(
            ids(&resolve("1000", PASSWD, GROUP).expect("uid")),
            (1000, 1000, vec![10, 29])
        );
        assert_eq!(
            ids(&resolve("app:audio", PASSWD, GROUP).expect("explicit")),
            (1000, 29, vec![])
        );
        assert_eq!(
            ids(&resolve("app:4242", PASSWD, GROUP).expect("numeric gid")),
            (1000, 4242, vec![])
        );
    }

    #[test]
    fn unknown_uid_is_allowed_with_gid_zero_but_unknown_names_are_errors() {
        let u = resolve("4321", PASSWD, GROUP).expect("numeric");
        assert_eq!((ids(&u), u.home.as_str()), ((4321, 0, vec![]), "/"));
        let e = resolve("ghost", PASSWD, GROUP).expect_err("unknown user");
        assert_eq!(
            e.to_string(),
            "unable to find user ghost: no matching entries in passwd file"
        );
        assert!(matches!(
            resolve("app:ghosts", PASSWD, GROUP),
            Err(UserError::UnknownGroup { .. })
        ));
        assert_eq!(ids(&resolve("", "", "").expect("no files")), (0, 0, vec![]));
    }

    #[test]
    fn reading_in_root_does_not_follow_symlinks_out() {
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::write(outside.path().join("passwd"), "evil:x:0:0::/:/bin/sh\n").expect("write");
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(root.path().join("etc")).expect("mkdir");
        std::fs::write(root.path().join("etc/group"), GROUP).expect("write");
        std::os::unix::fs::symlink(
            outside.path().join("passwd"),
            root.path().join("etc/passwd"),
        )
        .expect("symlink");
        // The absolute link resolves inside the root, where that path does not exist.
        assert_eq!(read_in_root(root.path(), "etc/passwd").expect("read"), "");
        assert!(matches!(
            resolve_in_root(root.path(), "evil"),
            Err(UserError::UnknownUser { .. })
        ));
        assert_eq!(read_in_root(root.path(), "etc/group").expect("read"), GROUP);
    }
}

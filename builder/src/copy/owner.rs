//! `--chown` and `--chmod` values.
//!
//! `--chown=user[:group]`: numbers are taken as they are; names are looked up in the
//! DESTINATION rootfs's `/etc/passwd` and `/etc/group`, read through an in-root resolution
//! so a symlinked `/etc` cannot point at the host's files. A user without a group uses the
//! user's primary gid from passwd (a numeric user without a group uses the same number).

use std::path::Path;

use super::rootpath;
use super::CopyError;

/// A numeric owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

/// Parses `--chmod` (octal, at most `7777`).
pub fn parse_chmod(value: &str) -> Result<u32, CopyError> {
    match u32::from_str_radix(value, 8) {
        Ok(mode) if mode <= 0o7777 && !value.is_empty() => Ok(mode),
        _ => Err(CopyError::BadChmod {
            value: value.to_string(),
        }),
    }
}

/// Resolves `--chown=user[:group]` against the rootfs at `root`.
pub fn resolve_chown(root: &Path, spec: &str) -> Result<Owner, CopyError> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let (uid, primary) = match user.parse::<u32>() {
        Ok(uid) => (uid, uid),
        Err(_) => lookup(root, "/etc/passwd", user, 2, 3)
            .ok_or_else(|| unknown("uid", user, "/etc/passwd"))?,
    };
    let gid = match group {
        None | Some("") => primary,
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => lookup(root, "/etc/group", g, 2, 2)
                .map(|(gid, _)| gid)
                .ok_or_else(|| unknown("gid", g, "/etc/group"))?,
        },
    };
    Ok(Owner { uid, gid })
}

fn unknown(what: &'static str, name: &str, file: &'static str) -> CopyError {
    CopyError::UnknownOwner {
        what,
        name: name.to_string(),
        file,
    }
}

/// Finds `name` in a colon-separated database inside the rootfs; returns fields `a` and `b`.
fn lookup(root: &Path, file: &str, name: &str, a: usize, b: usize) -> Option<(u32, u32)> {
    let resolved = rootpath::resolve(root, file, true, None).ok()?;
    let text = std::fs::read_to_string(resolved.host).ok()?;
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.first() != Some(&name) {
            return None;
        }
        Some((fields.get(a)?.parse().ok()?, fields.get(b)?.parse().ok()?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn rootfs() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join("etc")).unwrap();
        fs::write(
            t.path().join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/app:/bin/sh\n",
        )
        .unwrap();
        fs::write(t.path().join("etc/group"), "root:x:0:\nstaff:x:50:app\n").unwrap();
        t
    }

    #[test]
    fn chown_forms() {
        let t = rootfs();
        let r = t.path();
        let o = |uid, gid| Owner { uid, gid };
        assert_eq!(resolve_chown(r, "app").unwrap(), o(1000, 1001));
        assert_eq!(resolve_chown(r, "app:staff").unwrap(), o(1000, 50));
        assert_eq!(resolve_chown(r, "app:7").unwrap(), o(1000, 7));
        assert_eq!(resolve_chown(r, "42").unwrap(), o(42, 42));
        assert_eq!(resolve_chown(r, "42:staff").unwrap(), o(42, 50));
        let err = resolve_chown(r, "ghost").unwrap_err();
        assert!(err.to_string().contains("ghost"), "{err}");
        assert!(resolve_chown(r, "app:nogroup").is_err());
    }

    #[test]
    fn names_are_read_inside_the_rootfs_even_through_a_symlinked_etc() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fs::create_dir_all(r.join("real")).unwrap();
        fs::write(r.join("real/passwd"), "only-here:x:77:78::/:/bin/sh\n").unwrap();
        std::os::unix::fs::symlink("/real", r.join("etc")).unwrap();
        assert_eq!(
            resolve_chown(r, "only-here").unwrap(),
            Owner { uid: 77, gid: 78 }
        );
        // The host's root user must not be found through an image without passwd.
        let empty = tempfile::tempdir().unwrap();
        assert!(resolve_chown(empty.path(), "root").is_err());
    }

    #[test]
    fn chmod_is_octal() {
        assert_eq!(parse_chmod("0755").unwrap(), 0o755);
        assert_eq!(parse_chmod("4755").unwrap(), 0o4755);
        for bad in ["", "0789", "rwx", "17777"] {
            assert!(parse_chmod(bad).is_err(), "{bad}");
        }
    }
}

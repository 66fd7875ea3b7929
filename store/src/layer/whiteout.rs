//! Whiteouts: the one place that knows how deletions are spelled.
//!
//! A layer tar cannot "contain" a deletion, so the OCI image spec encodes it with
//! marker files (<https://github.com/opencontainers/image-spec/blob/main/layer.md#whiteouts>):
//!
//! * `DIR/.wh.NAME` (a regular, empty entry) deletes `DIR/NAME` of the lower layers;
//! * `DIR/.wh..wh..opq` marks `DIR` *opaque*: every child of `DIR` coming from a lower
//!   layer is hidden, only the children this layer adds remain.
//!
//! The kernel's overlayfs spells the same two facts differently in an upper dir:
//!
//! * a deleted `NAME` is a character device with device number `0:0`;
//! * an opaque directory carries the xattr `trusted.overlay.opaque=y`.
//!
//! This module converts names and markers in both directions. Nothing else in the
//! crate may spell `.wh.`.

use std::ffi::{OsStr, OsString};
use std::fs::Metadata;
use std::os::fd::AsFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt};

/// Prefix of a whiteout entry's file name in a layer tar.
const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// Prefix of whiteout *metadata* files (aufs), which carry no meaning for us.
const WHITEOUT_META_PREFIX: &[u8] = b".wh..wh.";
/// File name of the opaque-directory marker in a layer tar.
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";

/// The overlayfs xattr that marks a directory of an upper dir opaque.
pub const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// The value of [`OVERLAY_OPAQUE_XATTR`] that means "opaque" (`x` means something else).
pub const OVERLAY_OPAQUE_VALUE: &[u8] = b"y";
/// The xattr namespace overlayfs keeps its private state in; never part of a layer.
pub const OVERLAY_XATTR_PREFIX: &str = "trusted.overlay.";
/// The same namespace when overlayfs is mounted with `userxattr` (rootless).
pub const OVERLAY_USER_XATTR_PREFIX: &str = "user.overlay.";

/// What one file name found in a layer tar means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TarName<'a> {
    /// An ordinary file name.
    Plain,
    /// `.wh.NAME`: delete the sibling `NAME` (the payload) from lower layers.
    Whiteout(&'a OsStr),
    /// `.wh..wh..opq`: the containing directory is opaque.
    Opaque,
    /// `.wh..wh.*` other than the opaque marker (aufs metadata): ignore the entry.
    Meta,
    /// `.wh.` followed by nothing usable (empty, `.` or `..`): a malformed layer.
    Invalid,
}

/// Classifies the last component `name` of a tar entry path.
pub fn classify(name: &OsStr) -> TarName<'_> {
    let bytes = name.as_bytes();
    if bytes == OPAQUE_MARKER {
        return TarName::Opaque;
    }
    if bytes.starts_with(WHITEOUT_META_PREFIX) {
        return TarName::Meta;
    }
    match bytes.strip_prefix(WHITEOUT_PREFIX) {
        None => TarName::Plain,
        Some(b"" | b"." | b"..") => TarName::Invalid,
        Some(rest) if rest.contains(&b'/') => TarName::Invalid,
        Some(rest) => TarName::Whiteout(OsStr::from_bytes(rest)),
    }
}

/// The tar file name that deletes `name`: `.wh.NAME`.
pub fn whiteout_name(name: &OsStr) -> OsString {
    let mut out = WHITEOUT_PREFIX.to_vec();
    out.extend_from_slice(name.as_bytes());
    OsString::from_vec(out)
}

/// The tar file name that marks its directory opaque: `.wh..wh..opq`.
pub fn opaque_name() -> &'static OsStr {
    OsStr::from_bytes(OPAQUE_MARKER)
}

/// True when `meta` (from `lstat`) is an overlayfs whiteout: a char device `0:0`.
pub fn is_overlay_whiteout(meta: &Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// True when the xattr `(name, value)` of a directory marks it opaque.
pub fn is_overlay_opaque(name: &str, value: &[u8]) -> bool {
    (name == OVERLAY_OPAQUE_XATTR || name == "user.overlay.opaque") && value == OVERLAY_OPAQUE_VALUE
}

/// True for xattrs that belong to overlayfs itself (never written into a layer,
/// never applied from one: a hostile layer must not forge overlay state).
pub fn is_overlay_private_xattr(name: &str) -> bool {
    name.starts_with(OVERLAY_XATTR_PREFIX) || name.starts_with(OVERLAY_USER_XATTR_PREFIX)
}

/// Creates the overlayfs whiteout for `name` in the directory `dir`: a char device `0:0`.
pub fn make_overlay_whiteout(dir: impl AsFd, name: &OsStr) -> std::io::Result<()> {
    use rustix::fs::{mknodat, FileType, Mode};
    mknodat(dir, name, FileType::CharacterDevice, Mode::empty(), 0)?;
    Ok(())
}

/// Marks the open directory `dir` opaque for overlayfs (`trusted.overlay.opaque=y`).
pub fn mark_overlay_opaque(dir: impl AsFd) -> std::io::Result<()> {
    use rustix::fs::{fsetxattr, XattrFlags};
    fsetxattr(
        dir,
        OVERLAY_OPAQUE_XATTR,
        OVERLAY_OPAQUE_VALUE,
        XattrFlags::empty(),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> &OsStr {
        OsStr::new(s)
    }

    #[test]
    fn classify_tar_names() {
        assert_eq!(classify(os("file")), TarName::Plain);
        assert_eq!(classify(os(".wh")), TarName::Plain);
        assert_eq!(classify(os(".whatever")), TarName::Plain);
        assert_eq!(classify(os(".wh.file")), TarName::Whiteout(os("file")));
        assert_eq!(
            classify(os(".wh..hidden")),
            TarName::Whiteout(os(".hidden"))
        );
        assert_eq!(classify(os(".wh..wh..opq")), TarName::Opaque);
        assert_eq!(classify(os(".wh..wh.plnk")), TarName::Meta);
        assert_eq!(classify(os(".wh.")), TarName::Invalid);
        assert_eq!(classify(os(".wh..")), TarName::Invalid);
        assert_eq!(classify(os(".wh...")), TarName::Invalid);
    }

    #[test]
    fn names_round_trip() {
        for name in ["a", ".hidden", "with space", "ünïcode"] {
            let wh = whiteout_name(os(name));
            assert_eq!(classify(&wh), TarName::Whiteout(os(name)));
        }
        assert_eq!(classify(opaque_name()), TarName::Opaque);
    }

    #[test]
    fn overlay_opaque_xattr_values() {
        assert!(is_overlay_opaque("trusted.overlay.opaque", b"y"));
        assert!(is_overlay_opaque("user.overlay.opaque", b"y"));
        assert!(!is_overlay_opaque("trusted.overlay.opaque", b"x"));
        assert!(!is_overlay_opaque("trusted.overlay.redirect", b"y"));
        assert!(is_overlay_private_xattr("trusted.overlay.metacopy"));
        assert!(!is_overlay_private_xattr("security.capability"));
    }

    #[test]
    fn overlay_whiteout_is_char_dev_zero() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").expect("write");
        let meta = std::fs::symlink_metadata(&file).expect("lstat");
        assert!(!is_overlay_whiteout(&meta));
        let null = std::fs::symlink_metadata("/dev/null").expect("lstat /dev/null");
        assert!(!is_overlay_whiteout(&null), "1:3 is not a whiteout");
        let wh = dir.path().join("wh");
        let dirfd = std::fs::File::open(dir.path()).expect("open dir");
        match make_overlay_whiteout(&dirfd, os("wh")) {
            Ok(()) => {
                let meta = std::fs::symlink_metadata(&wh).expect("lstat wh");
                assert!(is_overlay_whiteout(&meta));
            }
            Err(e) => eprintln!("skipped: mknod 0:0 needs CAP_MKNOD ({e})"),
        }
    }

    #[test]
    fn mark_opaque_sets_the_xattr() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fd = std::fs::File::open(dir.path()).expect("open dir");
        if let Err(e) = mark_overlay_opaque(&fd) {
            eprintln!("skipped: trusted.* xattrs need CAP_SYS_ADMIN and fs support ({e})");
            return;
        }
        let mut buf = [0u8; 8];
        let n = rustix::fs::fgetxattr(&fd, OVERLAY_OPAQUE_XATTR, &mut buf[..]).expect("getxattr");
        assert!(is_overlay_opaque(OVERLAY_OPAQUE_XATTR, &buf[..n]));
    }
}

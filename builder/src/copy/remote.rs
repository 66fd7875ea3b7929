//! Sources that are not files: ADD URLs and heredocs.
//!
//! A URL is downloaded through a [`UrlFetcher`] the caller supplies (the builder has no
//! network code of its own), verified against `--checksum`, never extracted, and written
//! with mode 0600 as docker does; its name is the last segment of the URL path (or
//! `__unnamed__`), or the dest itself when the dest does not end with `/`.
//! A heredoc becomes a file named after it with mode 0664 (BuildKit's `Mkfile`).

use std::io::Write;
use std::path::Path;

use rbuild_store::digest::Hasher;

use super::tree::Copier;
use super::{fsops, CopyError, CopyRequest, Dest, Heredoc};

/// Downloads a URL for ADD.
pub trait UrlFetcher: Send + Sync {
    /// Streams the body of `url` into `out`; returns the Last-Modified time (unix seconds)
    /// when the server sent one.
    fn fetch(&self, url: &str, out: &mut dyn Write) -> std::io::Result<Option<i64>>;
}

/// The file name ADD gives a URL download: the last path segment, like BuildKit.
pub(crate) fn url_file_name(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.split(['?', '#']).next().unwrap_or_default();
    let path = path.split_once('/').map_or("", |(_, p)| p);
    match path.trim_end_matches('/').rsplit('/').next() {
        Some(base) if !base.is_empty() && base != "." => base.to_string(),
        _ => "__unnamed__".to_string(),
    }
}

/// The expected sha256 hex of `--checksum=sha256:<hex>`.
pub(crate) fn expected_sha256(url: &str, checksum: &str) -> Result<String, CopyError> {
    let bad = || CopyError::BadChecksum {
        url: url.to_string(),
        checksum: checksum.to_string(),
    };
    let hex = checksum.strip_prefix("sha256:").ok_or_else(bad)?;
    let ok = hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| hex.to_ascii_lowercase()).ok_or_else(bad)
}

/// Downloads `url` into the rootfs per `dest`.
pub(crate) fn add_url(
    copier: &mut Copier<'_>,
    req: &CopyRequest,
    url: &str,
    dest: &Dest,
) -> Result<(), CopyError> {
    let fetcher = req
        .fetcher
        .as_ref()
        .ok_or_else(|| CopyError::UrlNotSupported {
            url: url.to_string(),
        })?;
    let expected = req
        .checksum
        .as_deref()
        .map(|c| expected_sha256(url, c))
        .transpose()?;
    let target = copier.file_target(dest, &url_file_name(url))?;
    let tmp = target.with_file_name(format!(".rbuild-download-{}", std::process::id()));
    fsops::clear(&tmp, true)?;
    let file = fsops::create_file(&tmp)?;
    let mut out = HashWrite {
        inner: file,
        hasher: Hasher::new(),
        bytes: 0,
    };
    let fetched = fetcher.fetch(url, &mut out);
    let fetched = fetched.map_err(|source| CopyError::Download {
        url: url.to_string(),
        source,
    });
    let checked =
        fetched.and_then(|m| verify(url, expected.as_deref(), &out.hasher.hex()).map(|()| m));
    let mtime = match checked {
        Ok(m) => m.or(req.created_time),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    copier.stats.files += 1;
    copier.stats.bytes += out.bytes;
    fsops::clear(&target, true)?;
    std::fs::rename(&tmp, &target).map_err(|e| CopyError::io("rename", &target, e))?;
    finish_generated(copier, &target, 0o600, mtime)
}

/// Checks a download's sha256 against `--checksum`.
fn verify(url: &str, expected: Option<&str>, actual: &str) -> Result<(), CopyError> {
    match expected {
        Some(want) if want != actual => Err(CopyError::ChecksumMismatch {
            url: url.to_string(),
            expected: format!("sha256:{want}"),
            actual: format!("sha256:{actual}"),
        }),
        _ => Ok(()),
    }
}

/// Writes a heredoc source.
pub(crate) fn write_heredoc(
    copier: &mut Copier<'_>,
    doc: &Heredoc,
    dest: &Dest,
    time: Option<i64>,
) -> Result<(), CopyError> {
    let target = copier.file_target(dest, &doc.name)?;
    fsops::clear(&target, true)?;
    copier.write_file(&mut doc.body.as_bytes(), &target)?;
    finish_generated(copier, &target, 0o664, time)
}

/// Owner (`--chown` or 0:0), mode (`--chmod` wins) and mtime of a generated file.
fn finish_generated(
    copier: &Copier<'_>,
    target: &Path,
    mode: u32,
    mtime: Option<i64>,
) -> Result<(), CopyError> {
    fsops::set_owner(target, copier.base_owner())?;
    fsops::set_mode(target, copier.mode_for(mode))?;
    if let Some(t) = mtime {
        fsops::set_times(target, (t, 0), (t, 0))?;
    }
    Ok(())
}

/// A writer that hashes and counts what passes through.
struct HashWrite<W> {
    inner: W,
    hasher: Hasher,
    bytes: u64,
}

impl<W: Write> Write for HashWrite<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_names() {
        assert_eq!(
            url_file_name("https://example.com/a/b/file.tar.gz?x=1"),
            "file.tar.gz"
        );
        assert_eq!(url_file_name("https://example.com/"), "__unnamed__");
        assert_eq!(url_file_name("http://example.com"), "__unnamed__");
        assert_eq!(url_file_name("http://h/dir/"), "dir");
    }

    #[test]
    fn checksum_syntax() {
        let hex = "a".repeat(64);
        assert_eq!(expected_sha256("u", &format!("sha256:{hex}")).unwrap(), hex);
        assert!(expected_sha256("u", "md5:abc").is_err());
        assert!(expected_sha256("u", "sha256:abc").is_err());
    }
}

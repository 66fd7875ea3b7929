//! The cache-key input of a COPY/ADD: a digest over its sources' content and metadata.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;

use rbuild_store::digest::sha256_of;
use rbuild_store::Digest;

use super::source::{self, Source};
use super::tree::{walk_error, Filter};
use super::{is_url, CopyError, CopyRequest, SourceRoot};
use crate::context::hash::{digest_records, EntryKind, EntryRecord};
use crate::context::{walk, HashCache, IgnoreMatcher};

/// sha256 over the canonical list of source entries of `req`, after globbing and ignore
/// rules: for each entry its path in the source root, type, permission bits, symlink
/// target, hardlink partner and content sha256; owners only for `--from` sources (context
/// files are reset to 0:0 anyway). mtimes are left out, so a fresh clone of the same
/// context gives the same digest. Heredocs count by name and body; URLs by URL and content:
/// the `--checksum` when given, else the sha256 of a download (as docker's classic builder
/// does), so a changed remote file misses the cache.
/// File hashes go through `cache`, so unchanged files are not read again.
pub fn source_digest(req: &CopyRequest, cache: &HashCache) -> Result<Digest, CopyError> {
    let (urls, locals): (Vec<&String>, Vec<&String>) = req.sources.iter().partition(|s| is_url(s));
    let keep_owner = matches!(req.source, SourceRoot::Rootfs(_));
    let no_rules = IgnoreMatcher::default();
    let ignore = req.source.ignore().unwrap_or(&no_rules);
    let excludes = req.exclude_matcher()?;
    let filter = Filter {
        ignore,
        excludes: &excludes,
        include: None,
        exclude_base: "",
    };
    let mut found = Vec::new();
    if let (Some(root), true) = (req.source.dir(), req.parents) {
        for p in super::parents::plan(req, &locals, "/", &excludes)? {
            let filter = Filter {
                include: p.include.as_ref(),
                exclude_base: &p.exclude_base,
                ..filter
            };
            found.extend(source_records(root, filter, &p.source, keep_owner, cache)?);
        }
    } else if let Some(root) = req.source.dir() {
        for src in &source::resolve_all(&req.source, &locals, req.follow_symlinks)? {
            found.extend(source_records(root, filter, src, keep_owner, cache)?);
        }
    }
    let mut records = mark_hardlinks(found);
    for url in urls {
        records.push(generated(url, EntryKind::File, url_checksum(req, url)?));
    }
    for doc in &req.heredocs {
        let sha = sha256_of(doc.body.as_bytes()).digest().to_string();
        records.push(generated(
            &format!("<<{}", doc.name),
            EntryKind::File,
            Some(sha),
        ));
    }
    Ok(digest_records(&records))
}

/// The content checksum of an ADD URL: `--checksum`, else the sha256 of its body (fetched
/// once more on a cache miss), else none when no fetcher was given.
fn url_checksum(req: &CopyRequest, url: &str) -> Result<Option<String>, CopyError> {
    match (&req.checksum, &req.fetcher) {
        (Some(sum), _) => Ok(Some(sum.clone())),
        (None, Some(fetcher)) => {
            let mut out = rbuild_store::digest::HashingWriter::new(std::io::sink());
            fetcher
                .fetch(url, &mut out)
                .map_err(|source| CopyError::Download {
                    url: url.to_string(),
                    source,
                })?;
            Ok(Some(out.into_parts().1.to_string()))
        }
        (None, None) => Ok(None),
    }
}

/// The records of one resolved source: itself, and for a directory everything below.
fn source_records(
    root: &std::path::Path,
    filter: Filter<'_>,
    src: &Source,
    owner: bool,
    cache: &HashCache,
) -> Result<Vec<(EntryRecord, Inode)>, CopyError> {
    let rel = if src.inner == "/" {
        "."
    } else {
        &src.inner[1..]
    };
    let mut out = vec![(
        cache.record(rel, &src.host, &src.meta, owner)?,
        Inode::of(&src.meta),
    )];
    if src.meta.is_dir() {
        let entries = walk(root, rel, filter.ignore).map_err(|e| walk_error(&src.host, e))?;
        let prefix_len = if rel == "." { 0 } else { rel.len() + 1 };
        let keep = filter.keep(&entries, prefix_len);
        for (e, _) in entries.iter().zip(keep).filter(|(_, k)| *k) {
            out.push((
                cache.record(&e.rel, &e.path, &e.meta, owner)?,
                Inode::of(&e.meta),
            ));
        }
    }
    Ok(out)
}

/// Identity of a file for hardlink detection.
struct Inode {
    dev: u64,
    ino: u64,
    nlink: u64,
}

impl Inode {
    fn of(meta: &std::fs::Metadata) -> Inode {
        Inode {
            dev: meta.dev(),
            ino: meta.ino(),
            nlink: meta.nlink(),
        }
    }
}

/// Fills `link` for entries that share an inode with an earlier entry, and drops the inodes.
fn mark_hardlinks(found: Vec<(EntryRecord, Inode)>) -> Vec<EntryRecord> {
    let mut first: HashMap<(u64, u64), String> = HashMap::new();
    let mut out = Vec::with_capacity(found.len());
    for (mut rec, inode) in found {
        if rec.kind == EntryKind::File && inode.nlink > 1 {
            match first.get(&(inode.dev, inode.ino)) {
                Some(p) => rec.link = Some(p.clone()),
                None => {
                    first.insert((inode.dev, inode.ino), rec.path.clone());
                }
            }
        }
        out.push(rec);
    }
    out
}

/// A record for a source that is not a file in the source root.
fn generated(path: &str, kind: EntryKind, sha256: Option<String>) -> EntryRecord {
    EntryRecord {
        path: path.to_string(),
        kind,
        mode: 0,
        owner: None,
        target: None,
        rdev: None,
        link: None,
        sha256,
    }
}

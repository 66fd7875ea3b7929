//! `RUN --mount`: parsing the (expanded) flags, their part of the step's cache key, and the
//! host side of each mount while the step runs.
//!
//! - `bind` from the context: the source is copied (with the COPY machinery, so
//!   `.dockerignore` and the context's symlink rules hold) into a scratch dir that is bound
//!   and removed after the step; its content digest is part of the cache key.
//! - `bind` from a stage or image: its rootfs, mounted read-only (a read-write bind gets a
//!   scratch copy of the source, so writes are discarded); its cache key is part of ours.
//! - `cache`: a directory under `<store>/cache-mounts/`, kept across builds, never in a layer
//!   nor in the cache key; `sharing=locked` holds a lock for the step, `private` takes a fresh
//!   directory when another step holds it.
//! - `tmpfs`, `secret` (from `--secret`; never in a layer, the key or the history), `ssh`
//!   (refused: rbuild forwards no SSH agent).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{json, Value};

use super::super::error::BuildError;
use super::super::meta::join_workdir;
use super::super::stage::StageState;
use super::super::Ctx;
use super::fsop::{from_view, View};
use crate::context::ignore::clean_path;
use crate::copy::{copy_into, source_digest, CopyKind, CopyRequest, SourceRoot};
use crate::dockerfile::{parse_mount, MountSpec, MountType, RunInstr, Sharing};
use crate::run::StepMount;

/// The parsed mounts of `r`; errors name the Dockerfile line.
pub(crate) fn parse(ctx: &Ctx<'_>, r: &RunInstr) -> Result<Vec<MountSpec>, BuildError> {
    r.mounts
        .iter()
        .map(|m| {
            parse_mount(&m.raw).map_err(|e| mount_error(ctx, r, format!("--mount={}: {e}", m.raw)))
        })
        .collect()
}

fn mount_error(ctx: &Ctx<'_>, r: &RunInstr, message: String) -> BuildError {
    BuildError::Step {
        location: ctx.location(r.span.start_line),
        step: "RUN".to_string(),
        message,
    }
}

/// The mounts' part of the cache key: their description (no secret values) and the digests
/// of what bind mounts show (context content, the source stage's key).
pub(crate) fn key_parts(
    ctx: &Ctx<'_>,
    r: &RunInstr,
    specs: &[MountSpec],
) -> Result<(Value, Vec<String>), BuildError> {
    let mut inputs = Vec::new();
    let mut desc = Vec::new();
    for m in specs {
        desc.push(json!({
            "type": format!("{:?}", m.kind), "from": m.from, "source": m.source,
            "target": m.target, "ro": m.read_only, "id": m.id, "sharing": format!("{:?}", m.sharing),
            "size": m.size, "mode": m.mode, "uid": m.uid, "gid": m.gid, "env": m.env,
            "required": m.required,
        }));
        if m.kind != MountType::Bind {
            continue;
        }
        let input = match &m.from {
            Some(from) => {
                let out = super::from_source(ctx, from, r.span.start_line)?;
                format!("stage:{}", out.cache_key)
            }
            None => {
                let req = context_request(ctx, m);
                let digest = source_digest(&req, &ctx.hashes).map_err(|e| {
                    mount_error(ctx, r, format!("--mount source {}: {e}", source_of(m)))
                })?;
                digest.to_string()
            }
        };
        inputs.push(input);
    }
    Ok((Value::Array(desc), inputs))
}

fn source_of(m: &MountSpec) -> String {
    m.source.clone().unwrap_or_else(|| "/".to_string())
}

/// Where a bind's source is copied inside its scratch dir (and bound from).
const COPIED: &str = "/m";

/// A COPY of the mount's context source to [`COPIED`] (for its digest, or to make the copy).
fn context_request(ctx: &Ctx<'_>, m: &MountSpec) -> CopyRequest {
    let source = match &ctx.context {
        Some(dir) => SourceRoot::Context {
            dir: dir.clone(),
            ignore: Arc::clone(&ctx.ignore),
        },
        None => SourceRoot::None,
    };
    let mut req = CopyRequest::new(CopyKind::Copy, source, vec![source_of(m)], COPIED);
    req.created_time = ctx.opts.source_date_epoch;
    req
}

/// What the mounts need while the step runs; dropping it releases everything.
#[derive(Default)]
pub(crate) struct Prepared {
    /// The runner's mounts.
    pub mounts: Vec<StepMount>,
    /// `NAME=value` of `env=` secrets.
    pub env: Vec<String>,
    views: Vec<View>,
    scratch: Vec<Scratch>,
    locks: Vec<File>,
    to_lock: Vec<PathBuf>,
}

/// A directory removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Prepares the host side of every mount of the RUN `r`.
pub(crate) fn prepare(
    ctx: &Ctx<'_>,
    st: &StageState,
    r: &RunInstr,
    specs: &[MountSpec],
) -> Result<Prepared, BuildError> {
    let mut p = Prepared::default();
    let workdir = &st.out.config.config.working_dir;
    for m in specs {
        let fail = |message: String| mount_error(ctx, r, message);
        let target = target_of(m, workdir).map_err(fail)?;
        match (m.kind, target) {
            (MountType::Bind, Some(t)) => bind(ctx, r, m, t, &mut p)?,
            (MountType::Cache, Some(t)) => cache(ctx, m, t, &mut p).map_err(fail)?,
            (MountType::Tmpfs, Some(t)) => p.mounts.push(StepMount::Tmpfs {
                target: t,
                size: m.size,
            }),
            (_, target) => secret(ctx, m, target, &mut p).map_err(fail)?,
        }
    }
    let locked = lock_in_order(std::mem::take(&mut p.to_lock))
        .map_err(|e| mount_error(ctx, r, format!("cache mount lock: {e}")))?;
    p.locks.extend(locked);
    Ok(p)
}

/// The absolute target of `m` (relative ones are under WORKDIR, as in BuildKit); `None` only
/// for an `env=` secret without a target.
fn target_of(m: &MountSpec, workdir: &str) -> Result<Option<String>, String> {
    let target = match (m.kind, &m.target) {
        (MountType::Ssh, _) => {
            return Err(
                "--mount=type=ssh is not supported: rbuild does not forward an SSH agent".into(),
            )
        }
        (MountType::Secret, _) => m.secret_target(),
        (_, Some(t)) => Some(t.clone()),
        (kind, None) => {
            let kind = format!("{kind:?}").to_lowercase();
            return Err(format!("--mount=type={kind}: target is required"));
        }
    };
    let target = target.map(|t| join_workdir(workdir, &t));
    match target.as_deref() {
        Some("/") => Err("invalid mount target \"/\"".to_string()),
        _ => Ok(target),
    }
}

fn bind(
    ctx: &Ctx<'_>,
    r: &RunInstr,
    m: &MountSpec,
    target: String,
    p: &mut Prepared,
) -> Result<(), BuildError> {
    let line = r.span.start_line;
    let view = m
        .from
        .as_ref()
        .map(|f| from_view(ctx, f, line))
        .transpose()?;
    if let (Some(v), true) = (&view, m.read_only) {
        p.mounts.push(StepMount::Bind {
            root: v.path().to_path_buf(),
            source: source_of(m),
            target,
            read_only: true,
        });
        p.views.extend(view);
        return Ok(());
    }
    let dir = super::scratch_dir(ctx, &format!("mount-{:016x}", super::rand_u64()))?;
    p.scratch.push(Scratch(dir.clone()));
    let mut req = context_request(ctx, m);
    if let Some(view) = &view {
        req.source = SourceRoot::Rootfs(view.path().to_path_buf());
    }
    copy_into(&dir, &req).map_err(|source| BuildError::Copy {
        location: ctx.location(line),
        step: format!("RUN --mount source {}", source_of(m)),
        source,
    })?;
    p.mounts.push(StepMount::Bind {
        root: dir,
        source: COPIED.to_string(),
        target,
        read_only: m.read_only,
    });
    Ok(())
}

/// The cache mount's directory (created with its mode and owner on first use), locked as
/// its sharing mode asks.
fn cache(ctx: &Ctx<'_>, m: &MountSpec, target: String, p: &mut Prepared) -> Result<(), String> {
    if m.from.is_some() {
        return Err("--mount=type=cache,from=… is not supported yet".to_string());
    }
    // BuildKit's default id is the target as written, cleaned (not joined with WORKDIR).
    let id =
        m.id.clone()
            .unwrap_or_else(|| clean_path(m.target.as_deref().unwrap_or("")));
    let dir = super::super::sweep::cache_mount_dir(ctx.store.root(), &id);
    ensure_cache_dir(&dir, m).map_err(|e| format!("cache mount {id}: {}: {e}", dir.display()))?;
    let root = match m.sharing {
        Sharing::Shared => dir,
        Sharing::Locked => {
            p.to_lock.push(dir.clone()); // taken in path order once all mounts are known
            dir
        }
        Sharing::Private if p.to_lock.contains(&dir) => dir, // this step holds it anyway
        Sharing::Private => match lock_file(&dir).and_then(|l| flock(&l, true).map(|()| l)) {
            Ok(lock) => {
                p.locks.push(lock);
                dir
            }
            Err(_) => {
                let tmp = super::scratch_dir(ctx, &format!("cache-{:016x}", super::rand_u64()))
                    .map_err(|e| e.to_string())?;
                p.scratch.push(Scratch(tmp.clone()));
                ensure_cache_dir(&tmp.join("c"), m).map_err(|e| e.to_string())?;
                tmp.join("c")
            }
        },
    };
    p.mounts.push(StepMount::Bind {
        root,
        source: source_of(m),
        target,
        read_only: m.read_only,
    });
    Ok(())
}

/// Creates `dir` (mode and owner from the mount, default 0755 root) unless it exists.
fn ensure_cache_dir(dir: &Path, m: &MountSpec) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if dir.is_dir() {
        return Ok(());
    }
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let tmp = parent.join(format!(".new-{:016x}", super::rand_u64()));
    std::fs::create_dir(&tmp)?;
    std::os::unix::fs::chown(&tmp, Some(m.uid.unwrap_or(0)), Some(m.gid.unwrap_or(0)))?;
    std::fs::set_permissions(
        &tmp,
        std::fs::Permissions::from_mode(m.mode.unwrap_or(0o755)),
    )?;
    match std::fs::rename(&tmp, dir) {
        Err(_) if dir.is_dir() => std::fs::remove_dir(&tmp), // another build made it first
        other => other,
    }
}

/// The lock file of the cache dir `dir`.
fn lock_file(dir: &Path) -> std::io::Result<File> {
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.with_extension("lock"))
}

/// Locks the cache dirs `dirs` (`sharing=locked`) in path order, each once, so that steps
/// locking the same caches never wait for each other in a circle, and a step naming one cache
/// twice does not wait for itself.
fn lock_in_order(mut dirs: Vec<PathBuf>) -> std::io::Result<Vec<File>> {
    dirs.sort();
    dirs.dedup();
    dirs.iter()
        .map(|d| {
            let lock = lock_file(d)?;
            flock(&lock, false)?;
            Ok(lock)
        })
        .collect()
}

fn flock(file: &File, nonblocking: bool) -> std::io::Result<()> {
    let op = libc::LOCK_EX | if nonblocking { libc::LOCK_NB } else { 0 };
    // SAFETY: a plain flock on an open file descriptor.
    match unsafe { libc::flock(file.as_raw_fd(), op) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// A `--secret` as a read-only file on `target` and/or an environment variable.
fn secret(
    ctx: &Ctx<'_>,
    m: &MountSpec,
    target: Option<String>,
    p: &mut Prepared,
) -> Result<(), String> {
    let id = m.secret_id().unwrap_or_default();
    let Some(value) = ctx.opts.secrets.get(&id) else {
        return match m.required {
            true => Err(format!(
                "secret {id} is required but was not given (--secret id={id},src=FILE)"
            )),
            false => Ok(()),
        };
    };
    if let Some(name) = &m.env {
        let text = String::from_utf8(value.bytes().to_vec())
            .map_err(|_| format!("secret {id} is not UTF-8 text: it cannot be env={name}"))?;
        p.env.push(format!("{name}={text}"));
    }
    if let Some(target) = target {
        p.mounts.push(StepMount::Secret {
            target,
            data: value.bytes().to_vec(),
            mode: m.mode.unwrap_or(0o400),
            uid: m.uid.unwrap_or(0),
            gid: m.gid.unwrap_or(0),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{clean_path, flock, lock_file, lock_in_order};

    #[test]
    fn a_step_locks_each_cache_once_in_path_order() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        // The same cache twice (a second flock of it would wait for ever), given out of order.
        let held = lock_in_order(vec![b.clone(), a.clone(), b.clone()]).unwrap();
        assert_eq!(held.len(), 2);
        let other = lock_file(&a).unwrap();
        assert!(flock(&other, true).is_err(), "a is held");
        drop(held);
        assert!(flock(&other, true).is_ok(), "released with the step");
    }

    #[test]
    fn cache_ids_are_cleaned_like_go_paths() {
        let table = [
            ("/root/.cache/", "/root/.cache"),
            ("node_modules", "node_modules"),
            ("./a//b/../c", "a/c"),
            ("../x", "../x"),
            ("/../x", "/x"),
            ("", "."),
        ];
        for (input, want) in table {
            assert_eq!(clean_path(input), want, "{input}");
        }
    }
}

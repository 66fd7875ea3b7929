//! Steps that change files (RUN, COPY, ADD, WORKDIR): cache lookup, then a snapshot, the
//! step itself, and the diff of its upper dir as the step's layer.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use rbuild_store::layer::Layer;
use serde_json::{json, Value};

use super::cache::{CacheEntry, CacheKey, CachedLayer};
use super::error::BuildError;
use super::layers::{chain_ids, commit_step, ensure_extracted};
use super::meta::{argv, default_shell};
use super::progress::Event;
use super::stage::{history, StageState};
use super::Ctx;
use crate::copy::{CopyKind, CopyRequest, SourceRoot};
use crate::dockerfile::expand::StageEnv;
use crate::dockerfile::{CommandLine, CopySource, Instruction};
use crate::plan::SourceRef;

mod fsop;
mod mounts;
mod run;

/// True for instructions that may change files.
pub fn is_fs_step(instr: &Instruction) -> bool {
    matches!(
        instr,
        Instruction::Run(_) | Instruction::Copy(_) | Instruction::Add(_) | Instruction::Workdir(_)
    )
}

/// What a step needs done on a miss.
enum Work {
    Run(Vec<crate::dockerfile::MountSpec>),
    Copy(Box<CopyRequest>),
    Mkdir(String),
}

/// Runs one filesystem step (with the cache in front).
pub(crate) fn run_fs_step(
    ctx: &Ctx<'_>,
    st: &mut StageState,
    instr: &Instruction,
) -> Result<(), BuildError> {
    let id = ctx.step_id();
    let started = Instant::now();
    let text = created_by(instr, &st.out.config, &st.env);
    ctx.progress.event(Event::Start {
        id,
        position: format!("{} {}/{}", st.name, st.position.0, st.position.1),
        text: display_text(instr, &text),
    });
    let failed = |e: BuildError| {
        ctx.progress.event(Event::Failed {
            id,
            elapsed: started.elapsed(),
        });
        e
    };
    let (work, op, inputs, _view) = describe(ctx, st, instr).map_err(failed)?;
    let key = CacheKey::new(&st.out.cache_key, &op, &inputs);
    let cached = (!ctx.opts.no_cache)
        .then(|| ctx.cache.get(ctx.store, &key))
        .flatten();
    let result = match cached {
        Some(entry) => {
            ctx.progress.event(Event::Cached { id });
            cached_result(entry)
        }
        None => execute(ctx, st, instr, work, id).and_then(|layer| {
            let entry = CacheEntry {
                layer: layer.as_ref().map(from_layer),
                created: Some(super::image::timestamp(None)),
            };
            ctx.cache.put(&key, &entry)?;
            Ok((layer, entry.created))
        }),
    };
    let (layer, created) = result.map_err(failed)?;
    finish(ctx, st, key, layer, text, created);
    ctx.progress.event(Event::Done {
        id,
        elapsed: started.elapsed(),
    });
    Ok(())
}

/// A cache hit's layer and the time the step originally ran (so a rebuild gives the same image).
fn cached_result(entry: CacheEntry) -> Result<(Option<Layer>, Option<String>), BuildError> {
    let layer = entry.layer.as_ref().map(to_layer).transpose()?;
    Ok((layer, entry.created))
}

fn finish(
    ctx: &Ctx<'_>,
    st: &mut StageState,
    key: CacheKey,
    layer: Option<Layer>,
    text: String,
    created: Option<String>,
) {
    st.out.cache_key = key.as_str();
    let empty = layer.is_none();
    if let Some(l) = layer {
        st.out.config.rootfs.diff_ids.push(l.diff_id.to_string());
        st.out.layers.push(l);
    }
    if created.is_some() {
        st.last_created = created;
    }
    let entry = history(ctx, text, empty, st.last_created.clone());
    st.out.config.history.push(entry);
}

fn execute(
    ctx: &Ctx<'_>,
    st: &StageState,
    instr: &Instruction,
    work: Work,
    id: usize,
) -> Result<Option<Layer>, BuildError> {
    let parent = ensure_extracted(ctx.store, &ctx.snaps, &st.out.layers)?;
    let key = format!("step-{}-{:016x}", std::process::id(), rand_u64());
    ctx.snaps.prepare(&key, parent.as_deref())?;
    let outcome = match work {
        Work::Run(mounts) => run::run(ctx, st, instr, &key, id, &mounts),
        Work::Copy(req) => fsop::copy(ctx, st, &key, &req, instr),
        Work::Mkdir(path) => fsop::mkdir(ctx, &key, &path),
    };
    if let Err(e) = outcome {
        let _ = ctx.snaps.remove(&key);
        return Err(e);
    }
    let top = chain_ids(&st.out.layers).pop();
    commit_step(
        ctx.store,
        &ctx.snaps,
        &key,
        top.as_ref(),
        ctx.opts.source_date_epoch,
    )
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// What to do on a miss, the op JSON, the input digests, and a `--from` view kept mounted.
type Described = (Work, Value, Vec<String>, Option<fsop::View>);

/// The step's cache description: what to do, the op JSON and the input digests.
fn describe(ctx: &Ctx<'_>, st: &StageState, instr: &Instruction) -> Result<Described, BuildError> {
    let rc = &st.out.config.config;
    let epoch = ctx.opts.source_date_epoch;
    match instr {
        Instruction::Run(r) => {
            let shell = rc.shell.clone().unwrap_or_else(default_shell);
            let specs = mounts::parse(ctx, r)?;
            let (mounts, inputs) = mounts::key_parts(ctx, r, &specs)?;
            let mut op = json!({
                "RUN": argv(&r.command, &shell),
                "heredocs": r.heredocs.iter().map(|h| (&h.name, h.content())).collect::<Vec<_>>(),
                "env": st.env.run_env(), "user": rc.user, "workdir": rc.working_dir,
                "network": format!("{:?}", ctx.opts.network), "epoch": epoch,
            });
            if !specs.is_empty() {
                op["mounts"] = mounts; // absent without mounts: earlier cache keys stay valid
            }
            Ok((Work::Run(specs), op, inputs, None))
        }
        Instruction::Copy(_) | Instruction::Add(_) => {
            let (req, view) = copy_request(ctx, st, instr)?;
            let digest = crate::copy::source_digest(&req, &ctx.hashes).map_err(|source| {
                BuildError::Copy {
                    location: ctx.location(instr.span().start_line),
                    step: instr.keyword().to_string(),
                    source,
                }
            })?;
            let mut op = json!({
                "COPY": format!("{:?}", req.kind), "dest": req.dest, "workdir": req.workdir,
                "chown": req.chown, "chmod": req.chmod, "epoch": epoch, "sources": req.sources,
            });
            if !req.excludes.is_empty() {
                op["excludes"] = json!(req.excludes); // absent otherwise: older keys stay valid
            }
            if req.parents {
                op["parents"] = json!(true);
            }
            if let Some(unpack) = req.unpack {
                op["unpack"] = json!(unpack);
            }
            Ok((
                Work::Copy(Box::new(req)),
                op,
                vec![digest.to_string()],
                view,
            ))
        }
        Instruction::Workdir(w) => {
            let path = super::meta::join_workdir(&rc.working_dir, &w.path);
            let op = json!({ "WORKDIR": path, "epoch": epoch });
            Ok((Work::Mkdir(path), op, Vec::new(), None))
        }
        _ => unreachable!("describe is only called for filesystem steps"),
    }
}

fn copy_request(
    ctx: &Ctx<'_>,
    st: &StageState,
    instr: &Instruction,
) -> Result<(CopyRequest, Option<fsop::View>), BuildError> {
    let (kind, sources, dest, from, chown, chmod, checksum, excludes) = match instr {
        Instruction::Copy(c) => (
            CopyKind::Copy,
            &c.sources,
            &c.dest,
            c.from.clone(),
            &c.chown,
            &c.chmod,
            None,
            &c.excludes,
        ),
        Instruction::Add(a) => (
            CopyKind::Add,
            &a.sources,
            &a.dest,
            None,
            &a.chown,
            &a.chmod,
            a.checksum.clone(),
            &a.excludes,
        ),
        _ => unreachable!("copy_request is only called for COPY and ADD"),
    };
    let view = from
        .map(|f| fsop::from_view(ctx, &f, instr.span().start_line))
        .transpose()?;
    let source = match &view {
        Some(v) => SourceRoot::Rootfs(v.path().to_path_buf()),
        None => match &ctx.context {
            Some(dir) => SourceRoot::Context {
                dir: dir.clone(),
                ignore: Arc::clone(&ctx.ignore),
            },
            None => SourceRoot::None,
        },
    };
    let paths = sources.iter().filter_map(|s| match s {
        CopySource::Path(p) => Some(p.clone()),
        CopySource::Heredoc(_) => None,
    });
    let mut req = CopyRequest::new(kind, source, paths.collect(), dest);
    req.heredocs = sources
        .iter()
        .filter_map(|s| match s {
            CopySource::Heredoc(h) => Some(crate::copy::Heredoc {
                name: h.name.clone(),
                body: h.content().into_owned(),
            }),
            CopySource::Path(_) => None,
        })
        .collect();
    req.workdir = st.out.config.config.working_dir.clone();
    req.chown = chown.clone();
    req.chmod = chmod.clone();
    req.checksum = checksum;
    req.excludes.clone_from(excludes);
    req.parents = matches!(instr, Instruction::Copy(c) if c.parents);
    if let Instruction::Add(a) = instr {
        req.unpack = a.unpack;
    }
    req.created_time = ctx.opts.source_date_epoch;
    req.fetcher = ctx.opts.fetcher.as_ref().map(|f| Arc::clone(&f.0));
    Ok((req, view))
}

/// Resolves `--from` to a source: a stage's result or an image.
pub(crate) fn from_source(
    ctx: &Ctx<'_>,
    from: &str,
    line: usize,
) -> Result<super::StageOut, BuildError> {
    match ctx.plan.resolve_copy_from(from) {
        SourceRef::Stage(i) => Ok(ctx.stage_result(i).expect("dependency stage ran first")),
        SourceRef::Image(r) => super::stage::image_base(ctx, &r, line),
    }
}

fn to_layer(l: &CachedLayer) -> Result<Layer, BuildError> {
    let parse =
        |s: &str| rbuild_store::digest::parse_digest(s).map_err(rbuild_store::StoreError::from);
    let media = rbuild_store::MediaType::from(l.media_type.as_str());
    Ok(Layer {
        blob: rbuild_store::Descriptor::new(media, l.size, parse(&l.digest)?),
        diff_id: parse(&l.diff_id)?,
    })
}

fn from_layer(l: &Layer) -> CachedLayer {
    CachedLayer {
        digest: l.blob.digest().to_string(),
        diff_id: l.diff_id.to_string(),
        size: l.blob.size(),
        media_type: l.blob.media_type().to_string(),
    }
}

/// The progress line for a step (the instruction as written, expanded).
fn display_text(instr: &Instruction, created_by: &str) -> String {
    match instr {
        Instruction::Run(r) => {
            let flags: String = r
                .mounts
                .iter()
                .map(|m| format!("--mount={} ", m.raw))
                .collect();
            match &r.command {
                CommandLine::Shell(s) => format!("RUN {flags}{s}"),
                CommandLine::Exec(v) => {
                    format!(
                        "RUN {flags}{}",
                        serde_json::to_string(v).unwrap_or_default()
                    )
                }
            }
        }
        Instruction::Copy(c) => {
            let flags = [("from", &c.from), ("chown", &c.chown), ("chmod", &c.chmod)];
            let parents = if c.parents { "--parents " } else { "" };
            format!(
                "COPY {parents}{}{}{} {}",
                flag_words(&flags),
                exclude_words(&c.excludes),
                source_words(&c.sources),
                c.dest
            )
        }
        Instruction::Add(a) => {
            let flags = [
                ("chown", &a.chown),
                ("chmod", &a.chmod),
                ("checksum", &a.checksum),
            ];
            format!(
                "ADD {}{}{} {}",
                flag_words(&flags),
                exclude_words(&a.excludes),
                source_words(&a.sources),
                a.dest
            )
        }
        _ => created_by.trim_end_matches(" # buildkit").to_string(),
    }
}

/// `--name=value ` for each flag that was given, as BuildKit shows them.
fn flag_words(flags: &[(&str, &Option<String>)]) -> String {
    flags
        .iter()
        .filter_map(|(name, value)| value.as_ref().map(|v| format!("--{name}={v} ")))
        .collect()
}

/// `--exclude=pattern ` for each pattern.
fn exclude_words(patterns: &[String]) -> String {
    patterns.iter().map(|p| format!("--exclude={p} ")).collect()
}

/// docker/BuildKit-style `created_by` text for history.
pub(crate) fn created_by(
    instr: &Instruction,
    cfg: &super::config::ImageConfig,
    env: &StageEnv,
) -> String {
    let shell = cfg.config.shell.clone().unwrap_or_else(default_shell);
    let words = |v: &[String]| v.join(" ");
    match instr {
        Instruction::Run(r) => {
            let args = env.arg_history();
            let prefix = if args.is_empty() {
                String::new()
            } else {
                format!("|{} {} ", args.len(), args.join(" "))
            };
            format!(
                "RUN {prefix}{} # buildkit",
                words(&argv(&r.command, &shell))
            )
        }
        Instruction::Copy(c) => format!("COPY {} {} # buildkit", source_words(&c.sources), c.dest),
        Instruction::Add(a) => format!("ADD {} {} # buildkit", source_words(&a.sources), a.dest),
        Instruction::Workdir(w) => format!("WORKDIR {}", w.path),
        Instruction::Env(e) => format!("ENV {}", pairs(&e.pairs)),
        Instruction::Label(l) => format!("LABEL {}", pairs(&l.pairs)),
        Instruction::Arg(a) => format!(
            "ARG {}",
            a.args
                .iter()
                .map(|d| d.name.clone())
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Instruction::Expose(e) => format!("EXPOSE {}", e.ports.join(" ")),
        Instruction::Cmd(c) => format!(
            "CMD {}",
            serde_json::to_string(&argv(&c.command, &shell)).unwrap_or_default()
        ),
        Instruction::Entrypoint(e) => format!(
            "ENTRYPOINT {}",
            serde_json::to_string(&argv(&e.command, &shell)).unwrap_or_default()
        ),
        Instruction::Volume(v) => format!(
            "VOLUME {}",
            serde_json::to_string(&v.paths).unwrap_or_default()
        ),
        Instruction::User(u) => format!("USER {}", u.user),
        Instruction::StopSignal(s) => format!("STOPSIGNAL {}", s.signal),
        Instruction::Healthcheck(_) => "HEALTHCHECK".to_string(),
        Instruction::Shell(s) => format!(
            "SHELL {}",
            serde_json::to_string(&s.shell).unwrap_or_default()
        ),
        Instruction::Onbuild(o) => format!("ONBUILD {}", o.expression),
        Instruction::Maintainer(m) => format!("MAINTAINER {}", m.name),
        Instruction::From(f) => format!("FROM {}", f.image),
    }
}

fn source_words(sources: &[CopySource]) -> String {
    let words: Vec<String> = sources
        .iter()
        .map(|s| match s {
            CopySource::Path(p) => p.clone(),
            CopySource::Heredoc(h) => format!("<<{}", h.name),
        })
        .collect();
    words.join(" ")
}

fn pairs(p: &[crate::dockerfile::KeyValue]) -> String {
    let v: Vec<String> = p
        .iter()
        .map(|kv| format!("{}={}", kv.key, kv.value))
        .collect();
    v.join(" ")
}

/// A scratch mount point under the snapshot area.
pub(crate) fn scratch_dir(ctx: &Ctx<'_>, name: &str) -> Result<PathBuf, BuildError> {
    let dir = ctx.snaps.root().join("tmp").join(name);
    std::fs::create_dir_all(&dir).map_err(|source| BuildError::Io {
        op: "create",
        path: dir.clone(),
        source,
    })?;
    Ok(dir)
}

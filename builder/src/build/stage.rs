//! Running one stage: resolve its base, then dispatch each instruction.

use std::time::Instant;

use rbuild_store::layer::Layer;
use rbuild_store::Descriptor;

use super::config::{History, ImageConfig};
use super::error::BuildError;
use super::meta::{self, MetaState};
use super::progress::Event;
use super::{steps, Ctx};
use crate::dockerfile::expand::{expand_instruction, ExpandError, StageEnv};
use crate::dockerfile::{parse_dockerfile, Instruction};
use crate::plan::{BaseRef, Stage};

/// What a finished stage leaves for later stages and the final image.
#[derive(Debug, Clone)]
pub struct StageOut {
    /// The stage's image config.
    pub config: ImageConfig,
    /// Its layers, bottom first.
    pub layers: Vec<Layer>,
    /// The cache key of its last step (the parent key of stages built on it).
    pub cache_key: String,
}

/// The mutable state of a stage while it runs.
pub(crate) struct StageState {
    pub out: StageOut,
    pub env: StageEnv,
    pub meta: MetaState,
    pub position: (usize, usize),
    pub name: String,
    /// When the stage's latest step ran (the base's `created` before any): metadata steps
    /// and the image take it, so a fully cached rebuild gives the same image.
    pub last_created: Option<String>,
}

/// Runs stage `index` of the plan.
pub(crate) fn run(ctx: &Ctx<'_>, index: usize) -> Result<StageOut, BuildError> {
    let stage = ctx.plan.stage(index).expect("planned stage exists").clone();
    let shown = 1 + stage
        .instructions
        .iter()
        .filter(|i| steps::is_fs_step(i))
        .count();
    let mut st = base_state(ctx, &stage, shown)?;
    let triggers = st.out.config.config.on_build.take().unwrap_or_default();
    for instr in onbuild_instructions(ctx, &stage, &triggers)? {
        dispatch(ctx, &mut st, &instr)?;
    }
    for instr in &stage.instructions {
        dispatch(ctx, &mut st, instr)?;
    }
    st.out.config.created = st.last_created.take();
    Ok(st.out)
}

fn dispatch(ctx: &Ctx<'_>, st: &mut StageState, instr: &Instruction) -> Result<(), BuildError> {
    let expanded = expand_instruction(instr, &st.env)?;
    st.env
        .apply(&expanded)
        .map_err(|e| ExpandError::word(&expanded, e))?;
    if steps::is_fs_step(&expanded) {
        st.position.0 += 1;
        steps::run_fs_step(ctx, st, &expanded)?;
    }
    let image_env = st.env.image_env();
    let metadata_only = meta::apply(&mut st.out.config, &mut st.meta, &expanded, &image_env);
    if metadata_only {
        let text = steps::created_by(&expanded, &st.out.config, &st.env);
        let op = serde_json::json!({ "meta": text });
        st.out.cache_key = super::cache::CacheKey::new(&st.out.cache_key, &op, &[]).as_str();
        let entry = history(ctx, text, true, st.last_created.clone());
        st.out.config.history.push(entry);
    }
    Ok(())
}

/// A history entry stamped `created` (SOURCE_DATE_EPOCH, when given, wins).
pub(crate) fn history(
    ctx: &Ctx<'_>,
    created_by: String,
    empty_layer: bool,
    created: Option<String>,
) -> History {
    let epoch = ctx.opts.source_date_epoch;
    History {
        created: epoch.map(|e| super::image::timestamp(Some(e))).or(created),
        created_by,
        comment: "buildkit.dockerfile.v0".to_string(),
        empty_layer,
        ..History::default()
    }
}

fn base_state(ctx: &Ctx<'_>, stage: &Stage, shown: usize) -> Result<StageState, BuildError> {
    let id = ctx.step_id();
    let started = Instant::now();
    let name = stage.display_name();
    let text = format!("FROM {}", base_text(&stage.base, ctx));
    ctx.progress.event(Event::Start {
        id,
        position: format!("{name} 1/{shown}"),
        text,
    });
    let mut out = match &stage.base {
        BaseRef::Scratch => scratch(),
        BaseRef::Stage(i) => ctx.stage_result(*i).expect("dependency stage ran first"),
        BaseRef::Image(r) => image_base(ctx, r, stage.from.span.start_line)?,
    };
    ctx.progress.event(Event::Done {
        id,
        elapsed: started.elapsed(),
    });
    let mut env = ctx.global.stage();
    env.seed_base_env(&out.config.config.env);
    // Like BuildKit, every stage's config gets the default PATH when its base sets none,
    // not only stages whose ENV steps rewrite the list (buildah does the same).
    out.config.config.env = env.image_env();
    Ok(StageState {
        last_created: out.config.created.clone(),
        out,
        env,
        meta: MetaState::default(),
        position: (1, shown),
        name,
    })
}

fn base_text(base: &BaseRef, ctx: &Ctx<'_>) -> String {
    match base {
        BaseRef::Scratch => "scratch".to_string(),
        BaseRef::Stage(i) => ctx
            .plan
            .stage(*i)
            .map(|s| s.display_name())
            .unwrap_or_default(),
        BaseRef::Image(r) => r.clone(),
    }
}

fn scratch() -> StageOut {
    let platform = crate::dockerfile::expand::Platform::host();
    StageOut {
        config: ImageConfig {
            architecture: platform.architecture.clone(),
            os: platform.os.clone(),
            ..ImageConfig::default()
        },
        layers: Vec::new(),
        cache_key: "scratch".to_string(),
    }
}

/// Reads a base image's config and layers from the store (asking the resolver first).
pub(crate) fn image_base(
    ctx: &Ctx<'_>,
    reference: &str,
    line: usize,
) -> Result<StageOut, BuildError> {
    let base_err = |message: String| BuildError::Base {
        location: ctx.location(line),
        reference: reference.to_string(),
        message,
    };
    let desc: Descriptor = ctx
        .resolver
        .resolve(ctx.store, reference)
        .map_err(base_err)?;
    let image = ctx.store.image(&desc)?;
    let raw = ctx.store.read_bytes(image.manifest.config().digest())?;
    let config: ImageConfig =
        serde_json::from_slice(&raw).map_err(|e| base_err(format!("bad image config: {e}")))?;
    let layers = image
        .manifest
        .layers()
        .iter()
        .zip(&config.rootfs.diff_ids)
        .map(|(blob, diff)| {
            let diff_id =
                rbuild_store::digest::parse_digest(diff).map_err(|e| base_err(e.to_string()))?;
            Ok(Layer {
                blob: blob.clone(),
                diff_id,
            })
        })
        .collect::<Result<Vec<_>, BuildError>>()?;
    Ok(StageOut {
        config,
        layers,
        cache_key: desc.digest().to_string(),
    })
}

/// The base image's ONBUILD triggers, parsed as instructions.
fn onbuild_instructions(
    ctx: &Ctx<'_>,
    stage: &Stage,
    triggers: &[String],
) -> Result<Vec<Instruction>, BuildError> {
    if triggers.is_empty() {
        return Ok(Vec::new());
    }
    let text = format!("FROM scratch\n{}\n", triggers.join("\n"));
    let df = parse_dockerfile(
        &text,
        Some(&format!("{} (ONBUILD of {})", ctx.file, stage.from.image)),
    )?;
    Ok(df.stages.into_iter().flat_map(|s| s.instructions).collect())
}

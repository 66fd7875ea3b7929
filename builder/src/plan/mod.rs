//! Build planning (pass 3): stages and a target to an immutable [`BuildPlan`].
//!
//! The plan resolves each stage's base (`scratch`, an earlier stage, or an image), the stage
//! dependencies from `FROM <stage>`, `COPY --from=<stage|index>` and `RUN --mount=from=<stage>`,
//! keeps only the stages the target needs, and orders them: a sequential order plus
//! "levels" of stages that can be built in parallel. It holds no execution state.
//!
//! Name resolution follows BuildKit: stage names are case-insensitive; FROM only sees
//! stages defined *before* it (so `FROM node AS node` uses the image `node`); `--from` may
//! name any stage but a later one is an error; `--from` that names no stage is an image.

pub mod dump;
pub mod error;
mod graph;

#[cfg(test)]
mod golden;

use std::sync::Arc;

use crate::dockerfile::{ArgInstr, Dockerfile, FromInstr, Instruction, Span};

pub use error::{PlanError, PlanErrorKind};

/// What a stage starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseRef {
    /// `FROM scratch`: an empty filesystem.
    Scratch,
    /// An earlier stage, by index.
    Stage(usize),
    /// An image reference, after ARG expansion, not yet parsed or resolved.
    Image(String),
}

/// Why one stage needs another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepKind {
    /// `FROM <stage>`.
    Base,
    /// `COPY --from=<stage>`.
    CopyFrom,
    /// `RUN --mount=from=<stage>`.
    MountFrom,
}

/// An edge of the stage graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dependency {
    /// The stage depended on.
    pub stage: usize,
    /// Which instruction creates the dependency.
    pub kind: DepKind,
    /// That instruction's lines.
    pub span: Span,
}

/// Where a `COPY --from` or `--mount from=` value points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceRef {
    /// A stage of this Dockerfile.
    Stage(usize),
    /// An image reference (raw).
    Image(String),
}

/// One stage of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// Position in the Dockerfile (0-based): the number `COPY --from=N` uses.
    pub index: usize,
    /// The `AS` name, lowercased.
    pub name: Option<String>,
    /// The resolved base.
    pub base: BaseRef,
    /// `--platform` after ARG expansion.
    pub platform: Option<String>,
    /// The FROM instruction as written.
    pub from: FromInstr,
    /// The instructions after FROM.
    pub instructions: Vec<Instruction>,
    /// From the FROM line to the last instruction.
    pub span: Span,
    /// The stages this one needs, in instruction order (may repeat a stage).
    pub deps: Vec<Dependency>,
}

impl Stage {
    /// The name BuildKit shows: the `AS` name or `stage-N`.
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("stage-{}", self.index))
    }
}

/// The immutable result of planning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildPlan {
    file: Option<Arc<str>>,
    escape: char,
    meta_args: Vec<ArgInstr>,
    stages: Vec<Stage>,
    target: usize,
    order: Vec<usize>,
    levels: Vec<Vec<usize>>,
}

impl BuildPlan {
    /// Every stage of the Dockerfile, needed or not, indexed by position.
    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }

    /// The stage at `index`.
    pub fn stage(&self, index: usize) -> Option<&Stage> {
        self.stages.get(index)
    }

    /// The stage named `name` (case-insensitive; the last one if names repeat).
    pub fn stage_by_name(&self, name: &str) -> Option<&Stage> {
        graph::find_name(&self.stages, name).map(|i| &self.stages[i])
    }

    /// The stage whose result is the build's result.
    pub fn target(&self) -> &Stage {
        &self.stages[self.target]
    }

    /// The needed stages in an order that builds dependencies first.
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// The needed stages grouped into levels: every stage's dependencies are in earlier
    /// levels, so the stages of one level can be built in parallel.
    pub fn levels(&self) -> &[Vec<usize>] {
        &self.levels
    }

    /// Whether the target needs stage `index` (false for pruned stages).
    pub fn is_needed(&self, index: usize) -> bool {
        self.order.contains(&index)
    }

    /// The global ARGs (before the first FROM).
    pub fn meta_args(&self) -> &[ArgInstr] {
        &self.meta_args
    }

    /// The escape token the Dockerfile uses (for word expansion).
    pub fn escape(&self) -> char {
        self.escape
    }

    /// The Dockerfile's name, if known.
    pub fn file(&self) -> Option<&str> {
        self.file.as_deref()
    }

    /// Resolves a `COPY --from` value: a stage index, a stage name, or else an image.
    /// Planning has already rejected bad indexes and variables for needed stages.
    pub fn resolve_copy_from(&self, value: &str) -> SourceRef {
        match graph::copy_source(&self.stages, value) {
            Ok(Some(i)) => SourceRef::Stage(i),
            _ => SourceRef::Image(value.to_string()),
        }
    }

    /// Resolves a `--mount` `from=` value: a stage name, or else an image.
    pub fn resolve_mount_from(&self, value: &str) -> SourceRef {
        match graph::find_name(&self.stages, value) {
            Some(i) => SourceRef::Stage(i),
            None => SourceRef::Image(value.to_string()),
        }
    }
}

/// Plans the build of `target` (a stage name; `None` means the last stage).
///
/// `expand` expands a FROM word (image or `--platform`) with the global ARGs: build args
/// over the meta ARG defaults, as BuildKit does (`shell::expand_word` with those values
/// fits here).
pub fn plan<E>(
    df: &Dockerfile,
    target: Option<&str>,
    expand: &dyn Fn(&str) -> Result<String, E>,
) -> Result<BuildPlan, PlanError>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let mut stages = Vec::with_capacity(df.stages.len());
    for (index, def) in df.stages.iter().enumerate() {
        let stage = graph::stage(df, &stages, index, def, expand)?;
        stages.push(stage);
    }
    graph::add_references(df, &mut stages)?;
    let target = graph::target(&stages, target)?;
    let (order, levels) = graph::schedule(df, &stages, target)?;
    Ok(BuildPlan {
        file: df.file.clone(),
        escape: df.escape,
        meta_args: df.meta_args.clone(),
        stages,
        target,
        order,
        levels,
    })
}

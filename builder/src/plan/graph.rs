//! The stage graph: base resolution, references between stages, target selection,
//! pruning, cycle detection and levels.

use crate::dockerfile::suggest_closest;
use crate::dockerfile::{Dockerfile, Instruction, Location, RunInstr, Span, StageDef};

use super::error::{PlanError, PlanErrorKind};
use super::{BaseRef, DepKind, Dependency, Stage};

/// A located plan error.
fn at(df: &Dockerfile, span: Span, kind: PlanErrorKind) -> PlanError {
    PlanError::At {
        at: Location {
            file: df.file.clone(),
            span,
        },
        kind,
    }
}

/// Index of the last stage named `name` (case-insensitive) among `stages`.
pub(crate) fn find_name(stages: &[Stage], name: &str) -> Option<usize> {
    let name = name.to_lowercase();
    stages
        .iter()
        .rev()
        .find(|s| s.name.as_deref() == Some(name.as_str()))
        .map(|s| s.index)
}

/// Builds stage `index`: expands FROM's words and resolves the base among earlier stages.
pub(crate) fn stage<E>(
    df: &Dockerfile,
    earlier: &[Stage],
    index: usize,
    def: &StageDef,
    expand: &dyn Fn(&str) -> Result<String, E>,
) -> Result<Stage, PlanError>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let span = def.from.span;
    let run = |word: &str| {
        expand(word).map_err(|e| {
            let kind = PlanErrorKind::Expand {
                word: word.to_string(),
                source: Box::new(e),
            };
            at(df, span, kind)
        })
    };
    let image = run(&def.from.image)?;
    if image.is_empty() {
        let word = def.from.image.clone();
        return Err(at(df, span, PlanErrorKind::BlankBase { word }));
    }
    let platform = match &def.from.platform {
        Some(word) => match run(word)? {
            p if p.is_empty() => {
                let word = word.clone();
                return Err(at(df, span, PlanErrorKind::EmptyPlatform { word }));
            }
            p => Some(p),
        },
        None => None,
    };
    let (base, deps) = match find_name(earlier, &image) {
        Some(i) => (BaseRef::Stage(i), vec![dep(i, DepKind::Base, span)]),
        None if image == "scratch" => (BaseRef::Scratch, Vec::new()),
        None => (BaseRef::Image(image), Vec::new()),
    };
    Ok(Stage {
        index,
        name: def.from.name.clone(),
        base,
        platform,
        from: def.from.clone(),
        instructions: def.instructions.clone(),
        span: def.span,
        deps,
    })
}

fn dep(stage: usize, kind: DepKind, span: Span) -> Dependency {
    Dependency { stage, kind, span }
}

/// Resolves a `COPY --from` value: `Ok(Some(stage))`, `Ok(None)` for an image, or an error
/// for a variable or an index out of range.
pub(crate) fn copy_source(stages: &[Stage], value: &str) -> Result<Option<usize>, PlanErrorKind> {
    if has_expansion(value) {
        return Err(PlanErrorKind::FromVariable {
            value: value.to_string(),
        });
    }
    if let Some(index) = go_atoi(value) {
        return match usize::try_from(index).ok().filter(|i| *i < stages.len()) {
            Some(i) => Ok(Some(i)),
            None => Err(PlanErrorKind::InvalidStageIndex {
                index: value.to_string(),
                count: stages.len(),
            }),
        };
    }
    Ok(find_name(stages, value))
}

/// Whether BuildKit's lexer would change the word with no variables set: a `$` that is
/// not last, an escape or a quote.
fn has_expansion(value: &str) -> bool {
    let dollar = value.find('$').is_some_and(|i| i + 1 < value.len());
    dollar || value.contains(['\\', '\'', '"'])
}

/// Go's `strconv.Atoi`: optional sign, then ASCII digits only.
fn go_atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Adds the COPY --from and RUN --mount=from dependencies of every stage.
pub(crate) fn add_references(df: &Dockerfile, stages: &mut [Stage]) -> Result<(), PlanError> {
    for index in 0..stages.len() {
        let mut found = Vec::new();
        for instruction in &stages[index].instructions {
            references(stages, instruction, &mut found)
                .map_err(|kind| at(df, instruction.span(), kind))?;
        }
        stages[index].deps.extend(found);
    }
    Ok(())
}

/// The stage references one instruction makes.
fn references(
    stages: &[Stage],
    instruction: &Instruction,
    found: &mut Vec<Dependency>,
) -> Result<(), PlanErrorKind> {
    let span = instruction.span();
    match instruction {
        Instruction::Copy(copy) => {
            if let Some(value) = &copy.from {
                if let Some(i) = copy_source(stages, value)? {
                    found.push(dep(i, DepKind::CopyFrom, span));
                }
            }
        }
        Instruction::Run(run) => mount_references(stages, run, found),
        _ => {}
    }
    Ok(())
}

fn mount_references(stages: &[Stage], run: &RunInstr, found: &mut Vec<Dependency>) {
    for mount in &run.mounts {
        if let Some(i) = mount.from.as_deref().and_then(|f| find_name(stages, f)) {
            found.push(dep(i, DepKind::MountFrom, run.span));
        }
    }
}

/// The target stage's index: by name, or the last stage.
pub(crate) fn target(stages: &[Stage], target: Option<&str>) -> Result<usize, PlanError> {
    let Some(name) = target else {
        return Ok(stages.len().saturating_sub(1));
    };
    find_name(stages, name).ok_or_else(|| {
        let names: Vec<&str> = stages.iter().filter_map(|s| s.name.as_deref()).collect();
        PlanError::UnknownTarget {
            name: name.to_string(),
            suggestion: suggest_closest(name, &names, true),
        }
    })
}

/// DFS colours for cycle detection.
#[derive(Clone, Copy, PartialEq)]
enum Mark {
    New,
    Active,
    Done,
}

/// The needed stages in build order and in parallel levels; refuses cycles and references
/// to later stages among the needed stages (BuildKit refuses them when dispatching).
pub(crate) fn schedule(
    df: &Dockerfile,
    stages: &[Stage],
    target: usize,
) -> Result<(Vec<usize>, Vec<Vec<usize>>), PlanError> {
    let mut marks = vec![Mark::New; stages.len()];
    let mut path = Vec::new();
    visit(df, stages, target, &mut marks, &mut path)?;
    let order: Vec<usize> = (0..stages.len())
        .filter(|i| marks[*i] == Mark::Done)
        .collect();
    for &i in &order {
        check_forward(df, stages, &stages[i])?;
    }
    let mut level = vec![0usize; stages.len()];
    for &i in &order {
        level[i] = stages[i]
            .deps
            .iter()
            .map(|d| level[d.stage] + 1)
            .max()
            .unwrap_or(0);
    }
    let depth = order.iter().map(|&i| level[i] + 1).max().unwrap_or(0);
    let mut levels = vec![Vec::new(); depth];
    for &i in &order {
        levels[level[i]].push(i);
    }
    Ok((order, levels))
}

/// Depth-first walk from `index`; a dependency on an active stage closes a cycle.
fn visit(
    df: &Dockerfile,
    stages: &[Stage],
    index: usize,
    marks: &mut [Mark],
    path: &mut Vec<usize>,
) -> Result<(), PlanError> {
    marks[index] = Mark::Active;
    path.push(index);
    for d in &stages[index].deps {
        match marks[d.stage] {
            Mark::Done => {}
            Mark::New => visit(df, stages, d.stage, marks, path)?,
            Mark::Active => {
                let start = path.iter().position(|&p| p == d.stage).unwrap_or(0);
                let mut names: Vec<String> = path[start..]
                    .iter()
                    .map(|&p| stages[p].display_name())
                    .collect();
                names.push(stages[d.stage].display_name());
                let kind = PlanErrorKind::Cycle {
                    path: names.join(" -> "),
                };
                return Err(at(df, d.span, kind));
            }
        }
    }
    path.pop();
    marks[index] = Mark::Done;
    Ok(())
}

/// A needed stage may only copy or mount from stages defined before it.
fn check_forward(df: &Dockerfile, stages: &[Stage], stage: &Stage) -> Result<(), PlanError> {
    let Some(d) = stage.deps.iter().find(|d| d.stage >= stage.index) else {
        return Ok(());
    };
    let from = &stages[d.stage];
    let kind = PlanErrorKind::ForwardReference {
        verb: if d.kind == DepKind::MountFrom {
            "mount"
        } else {
            "copy"
        },
        from: from.display_name(),
        current: stage.display_name(),
        defined_at: from.span.start_line,
    };
    Err(at(df, d.span, kind))
}

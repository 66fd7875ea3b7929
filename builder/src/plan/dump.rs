//! A stable text dump of a [`BuildPlan`], for golden tests and debugging.

use std::fmt::Write;

use super::{BaseRef, BuildPlan, DepKind, Stage};

/// Renders the target, every stage (needed or pruned, base, platform, dependencies), the
/// build order and the parallel levels.
pub fn dump(plan: &BuildPlan) -> String {
    let mut out = String::new();
    let target = plan.target();
    let _ = writeln!(out, "target: {} ({})", target.index, target.display_name());
    for stage in plan.stages() {
        let needed = if plan.is_needed(stage.index) {
            "needed"
        } else {
            "pruned"
        };
        let _ = writeln!(out, "{}", stage_line(stage, needed));
    }
    let order: Vec<String> = plan.order().iter().map(|i| i.to_string()).collect();
    let _ = writeln!(out, "order: {}", order.join(" "));
    let levels: Vec<String> = plan
        .levels()
        .iter()
        .map(|l| {
            format!(
                "[{}]",
                l.iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        })
        .collect();
    let _ = writeln!(out, "levels: {}", levels.join(" "));
    out
}

/// `stage N name: needed|pruned base=... [platform=...] deps=[...]`.
fn stage_line(stage: &Stage, needed: &str) -> String {
    let base = match &stage.base {
        BaseRef::Scratch => "scratch".to_string(),
        BaseRef::Stage(i) => format!("stage {i}"),
        BaseRef::Image(r) => format!("image {r:?}"),
    };
    let platform = stage
        .platform
        .as_ref()
        .map_or(String::new(), |p| format!(" platform={p:?}"));
    let deps: Vec<String> = stage
        .deps
        .iter()
        .map(|d| {
            let kind = match d.kind {
                DepKind::Base => "base",
                DepKind::CopyFrom => "copy",
                DepKind::MountFrom => "mount",
            };
            format!("{}({kind}@{})", d.stage, d.span)
        })
        .collect();
    format!(
        "stage {} {}: {needed} base={base}{platform} deps=[{}]",
        stage.index,
        stage.display_name(),
        deps.join(" ")
    )
}

//! `rbuild layers IMAGE` (alias `rbuild dive`)

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use rbuild_store::inspect::ci::{self, RuleOverrides};
use rbuild_store::inspect::{analyze, image, view_at, Analysis, InspectError};
use rbuild_store::Store;

use crate::render::layers::{LayersReport, LayersView};
use crate::render::{inspect::pretty, layers, layers_ci};

/// Show each layer's changes, the merged filesystem and wasted space (like dive)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Image: name[:tag], id, OCI layout directory, or OCI/docker-save tar
    image: String,
    /// Only layer N (0 = base); with --merged, the filesystem at layer N
    #[arg(long, value_name = "N")]
    layer: Option<usize>,
    /// Show the stacked filesystem instead of each layer's own entries
    #[arg(long)]
    merged: bool,
    /// Only paths the layer changed (hide identical rewrites and untouched paths)
    #[arg(long)]
    changed_only: bool,
    /// Only paths under this prefix (e.g. /usr)
    #[arg(long, value_name = "PREFIX")]
    path: Option<String>,
    /// Print JSON
    #[arg(long)]
    json: bool,
    /// Interactive view (default when stdout is a terminal and no other output is asked for)
    #[arg(short, long)]
    interactive: bool,
    /// CI mode: check the efficiency rules, print PASS/FAIL, exit 1 on failure
    #[arg(long)]
    ci: bool,
    /// CI rules file (default: .dive-ci in the current directory, when present)
    #[arg(long, value_name = "FILE")]
    ci_config: Option<PathBuf>,
    /// CI: lowest allowed efficiency score (0..1, or "disabled")
    #[arg(long, value_name = "RATIO")]
    lowest_efficiency: Option<String>,
    /// CI: highest allowed wasted bytes (e.g. 20MB, 20MiB, or "disabled")
    #[arg(long, value_name = "SIZE")]
    highest_wasted_bytes: Option<String>,
    /// CI: highest allowed wasted/user bytes ratio (0.1 = 10 %, or "disabled")
    #[arg(long, value_name = "RATIO")]
    highest_user_wasted_percent: Option<String>,
}

/// Analyzes the image and prints (or browses) the result.
pub fn run(store: &Store, a: Args) -> anyhow::Result<ExitCode> {
    let src = super::source::open(store, &a.image)?;
    let trees = image::read_trees(&src.store, &src.image)?;
    let (analysis, infos) = (analyze(&trees), image::layer_infos(&src.image));
    if a.ci {
        return ci_mode(&a, &analysis);
    }
    let plain = !(a.json || a.merged || a.changed_only || a.layer.is_some() || a.path.is_some());
    if a.interactive || (plain && std::io::stdout().is_terminal()) {
        let title = src.reference.clone();
        crate::tui::run(crate::tui::TuiData {
            title,
            infos,
            trees,
            analysis,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(index) = a.layer.filter(|&n| n >= trees.len()) {
        Err(InspectError::NoSuchLayer {
            index,
            count: trees.len(),
        })?;
    }
    let at = a.layer.unwrap_or(trees.len().saturating_sub(1));
    let merged = (a.merged && !trees.is_empty()).then(|| view_at(&trees, at));
    let id = src.image.id().to_string();
    let report = LayersReport {
        reference: &a.image,
        id,
        infos: &infos,
        analysis: &analysis,
        merged,
    };
    let view = LayersView {
        layer: a.layer,
        changed_only: a.changed_only,
        path: a.path,
    };
    let out = &mut std::io::stdout().lock();
    match a.json {
        true => pretty(out, &layers::json_value(&report, &view))?,
        false => layers::text(out, &report, &view)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `--ci`: evaluates the rules; exit 1 when one fails.
fn ci_mode(a: &Args, analysis: &Analysis) -> anyhow::Result<ExitCode> {
    let flags = RuleOverrides::from_flags(
        a.lowest_efficiency.as_deref(),
        a.highest_wasted_bytes.as_deref(),
        a.highest_user_wasted_percent.as_deref(),
    )?;
    let rules = ci::load_rules(a.ci_config.as_deref(), &flags)?;
    let results = ci::evaluate(&analysis.efficiency, &rules);
    let out = &mut std::io::stdout().lock();
    match a.json {
        true => layers_ci::json(out, &analysis.efficiency, &results)?,
        false => layers_ci::text(out, &analysis.efficiency, &results)?,
    }
    Ok(if ci::passed(&results) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

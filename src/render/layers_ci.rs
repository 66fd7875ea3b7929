//! `rbuild layers --ci` output, shaped like dive's CI report.

use std::io::Write;

use rbuild_store::inspect::ci::{RuleResult, RuleStatus};
use rbuild_store::inspect::Efficiency;
use serde_json::json;

use super::human_size;

/// dive's message for a failed rule.
fn message(r: &RuleResult) -> String {
    let t = r.threshold.unwrap_or_default();
    match r.rule {
        "lowestEfficiency" => format!("image efficiency is too low (efficiency={} < threshold={t})", r.actual),
        "highestWastedBytes" => format!("too many bytes wasted (wasted-bytes={} > threshold={t})", r.actual),
        _ => format!(
            "too many bytes wasted, relative to the user bytes added (%-user-wasted-bytes={} > threshold={t})",
            r.actual
        ),
    }
}

/// Prints the summary, the inefficient files, one PASS/FAIL/SKIP line per rule and the tally.
pub fn text(out: &mut impl Write, e: &Efficiency, results: &[RuleResult]) -> std::io::Result<()> {
    writeln!(out, "  efficiency: {:.4} %", e.score * 100.0)?;
    writeln!(
        out,
        "  wastedBytes: {} bytes ({})",
        e.wasted_bytes,
        human_size(e.wasted_bytes)
    )?;
    writeln!(
        out,
        "  userWastedPercent: {:.4} %",
        e.user_wasted_percent * 100.0
    )?;
    writeln!(out, "Inefficient Files:")?;
    writeln!(out, "{:>5}  {:>12}  File Path", "Count", "Wasted Space")?;
    if e.inefficiencies.is_empty() {
        writeln!(out, "None")?;
    }
    for i in &e.inefficiencies {
        writeln!(
            out,
            "{:>5}  {:>12}  /{}",
            i.count,
            human_size(i.cumulative_size),
            i.path
        )?;
    }
    writeln!(out, "Results:")?;
    let count = |s: RuleStatus| results.iter().filter(|r| r.status == s).count();
    for r in results {
        match r.status {
            RuleStatus::Pass => writeln!(out, "  PASS: {}", r.rule)?,
            RuleStatus::Fail => writeln!(out, "  FAIL: {}: {}", r.rule, message(r))?,
            RuleStatus::Skip => writeln!(out, "  SKIP: {}: rule disabled", r.rule)?,
        }
    }
    let failed = count(RuleStatus::Fail);
    writeln!(
        out,
        "Result:{} [Total:{}] [Passed:{}] [Failed:{failed}] [Warn:0] [Skipped:{}]",
        if failed > 0 { "FAIL" } else { "PASS" },
        results.len(),
        count(RuleStatus::Pass),
        count(RuleStatus::Skip),
    )
}

/// The CI result as one JSON document.
pub fn json(out: &mut impl Write, e: &Efficiency, results: &[RuleResult]) -> std::io::Result<()> {
    let pass = results.iter().all(|r| r.status != RuleStatus::Fail);
    let doc = json!({"pass": pass, "efficiency": e, "rules": results});
    writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(&doc).map_err(std::io::Error::other)?
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_rule_carries_dives_message() {
        let r = RuleResult {
            rule: "lowestEfficiency",
            status: RuleStatus::Fail,
            actual: 0.5,
            threshold: Some(0.9),
        };
        assert_eq!(
            message(&r),
            "image efficiency is too low (efficiency=0.5 < threshold=0.9)"
        );
    }
}

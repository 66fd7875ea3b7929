//! dive's CI rules (`runtime/ci/rules.go`), their `.dive-ci` file, and their evaluation.
//!
//! | rule | fails when | dive's default |
//! |---|---|---|
//! | `lowestEfficiency` | score < value | 0.9 |
//! | `highestWastedBytes` | wasted bytes > value (`20MB` = 20·10⁶, `20MiB` = 20·2²⁰) | disabled |
//! | `highestUserWastedPercent` | wasted / user bytes > value (a ratio: 0.1 = 10 %) | 0.1 |
//!
//! A rule set to `disabled` is skipped.

use serde::Serialize;

use super::Efficiency;

/// Why a rule value or `.dive-ci` file is unusable.
#[derive(Debug, thiserror::Error)]
pub enum CiError {
    /// The `.dive-ci` file could not be read.
    #[error("read {path}: {source}")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A value is not a number / byte size / `disabled`.
    #[error("invalid value for {rule}: {value:?}")]
    BadValue {
        /// The rule key.
        rule: String,
        /// The value given.
        value: String,
    },
    /// A key under `rules:` is not one of dive's.
    #[error(".dive-ci line {line}: unknown rule {key:?} (expected lowestEfficiency, highestWastedBytes or highestUserWastedPercent)")]
    UnknownRule {
        /// 1-based line number.
        line: usize,
        /// The key.
        key: String,
    },
    /// A line under `rules:` is not `key: value`.
    #[error(".dive-ci line {line}: expected `key: value`")]
    Syntax {
        /// 1-based line number.
        line: usize,
    },
}

/// A rule's setting: a threshold, or disabled.
pub type Setting<T> = Option<T>;

/// The three rules' thresholds (`None` = disabled).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CiRules {
    /// Minimum score.
    pub lowest_efficiency: Setting<f64>,
    /// Maximum wasted bytes.
    pub highest_wasted_bytes: Setting<u64>,
    /// Maximum wasted / user bytes.
    pub highest_user_wasted_percent: Setting<f64>,
}

impl Default for CiRules {
    /// dive's defaults.
    fn default() -> Self {
        CiRules {
            lowest_efficiency: Some(0.9),
            highest_wasted_bytes: None,
            highest_user_wasted_percent: Some(0.1),
        }
    }
}

/// Rule values as written somewhere (a file, flags); `None` = not mentioned there.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleOverrides {
    /// `lowestEfficiency`.
    pub lowest_efficiency: Option<Setting<f64>>,
    /// `highestWastedBytes`.
    pub highest_wasted_bytes: Option<Setting<u64>>,
    /// `highestUserWastedPercent`.
    pub highest_user_wasted_percent: Option<Setting<f64>>,
}

impl RuleOverrides {
    /// Parses the three rules' command-line values (each optional, `disabled` allowed).
    pub fn from_flags(
        lowest_efficiency: Option<&str>,
        highest_wasted_bytes: Option<&str>,
        highest_user_wasted_percent: Option<&str>,
    ) -> Result<RuleOverrides, CiError> {
        Ok(RuleOverrides {
            lowest_efficiency: lowest_efficiency
                .map(|v| parse_ratio("lowestEfficiency", v))
                .transpose()?,
            highest_wasted_bytes: highest_wasted_bytes
                .map(|v| parse_bytes("highestWastedBytes", v))
                .transpose()?,
            highest_user_wasted_percent: highest_user_wasted_percent
                .map(|v| parse_ratio("highestUserWastedPercent", v))
                .transpose()?,
        })
    }
}

impl CiRules {
    /// `self` with every value `o` mentions replaced.
    pub fn with(mut self, o: &RuleOverrides) -> CiRules {
        if let Some(v) = o.lowest_efficiency {
            self.lowest_efficiency = v;
        }
        if let Some(v) = o.highest_wasted_bytes {
            self.highest_wasted_bytes = v;
        }
        if let Some(v) = o.highest_user_wasted_percent {
            self.highest_user_wasted_percent = v;
        }
        self
    }
}

/// The outcome of one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RuleStatus {
    /// Within the threshold.
    Pass,
    /// Over the threshold.
    Fail,
    /// Disabled.
    Skip,
}

/// One rule's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleResult {
    /// dive's key (`lowestEfficiency`, …).
    pub rule: &'static str,
    /// The outcome.
    pub status: RuleStatus,
    /// The measured value.
    pub actual: f64,
    /// The threshold (absent when disabled).
    pub threshold: Option<f64>,
}

/// Evaluates the rules, in dive's (alphabetical) order.
pub fn evaluate(eff: &Efficiency, rules: &CiRules) -> Vec<RuleResult> {
    let wasted = eff.wasted_bytes as f64;
    vec![
        check(
            "highestUserWastedPercent",
            eff.user_wasted_percent,
            rules.highest_user_wasted_percent,
            |a, t| a > t,
        ),
        check(
            "highestWastedBytes",
            wasted,
            rules.highest_wasted_bytes.map(|b| b as f64),
            |a, t| a > t,
        ),
        check(
            "lowestEfficiency",
            eff.score,
            rules.lowest_efficiency,
            |a, t| a < t,
        ),
    ]
}

fn check(
    rule: &'static str,
    actual: f64,
    threshold: Option<f64>,
    fails: fn(f64, f64) -> bool,
) -> RuleResult {
    let status = match threshold {
        None => RuleStatus::Skip,
        Some(t) if fails(actual, t) => RuleStatus::Fail,
        Some(_) => RuleStatus::Pass,
    };
    RuleResult {
        rule,
        status,
        actual,
        threshold,
    }
}

/// True when no rule failed.
pub fn passed(results: &[RuleResult]) -> bool {
    results.iter().all(|r| r.status != RuleStatus::Fail)
}

/// Parses a ratio/score setting: a number or `disabled`.
pub fn parse_ratio(rule: &str, value: &str) -> Result<Setting<f64>, CiError> {
    let v = value.trim();
    if v == "disabled" {
        return Ok(None);
    }
    v.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(Some)
        .ok_or_else(|| bad(rule, value))
}

/// Parses a byte-size setting the way go-humanize's `ParseBytes` does (`20MB`,
/// `1.5 GiB`, `300k`, `1024`; SI for `k/M/G…` and `kB/MB…`, binary for `KiB/Ki…`),
/// or `disabled`.
pub fn parse_bytes(rule: &str, value: &str) -> Result<Setting<u64>, CiError> {
    let v = value.trim();
    if v == "disabled" {
        return Ok(None);
    }
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .unwrap_or(v.len());
    let number: f64 = v[..split]
        .replace(',', "")
        .parse()
        .map_err(|_| bad(rule, value))?;
    let unit = v[split..].trim().to_ascii_lowercase();
    let mult: f64 = match unit.as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "ki" | "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mi" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gi" | "gib" => 1024f64.powi(3),
        "t" | "tb" => 1e12,
        "ti" | "tib" => 1024f64.powi(4),
        _ => return Err(bad(rule, value)),
    };
    Ok(Some((number * mult) as u64))
}

/// The rules in force: dive's defaults, then the config file (`config`, else
/// `.dive-ci` in the current directory when present), then `flags`.
pub fn load_rules(
    config: Option<&std::path::Path>,
    flags: &RuleOverrides,
) -> Result<CiRules, CiError> {
    let default_file = std::path::Path::new(".dive-ci");
    let file = config.or_else(|| default_file.is_file().then_some(default_file));
    let mut rules = CiRules::default();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| CiError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        rules = rules.with(&parse_config(&text)?);
    }
    Ok(rules.with(flags))
}

fn bad(rule: &str, value: &str) -> CiError {
    CiError::BadValue {
        rule: rule.to_string(),
        value: value.to_string(),
    }
}

/// Reads the `rules:` mapping of a `.dive-ci` file (a YAML subset: top-level keys,
/// one level of indented `key: value` pairs, `#` comments, optional quotes).
pub fn parse_config(text: &str) -> Result<RuleOverrides, CiError> {
    let mut out = RuleOverrides::default();
    let mut in_rules = false;
    for (n, raw) in text.lines().enumerate() {
        let line = strip_comment(raw);
        if line.trim().is_empty() {
            continue;
        }
        if !line.starts_with([' ', '\t']) {
            in_rules = line.trim_end() == "rules:";
            continue;
        }
        if in_rules {
            set_rule(&mut out, n + 1, line.trim())?;
        }
    }
    Ok(out)
}

fn strip_comment(line: &str) -> &str {
    match line
        .find(" #")
        .or_else(|| line.starts_with('#').then_some(0))
    {
        Some(i) => &line[..i],
        None => line,
    }
}

fn set_rule(out: &mut RuleOverrides, line: usize, text: &str) -> Result<(), CiError> {
    let (key, value) = text.split_once(':').ok_or(CiError::Syntax { line })?;
    let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
    match key.trim() {
        "lowestEfficiency" => out.lowest_efficiency = Some(parse_ratio(key, value)?),
        "highestWastedBytes" => out.highest_wasted_bytes = Some(parse_bytes(key, value)?),
        "highestUserWastedPercent" => {
            out.highest_user_wasted_percent = Some(parse_ratio(key, value)?)
        }
        other => {
            return Err(CiError::UnknownRule {
                line,
                key: other.to_string(),
            })
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eff(score: f64, wasted: u64, pct: f64) -> Efficiency {
        Efficiency {
            score,
            total_bytes: 0,
            minimum_bytes: 0,
            wasted_bytes: wasted,
            size_bytes: 0,
            user_size_bytes: 0,
            user_wasted_percent: pct,
            inefficiencies: vec![],
        }
    }

    #[test]
    fn bytes_like_go_humanize() {
        let p = |s| parse_bytes("r", s).unwrap().unwrap();
        assert_eq!(p("20MB"), 20_000_000);
        assert_eq!(p("20MiB"), 20 << 20);
        assert_eq!(p("1.5 kB"), 1500);
        assert_eq!(p("1,024"), 1024);
        assert_eq!(parse_bytes("r", "disabled").unwrap(), None);
        assert!(parse_bytes("r", "12 parsecs").is_err());
    }

    #[test]
    fn thresholds_pass_and_fail() {
        let rules = CiRules {
            lowest_efficiency: Some(0.9),
            highest_wasted_bytes: Some(1000),
            highest_user_wasted_percent: None,
        };
        let r = evaluate(&eff(0.95, 1000, 5.0), &rules);
        let st: Vec<RuleStatus> = r.iter().map(|r| r.status).collect();
        assert_eq!(st, [RuleStatus::Skip, RuleStatus::Pass, RuleStatus::Pass]);
        assert!(passed(&r));
        let r = evaluate(&eff(0.89, 1001, 0.0), &rules);
        assert_eq!(r[1].status, RuleStatus::Fail);
        assert_eq!(r[2].status, RuleStatus::Fail);
        assert!(!passed(&r));
    }

    #[test]
    fn dive_ci_file() {
        let text = "# CI\nrules:\n  lowestEfficiency: 0.95 # strict\n  highestWastedBytes: \"20MB\"\n  highestUserWastedPercent: disabled\nother:\n  lowestEfficiency: nonsense\n";
        let o = parse_config(text).unwrap();
        assert_eq!(o.lowest_efficiency, Some(Some(0.95)));
        assert_eq!(o.highest_wasted_bytes, Some(Some(20_000_000)));
        assert_eq!(o.highest_user_wasted_percent, Some(None));
        let rules = CiRules::default().with(&o);
        assert_eq!(rules.highest_user_wasted_percent, None);
        let err = parse_config("rules:\n  lowestEfficency: 1\n").unwrap_err();
        assert!(matches!(err, CiError::UnknownRule { line: 2, .. }), "{err}");
    }
}

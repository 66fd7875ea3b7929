//! Formatting for people and machines: docker's units, ages and tables.

pub mod diff;
pub mod images;
pub mod inspect;
pub mod inspect_template;
pub mod layers;
pub mod layers_ci;
pub mod layers_tree;
pub mod progress;
pub mod transfer;

use chrono::{DateTime, Utc};

/// Output format for listing commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns
    Table,
    /// One JSON object per line
    Json,
}

/// Docker's `units.HumanSize`: decimal units, 3 significant digits (`1.23MB`).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    let digits = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    let rounded = format!("{value:.digits$}");
    let trimmed = if rounded.contains('.') {
        rounded
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        rounded
    };
    format!("{trimmed}{}", UNITS[unit])
}

/// Docker's `units.HumanDuration` + " ago" (`2 minutes ago`, `About an hour ago`).
pub fn time_ago(when: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let Some(when) = when else {
        return "N/A".to_string();
    };
    let secs = (now - when).num_seconds().max(0);
    let (mins, hours, days) = (secs / 60, secs / 3600, secs / 86400);
    let text = match secs {
        s if s < 1 => "Less than a second".to_string(),
        1 => "1 second".to_string(),
        s if s < 60 => format!("{s} seconds"),
        _ if mins == 1 => "About a minute".to_string(),
        _ if mins < 60 => format!("{mins} minutes"),
        _ if hours == 1 => "About an hour".to_string(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if days < 14 => format!("{days} days"),
        _ if days < 60 => format!("{} weeks", days / 7),
        _ if days < 365 * 2 => format!("{} months", days / 30),
        _ => format!("{} years", days / 365),
    };
    format!("{text} ago")
}

/// Writes rows as left-aligned columns separated by three spaces, like docker's tables.
pub fn table(out: &mut impl std::io::Write, rows: &[Vec<String>]) -> std::io::Result<()> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}   ", w = widths[i]));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_docker() {
        let table = [
            (0, "0B"),
            (999, "999B"),
            (1000, "1kB"),
            (1234, "1.23kB"),
            (12_345_678, "12.3MB"),
            (123_456_789, "123MB"),
            (4_400_000_000, "4.4GB"),
        ];
        for (n, want) in table {
            assert_eq!(human_size(n), want, "{n}");
        }
    }

    #[test]
    fn ages_like_docker() {
        let now = Utc::now();
        let ago = |s: i64| time_ago(Some(now - chrono::Duration::seconds(s)), now);
        assert_eq!(ago(30), "30 seconds ago");
        assert_eq!(ago(61), "About a minute ago");
        assert_eq!(ago(600), "10 minutes ago");
        assert_eq!(ago(3700), "About an hour ago");
        assert_eq!(ago(5 * 86400), "5 days ago");
        assert_eq!(time_ago(None, now), "N/A");
    }
}

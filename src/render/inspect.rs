//! `rbuild inspect` and `rbuild history` output.

use std::io::Write;

use chrono::{DateTime, Utc};
use rbuild_store::inspect::docker::ImageInspect;
use rbuild_store::inspect::history::HistoryRow;
use serde::Serialize;

use super::inspect_template::{expand, TemplateError};
use super::{human_size, time_ago};

/// Writes `value` as JSON indented by four spaces, as docker does.
pub fn pretty(out: &mut impl Write, value: &impl Serialize) -> std::io::Result<()> {
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, fmt);
    value.serialize(&mut ser).map_err(std::io::Error::other)?;
    writeln!(out)
}

/// Prints the inspect objects: the JSON array, or one line per image with `format`.
pub fn inspect(
    out: &mut impl Write,
    items: &[ImageInspect],
    format: Option<&str>,
) -> anyhow::Result<()> {
    let Some(format) = format else {
        return Ok(pretty(out, &items)?);
    };
    for item in items {
        let value = serde_json::to_value(item)?;
        let line: Result<String, TemplateError> = expand(format, &value);
        writeln!(out, "{}", line?)?;
    }
    Ok(())
}

fn created(row: &HistoryRow) -> Option<DateTime<Utc>> {
    let c = row.created.as_deref()?;
    DateTime::parse_from_rfc3339(c)
        .ok()
        .map(|c| c.with_timezone(&Utc))
}

/// `docker history` options.
#[derive(Debug, Clone, Copy)]
pub struct HistoryOpts {
    /// Full ids and commands.
    pub no_trunc: bool,
    /// Human sizes and ages (`-H`, on by default).
    pub human: bool,
}

fn cells(row: &HistoryRow, o: HistoryOpts, now: DateTime<Utc>) -> [String; 5] {
    let id = match &row.id {
        Some(d) if o.no_trunc => d.to_string(),
        Some(d) => d.digest()[..12].to_string(),
        None => "<missing>".to_string(),
    };
    let when = match (o.human, created(row)) {
        (true, c) => time_ago(c, now),
        (false, Some(c)) => c.to_rfc3339(),
        (false, None) => "N/A".to_string(),
    };
    let mut by = row.created_by.replace('\n', " ");
    if !o.no_trunc && by.chars().count() > 45 {
        by = by.chars().take(44).collect::<String>() + "…";
    }
    let size = if o.human {
        human_size(row.size)
    } else {
        row.size.to_string()
    };
    [id, when, by, size, row.comment.clone()]
}

/// The IMAGE CREATED CREATED BY SIZE COMMENT table.
pub fn history_table(
    out: &mut impl Write,
    rows: &[HistoryRow],
    o: HistoryOpts,
) -> std::io::Result<()> {
    let now = Utc::now();
    let mut table = vec![["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]
        .map(String::from)
        .to_vec()];
    table.extend(rows.iter().map(|r| cells(r, o, now).to_vec()));
    super::table(out, &table)
}

/// One JSON object per row, with docker's `--format json` field names.
pub fn history_json(
    out: &mut impl Write,
    rows: &[HistoryRow],
    o: HistoryOpts,
) -> std::io::Result<()> {
    let now = Utc::now();
    for row in rows {
        let [id, since, by, size, comment] = cells(row, o, now);
        let v = serde_json::json!({
            "ID": id, "CreatedAt": row.created, "CreatedSince": since, "CreatedBy": by,
            "Size": size, "Comment": comment,
        });
        writeln!(out, "{v}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: bool, by: &str, size: u64) -> HistoryRow {
        HistoryRow {
            id: id.then(|| rbuild_store::digest::sha256_of(b"x")),
            created: Some("2024-01-01T00:00:00Z".to_string()),
            created_by: by.to_string(),
            size,
            comment: String::new(),
            empty_layer: false,
        }
    }

    #[test]
    fn missing_ids_truncation_and_raw_sizes() {
        let long = "x".repeat(60);
        let rows = [row(true, "RUN a", 1_500_000), row(false, &long, 0)];
        let mut out = Vec::new();
        history_table(
            &mut out,
            &rows,
            HistoryOpts {
                no_trunc: false,
                human: true,
            },
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[1].starts_with(&rbuild_store::digest::sha256_of(b"x").digest()[..12]),
            "{text}"
        );
        assert!(lines[1].contains("1.5MB"), "{text}");
        assert!(
            lines[2].starts_with("<missing>") && lines[2].contains('…'),
            "{text}"
        );
        let mut out = Vec::new();
        history_table(
            &mut out,
            &rows,
            HistoryOpts {
                no_trunc: true,
                human: false,
            },
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("1500000")
                && text.contains(&long)
                && text.contains("2024-01-01T00:00:00+00:00"),
            "{text}"
        );
    }
}

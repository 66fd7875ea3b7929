//! `rbuild diff` output, shaped like `container-diff diff --type=file`.

use std::io::Write;

use rbuild_store::inspect::diff::{DiffEntry, FsDiff};

use super::human_size;

fn section(out: &mut impl Write, title: &str, entries: &[DiffEntry]) -> std::io::Result<()> {
    writeln!(out, "{title}")?;
    if entries.is_empty() {
        return writeln!(out, "None\n");
    }
    let mut rows = vec![vec!["FILE".to_string(), "SIZE".to_string()]];
    rows.extend(
        entries
            .iter()
            .map(|e| vec![format!("/{}", e.path), human_size(e.size)]),
    );
    super::table(out, &rows)?;
    writeln!(out)
}

/// Prints the three sections.
pub fn text(out: &mut impl Write, a: &str, b: &str, d: &FsDiff) -> std::io::Result<()> {
    writeln!(out, "-----File-----\n")?;
    section(
        out,
        &format!("These entries have been added to {a}:"),
        &d.added,
    )?;
    section(
        out,
        &format!("These entries have been deleted from {a}:"),
        &d.removed,
    )?;
    writeln!(out, "These entries have been changed between {a} and {b}:")?;
    if d.changed.is_empty() {
        return writeln!(out, "None");
    }
    let mut rows = vec![["FILE", "SIZE1", "SIZE2", "WHAT"]
        .map(String::from)
        .to_vec()];
    for c in &d.changed {
        rows.push(vec![
            format!("/{}", c.path),
            human_size(c.size_a),
            human_size(c.size_b),
            c.what.join(","),
        ]);
    }
    super::table(out, &rows)
}

/// The diff as one JSON document.
pub fn json(out: &mut impl Write, a: &str, b: &str, d: &FsDiff) -> std::io::Result<()> {
    let doc = serde_json::json!({"image1": a, "image2": b, "diff": d});
    writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(&doc).map_err(std::io::Error::other)?
    )
}

//! `rbuild images` output.

use std::io::Write;

use chrono::Utc;
use rbuild_store::summary::ImageSummary;

use super::{human_size, time_ago};

fn short_id(s: &ImageSummary, no_trunc: bool) -> String {
    let hex = s.id.digest();
    if no_trunc {
        s.id.to_string()
    } else {
        hex[..12].to_string()
    }
}

fn repo_tag(s: &ImageSummary) -> (String, String) {
    match &s.name {
        Some(n) => (n.repository.clone(), n.tag.clone()),
        None => ("<none>".to_string(), "<none>".to_string()),
    }
}

/// The REPOSITORY TAG IMAGE ID CREATED SIZE table.
pub fn table_rows(rows: &[ImageSummary], no_trunc: bool) -> Vec<Vec<String>> {
    let now = Utc::now();
    let mut out = vec![vec!["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
        .into_iter()
        .map(String::from)
        .collect()];
    for s in rows {
        let (repo, tag) = repo_tag(s);
        out.push(vec![
            repo,
            tag,
            short_id(s, no_trunc),
            time_ago(s.created, now),
            human_size(s.size),
        ]);
    }
    out
}

/// Prints the table.
pub fn table(out: &mut impl Write, rows: &[ImageSummary], no_trunc: bool) -> std::io::Result<()> {
    super::table(out, &table_rows(rows, no_trunc))
}

/// Prints image ids, one per line (`-q`).
pub fn ids(out: &mut impl Write, rows: &[ImageSummary], no_trunc: bool) -> std::io::Result<()> {
    for s in rows {
        writeln!(out, "{}", short_id(s, no_trunc))?;
    }
    Ok(())
}

/// One JSON object per image, with docker's field names.
pub fn json(out: &mut impl Write, rows: &[ImageSummary]) -> std::io::Result<()> {
    let now = Utc::now();
    for s in rows {
        let (repo, tag) = repo_tag(s);
        let v = serde_json::json!({
            "Repository": repo,
            "Tag": tag,
            "ID": s.id.to_string(),
            "Digest": s.manifest.to_string(),
            "CreatedAt": s.created.map(|c| c.to_rfc3339()),
            "CreatedSince": time_ago(s.created, now),
            "Size": human_size(s.size),
            "VirtualSize": s.size,
        });
        writeln!(out, "{v}")?;
    }
    Ok(())
}

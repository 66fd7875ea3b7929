//! `rbuild layers` output: the layer table, each layer's changes as a tree, the merged
//! view, and the efficiency summary; as text or JSON.

use std::io::Write;

use rbuild_store::inspect::image::LayerInfo;
use rbuild_store::inspect::{normalize, Analysis, Change, Efficiency, Kind, Mark, ViewEntry};
use serde_json::{json, Value};

use super::human_size;
use super::layers_tree::PathTree;

/// What to show.
#[derive(Debug, Clone, Default)]
pub struct LayersView {
    /// Only this layer (and, with `merged`, the filesystem at this layer).
    pub layer: Option<usize>,
    /// Hide paths a layer rewrote identically (and, merged, paths it did not touch).
    pub changed_only: bool,
    /// Only paths under this prefix (`/usr`).
    pub path: Option<String>,
}

/// Everything the listing shows.
pub struct LayersReport<'a> {
    /// How the user named the image.
    pub reference: &'a str,
    /// The image id.
    pub id: String,
    /// The layers.
    pub infos: &'a [LayerInfo],
    /// The analysis.
    pub analysis: &'a Analysis,
    /// The filesystem at the viewed layer, when `merged`.
    pub merged: Option<Vec<ViewEntry>>,
}

/// One printable path: normalized path, mark, kind, size.
pub struct Item<'a> {
    /// Normalized path.
    pub path: &'a str,
    /// The mark, if the layer touched it.
    pub mark: Option<Mark>,
    /// Its kind.
    pub kind: Kind,
    /// Its size.
    pub size: u64,
}

impl<'a> Item<'a> {
    /// The item for one change a layer made.
    fn changed(c: &'a Change) -> Item<'a> {
        Item {
            path: &c.path,
            mark: Some(c.mark),
            kind: c.kind,
            size: c.size,
        }
    }
}

impl LayersView {
    /// True when `path` passes the `--path` prefix filter.
    pub fn path_ok(&self, path: &str) -> bool {
        let Some(prefix) = self.path.as_deref().map(normalize) else {
            return true;
        };
        prefix.is_empty() || path == prefix || path.starts_with(&format!("{prefix}/"))
    }

    fn keep(&self, item: &Item) -> bool {
        let changed = matches!(item.mark, Some(m) if m != Mark::Unchanged);
        self.path_ok(item.path) && (!self.changed_only || changed)
    }

    fn layer_selected(&self, index: usize) -> bool {
        self.layer.is_none_or(|l| l == index)
    }
}

/// Prints the text listing.
pub fn text(out: &mut impl Write, r: &LayersReport, view: &LayersView) -> std::io::Result<()> {
    let short = r.id.strip_prefix("sha256:").unwrap_or(&r.id);
    writeln!(
        out,
        "Image: {} ({})",
        r.reference,
        &short[..short.len().min(12)]
    )?;
    layer_table(out, r, view)?;
    if let Some(merged) = &r.merged {
        let at = view.layer.unwrap_or(r.infos.len().saturating_sub(1));
        writeln!(out, "\nFilesystem at layer {at}:")?;
        let items: Vec<Item> = merged.iter().map(view_item).collect();
        tree(out, &items, view)?;
    } else {
        for (info, changes) in r.infos.iter().zip(&r.analysis.layers) {
            if !view.layer_selected(info.index) {
                continue;
            }
            writeln!(
                out,
                "\nLayer {}  {}  {}",
                info.index,
                info.digest,
                human_size(changes.size)
            )?;
            writeln!(out, "  {}", info.created_by)?;
            let items: Vec<Item> = changes.changes.iter().map(Item::changed).collect();
            tree(out, &items, view)?;
        }
    }
    efficiency(out, &r.analysis.efficiency, 10)
}

fn view_item(e: &ViewEntry) -> Item<'_> {
    Item {
        path: &e.path,
        mark: e.mark,
        kind: e.kind,
        size: e.size,
    }
}

fn layer_table(out: &mut impl Write, r: &LayersReport, view: &LayersView) -> std::io::Result<()> {
    let mut rows = vec![["#", "DIGEST", "BLOB", "SIZE", "COMMAND"]
        .map(String::from)
        .to_vec()];
    for (info, changes) in r.infos.iter().zip(&r.analysis.layers) {
        if view.layer_selected(info.index) {
            let hex = info.digest.digest();
            rows.push(vec![
                info.index.to_string(),
                hex[..hex.len().min(12)].to_string(),
                human_size(info.blob_size),
                human_size(changes.size),
                info.created_by.replace('\n', " "),
            ]);
        }
    }
    writeln!(out)?;
    super::table(out, &rows)
}

/// Prints `items` as a tree: `MARK SIZE  ├── name`.
pub fn tree(out: &mut impl Write, items: &[Item], view: &LayersView) -> std::io::Result<()> {
    let t = PathTree::build(items.iter().map(|i| i.path));
    let rows = t.rows(&|n| n.item.is_some_and(|i| view.keep(&items[i])));
    for (row, prefix) in rows.iter().zip(t.prefixes(&rows)) {
        let node = &t.nodes[*row];
        let item = node.item.map(|i| &items[i]);
        let mark = item.and_then(|i| i.mark).map_or(' ', Mark::letter);
        let size = item.map_or(String::new(), |i| human_size(i.size));
        let dir = item.is_none_or(|i| i.kind == Kind::Dir);
        let slash = if dir { "/" } else { "" };
        writeln!(out, "{mark} {size:>8}  {prefix}{}{slash}", node.name)?;
    }
    Ok(())
}

/// Prints the efficiency summary and the `top` most wasteful paths.
pub fn efficiency(out: &mut impl Write, e: &Efficiency, top: usize) -> std::io::Result<()> {
    writeln!(out, "\nEfficiency:")?;
    writeln!(out, "  score: {:.6} ({:.4} %)", e.score, e.score * 100.0)?;
    writeln!(
        out,
        "  wasted bytes: {} ({})",
        e.wasted_bytes,
        human_size(e.wasted_bytes)
    )?;
    writeln!(out, "  user wasted: {:.4} %", e.user_wasted_percent * 100.0)?;
    writeln!(
        out,
        "  total bytes: {} (minimum {})",
        e.total_bytes, e.minimum_bytes
    )?;
    writeln!(out, "\nInefficient files:")?;
    let mut rows = vec![["COUNT", "WASTED", "PATH"].map(String::from).to_vec()];
    for i in e.inefficiencies.iter().take(top) {
        rows.push(vec![
            i.count.to_string(),
            human_size(i.cumulative_size),
            format!("/{}", i.path),
        ]);
    }
    if rows.len() == 1 {
        return writeln!(out, "  none");
    }
    super::table(out, &rows)
}

/// The JSON document of `rbuild layers --json`.
pub fn json_value(r: &LayersReport, view: &LayersView) -> Value {
    let layers: Vec<Value> = r
        .infos
        .iter()
        .zip(&r.analysis.layers)
        .filter(|(info, _)| view.layer_selected(info.index))
        .map(|(info, l)| {
            let changes: Vec<Value> = l
                .changes
                .iter()
                .map(Item::changed)
                .filter(|i| view.keep(i))
                .map(|i| item_json(&i))
                .collect();
            json!({
                "index": info.index, "digest": info.digest, "diffId": info.diff_id,
                "mediaType": info.media_type, "blobSize": info.blob_size, "size": l.size,
                "createdBy": info.created_by, "created": info.created, "changes": changes,
            })
        })
        .collect();
    let mut doc = json!({
        "image": {"reference": r.reference, "id": r.id},
        "layers": layers,
        "efficiency": r.analysis.efficiency,
    });
    if let Some(m) = &r.merged {
        let items = m
            .iter()
            .map(view_item)
            .filter(|i| view.keep(i) || (!view.changed_only && view.path_ok(i.path)));
        doc["merged"] = Value::Array(items.map(|i| item_json(&i)).collect());
    }
    doc
}

fn item_json(i: &Item) -> Value {
    json!({"path": format!("/{}", i.path), "mark": i.mark.map(|m| m.letter().to_string()), "kind": i.kind, "size": i.size})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_filter() {
        let v = LayersView {
            path: Some("/usr/".to_string()),
            ..Default::default()
        };
        assert!(v.path_ok("usr"));
        assert!(v.path_ok("usr/bin/sh"));
        assert!(!v.path_ok("usrx"));
        assert!(!v.path_ok("etc"));
    }

    #[test]
    fn tree_marks_and_sizes() {
        let items = [
            Item {
                path: "etc",
                mark: Some(Mark::Unchanged),
                kind: Kind::Dir,
                size: 0,
            },
            Item {
                path: "etc/conf",
                mark: Some(Mark::Modified),
                kind: Kind::File,
                size: 100,
            },
            Item {
                path: "big",
                mark: Some(Mark::Removed),
                kind: Kind::File,
                size: 2000,
            },
            Item {
                path: "etc/same",
                mark: Some(Mark::Unchanged),
                kind: Kind::File,
                size: 3,
            },
        ];
        let mut out = Vec::new();
        tree(&mut out, &items, &LayersView::default()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "D      2kB  ├── big\nU       0B  └── etc/\nM     100B      ├── conf\nU       3B      └── same\n"
        );
        let mut out = Vec::new();
        let changed = LayersView {
            changed_only: true,
            ..Default::default()
        };
        tree(&mut out, &items, &changed).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text, "D      2kB  ├── big\nU       0B  └── etc/\nM     100B      └── conf\n",
            "the identical rewrite is hidden, etc kept as context"
        );
    }
}

//! [`analyze`]: layer trees in, per-layer changes and efficiency out. Pure: no I/O.

use serde::Serialize;

use super::efficiency::{Counter, Efficiency};
use super::stack::{Change, Mark, Node, Stack};
use super::tree::{Kind, LayerTree};

/// What one layer changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerChanges {
    /// Index of the layer (0 = base).
    pub index: usize,
    /// Sum of the sizes of its entries.
    pub size: u64,
    /// Every path it touches, in tar order (deletions first).
    pub changes: Vec<Change>,
}

/// The result of [`analyze`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// Per layer, bottom first.
    pub layers: Vec<LayerChanges>,
    /// dive's efficiency figures.
    pub efficiency: Efficiency,
}

/// Stacks the layers in order, marking what each changes and counting efficiency.
pub fn analyze(trees: &[LayerTree]) -> Analysis {
    let (mut stack, mut counter) = (Stack::new(), Counter::new());
    let mut layers = Vec::with_capacity(trees.len());
    for (index, tree) in trees.iter().enumerate() {
        counter.visit(index, tree, &stack);
        let changes = stack.apply(index, tree);
        layers.push(LayerChanges {
            index,
            size: tree.size,
            changes,
        });
    }
    Analysis {
        layers,
        efficiency: counter.finish(),
    }
}

/// The final filesystem: every path with the entry and layer that last wrote it.
pub fn final_fs(trees: &[LayerTree]) -> Vec<Node> {
    let mut stack = Stack::new();
    for (index, tree) in trees.iter().enumerate() {
        stack.apply(index, tree);
    }
    stack.into_nodes()
}

/// One path of the filesystem as seen at a layer (dive's tree pane).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ViewEntry {
    /// Normalized path.
    pub path: String,
    /// What it is (was, for a removal).
    pub kind: Kind,
    /// Its size (removed bytes for a removal).
    pub size: u64,
    /// The layer that last wrote it (the viewed layer for a removal).
    pub layer: usize,
    /// How the viewed layer changed it, `None` when it did not touch it.
    pub mark: Option<Mark>,
}

/// The filesystem of layers `0..=at`, each path marked with what layer `at` did to it;
/// paths layer `at` removed are included, marked [`Mark::Removed`]. Sorted by path.
pub fn view_at(trees: &[LayerTree], at: usize) -> Vec<ViewEntry> {
    let mut stack = Stack::new();
    let mut changes = Vec::new();
    for (index, tree) in trees.iter().enumerate().take(at + 1) {
        changes = stack.apply(index, tree);
    }
    let mut marks: std::collections::HashMap<&str, &Change> = std::collections::HashMap::new();
    for c in &changes {
        marks.insert(c.path.as_str(), c);
    }
    let mut out: Vec<ViewEntry> = stack
        .nodes()
        .map(|n| ViewEntry {
            path: n.entry.path.clone(),
            kind: n.entry.kind,
            size: n.entry.size,
            layer: n.layer,
            mark: marks.get(n.entry.path.as_str()).map(|c| c.mark),
        })
        .collect();
    let removed = changes.iter().filter(|c| c.mark == Mark::Removed);
    let removed: Vec<ViewEntry> = removed
        .filter(|c| stack.get(&c.path).is_none())
        .map(|c| ViewEntry {
            path: c.path.clone(),
            kind: c.kind,
            size: c.size,
            layer: at,
            mark: Some(Mark::Removed),
        })
        .collect();
    out.extend(removed);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

#[cfg(test)]
mod tests {
    use super::super::stack::tests::entry;
    use super::*;

    const MB10: u64 = 10 * 1024 * 1024;

    /// The issue's example, computed by hand following dive's code:
    /// l0 `etc/ etc/conf(100) big(10M)`, l1 `big(10M, new bytes)`, l2 `.wh.big`,
    /// l3 `etc/ etc/conf(100, chmod 600)`.
    /// Leaves visited: l0 etc/conf 100, big 10M; l1 big 10M; l2 big (file → 0); l3 etc/conf 100.
    /// big: cumulative 20M, minimum 0; etc/conf: 200, minimum 100.
    /// score = 100 / (20M + 200); wasted = 20M + 200; user size = 10M + 0 + 100.
    pub fn issue_layers() -> Vec<LayerTree> {
        vec![
            LayerTree::from_entries(vec![
                entry("etc", Kind::Dir, 0, 0o755, 0),
                entry("etc/conf", Kind::File, 100, 0o644, 7),
                entry("big", Kind::File, MB10, 0o644, 1),
            ]),
            LayerTree::from_entries(vec![entry("big", Kind::File, MB10, 0o644, 2)]),
            LayerTree::from_entries(vec![entry("big", Kind::Whiteout, 0, 0, 0)]),
            LayerTree::from_entries(vec![
                entry("etc", Kind::Dir, 0, 0o755, 0),
                entry("etc/conf", Kind::File, 100, 0o600, 7),
            ]),
        ]
    }

    #[test]
    fn issue_example_by_hand() {
        let a = analyze(&issue_layers());
        let marks: Vec<Vec<(&str, char)>> = a
            .layers
            .iter()
            .map(|l| {
                l.changes
                    .iter()
                    .map(|c| (c.path.as_str(), c.mark.letter()))
                    .collect()
            })
            .collect();
        assert_eq!(marks[0], [("etc", 'A'), ("etc/conf", 'A'), ("big", 'A')]);
        assert_eq!(marks[1], [("big", 'M')]);
        assert_eq!(marks[2], [("big", 'D')]);
        assert_eq!(marks[3], [("etc", 'U'), ("etc/conf", 'M')]);
        assert_eq!(a.layers[2].changes[0].size, MB10);
        let e = &a.efficiency;
        assert_eq!(e.total_bytes, 2 * MB10 + 200);
        assert_eq!(e.minimum_bytes, 100);
        assert_eq!(e.wasted_bytes, 2 * MB10 + 200);
        assert_eq!(e.score, 100.0 / (2 * MB10 + 200) as f64);
        assert_eq!(e.user_size_bytes, MB10 + 100);
        let top: Vec<(&str, usize)> = e
            .inefficiencies
            .iter()
            .map(|i| (i.path.as_str(), i.count))
            .collect();
        assert_eq!(top, [("big", 3), ("etc/conf", 2)]);
    }

    #[test]
    fn final_fs_and_views() {
        let layers = issue_layers();
        let fs: Vec<(String, usize)> = final_fs(&layers)
            .into_iter()
            .map(|n| (n.entry.path, n.layer))
            .collect();
        assert_eq!(fs, [("etc".to_string(), 3), ("etc/conf".to_string(), 3)]);
        let v = view_at(&layers, 2);
        let got: Vec<(&str, Option<char>)> = v
            .iter()
            .map(|e| (e.path.as_str(), e.mark.map(Mark::letter)))
            .collect();
        assert_eq!(got, [("big", Some('D')), ("etc", None), ("etc/conf", None)]);
    }
}

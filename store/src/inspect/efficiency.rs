//! Image efficiency, computed the way dive computes it (`dive/filetree/efficiency.go`
//! and `dive/image/image.go`, `Analyze`).
//!
//! For every layer, in order, each *leaf* of the layer's own tree is visited (an entry
//! no other entry of the same layer lies below; opaque markers are not entries). A
//! visit at path `p` contributes a size:
//!
//! * a regular entry: its header size (0 for directories, links, devices);
//! * a whiteout of `p`: when `p` is a directory (with a header) in the filesystem of
//!   the layers below, the sum of the sizes of `p` and everything under it there;
//!   otherwise 0 (a deleted *file* contributes 0, which makes its earlier copies waste).
//!
//! Per path: `cumulative` = sum of its contributions, `minimum` = the smallest one,
//! `count` = number of visits. A path visited at least twice is an *inefficiency*.
//!
//! * `score` = Σ minimum / Σ cumulative over all paths (1 when Σ cumulative is 0);
//! * `wasted_bytes` = Σ cumulative over the inefficiencies (dive's `WastedBytes`: every
//!   copy counts, the one kept too);
//! * `user_wasted_percent` = wasted_bytes / (sum of layer sizes except the first).

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::stack::Stack;
use super::tree::{Kind, LayerTree};

/// One path present in more than one layer (or removed after being written).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inefficiency {
    /// Normalized path.
    pub path: String,
    /// How many layers touch it.
    pub count: usize,
    /// Sum of its sizes across those layers.
    pub cumulative_size: u64,
    /// Indexes of those layers.
    pub layers: Vec<usize>,
}

/// The efficiency figures of an image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Efficiency {
    /// Σ minimum / Σ cumulative (1.0 for an empty image).
    pub score: f64,
    /// Σ cumulative over every path.
    pub total_bytes: u64,
    /// Σ minimum over every path (what a perfectly squashed image would hold).
    pub minimum_bytes: u64,
    /// Σ cumulative over the inefficiencies (dive's wasted bytes).
    pub wasted_bytes: u64,
    /// Sum of the layer sizes.
    pub size_bytes: u64,
    /// Sum of the layer sizes except the first (the base).
    pub user_size_bytes: u64,
    /// wasted_bytes / user_size_bytes (0 when there are no user bytes).
    pub user_wasted_percent: f64,
    /// The inefficiencies, largest cumulative size first (then by path).
    pub inefficiencies: Vec<Inefficiency>,
}

#[derive(Debug, Default)]
struct PathStat {
    cumulative: u64,
    minimum: u64,
    layers: Vec<usize>,
}

/// Accumulates visits layer by layer; see the module docs.
#[derive(Debug, Default)]
pub struct Counter {
    paths: HashMap<String, PathStat>,
    layer_sizes: Vec<u64>,
}

impl Counter {
    /// A counter with no layers.
    pub fn new() -> Counter {
        Counter::default()
    }

    /// Visits the leaves of layer `index`; `lower` is the filesystem of the layers below.
    pub fn visit(&mut self, index: usize, tree: &LayerTree, lower: &Stack) {
        self.layer_sizes.push(tree.size);
        for e in leaves(tree) {
            let size = match e.kind {
                Kind::Whiteout => removed_size(lower, &e.path),
                _ => e.size,
            };
            let stat = self.paths.entry(e.path.clone()).or_default();
            if stat.layers.is_empty() || size < stat.minimum {
                stat.minimum = size;
            }
            stat.cumulative += size;
            stat.layers.push(index);
        }
    }

    /// The figures.
    pub fn finish(self) -> Efficiency {
        let total: u64 = self.paths.values().map(|s| s.cumulative).sum();
        let minimum: u64 = self.paths.values().map(|s| s.minimum).sum();
        let mut inefficiencies: Vec<Inefficiency> = self
            .paths
            .into_iter()
            .filter(|(_, s)| s.layers.len() > 1)
            .map(|(path, s)| Inefficiency {
                path,
                count: s.layers.len(),
                cumulative_size: s.cumulative,
                layers: s.layers,
            })
            .collect();
        inefficiencies.sort_by(|a, b| {
            (b.cumulative_size.cmp(&a.cumulative_size)).then_with(|| a.path.cmp(&b.path))
        });
        let wasted: u64 = inefficiencies.iter().map(|i| i.cumulative_size).sum();
        let size: u64 = self.layer_sizes.iter().sum();
        let user = size - self.layer_sizes.first().copied().unwrap_or(0);
        Efficiency {
            score: if total == 0 {
                1.0
            } else {
                minimum as f64 / total as f64
            },
            total_bytes: total,
            minimum_bytes: minimum,
            wasted_bytes: wasted,
            size_bytes: size,
            user_size_bytes: user,
            user_wasted_percent: if user == 0 {
                0.0
            } else {
                wasted as f64 / user as f64
            },
            inefficiencies,
        }
    }
}

/// dive's whiteout size: the whole subtree when the lower path is a directory.
fn removed_size(lower: &Stack, path: &str) -> u64 {
    match lower.get(path) {
        Some(n) if n.dive_dir => lower.subtree_size(path),
        _ => 0,
    }
}

/// The leaves of a layer's own tree, the last entry winning for a repeated path.
fn leaves(tree: &LayerTree) -> Vec<&super::tree::Entry> {
    let mut parents: HashSet<&str> = HashSet::new();
    for e in tree.entries.iter().filter(|e| e.kind != Kind::Opaque) {
        let mut p = e.path.as_str();
        while let Some((parent, _)) = p.rsplit_once('/') {
            if !parents.insert(parent) {
                break;
            }
            p = parent;
        }
    }
    let mut last: HashMap<(&str, bool), &super::tree::Entry> = HashMap::new();
    for e in &tree.entries {
        let whiteout = e.kind == Kind::Whiteout;
        let leaf = whiteout || (e.kind != Kind::Opaque && !parents.contains(e.path.as_str()));
        if leaf {
            last.insert((e.path.as_str(), whiteout), e);
        }
    }
    let mut out: Vec<_> = last.into_values().collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

#[cfg(test)]
mod tests {
    use super::super::stack::tests::entry;
    use super::*;

    fn run(layers: &[LayerTree]) -> Efficiency {
        let (mut stack, mut counter) = (Stack::new(), Counter::new());
        for (i, l) in layers.iter().enumerate() {
            counter.visit(i, l, &stack);
            stack.apply(i, l);
        }
        counter.finish()
    }

    /// dive's own `TestEfficency`: its trees have no directory headers, so the whiteout
    /// of `/etc/nginx` finds no directory below and contributes 0; score 15000/20000.
    #[test]
    fn dive_reference_case() {
        let l0 = LayerTree::from_entries(vec![
            entry("etc/nginx/nginx.conf", Kind::File, 2000, 0o644, 1),
            entry("etc/nginx/public", Kind::File, 3000, 0o644, 2),
        ]);
        let l1 = LayerTree::from_entries(vec![
            entry("etc/nginx/nginx.conf", Kind::File, 5000, 0o644, 3),
            entry("etc/athing", Kind::File, 10000, 0o644, 4),
        ]);
        let l2 = LayerTree::from_entries(vec![entry("etc/nginx", Kind::Whiteout, 0, 0, 0)]);
        let eff = run(&[l0, l1, l2]);
        assert_eq!(eff.score, 0.75);
        assert_eq!(eff.inefficiencies.len(), 1);
        let i = &eff.inefficiencies[0];
        assert_eq!(
            (i.path.as_str(), i.cumulative_size, &i.layers[..]),
            ("etc/nginx/nginx.conf", 7000, &[0, 1][..])
        );
        assert_eq!(eff.wasted_bytes, 7000);
        assert_eq!(eff.user_size_bytes, 15000);
    }

    /// With a directory header, the whiteout of a directory contributes its whole subtree,
    /// but at the directory's own path: the removed files are each visited once, so
    /// (as in dive) deleting a directory is not waste. A later layer that writes into the
    /// directory without its header resets dive's `IsDir`, and the whiteout then counts 0.
    #[test]
    fn whiteout_of_a_directory_counts_at_the_directory() {
        let base = || {
            LayerTree::from_entries(vec![
                entry("etc/nginx", Kind::Dir, 0, 0o755, 0),
                entry("etc/nginx/nginx.conf", Kind::File, 2000, 0o644, 1),
                entry("etc/nginx/public", Kind::File, 3000, 0o644, 2),
            ])
        };
        let gone = || LayerTree::from_entries(vec![entry("etc/nginx", Kind::Whiteout, 0, 0, 0)]);
        let beside =
            LayerTree::from_entries(vec![entry("etc/athing", Kind::File, 10000, 0o644, 3)]);
        let eff = run(&[base(), beside, gone()]);
        assert_eq!(
            (eff.total_bytes, eff.minimum_bytes, eff.wasted_bytes),
            (20000, 20000, 0)
        );
        assert_eq!(eff.score, 1.0);
        let inside = LayerTree::from_entries(vec![entry(
            "etc/nginx/nginx.conf",
            Kind::File,
            5000,
            0o644,
            3,
        )]);
        let eff = run(&[base(), inside, gone()]);
        // nginx.conf 2000+5000 (min 2000), public 3000, etc/nginx 0.
        assert_eq!(
            (eff.total_bytes, eff.minimum_bytes, eff.wasted_bytes),
            (10000, 5000, 7000)
        );
        assert_eq!(eff.score, 0.5);
    }

    #[test]
    fn empty_image_scores_one() {
        let eff = run(&[LayerTree::from_entries(vec![entry(
            "nothing",
            Kind::File,
            0,
            0o644,
            0,
        )])]);
        assert_eq!(eff.score, 1.0);
        assert!(eff.inefficiencies.is_empty());
        assert_eq!(eff.user_wasted_percent, 0.0);
    }
}

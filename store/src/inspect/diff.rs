//! Files added, removed and changed between two final filesystems (what
//! `container-diff --type=file` reports).

use serde::Serialize;

use super::stack::Node;
use super::tree::Kind;

/// A path present on one side only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffEntry {
    /// Normalized path.
    pub path: String,
    /// What it is.
    pub kind: Kind,
    /// Its size.
    pub size: u64,
}

/// A path present on both sides but different.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changed {
    /// Normalized path.
    pub path: String,
    /// What it is in image B.
    pub kind: Kind,
    /// Size in image A.
    pub size_a: u64,
    /// Size in image B.
    pub size_b: u64,
    /// What differs: `type`, `content`, `mode`, `owner`, `link`.
    pub what: Vec<&'static str>,
}

/// The difference from image A to image B.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FsDiff {
    /// In B, not in A.
    pub added: Vec<DiffEntry>,
    /// In A, not in B.
    pub removed: Vec<DiffEntry>,
    /// In both, different.
    pub changed: Vec<Changed>,
}

/// Compares two filesystems given as path-sorted nodes (as `final_fs` returns them).
pub fn diff(a: &[Node], b: &[Node]) -> FsDiff {
    let mut out = FsDiff::default();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let order = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.entry.path.cmp(&y.entry.path),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        match order {
            std::cmp::Ordering::Less => {
                out.removed.push(side(&a[i]));
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.added.push(side(&b[j]));
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.changed.extend(compare(&a[i], &b[j]));
                i += 1;
                j += 1;
            }
        }
    }
    out
}

fn side(n: &Node) -> DiffEntry {
    DiffEntry {
        path: n.entry.path.clone(),
        kind: n.entry.kind,
        size: n.entry.size,
    }
}

fn compare(a: &Node, b: &Node) -> Option<Changed> {
    let (x, y) = (&a.entry, &b.entry);
    let checks = [
        ("type", x.kind != y.kind),
        (
            "content",
            x.kind == Kind::File && (x.crc != y.crc || x.size != y.size),
        ),
        ("mode", x.mode != y.mode),
        ("owner", x.uid != y.uid || x.gid != y.gid),
        ("link", x.link != y.link),
    ];
    let what: Vec<&'static str> = checks.iter().filter(|(_, d)| *d).map(|(n, _)| *n).collect();
    (!what.is_empty()).then(|| Changed {
        path: y.path.clone(),
        kind: y.kind,
        size_a: x.size,
        size_b: y.size,
        what,
    })
}

#[cfg(test)]
mod tests {
    use super::super::stack::tests::entry;
    use super::super::{final_fs, LayerTree};
    use super::*;

    #[test]
    fn added_removed_changed() {
        let a = final_fs(&[LayerTree::from_entries(vec![
            entry("bin/sh", Kind::File, 10, 0o755, 1),
            entry("etc/a", Kind::File, 5, 0o644, 2),
            entry("etc/b", Kind::File, 5, 0o644, 3),
        ])]);
        let b = final_fs(&[LayerTree::from_entries(vec![
            entry("bin/sh", Kind::File, 10, 0o755, 1),
            entry("etc/a", Kind::File, 5, 0o600, 9),
            entry("etc/c", Kind::File, 6, 0o644, 4),
        ])]);
        let d = diff(&a, &b);
        assert_eq!(
            d.added.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(),
            ["etc/c"]
        );
        assert_eq!(
            d.removed
                .iter()
                .map(|e| e.path.as_str())
                .collect::<Vec<_>>(),
            ["etc/b"]
        );
        assert_eq!(d.changed.len(), 1);
        assert_eq!(d.changed[0].what, ["content", "mode"]);
    }
}

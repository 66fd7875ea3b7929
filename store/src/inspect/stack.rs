//! [`Stack`]: the filesystem that layers `0..=n` make when applied in order, and what
//! each layer changes in it ([`Change`], marked [`Mark`]).
//!
//! Paths are kept in a `BTreeMap` keyed by normalized path, so a directory's descendants
//! are the contiguous key range `"dir/" .. "dir0"` (`'0'` follows `'/'` in ASCII).

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use super::tree::{Entry, Kind, LayerTree};

/// How a layer changes one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mark {
    /// The path did not exist below this layer.
    Added,
    /// The path existed and this layer changed its type, content, mode, owner or link.
    Modified,
    /// The layer rewrote the path identically (same type, content, mode, owner).
    Unchanged,
    /// The layer deleted the path (a whiteout, or hidden by an opaque directory).
    Removed,
}

impl Mark {
    /// One letter: `A`, `M`, `U` or `D`.
    pub fn letter(self) -> char {
        match self {
            Mark::Added => 'A',
            Mark::Modified => 'M',
            Mark::Unchanged => 'U',
            Mark::Removed => 'D',
        }
    }
}

/// One path a layer touches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Normalized path.
    pub path: String,
    /// What the path is (for a removal: what it was).
    pub kind: Kind,
    /// The mark.
    pub mark: Mark,
    /// Bytes the layer writes there; for a removal, the bytes of everything removed.
    pub size: u64,
}

/// A path of the stacked filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    /// The entry that last wrote the path (an implied directory gets a bare `Dir` entry).
    pub entry: Entry,
    /// Index of the layer that last wrote it.
    pub layer: usize,
    /// True when the last layer that touched the path had a header for it and it is a
    /// directory (dive's `IsDir`: an implied parent directory resets it to false).
    #[serde(skip)]
    pub dive_dir: bool,
}

/// The stacked filesystem of the layers applied so far.
#[derive(Debug, Clone, Default)]
pub struct Stack {
    nodes: BTreeMap<String, Node>,
}

impl Stack {
    /// An empty filesystem.
    pub fn new() -> Stack {
        Stack::default()
    }

    /// The node at `path`, if any.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// Every node, in path order.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values()
    }

    /// Consumes the stack, returning its nodes in path order.
    pub fn into_nodes(self) -> Vec<Node> {
        self.nodes.into_values().collect()
    }

    /// Number of paths.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Nodes strictly below `dir`.
    fn descendants<'a>(&'a self, dir: &str) -> impl Iterator<Item = (&'a String, &'a Node)> {
        let (lo, hi) = (format!("{dir}/"), format!("{dir}0"));
        self.nodes.range(lo..hi)
    }

    /// Bytes of `path` and everything below it.
    pub fn subtree_size(&self, path: &str) -> u64 {
        let own = self.nodes.get(path).map_or(0, |n| n.entry.size);
        own + self
            .descendants(path)
            .map(|(_, n)| n.entry.size)
            .sum::<u64>()
    }

    fn remove_subtree(&mut self, path: &str) {
        let below: Vec<String> = self.descendants(path).map(|(k, _)| k.clone()).collect();
        for k in below {
            self.nodes.remove(&k);
        }
        self.nodes.remove(path);
    }

    /// Applies layer `index` on top, returning what it changes: deletions (whiteouts,
    /// opaque directories) act on the lower layers first, then the entries are written.
    pub fn apply(&mut self, index: usize, tree: &LayerTree) -> Vec<Change> {
        let mut changes = Vec::new();
        let present = layer_paths(tree);
        let explicit: HashSet<&str> = tree
            .entries
            .iter()
            .filter(|e| is_written(e.kind))
            .map(|e| e.path.as_str())
            .collect();
        for e in &tree.entries {
            match e.kind {
                Kind::Whiteout => changes.push(self.whiteout(&e.path)),
                Kind::Opaque => changes.extend(self.opaque(&e.path, &present)),
                _ => {}
            }
        }
        for e in tree.entries.iter().filter(|e| is_written(e.kind)) {
            self.add_parents(index, &e.path, &explicit);
            changes.push(self.write(index, e));
        }
        changes
    }

    fn whiteout(&mut self, path: &str) -> Change {
        let kind = self.nodes.get(path).map_or(Kind::File, |n| n.entry.kind);
        let size = self.subtree_size(path);
        self.remove_subtree(path);
        Change {
            path: path.to_string(),
            kind,
            mark: Mark::Removed,
            size,
        }
    }

    /// Hides every lower descendant of `dir` that the layer does not write again; one
    /// removal is reported per topmost hidden path.
    fn opaque(&mut self, dir: &str, present: &HashSet<&str>) -> Vec<Change> {
        let hidden: Vec<String> = self
            .descendants(dir)
            .map(|(k, _)| k.clone())
            .filter(|k| !present.contains(k.as_str()))
            .collect();
        let hidden_set: HashSet<&str> = hidden.iter().map(String::as_str).collect();
        let mut changes = Vec::new();
        for path in &hidden {
            let parent = path.rsplit_once('/').map_or("", |(p, _)| p);
            if !hidden_set.contains(parent) {
                changes.push(Change {
                    path: path.clone(),
                    kind: self.nodes[path].entry.kind,
                    mark: Mark::Removed,
                    size: self.subtree_size(path),
                });
            }
        }
        for path in &hidden {
            self.nodes.remove(path);
        }
        changes
    }

    /// Creates missing parent directories of `path`; existing ones the layer has no
    /// header for lose `dive_dir` (dive stacks an implied node's empty `FileInfo`).
    fn add_parents(&mut self, index: usize, path: &str, explicit: &HashSet<&str>) {
        let mut end = 0;
        while let Some(pos) = path[end..].find('/') {
            let parent = &path[..end + pos];
            end += pos + 1;
            match self.nodes.get_mut(parent) {
                Some(n) if !explicit.contains(parent) => n.dive_dir = false,
                Some(_) => {}
                None => {
                    let node = implied_dir(index, parent);
                    self.nodes.insert(parent.to_string(), node);
                }
            }
        }
    }

    fn write(&mut self, index: usize, e: &Entry) -> Change {
        let mark = match self.nodes.get(&e.path) {
            None => Mark::Added,
            Some(old) if old.entry.same_as(e) => Mark::Unchanged,
            Some(_) => Mark::Modified,
        };
        if e.kind != Kind::Dir {
            // A file replacing a directory replaces its contents too.
            self.remove_subtree(&e.path);
        }
        let node = Node {
            entry: e.clone(),
            layer: index,
            dive_dir: e.kind == Kind::Dir,
        };
        self.nodes.insert(e.path.clone(), node);
        Change {
            path: e.path.clone(),
            kind: e.kind,
            mark,
            size: e.size,
        }
    }
}

/// True for entry kinds that put something at their path.
pub(crate) fn is_written(kind: Kind) -> bool {
    !matches!(kind, Kind::Whiteout | Kind::Opaque)
}

/// Every path a layer writes, with the parent directories it implies.
fn layer_paths(tree: &LayerTree) -> HashSet<&str> {
    let mut set = HashSet::new();
    for e in tree.entries.iter().filter(|e| is_written(e.kind)) {
        let mut p = e.path.as_str();
        while set.insert(p) {
            match p.rsplit_once('/') {
                Some((parent, _)) => p = parent,
                None => break,
            }
        }
    }
    set
}

fn implied_dir(index: usize, path: &str) -> Node {
    Node {
        entry: Entry {
            path: path.to_string(),
            kind: Kind::Dir,
            size: 0,
            mode: 0o755,
            uid: 0,
            gid: 0,
            link: None,
            crc: 0,
        },
        layer: index,
        dive_dir: false,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A test entry: `size` bytes whose content is summarized by `crc`.
    pub fn entry(path: &str, kind: Kind, size: u64, mode: u32, crc: u32) -> Entry {
        Entry {
            path: path.to_string(),
            kind,
            size,
            mode,
            uid: 0,
            gid: 0,
            link: None,
            crc,
        }
    }

    fn marks(changes: &[Change]) -> Vec<(String, char, u64)> {
        changes
            .iter()
            .map(|c| (c.path.clone(), c.mark.letter(), c.size))
            .collect()
    }

    #[test]
    fn add_modify_rewrite_remove() {
        let mut s = Stack::new();
        let l0 = LayerTree::from_entries(vec![
            entry("etc", Kind::Dir, 0, 0o755, 0),
            entry("etc/a", Kind::File, 10, 0o644, 1),
            entry("etc/b", Kind::File, 20, 0o644, 2),
        ]);
        s.apply(0, &l0);
        let l1 = LayerTree::from_entries(vec![
            entry("etc/a", Kind::File, 10, 0o600, 1),
            entry("etc/b", Kind::File, 20, 0o644, 2),
            entry("etc", Kind::Whiteout, 0, 0, 0),
        ]);
        let got = marks(&s.apply(1, &l1));
        let want = [("etc", 'D', 30), ("etc/a", 'A', 10), ("etc/b", 'A', 20)];
        let want: Vec<_> = want
            .iter()
            .map(|(p, m, n)| (p.to_string(), *m, *n))
            .collect();
        assert_eq!(got, want, "whiteouts act on lower layers before the writes");
        assert_eq!(s.get("etc").unwrap().layer, 1, "etc is implied again");
        let l2 = LayerTree::from_entries(vec![
            entry("etc/a", Kind::File, 10, 0o644, 1),
            entry("etc/b", Kind::File, 20, 0o644, 2),
        ]);
        let got = marks(&s.apply(2, &l2));
        assert_eq!(got[0].1, 'M');
        assert_eq!(got[1].1, 'U');
    }

    #[test]
    fn opaque_hides_what_the_layer_does_not_rewrite() {
        let mut s = Stack::new();
        let l0 = LayerTree::from_entries(vec![
            entry("d/x", Kind::File, 5, 0o644, 1),
            entry("d/sub/y", Kind::File, 7, 0o644, 2),
            entry("d/z", Kind::File, 9, 0o644, 3),
        ]);
        s.apply(0, &l0);
        let l1 = LayerTree::from_entries(vec![
            entry("d", Kind::Opaque, 0, 0, 0),
            entry("d/z", Kind::File, 1, 0o644, 4),
        ]);
        let got = marks(&s.apply(1, &l1));
        let want = [("d/sub", 'D', 7), ("d/x", 'D', 5), ("d/z", 'M', 1)];
        let want: Vec<_> = want
            .iter()
            .map(|(p, m, n)| (p.to_string(), *m, *n))
            .collect();
        assert_eq!(got, want);
        let paths: Vec<&str> = s.nodes().map(|n| n.entry.path.as_str()).collect();
        assert_eq!(paths, ["d", "d/z"]);
    }

    #[test]
    fn descendant_range_excludes_siblings_with_longer_names() {
        let mut s = Stack::new();
        let l0 = LayerTree::from_entries(vec![
            entry("a/b", Kind::File, 1, 0o644, 0),
            entry("a-b", Kind::File, 2, 0o644, 0),
            entry("a0", Kind::File, 4, 0o644, 0),
            entry("ab", Kind::File, 8, 0o644, 0),
        ]);
        s.apply(0, &l0);
        assert_eq!(s.subtree_size("a"), 1);
    }
}

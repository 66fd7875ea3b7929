//! A path list turned into a tree (for the text listing and the interactive view), and
//! drawn with box characters the way `tree` and dive draw it.

use std::collections::BTreeMap;

/// One node of a [`PathTree`].
#[derive(Debug, Clone)]
pub struct PathNode {
    /// The last path component.
    pub name: String,
    /// The full normalized path.
    pub path: String,
    /// 0 for top-level entries.
    pub depth: usize,
    /// Children, sorted by name.
    pub children: Vec<usize>,
    /// Index of the source item at this path; `None` for a directory only implied.
    pub item: Option<usize>,
}

/// Paths arranged as a tree; node 0 is the (unnamed) root.
#[derive(Debug, Clone)]
pub struct PathTree {
    /// All nodes; `nodes[0]` is the root.
    pub nodes: Vec<PathNode>,
}

impl PathTree {
    /// Builds the tree of `paths` (item `i` is `paths[i]`), creating implied parents.
    pub fn build<'a>(paths: impl IntoIterator<Item = &'a str>) -> PathTree {
        let mut kids: Vec<BTreeMap<String, usize>> = vec![BTreeMap::new()];
        let mut nodes = vec![PathNode {
            name: String::new(),
            path: String::new(),
            depth: 0,
            children: Vec::new(),
            item: None,
        }];
        for (item, path) in paths.into_iter().enumerate() {
            let mut at = 0;
            for (depth, comp) in path.split('/').enumerate() {
                at = match kids[at].get(comp) {
                    Some(&child) => child,
                    None => {
                        let idx = nodes.len();
                        let full = path_prefix(path, depth);
                        nodes.push(PathNode {
                            name: comp.to_string(),
                            path: full,
                            depth,
                            children: Vec::new(),
                            item: None,
                        });
                        kids.push(BTreeMap::new());
                        kids[at].insert(comp.to_string(), idx);
                        idx
                    }
                };
            }
            nodes[at].item = Some(item);
        }
        for (i, map) in kids.into_iter().enumerate() {
            nodes[i].children = map.into_values().collect();
        }
        PathTree { nodes }
    }

    /// Nodes in display order (depth first, children by name), root excluded, keeping
    /// only those `keep` accepts (their ancestors are kept too, for context).
    pub fn rows(&self, keep: &dyn Fn(&PathNode) -> bool) -> Vec<usize> {
        let mut wanted = vec![false; self.nodes.len()];
        self.mark_wanted(0, keep, &mut wanted);
        let mut out = Vec::new();
        self.walk(0, &wanted, &mut out);
        out
    }

    fn mark_wanted(&self, n: usize, keep: &dyn Fn(&PathNode) -> bool, wanted: &mut [bool]) -> bool {
        let mut any = n != 0 && keep(&self.nodes[n]);
        for &c in &self.nodes[n].children {
            any |= self.mark_wanted(c, keep, wanted);
        }
        wanted[n] = any;
        any
    }

    fn walk(&self, n: usize, wanted: &[bool], out: &mut Vec<usize>) {
        for &c in &self.nodes[n].children {
            if wanted[c] {
                out.push(c);
                self.walk(c, wanted, out);
            }
        }
    }

    /// The box-drawing prefix of each row of `rows` (`├── `, `│   └── `…).
    pub fn prefixes(&self, rows: &[usize]) -> Vec<String> {
        let mut out = Vec::with_capacity(rows.len());
        // For each row, is it the last among its visible siblings?
        let mut last = vec![false; rows.len()];
        for (i, &r) in rows.iter().enumerate() {
            let d = self.nodes[r].depth;
            let next_sibling = rows[i + 1..]
                .iter()
                .map(|&x| self.nodes[x].depth)
                .find(|&x| x <= d);
            last[i] = next_sibling != Some(d);
        }
        let mut open: Vec<bool> = Vec::new();
        for (i, &r) in rows.iter().enumerate() {
            let d = self.nodes[r].depth;
            open.truncate(d);
            let mut s: String = open
                .iter()
                .map(|&o| if o { "│   " } else { "    " })
                .collect();
            s.push_str(if last[i] { "└── " } else { "├── " });
            open.push(!last[i]);
            out.push(s);
        }
        out
    }
}

fn path_prefix(path: &str, depth: usize) -> String {
    path.split('/')
        .take(depth + 1)
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_implied_parents_and_draws() {
        let t = PathTree::build(["etc/conf", "big", "etc/a/b"]);
        let rows = t.rows(&|_| true);
        let names: Vec<&str> = rows.iter().map(|&r| t.nodes[r].path.as_str()).collect();
        assert_eq!(names, ["big", "etc", "etc/a", "etc/a/b", "etc/conf"]);
        assert_eq!(t.nodes[rows[2]].item, None, "etc/a is implied");
        let p = t.prefixes(&rows);
        assert_eq!(p, ["├── ", "└── ", "    ├── ", "    │   └── ", "    └── "]);
    }

    #[test]
    fn filter_keeps_ancestors() {
        let t = PathTree::build(["usr/bin/sh", "etc/conf"]);
        let rows = t.rows(&|n| n.path.starts_with("usr/bin/"));
        let names: Vec<&str> = rows.iter().map(|&r| t.nodes[r].path.as_str()).collect();
        assert_eq!(names, ["usr", "usr/bin", "usr/bin/sh"]);
    }
}

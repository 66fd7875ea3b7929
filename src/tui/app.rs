//! The interactive view's state and key handling (no terminal here, so it tests plainly).

use std::collections::HashSet;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use rbuild_store::inspect::image::LayerInfo;
use rbuild_store::inspect::{view_at, Analysis, LayerTree, Mark, ViewEntry};

use crate::render::layers_tree::PathTree;

/// Everything the view shows.
pub struct TuiData {
    /// Title line (image reference and id).
    pub title: String,
    /// The layers.
    pub infos: Vec<LayerInfo>,
    /// Their trees.
    pub trees: Vec<LayerTree>,
    /// The analysis.
    pub analysis: Analysis,
}

/// Which pane has the focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    /// The layer list.
    Layers,
    /// The file tree.
    Files,
}

/// The view's state.
pub struct App {
    /// The data.
    pub data: TuiData,
    /// Focused pane.
    pub pane: Pane,
    /// Selected layer.
    pub layer: usize,
    /// The filesystem at the selected layer.
    pub view: Vec<ViewEntry>,
    /// `view` as a tree.
    pub tree: PathTree,
    /// Collapsed directories (tree node indexes).
    pub collapsed: HashSet<usize>,
    /// Visible tree nodes, in display order.
    pub rows: Vec<usize>,
    /// Cursor in `rows`.
    pub cursor: usize,
    /// Show only paths the layer changed.
    pub changes_only: bool,
    /// Path substring filter.
    pub filter: String,
    /// True while the filter is being typed.
    pub editing: bool,
    /// Set when the user asked to leave.
    pub quit: bool,
}

impl App {
    /// The view on the top layer's filesystem.
    pub fn new(data: TuiData) -> App {
        let mut app = App {
            pane: Pane::Layers,
            layer: 0,
            view: Vec::new(),
            tree: PathTree::build([]),
            collapsed: HashSet::new(),
            rows: Vec::new(),
            cursor: 0,
            changes_only: false,
            filter: String::new(),
            editing: false,
            quit: false,
            data,
        };
        app.select_layer(0);
        app
    }

    /// Shows the filesystem at layer `n`.
    pub fn select_layer(&mut self, n: usize) {
        if self.data.trees.is_empty() {
            return;
        }
        self.layer = n.min(self.data.trees.len() - 1);
        self.view = view_at(&self.data.trees, self.layer);
        self.tree = PathTree::build(self.view.iter().map(|e| e.path.as_str()));
        self.collapsed.clear();
        self.cursor = 0;
        self.refresh();
    }

    /// Recomputes the visible rows after a filter, toggle or collapse.
    pub fn refresh(&mut self) {
        let (view, changes_only, filter) = (&self.view, self.changes_only, &self.filter);
        let keep = |n: &crate::render::layers_tree::PathNode| {
            let Some(i) = n.item else { return false };
            let changed = matches!(view[i].mark, Some(m) if m != Mark::Unchanged);
            (!changes_only || changed) && (filter.is_empty() || n.path.contains(filter.as_str()))
        };
        let all = self.tree.rows(&keep);
        let mut rows = Vec::with_capacity(all.len());
        let mut hidden_below: Option<usize> = None;
        for r in all {
            let depth = self.tree.nodes[r].depth;
            match hidden_below {
                Some(d) if depth > d => continue,
                _ => hidden_below = None,
            }
            rows.push(r);
            if self.collapsed.contains(&r) {
                hidden_below = Some(depth);
            }
        }
        self.rows = rows;
        self.cursor = self.cursor.min(self.rows.len().saturating_sub(1));
    }

    /// Handles one key press.
    pub fn key(&mut self, k: KeyEvent) {
        if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
            self.quit = true;
            return;
        }
        if self.editing {
            return self.filter_key(k.code);
        }
        match k.code {
            KeyCode::Char('q') | KeyCode::Esc => self.quit = true,
            KeyCode::Tab | KeyCode::BackTab => self.toggle_pane(),
            KeyCode::Up | KeyCode::Char('k') => self.step(-1),
            KeyCode::Down | KeyCode::Char('j') => self.step(1),
            KeyCode::PageUp => self.step(-20),
            KeyCode::PageDown => self.step(20),
            KeyCode::Enter | KeyCode::Char(' ') => self.toggle_collapse(),
            KeyCode::Char('c') => {
                self.changes_only = !self.changes_only;
                self.refresh();
            }
            KeyCode::Char('/') => self.editing = true,
            _ => {}
        }
    }

    fn filter_key(&mut self, code: KeyCode) {
        match code {
            KeyCode::Enter => self.editing = false,
            KeyCode::Esc => {
                self.editing = false;
                self.filter.clear();
            }
            KeyCode::Backspace => {
                self.filter.pop();
            }
            KeyCode::Char(c) => self.filter.push(c),
            _ => return,
        }
        self.refresh();
    }

    fn toggle_pane(&mut self) {
        self.pane = match self.pane {
            Pane::Layers => Pane::Files,
            Pane::Files => Pane::Layers,
        };
    }

    fn step(&mut self, by: isize) {
        match self.pane {
            Pane::Layers => {
                let n = self.layer.saturating_add_signed(by);
                if n != self.layer && n < self.data.trees.len() {
                    self.select_layer(n);
                }
            }
            Pane::Files => {
                let last = self.rows.len().saturating_sub(1);
                self.cursor = self.cursor.saturating_add_signed(by).min(last);
            }
        }
    }

    fn toggle_collapse(&mut self) {
        if self.pane != Pane::Files {
            return self.toggle_pane();
        }
        let Some(&node) = self.rows.get(self.cursor) else {
            return;
        };
        if self.tree.nodes[node].children.is_empty() {
            return;
        }
        if !self.collapsed.remove(&node) {
            self.collapsed.insert(node);
        }
        self.refresh();
    }
}

#[cfg(test)]
mod tests {
    use rbuild_store::inspect::{analyze, Entry, Kind};

    use super::*;

    fn file(path: &str, crc: u32) -> Entry {
        Entry {
            path: path.into(),
            kind: Kind::File,
            size: 1,
            mode: 0o644,
            uid: 0,
            gid: 0,
            link: None,
            crc,
        }
    }

    fn app() -> App {
        let trees = vec![
            LayerTree::from_entries(vec![file("etc/a", 1), file("etc/b", 2), file("usr/x", 3)]),
            LayerTree::from_entries(vec![file("etc/b", 9)]),
        ];
        let analysis = analyze(&trees);
        App::new(TuiData {
            title: "t".into(),
            infos: vec![],
            trees,
            analysis,
        })
    }

    fn press(app: &mut App, code: KeyCode) {
        app.key(KeyEvent::new(code, KeyModifiers::NONE));
    }

    fn visible(app: &App) -> Vec<String> {
        app.rows
            .iter()
            .map(|&r| app.tree.nodes[r].path.clone())
            .collect()
    }

    #[test]
    fn navigate_collapse_filter_and_changes_only() {
        let mut a = app();
        assert_eq!(visible(&a), ["etc", "etc/a", "etc/b", "usr", "usr/x"]);
        press(&mut a, KeyCode::Down);
        assert_eq!(a.layer, 1);
        press(&mut a, KeyCode::Char('c'));
        assert_eq!(visible(&a), ["etc", "etc/b"]);
        press(&mut a, KeyCode::Char('c'));
        press(&mut a, KeyCode::Tab);
        press(&mut a, KeyCode::Enter);
        assert_eq!(visible(&a), ["etc", "usr", "usr/x"], "etc collapsed");
        press(&mut a, KeyCode::Char('/'));
        for c in "x".chars() {
            press(&mut a, KeyCode::Char(c));
        }
        press(&mut a, KeyCode::Enter);
        assert_eq!(visible(&a), ["usr", "usr/x"]);
        press(&mut a, KeyCode::Char('q'));
        assert!(a.quit);
    }
}

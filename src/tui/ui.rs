//! Drawing the interactive view: layers on the left, the file tree on the right, keys
//! at the bottom.

use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;
use rbuild_store::inspect::Mark;

use super::app::{App, Pane};
use crate::render::human_size;

const KEYS: &str = " ↑↓/jk move  Tab pane  Enter/Space collapse  / filter  c changes-only  q quit";

/// Draws the whole screen.
pub fn draw(f: &mut Frame, app: &App) {
    let outer = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Min(3), Constraint::Length(1)])
        .split(f.area());
    let panes = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Percentage(40), Constraint::Percentage(60)])
        .split(outer[0]);
    let left = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Min(3), Constraint::Length(6)])
        .split(panes[0]);
    layers(f, app, left[0]);
    details(f, app, left[1]);
    files(f, app, panes[1]);
    let status = if app.editing {
        format!(" filter: {}▏ (Enter to apply, Esc to clear)", app.filter)
    } else {
        KEYS.to_string()
    };
    f.render_widget(
        Paragraph::new(status).style(Style::new().add_modifier(Modifier::REVERSED)),
        outer[1],
    );
}

fn block(title: String, focused: bool) -> Block<'static> {
    let style = if focused {
        Style::new().fg(Color::Cyan)
    } else {
        Style::new()
    };
    Block::default()
        .borders(Borders::ALL)
        .border_style(style)
        .title(title)
}

fn layers(f: &mut Frame, app: &App, area: Rect) {
    let lines: Vec<Line> = app
        .data
        .analysis
        .layers
        .iter()
        .map(|l| {
            let by = app
                .data
                .infos
                .get(l.index)
                .map_or("", |i| i.created_by.as_str());
            let text = format!(
                "{:>3} {:>8}  {}",
                l.index,
                human_size(l.size),
                by.replace('\n', " ")
            );
            let style = if l.index == app.layer {
                Style::new().add_modifier(Modifier::REVERSED)
            } else {
                Style::new()
            };
            Line::styled(text, style)
        })
        .collect();
    let visible = area.height.saturating_sub(2) as usize;
    let offset = app.layer.saturating_sub(visible.saturating_sub(1));
    let title = format!(
        "Layers ({}) {}",
        app.data.analysis.layers.len(),
        app.data.title
    );
    let p = Paragraph::new(lines)
        .scroll((offset as u16, 0))
        .block(block(title, app.pane == Pane::Layers));
    f.render_widget(p, area);
}

fn details(f: &mut Frame, app: &App, area: Rect) {
    let e = &app.data.analysis.efficiency;
    let text = vec![
        Line::raw(format!("Efficiency score: {:.4} %", e.score * 100.0)),
        Line::raw(format!(
            "Wasted bytes: {} ({})",
            human_size(e.wasted_bytes),
            e.wasted_bytes
        )),
        Line::raw(format!(
            "User wasted: {:.2} %",
            e.user_wasted_percent * 100.0
        )),
        Line::raw(format!("Image size: {}", human_size(e.size_bytes))),
    ];
    f.render_widget(
        Paragraph::new(text).block(block("Image details".to_string(), false)),
        area,
    );
}

fn mark_style(mark: Option<Mark>) -> Style {
    match mark {
        Some(Mark::Added) => Style::new().fg(Color::Green),
        Some(Mark::Modified) => Style::new().fg(Color::Yellow),
        Some(Mark::Removed) => Style::new().fg(Color::Red),
        _ => Style::new(),
    }
}

fn files(f: &mut Frame, app: &App, area: Rect) {
    let height = area.height.saturating_sub(2) as usize;
    let offset = app.cursor.saturating_sub(height.saturating_sub(1));
    let window: Vec<usize> = app.rows.iter().skip(offset).take(height).copied().collect();
    let all_prefixes = app.tree.prefixes(&app.rows);
    let lines: Vec<Line> = window
        .iter()
        .enumerate()
        .map(|(i, &r)| {
            let node = &app.tree.nodes[r];
            let entry = node.item.map(|i| &app.view[i]);
            let mark = entry.and_then(|e| e.mark);
            let letter = mark.map_or(' ', Mark::letter);
            let size = entry.map_or(String::new(), |e| human_size(e.size));
            let fold = if app.collapsed.contains(&r) {
                "⊕ "
            } else {
                ""
            };
            let text = format!(
                "{letter} {size:>8}  {}{fold}{}",
                all_prefixes[offset + i],
                node.name
            );
            let mut style = mark_style(mark);
            if app.pane == Pane::Files && offset + i == app.cursor {
                style = style.add_modifier(Modifier::REVERSED);
            }
            Line::from(Span::styled(text, style))
        })
        .collect();
    let mut title = format!("Layer {} contents", app.layer);
    if app.changes_only {
        title.push_str(" (changes only)");
    }
    if !app.filter.is_empty() {
        title.push_str(&format!(" filter: {}", app.filter));
    }
    f.render_widget(
        Paragraph::new(lines).block(block(title, app.pane == Pane::Files)),
        area,
    );
}

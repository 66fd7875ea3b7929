//! The interactive layer browser (`rbuild layers -i`): a layer list beside a collapsible
//! file tree, like dive. State and keys live in [`app`], drawing in [`ui`]; this file owns
//! the terminal, and restores it however the view ends (return, error or panic).

pub mod app;
mod ui;

use crossterm::event::{self, Event, KeyEventKind};

pub use app::TuiData;

/// Runs the view until the user quits.
pub fn run(data: TuiData) -> anyhow::Result<()> {
    let mut terminal = ratatui::try_init()?;
    let result = event_loop(&mut terminal, app::App::new(data));
    ratatui::try_restore()?;
    result
}

fn event_loop(terminal: &mut ratatui::DefaultTerminal, mut app: app::App) -> anyhow::Result<()> {
    while !app.quit {
        terminal.draw(|f| ui::draw(f, &app))?;
        if let Event::Key(k) = event::read()? {
            if k.kind == KeyEventKind::Press {
                app.key(k);
            }
        }
    }
    Ok(())
}

//! Build progress. Plain mode prints BuildKit-style lines (`#3 [stage 2/5] RUN make` …
//! `#3 DONE 1.2s`) for CI logs; TTY mode shows one live line per running step with its elapsed
//! time and last output line (indicatif); quiet prints nothing.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rbuild_builder::build::{Event, Progress};
use rbuild_store::{Digest, ImageName};

/// How much to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Step lines on stderr.
    Plain,
    /// Live step lines on a terminal.
    Tty,
    /// Nothing.
    Quiet,
}

impl Mode {
    /// `--progress` (auto, plain, tty, quiet) and `-q` to a mode; auto is tty on a terminal.
    pub fn pick(progress: &str, quiet: bool, tty: bool) -> Mode {
        match (quiet, progress) {
            (true, _) | (_, "quiet") => Mode::Quiet,
            (_, "plain") => Mode::Plain,
            (_, "tty") => Mode::Tty,
            _ if tty => Mode::Tty,
            _ => Mode::Plain,
        }
    }
}

/// Prints events as they come.
pub struct Printer {
    mode: Mode,
    last: Mutex<usize>,
    multi: MultiProgress,
    bars: Mutex<HashMap<usize, (ProgressBar, String)>>,
}

impl Printer {
    /// A printer for `mode`.
    pub fn new(mode: Mode) -> Printer {
        let target = match mode {
            Mode::Tty => ProgressDrawTarget::stderr(),
            _ => ProgressDrawTarget::hidden(),
        };
        Printer {
            mode,
            last: Mutex::new(0),
            multi: MultiProgress::with_draw_target(target),
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn line(&self, text: &str) {
        match self.mode {
            Mode::Plain => {
                let _ = writeln!(std::io::stderr().lock(), "{text}");
            }
            Mode::Tty => {
                let _ = self.multi.println(text);
            }
            Mode::Quiet => {}
        }
    }

    /// The closing lines: the image id and its names.
    pub fn finish(&self, id: &Digest, tags: &[ImageName]) {
        let n = *self.last.lock().unwrap_or_else(|p| p.into_inner()) + 1;
        self.line(&format!("#{n} writing image {id} done"));
        for t in tags {
            self.line(&format!("#{n} naming to {} done", t.canonical()));
        }
    }

    fn tty(&self, event: Event) {
        let mut bars = self.bars.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            Event::Start { id, position, text } => {
                let title = format!("#{id} [{position}] {text}");
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} {prefix} {elapsed:.dim}\n    {wide_msg:.dim}",
                    )
                    .expect("valid template"),
                );
                bar.set_prefix(title.clone());
                bar.enable_steady_tick(Duration::from_millis(120));
                bars.insert(id, (bar, title));
            }
            Event::Output { id, line } => {
                if let Some((bar, _)) = bars.get(&id) {
                    bar.set_message(line);
                }
            }
            Event::Cached { id } => self.end(&mut bars, id, "CACHED".to_string()),
            Event::Done { id, elapsed } => {
                self.end(&mut bars, id, format!("DONE {:.1}s", elapsed.as_secs_f64()))
            }
            Event::Failed { id, elapsed } => self.end(
                &mut bars,
                id,
                format!("ERROR {:.1}s", elapsed.as_secs_f64()),
            ),
            Event::Message { text } => {
                let _ = self.multi.println(text);
            }
        }
    }

    fn end(&self, bars: &mut HashMap<usize, (ProgressBar, String)>, id: usize, status: String) {
        if let Some((bar, title)) = bars.remove(&id) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
            let _ = self.multi.println(format!("{title} {status}"));
        }
    }

    fn plain(&self, event: Event) {
        match event {
            Event::Start { id, position, text } => self.line(&format!("#{id} [{position}] {text}")),
            Event::Cached { id } => self.line(&format!("#{id} CACHED")),
            Event::Output { id, line } => self.line(&format!("#{id} {line}")),
            Event::Done { id, elapsed } => {
                self.line(&format!("#{id} DONE {:.1}s", elapsed.as_secs_f64()))
            }
            Event::Failed { id, elapsed } => {
                self.line(&format!("#{id} ERROR {:.1}s", elapsed.as_secs_f64()))
            }
            Event::Message { text } => self.line(&text),
        }
    }
}

impl Progress for Printer {
    fn event(&self, event: Event) {
        if let Event::Start { id, .. } = &event {
            let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            *last = (*last).max(*id);
        }
        match self.mode {
            Mode::Plain => self.plain(event),
            Mode::Tty => self.tty(event),
            Mode::Quiet => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Mode;

    #[test]
    fn mode_follows_docker_flags() {
        assert_eq!(Mode::pick("auto", false, true), Mode::Tty);
        assert_eq!(Mode::pick("auto", false, false), Mode::Plain);
        assert_eq!(Mode::pick("plain", false, true), Mode::Plain);
        assert_eq!(Mode::pick("tty", false, false), Mode::Tty);
        assert_eq!(Mode::pick("auto", true, true), Mode::Quiet);
        assert_eq!(Mode::pick("quiet", false, true), Mode::Quiet);
    }
}

//! Build progress: BuildKit-style plain lines (`#3 [stage 2/5] RUN make` … `#3 DONE 1.2s`),
//! or nothing (`-q`). On a terminal the same lines are printed (a live view is future work).

use std::io::Write;
use std::sync::Mutex;

use rbuild_builder::build::{Event, Progress};
use rbuild_store::{Digest, ImageName};

/// How much to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Step lines on stderr.
    Plain,
    /// Nothing.
    Quiet,
}

impl Mode {
    /// `--progress` and `-q` to a mode.
    pub fn pick(progress: &str, quiet: bool, _tty: bool) -> Mode {
        if quiet || progress == "quiet" {
            Mode::Quiet
        } else {
            Mode::Plain
        }
    }
}

/// Prints events as they come.
pub struct Printer {
    mode: Mode,
    last: Mutex<usize>,
}

impl Printer {
    /// A printer for `mode`.
    pub fn new(mode: Mode) -> Printer {
        Printer {
            mode,
            last: Mutex::new(0),
        }
    }

    fn line(&self, text: &str) {
        if self.mode == Mode::Plain {
            let _ = writeln!(std::io::stderr().lock(), "{text}");
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
}

impl Progress for Printer {
    fn event(&self, event: Event) {
        if let Event::Start { id, .. } = &event {
            let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            *last = (*last).max(*id);
        }
        match event {
            Event::Start { id, position, text } => self.line(&format!("#{id} [{position}] {text}")),
            Event::Cached { id } => self.line(&format!("#{id} CACHED")),
            Event::Output { id, line } => self.line(&format!("#{id} {line}")),
            Event::Done { id, elapsed } => self.line(&format!("#{id} DONE {:.1}s", elapsed.as_secs_f64())),
            Event::Failed { id, elapsed } => self.line(&format!("#{id} ERROR {:.1}s", elapsed.as_secs_f64())),
            Event::Message { text } => self.line(&text),
        }
    }
}

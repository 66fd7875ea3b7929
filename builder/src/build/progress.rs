//! Build progress as events; the binary renders them (BuildKit-style plain lines, a TTY
//! view, or nothing with `-q`).

use std::time::Duration;

/// One thing that happened during a build.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A step started. `id` numbers steps across the whole build (`#3`).
    Start {
        /// The step number.
        id: usize,
        /// `[stage 2/5]`-style position text, e.g. `builder 2/5`.
        position: String,
        /// The instruction as written (expanded), e.g. `RUN make`.
        text: String,
    },
    /// The step's result came from the cache.
    Cached {
        /// The step number.
        id: usize,
    },
    /// A line the step printed.
    Output {
        /// The step number.
        id: usize,
        /// The line, without its newline.
        line: String,
    },
    /// The step finished.
    Done {
        /// The step number.
        id: usize,
        /// How long it took.
        elapsed: Duration,
    },
    /// The step failed.
    Failed {
        /// The step number.
        id: usize,
        /// How long it ran.
        elapsed: Duration,
    },
    /// A build-wide message (warnings, "writing image").
    Message {
        /// The text.
        text: String,
    },
}

/// Receives build events; implementations must be cheap and thread-safe.
pub trait Progress: Send + Sync {
    /// Called for every event, in order per step.
    fn event(&self, event: Event);
}

/// Drops every event.
pub struct Silent;

impl Progress for Silent {
    fn event(&self, _event: Event) {}
}

/// Collects events (for tests).
#[derive(Default)]
pub struct Recorder(pub std::sync::Mutex<Vec<Event>>);

impl Progress for Recorder {
    fn event(&self, event: Event) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(event);
    }
}

//! Pull/push progress: one byte bar per blob on a terminal (indicatif), plain lines otherwise.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rbuild_registry_client::progress::{self, Direction, Event, Progress};

/// The progress callback for a transfer: bars on a TTY, plain lines on stderr otherwise,
/// nothing with `quiet`.
pub fn progress(quiet: bool, direction: Direction) -> Progress {
    if quiet {
        progress::silent()
    } else if std::io::stderr().is_terminal() {
        bars(ProgressDrawTarget::stderr())
    } else {
        progress::plain_stderr(direction)
    }
}

/// Byte bars drawn to `target`, keyed by blob.
pub fn bars(target: ProgressDrawTarget) -> Progress {
    let multi = MultiProgress::with_draw_target(target);
    let bars: Mutex<HashMap<String, ProgressBar>> = Mutex::new(HashMap::new());
    Arc::new(move |event: &Event| {
        let mut bars = bars.lock().unwrap_or_else(|p| p.into_inner());
        handle(&multi, &mut bars, event);
    })
}

fn style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
        .expect("valid template")
        .progress_chars("=> ")
}

fn short(hex: &str) -> String {
    hex.chars().take(12).collect()
}

fn handle(multi: &MultiProgress, bars: &mut HashMap<String, ProgressBar>, event: &Event) {
    match event {
        Event::Started {
            digest,
            size,
            offset,
        } => {
            let bar = multi.add(ProgressBar::new(*size));
            bar.set_style(style());
            bar.set_prefix(short(digest.digest()));
            bar.set_position(*offset);
            bars.insert(digest.to_string(), bar);
        }
        Event::Bytes { digest, done, .. } => {
            if let Some(bar) = bars.get(&digest.to_string()) {
                bar.set_position(*done);
            }
        }
        Event::Done { digest, .. } => finish(multi, bars, digest.as_ref(), "done"),
        Event::Exists { digest } => finish(multi, bars, digest.as_ref(), "already exists"),
        Event::Mounted { digest, from } => finish(
            multi,
            bars,
            digest.as_ref(),
            &format!("mounted from {from}"),
        ),
        Event::Retrying { digest, offset } => {
            if let Some(bar) = bars.get(&digest.to_string()) {
                bar.set_position(*offset);
                bar.set_message("retrying");
            }
        }
    }
}

fn finish(multi: &MultiProgress, bars: &mut HashMap<String, ProgressBar>, key: &str, what: &str) {
    if let Some(bar) = bars.remove(key) {
        bar.finish_and_clear();
        multi.remove(&bar);
    }
    let hex = key.strip_prefix("sha256:").unwrap_or(key);
    let _ = multi.println(format!("{}: {what}", short(hex)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use rbuild_store::digest::sha256_of;

    #[test]
    fn a_bar_lives_from_start_to_done() {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::hidden());
        let mut bars = HashMap::new();
        let digest = sha256_of(b"x");
        handle(
            &multi,
            &mut bars,
            &Event::Started {
                digest: digest.clone(),
                size: 10,
                offset: 4,
            },
        );
        assert_eq!(
            bars[&digest.to_string()].position(),
            4,
            "a resumed blob starts at its offset"
        );
        handle(
            &multi,
            &mut bars,
            &Event::Bytes {
                digest: digest.clone(),
                done: 7,
                size: 10,
            },
        );
        assert_eq!(bars[&digest.to_string()].position(), 7);
        handle(
            &multi,
            &mut bars,
            &Event::Done {
                digest: digest.clone(),
                size: 10,
            },
        );
        assert!(bars.is_empty(), "a finished blob's bar is gone");
        handle(
            &multi,
            &mut bars,
            &Event::Exists {
                digest: sha256_of(b"y"),
            },
        );
        assert!(bars.is_empty());
    }
}

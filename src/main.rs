//! rbuild: a daemonless image builder and layer store.
//!
//! The binary is thin: it parses arguments (`cli`), calls one library function per verb and
//! formats the result (`render`). Exit codes: 0 success, 1 failure, 125 bad usage (as docker).

mod cli;
mod fetch;
mod render;
mod tui;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => report(&err),
    }
}

/// Prints an error chain the way docker does (`Error: …`) and picks the exit code.
fn report(err: &anyhow::Error) -> ExitCode {
    let broken_pipe = err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    });
    if broken_pipe {
        return ExitCode::SUCCESS;
    }
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "Error: {}", message(err));
    ExitCode::FAILURE
}

/// The error and its causes joined by `: `, like `{err:#}`, but without repeating a cause that
/// the text so far already ends with: most library errors print their source themselves.
fn message(err: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if msg.ends_with(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::message;

    #[derive(Debug, thiserror::Error)]
    #[error("copying {path}: {source}")]
    struct Inner {
        path: String,
        source: std::io::Error,
    }

    #[test]
    fn causes_printed_by_their_parent_are_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = anyhow::Error::new(Inner {
            path: "a".into(),
            source: io,
        });
        assert_eq!(message(&err), "copying a: no such file");
    }

    #[test]
    fn context_keeps_its_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = anyhow::Error::new(io).context("writing iid.txt");
        assert_eq!(message(&err), "writing iid.txt: no such file");
    }
}

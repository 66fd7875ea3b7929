//! rbuild: a daemonless image builder and layer store.
//!
//! The binary is thin: it parses arguments (`cli`), calls one library function per verb and
//! formats the result (`render`). Exit codes: 0 success, 1 failure, 125 bad usage (as docker).

mod cli;
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
    let _ = writeln!(stderr, "Error: {err:#}");
    ExitCode::FAILURE
}

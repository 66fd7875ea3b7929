//! Reading a step's stdout and stderr: both pipes are polled together, split into lines,
//! handed to the caller's callback as they come, and the last lines are kept for the error.

use std::collections::VecDeque;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use crate::sys::Errno;

/// How many lines of output a failure message shows.
pub const TAIL_LINES: usize = 20;
/// Longer lines are passed on in pieces of this many bytes.
const MAX_LINE: usize = 16 * 1024;

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// The last lines of a step's output (both streams, in arrival order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputTail(pub Vec<String>);

impl std::fmt::Display for OutputTail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        write!(f, "\n  last output:")?;
        for line in &self.0 {
            write!(f, "\n  | {line}")?;
        }
        Ok(())
    }
}

/// A line splitter for one stream.
struct LineBuf {
    stream: Stream,
    partial: Vec<u8>,
}

/// Emits and remembers lines.
struct Sink<'a> {
    on_line: &'a mut dyn FnMut(Stream, &str),
    tail: VecDeque<String>,
}

impl Sink<'_> {
    fn emit(&mut self, stream: Stream, bytes: &[u8]) {
        let line = String::from_utf8_lossy(bytes);
        let line = line.strip_suffix('\r').unwrap_or(&line);
        (self.on_line)(stream, line);
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line.to_string());
    }
}

impl LineBuf {
    /// Adds bytes, emitting every complete line (and over-long partial ones).
    fn push(&mut self, data: &[u8], sink: &mut Sink<'_>) {
        self.partial.extend_from_slice(data);
        while let Some(pos) = self.partial.iter().position(|b| *b == b'\n') {
            sink.emit(self.stream, &self.partial[..pos]);
            self.partial.drain(..=pos);
        }
        while self.partial.len() >= MAX_LINE {
            sink.emit(self.stream, &self.partial[..MAX_LINE]);
            self.partial.drain(..MAX_LINE);
        }
    }

    /// Emits what is left at end of stream.
    fn finish(&mut self, sink: &mut Sink<'_>) {
        if !self.partial.is_empty() {
            sink.emit(self.stream, &self.partial);
            self.partial.clear();
        }
    }
}

/// Reads both pipes until both are closed, calling `on_line` for each line.
pub(crate) fn pump(
    stdout: OwnedFd,
    stderr: OwnedFd,
    on_line: &mut dyn FnMut(Stream, &str),
) -> Result<OutputTail, Errno> {
    let mut sink = Sink {
        on_line,
        tail: VecDeque::new(),
    };
    let mut open: Vec<(OwnedFd, LineBuf)> = vec![
        (
            stdout,
            LineBuf {
                stream: Stream::Stdout,
                partial: Vec::new(),
            },
        ),
        (
            stderr,
            LineBuf {
                stream: Stream::Stderr,
                partial: Vec::new(),
            },
        ),
    ];
    let mut buf = vec![0u8; 64 * 1024];
    while !open.is_empty() {
        let ready = wait_readable(&open)?;
        for i in ready.into_iter().rev() {
            match read(&open[i].0, &mut buf)? {
                0 => {
                    let (_, mut lines) = open.remove(i);
                    lines.finish(&mut sink);
                }
                n => open[i].1.push(&buf[..n], &mut sink),
            }
        }
    }
    Ok(OutputTail(sink.tail.into()))
}

/// Polls the open fds; returns the indexes that are readable or hung up.
fn wait_readable(open: &[(OwnedFd, LineBuf)]) -> Result<Vec<usize>, Errno> {
    let mut fds: Vec<libc::pollfd> = open
        .iter()
        .map(|(fd, _)| libc::pollfd {
            fd: fd.as_fd().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n >= 0 {
            break;
        }
        if Errno::last() != Errno::EINTR {
            return Err(Errno::last());
        }
    }
    Ok(fds
        .iter()
        .enumerate()
        .filter(|(_, p)| p.revents != 0)
        .map(|(i, _)| i)
        .collect())
}

/// One `read(2)`, retrying on `EINTR`.
fn read(fd: &OwnedFd, buf: &mut [u8]) -> Result<usize, Errno> {
    loop {
        match nix::unistd::read(fd, buf) {
            Err(Errno::EINTR) => continue,
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn lines_from_both_streams_reach_the_callback_and_the_tail_keeps_the_last() {
        let (out_r, out_w) = nix::unistd::pipe().expect("pipe");
        let (err_r, err_w) = nix::unistd::pipe().expect("pipe");
        let writer = std::thread::spawn(move || {
            let mut out = std::fs::File::from(out_w);
            let mut err = std::fs::File::from(err_w);
            for i in 0..30 {
                writeln!(out, "line {i}").expect("write");
            }
            write!(err, "no newline at end\r").expect("write");
        });
        let mut seen = Vec::new();
        let tail = pump(out_r, err_r, &mut |s, l| seen.push((s, l.to_string()))).expect("pump");
        writer.join().expect("join");
        assert_eq!(seen.len(), 31);
        assert!(seen.contains(&(Stream::Stderr, "no newline at end".to_string())));
        assert_eq!(tail.0.len(), TAIL_LINES);
        assert!(tail.to_string().contains("| line 29"));
    }

    #[test]
    fn over_long_lines_are_split() {
        let mut seen = Vec::new();
        let mut cb = |_: Stream, l: &str| seen.push(l.len());
        let mut sink = Sink {
            on_line: &mut cb,
            tail: VecDeque::new(),
        };
        let mut lb = LineBuf {
            stream: Stream::Stdout,
            partial: Vec::new(),
        };
        lb.push(&vec![b'x'; MAX_LINE + 10], &mut sink);
        lb.finish(&mut sink);
        drop(sink);
        assert_eq!(seen, [MAX_LINE, 10]);
    }
}

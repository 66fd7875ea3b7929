//! Progress events for pulls and pushes. The library only emits them; the binary decides
//! how to draw them ([`plain_line`] gives the one-line-per-event form used off a TTY).

use std::sync::Arc;

use oci_spec::image::Digest;

/// Something that happened to one blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A transfer started (`offset` > 0 when it resumes a partial one).
    Started {
        /// The blob.
        digest: Digest,
        /// Its total size.
        size: u64,
        /// Bytes already there.
        offset: u64,
    },
    /// More bytes moved; `done` counts from the start of the blob.
    Bytes {
        /// The blob.
        digest: Digest,
        /// Bytes done so far.
        done: u64,
        /// Its total size.
        size: u64,
    },
    /// The blob was already there (local store or registry) and nothing moved.
    Exists {
        /// The blob.
        digest: Digest,
    },
    /// The registry mounted the blob from another repository.
    Mounted {
        /// The blob.
        digest: Digest,
        /// The repository it came from.
        from: String,
    },
    /// A transfer failed temporarily and is being resumed or retried.
    Retrying {
        /// The blob.
        digest: Digest,
        /// Where it continues from.
        offset: u64,
    },
    /// The transfer finished and the blob verified.
    Done {
        /// The blob.
        digest: Digest,
        /// Its size.
        size: u64,
    },
}

/// The callback that receives events; called from any task.
pub type Progress = Arc<dyn Fn(&Event) + Send + Sync>;

/// A callback that ignores everything.
pub fn silent() -> Progress {
    Arc::new(|_| {})
}

fn short(d: &Digest) -> &str {
    let hex = d.digest();
    &hex[..hex.len().min(12)]
}

/// Which way the blobs of a transfer move (the words of its plain lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A pull: blobs are downloaded.
    Pull,
    /// A push: blobs are uploaded.
    Push,
}

/// One plain line for an event, or `None` for the chatty `Bytes` events.
pub fn plain_line(event: &Event, direction: Direction) -> Option<String> {
    let verb = match direction {
        Direction::Pull => "downloading",
        Direction::Push => "uploading",
    };
    match event {
        Event::Started {
            digest,
            size,
            offset: 0,
        } => Some(format!("{}: {verb} {size} bytes", short(digest))),
        Event::Started {
            digest,
            size,
            offset,
        } => Some(format!(
            "{}: resuming at {offset} of {size} bytes",
            short(digest)
        )),
        Event::Bytes { .. } => None,
        Event::Exists { digest } => Some(format!("{}: already exists", short(digest))),
        Event::Mounted { digest, from } => Some(format!("{}: mounted from {from}", short(digest))),
        Event::Retrying { digest, offset } => Some(format!(
            "{}: connection lost, resuming at {offset}",
            short(digest)
        )),
        Event::Done { digest, size } => Some(format!("{}: done ({size} bytes)", short(digest))),
    }
}

/// A callback printing [`plain_line`]s to stderr.
pub fn plain_stderr(direction: Direction) -> Progress {
    Arc::new(move |e| {
        if let Some(line) = plain_line(e, direction) {
            eprintln!("{line}");
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines() {
        let d: Digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
            .parse()
            .unwrap();
        let started = Event::Started {
            digest: d.clone(),
            size: 10,
            offset: 0,
        };
        assert_eq!(
            plain_line(&started, Direction::Pull).as_deref(),
            Some("0123456789ab: downloading 10 bytes")
        );
        assert_eq!(
            plain_line(&started, Direction::Push).as_deref(),
            Some("0123456789ab: uploading 10 bytes")
        );
        let resumed = Event::Started {
            digest: d.clone(),
            size: 10,
            offset: 4,
        };
        assert_eq!(
            plain_line(&resumed, Direction::Pull).as_deref(),
            Some("0123456789ab: resuming at 4 of 10 bytes")
        );
        assert_eq!(
            plain_line(
                &Event::Bytes {
                    digest: d.clone(),
                    done: 1,
                    size: 10
                },
                Direction::Push
            ),
            None
        );
        assert_eq!(
            plain_line(
                &Event::Mounted {
                    digest: d,
                    from: "a/b".into()
                },
                Direction::Push
            )
            .as_deref(),
            Some("0123456789ab: mounted from a/b")
        );
    }
}

//! A streaming tar reader with bounded extension headers.
//!
//! Unlike the `tar` crate (which buffers a PAX or GNU long-name header of whatever
//! size the archive announces), every extension header here is capped at
//! [`MAX_EXTENSION`] bytes per entry, so a hostile layer cannot make us allocate
//! gigabytes before the first file is written.

use std::io::{self, Read};

use thiserror::Error;

use super::tarfmt::{self, FormatError, Header, Kind, BLOCK};

/// Total bytes of PAX / GNU long-name data accepted for one entry.
pub const MAX_EXTENSION: u64 = 1 << 20;

/// Reading the tar stream failed.
#[derive(Debug, Error)]
pub enum ReadError {
    /// The underlying stream failed (this includes corrupt or truncated compression).
    #[error("reading the layer stream at byte {offset}: {source}")]
    Io {
        /// Offset in the uncompressed tar.
        offset: u64,
        /// The underlying error.
        source: io::Error,
    },
    /// The stream ended inside a header or an entry's data.
    #[error("the layer stream ends early at byte {offset} (truncated)")]
    Truncated {
        /// Offset in the uncompressed tar.
        offset: u64,
    },
    /// A header block is malformed.
    #[error("malformed tar header at byte {offset}: {source}")]
    Format {
        /// Offset of the header block.
        offset: u64,
        /// What is wrong with it.
        source: FormatError,
    },
    /// Extension headers for one entry exceed [`MAX_EXTENSION`].
    #[error("extended header {name:?} at byte {offset} announces {size} bytes, more than the {MAX_EXTENSION} allowed")]
    ExtensionTooLarge {
        /// The extension header's own name field.
        name: String,
        /// Offset of the header block.
        offset: u64,
        /// The size it announces.
        size: u64,
    },
    /// Extension headers were not followed by an entry.
    #[error("extended header at byte {offset} is not followed by an entry")]
    DanglingExtension {
        /// Offset of the end of the archive.
        offset: u64,
    },
}

/// Reads entries one by one; the data of the current entry is read through
/// [`TarReader::data`] and skipped automatically by the next [`TarReader::next`].
pub struct TarReader<R> {
    inner: R,
    offset: u64,
    /// Data bytes of the current entry not yet read.
    remaining: u64,
    /// Padding after the current entry's data.
    padding: u64,
    done: bool,
}

impl<R: Read> TarReader<R> {
    /// Reads a tar stream from `inner` (already decompressed).
    pub fn new(inner: R) -> Self {
        TarReader {
            inner,
            offset: 0,
            remaining: 0,
            padding: 0,
            done: false,
        }
    }

    /// The next entry, with PAX and GNU extensions folded in; `None` at the end.
    pub fn next(&mut self) -> Result<Option<Header>, ReadError> {
        if self.done {
            return Ok(None);
        }
        let mut ext = Extensions::default();
        loop {
            self.skip_rest()?;
            let start = self.offset;
            let Some(block) = self.read_block()? else {
                self.done = true;
                if ext.any {
                    return Err(ReadError::DanglingExtension { offset: start });
                }
                return Ok(None);
            };
            let header = tarfmt::decode(&block).map_err(|source| ReadError::Format {
                offset: start,
                source,
            })?;
            self.remaining = header.size;
            self.padding = tarfmt::padding(header.size) as u64;
            if !self.extension(&header, start, &mut ext)? {
                return ext.apply(header, start).map(Some);
            }
        }
    }

    /// Consumes an extension header into `ext`; false when `header` is a real entry.
    fn extension(
        &mut self,
        header: &Header,
        start: u64,
        ext: &mut Extensions,
    ) -> Result<bool, ReadError> {
        if !matches!(
            header.kind,
            Kind::PaxLocal | Kind::PaxGlobal | Kind::GnuLongName | Kind::GnuLongLink
        ) {
            return Ok(false);
        }
        ext.total += header.size;
        if ext.total > MAX_EXTENSION {
            let name = String::from_utf8_lossy(&header.path).into_owned();
            return Err(ReadError::ExtensionTooLarge {
                name,
                offset: start,
                size: header.size,
            });
        }
        let mut data = Vec::with_capacity(header.size as usize);
        self.data()
            .read_to_end(&mut data)
            .map_err(|source| self.io_error(source))?;
        match header.kind {
            Kind::PaxLocal => ext.pax.extend_from_slice(&data),
            Kind::GnuLongName => ext.long_name = Some(trim_nul(data)),
            Kind::GnuLongLink => ext.long_link = Some(trim_nul(data)),
            _ => return Ok(true), // global headers carry nothing a layer needs
        }
        ext.any = true;
        Ok(true)
    }

    /// A reader over the current entry's data (at most `size` bytes); a stream that
    /// ends early is an `UnexpectedEof` error.
    pub fn data(&mut self) -> EntryData<'_, R> {
        EntryData { reader: self }
    }

    /// Skips what is left of the current entry and its padding.
    fn skip_rest(&mut self) -> Result<(), ReadError> {
        let n = self.remaining + self.padding;
        if n == 0 {
            return Ok(());
        }
        let copied = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())
            .map_err(|source| self.io_error(source))?;
        self.offset += copied;
        self.remaining = 0;
        self.padding = 0;
        if copied < n {
            return Err(ReadError::Truncated {
                offset: self.offset,
            });
        }
        Ok(())
    }

    /// The next header block, or `None` at the end-of-archive marker or clean EOF.
    fn read_block(&mut self) -> Result<Option<[u8; BLOCK]>, ReadError> {
        let mut block = [0u8; BLOCK];
        let n = read_full(&mut self.inner, &mut block).map_err(|source| self.io_error(source))?;
        self.offset += n as u64;
        if n == 0 {
            return Ok(None);
        }
        if n < BLOCK {
            return Err(ReadError::Truncated {
                offset: self.offset,
            });
        }
        if block.iter().all(|b| *b == 0) {
            return Ok(None);
        }
        Ok(Some(block))
    }

    /// Reads everything after the end-of-archive marker, so that a corrupt or
    /// truncated compressed stream is noticed even when the tar itself is whole.
    pub fn drain(&mut self) -> Result<u64, ReadError> {
        io::copy(&mut self.inner, &mut io::sink()).map_err(|source| self.io_error(source))
    }

    fn io_error(&self, source: io::Error) -> ReadError {
        if source.kind() == io::ErrorKind::UnexpectedEof {
            return ReadError::Truncated {
                offset: self.offset,
            };
        }
        ReadError::Io {
            offset: self.offset,
            source,
        }
    }
}

/// Extension data collected for the next entry.
#[derive(Default)]
struct Extensions {
    any: bool,
    total: u64,
    pax: Vec<u8>,
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
}

impl Extensions {
    fn apply(self, mut header: Header, offset: u64) -> Result<Header, ReadError> {
        if let Some(name) = self.long_name {
            header.path = name;
        }
        if let Some(link) = self.long_link {
            header.link = link;
        }
        tarfmt::apply_pax(&mut header, &self.pax)
            .map_err(|source| ReadError::Format { offset, source })?;
        Ok(header)
    }
}

fn trim_nul(mut data: Vec<u8>) -> Vec<u8> {
    while data.last() == Some(&0) {
        data.pop();
    }
    data
}

/// Fills `buf` unless the stream ends first; returns the bytes read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The data of the current entry; see [`TarReader::data`].
pub struct EntryData<'a, R> {
    reader: &'a mut TarReader<R>,
}

impl<R: Read> Read for EntryData<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = &mut *self.reader;
        if r.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(r.remaining).unwrap_or(usize::MAX));
        let n = r.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "tar entry data ends early",
            ));
        }
        r.remaining -= n as u64;
        r.offset += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: Kind, path: &str, data: &[u8]) -> Vec<u8> {
        let mut h = Header::new(kind, path.as_bytes().to_vec());
        h.size = data.len() as u64;
        let mut out = Vec::new();
        tarfmt::encode(&h, &mut out);
        out.extend_from_slice(data);
        tarfmt::pad_to_block(&mut out);
        out
    }

    #[test]
    fn reads_entries_and_skips_unread_data() {
        let mut tar = entry(Kind::Regular, "a", b"hello");
        tar.extend(entry(Kind::Regular, "b", &[7; 1000]));
        tar.extend([0u8; 1024]);
        let mut r = TarReader::new(&tar[..]);
        let a = r.next().expect("a").expect("some");
        let mut text = String::new();
        r.data().read_to_string(&mut text).expect("data");
        assert_eq!((a.path.as_slice(), text.as_str()), (&b"a"[..], "hello"));
        let b = r.next().expect("b").expect("some");
        assert_eq!(b.size, 1000);
        assert!(r.next().expect("end").is_none());
    }

    #[test]
    fn gnu_long_names_are_applied() {
        let long = "d/".repeat(80) + "file";
        let mut tar = entry(
            Kind::GnuLongName,
            "././@LongLink",
            format!("{long}\0").as_bytes(),
        );
        tar.extend(entry(Kind::Regular, "short", b""));
        let mut r = TarReader::new(&tar[..]);
        let h = r.next().expect("entry").expect("some");
        assert_eq!(h.path, long.as_bytes());
    }

    #[test]
    fn huge_extension_is_refused_before_reading_it() {
        let mut h = Header::new(Kind::PaxLocal, b"PaxHeaders/evil".to_vec());
        h.size = 7 << 30;
        let mut tar = Vec::new();
        tarfmt::encode(&h, &mut tar);
        tar.extend([b'x'; 4096]);
        let err = TarReader::new(&tar[..]).next().expect_err("too large");
        assert!(
            matches!(err, ReadError::ExtensionTooLarge { ref name, .. } if name == "PaxHeaders/evil"),
            "{err}"
        );
    }

    #[test]
    fn truncation_is_reported() {
        let tar = entry(Kind::Regular, "a", &[1; 600]);
        let cut = &tar[..700];
        let mut r = TarReader::new(cut);
        r.next().expect("header").expect("some");
        let err = r.data().read_to_end(&mut Vec::new()).expect_err("short");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(matches!(
            TarReader::new(&tar[..300]).next(),
            Err(ReadError::Truncated { .. })
        ));
        let mut r = TarReader::new(cut);
        r.next().expect("header");
        assert!(matches!(r.next(), Err(ReadError::Truncated { .. })));
    }

    #[test]
    fn reads_what_the_tar_crate_writes() {
        let mut builder = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o640);
        h.set_cksum();
        let long = "x".repeat(150);
        builder
            .append_data(&mut h, &long, &b"abc"[..])
            .expect("append");
        let tar = builder.into_inner().expect("finish");
        let mut r = TarReader::new(&tar[..]);
        let got = r.next().expect("entry").expect("some");
        assert_eq!(
            (got.path, got.mode, got.size),
            (long.into_bytes(), 0o640, 3)
        );
    }
}

//! Typed sha256 digests: parsed once at the edge, carried as [`Digest`] everywhere after.
//!
//! The store only addresses content by sha256. Parsing is strict: the algorithm must be
//! `sha256` and the hex must be exactly 64 lowercase characters (what the OCI spec requires).

use std::io::{self, Read, Write};

use oci_spec::image::{Digest, DigestAlgorithm};
use sha2::{Digest as _, Sha256};

/// Why a digest string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestError {
    /// The string has no `algorithm:` prefix.
    #[error("invalid digest {input:?}: missing algorithm prefix (expected sha256:<64 hex>)")]
    MissingAlgorithm {
        /// The rejected input.
        input: String,
    },
    /// The algorithm is not sha256.
    #[error("invalid digest {input:?}: unsupported algorithm {algorithm:?} (only sha256)")]
    UnsupportedAlgorithm {
        /// The rejected input.
        input: String,
        /// The algorithm that was named.
        algorithm: String,
    },
    /// The hex part is not 64 lowercase hex characters.
    #[error("invalid digest {input:?}: expected 64 lowercase hex characters after sha256:")]
    BadHex {
        /// The rejected input.
        input: String,
    },
}

/// Parses `sha256:<64 lowercase hex>` into a [`Digest`].
pub fn parse_digest(input: &str) -> Result<Digest, DigestError> {
    let Some((algorithm, hex)) = input.split_once(':') else {
        return Err(DigestError::MissingAlgorithm {
            input: input.to_string(),
        });
    };
    if algorithm != "sha256" {
        return Err(DigestError::UnsupportedAlgorithm {
            input: input.to_string(),
            algorithm: algorithm.to_string(),
        });
    }
    let lower_hex = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !lower_hex {
        return Err(DigestError::BadHex {
            input: input.to_string(),
        });
    }
    input.parse().map_err(|_| DigestError::BadHex {
        input: input.to_string(),
    })
}

/// Returns true when `digest` is a sha256 digest this store can address.
pub fn is_sha256(digest: &Digest) -> bool {
    *digest.algorithm() == DigestAlgorithm::Sha256
}

/// The sha256 digest of a byte slice.
pub fn sha256_of(bytes: &[u8]) -> Digest {
    let mut h = Hasher::new();
    h.update(bytes);
    h.finish()
}

/// An incremental sha256 that yields a typed [`Digest`].
#[derive(Clone, Default)]
pub struct Hasher(Sha256);

impl Hasher {
    /// A fresh hasher.
    pub fn new() -> Self {
        Self(Sha256::new())
    }

    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The lowercase hex of the digest so far, without consuming the hasher.
    pub fn hex(&self) -> String {
        hex::encode(self.0.clone().finalize())
    }

    /// Finishes and returns `sha256:<hex>`.
    pub fn finish(self) -> Digest {
        from_hex(&hex::encode(self.0.finalize()))
    }
}

/// Builds a digest from 64 lowercase hex characters produced by our own hasher.
fn from_hex(hex: &str) -> Digest {
    parse_digest(&format!("sha256:{hex}")).expect("sha256 hex from the hasher is always valid")
}

/// A `Write` adapter that hashes and counts every byte written through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps a writer.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Hasher::new(),
            count: 0,
        }
    }

    /// Bytes written so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The inner writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// Returns the inner writer, the digest and the byte count.
    pub fn into_parts(self) -> (W, Digest, u64) {
        (self.inner, self.hasher.finish(), self.count)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A `Read` adapter that hashes and counts every byte read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps a reader.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Hasher::new(),
            count: 0,
        }
    }

    /// Bytes read so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Returns the inner reader, the digest and the byte count.
    pub fn into_parts(self) -> (R, Digest, u64) {
        (self.inner, self.hasher.finish(), self.count)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_valid_sha256() {
        let d = parse_digest(EMPTY).unwrap();
        assert_eq!(d.to_string(), EMPTY);
        assert_eq!(d.digest().len(), 64);
        assert!(is_sha256(&d));
    }

    #[test]
    fn rejects_bad_digests() {
        let upper = EMPTY.to_uppercase().replacen("SHA256", "sha256", 1);
        type Case<'a> = (&'a str, fn(&DigestError) -> bool);
        let cases: &[Case] = &[
            ("sha256:", |e| matches!(e, DigestError::BadHex { .. })),
            ("sha256:abc", |e| matches!(e, DigestError::BadHex { .. })),
            (&upper, |e| matches!(e, DigestError::BadHex { .. })),
            ("md5:d41d8cd98f00b204e9800998ecf8427e", |e| {
                matches!(e, DigestError::UnsupportedAlgorithm { .. })
            }),
            ("sha512:00", |e| {
                matches!(e, DigestError::UnsupportedAlgorithm { .. })
            }),
            ("e3b0c44298fc", |e| {
                matches!(e, DigestError::MissingAlgorithm { .. })
            }),
            ("", |e| matches!(e, DigestError::MissingAlgorithm { .. })),
        ];
        for (input, check) in cases {
            let err = parse_digest(input).unwrap_err();
            assert!(check(&err), "{input:?} gave {err:?}");
        }
        let g = format!("{}g", &EMPTY[..EMPTY.len() - 1]);
        assert!(matches!(parse_digest(&g), Err(DigestError::BadHex { .. })));
    }

    #[test]
    fn hashing_adapters_agree_with_one_shot() {
        let data = b"hello layers";
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(data).unwrap();
        let (buf, d, n) = w.into_parts();
        assert_eq!(buf, data);
        assert_eq!(n, data.len() as u64);
        assert_eq!(d, sha256_of(data));
        let mut r = HashingReader::new(&data[..]);
        io::copy(&mut r, &mut io::sink()).unwrap();
        assert_eq!(r.into_parts().1, d);
        assert_eq!(sha256_of(b"").to_string(), EMPTY);
    }
}

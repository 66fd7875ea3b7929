//! The tar wire format: ustar header blocks and PAX extended records, both ways.
//!
//! Our own encoder instead of the `tar` crate's builder so that every byte of a
//! layer is ours to pin (the golden digest test depends on it), and our own
//! decoder so that extended headers are bounded (the `tar` crate buffers a PAX
//! header of any announced size).

use thiserror::Error;

/// Size of a tar block.
pub const BLOCK: usize = 512;
/// Prefix of PAX records that carry an xattr (the name follows it).
pub const PAX_XATTR: &str = "SCHILY.xattr.";

/// The type of a tar entry, as far as layers care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file with `size` bytes of data.
    Regular,
    /// A hard link to `link` (an earlier entry path).
    Link,
    /// A symbolic link whose target is `link`.
    Symlink,
    /// A character device.
    Char,
    /// A block device.
    Block,
    /// A directory.
    Dir,
    /// A named pipe.
    Fifo,
    /// A PAX extended header for the next entry (`x`).
    PaxLocal,
    /// A PAX global header (`g`).
    PaxGlobal,
    /// A GNU long name for the next entry (`L`).
    GnuLongName,
    /// A GNU long link name for the next entry (`K`).
    GnuLongLink,
    /// Anything else (sparse files, volume labels, …), by type flag.
    Other(u8),
}

impl Kind {
    /// The type flag byte of this kind.
    pub fn flag(self) -> u8 {
        match self {
            Kind::Regular => b'0',
            Kind::Link => b'1',
            Kind::Symlink => b'2',
            Kind::Char => b'3',
            Kind::Block => b'4',
            Kind::Dir => b'5',
            Kind::Fifo => b'6',
            Kind::PaxLocal => b'x',
            Kind::PaxGlobal => b'g',
            Kind::GnuLongName => b'L',
            Kind::GnuLongLink => b'K',
            Kind::Other(f) => f,
        }
    }

    fn from_flag(flag: u8) -> Kind {
        match flag {
            b'0' | 0 | b'7' => Kind::Regular,
            b'1' => Kind::Link,
            b'2' => Kind::Symlink,
            b'3' => Kind::Char,
            b'4' => Kind::Block,
            b'5' => Kind::Dir,
            b'6' => Kind::Fifo,
            b'x' => Kind::PaxLocal,
            b'g' => Kind::PaxGlobal,
            b'L' => Kind::GnuLongName,
            b'K' => Kind::GnuLongLink,
            other => Kind::Other(other),
        }
    }
}

/// One tar entry's metadata, after PAX and GNU extensions are folded in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Entry path as raw bytes (directories end with `/` when we write them).
    pub path: Vec<u8>,
    /// Link target (hard links and symlinks), raw bytes.
    pub link: Vec<u8>,
    /// Entry type.
    pub kind: Kind,
    /// Permission bits including setuid/setgid/sticky (`0o7777`).
    pub mode: u32,
    /// Owner user id.
    pub uid: u64,
    /// Owner group id.
    pub gid: u64,
    /// Data size in bytes (regular files only; 0 otherwise).
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Device major number (char/block devices).
    pub dev_major: u32,
    /// Device minor number (char/block devices).
    pub dev_minor: u32,
    /// Extended attributes, sorted by name when we write them.
    pub xattrs: Vec<(String, Vec<u8>)>,
}

impl Header {
    /// A header of `kind` at `path` with everything else zero.
    pub fn new(kind: Kind, path: Vec<u8>) -> Header {
        Header {
            path,
            link: Vec::new(),
            kind,
            mode: 0,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: 0,
            dev_major: 0,
            dev_minor: 0,
            xattrs: Vec::new(),
        }
    }
}

/// A malformed header block or PAX record.
#[derive(Debug, Error)]
pub enum FormatError {
    /// The header checksum does not match its bytes.
    #[error("header checksum mismatch")]
    Checksum,
    /// A numeric header field holds no valid number.
    #[error("invalid number in header field {field}")]
    Number {
        /// Name of the field.
        field: &'static str,
    },
    /// A PAX record is not `LEN key=value\n`.
    #[error("malformed PAX record at byte {offset}")]
    PaxRecord {
        /// Offset of the record in the extended header.
        offset: usize,
    },
    /// A numeric PAX record (size, uid, gid, mtime) does not parse.
    #[error("invalid number in PAX record {key}")]
    PaxNumber {
        /// The record's key.
        key: String,
    },
}

const MAX_OCTAL_7: u64 = 0o7_777_777;
const MAX_OCTAL_11: u64 = 0o77_777_777_777;

/// Encodes `h` as the blocks that precede its data: a PAX header (`x` block plus
/// records) when something does not fit ustar, then the ustar block.
pub fn encode(h: &Header, out: &mut Vec<u8>) {
    let records = pax_records(h);
    if !records.is_empty() {
        let mut pax = Header::new(Kind::PaxLocal, pax_header_name(&h.path));
        pax.size = records.len() as u64;
        out.extend_from_slice(&ustar_block(&pax));
        out.extend_from_slice(&records);
        pad_to_block(out);
    }
    out.extend_from_slice(&ustar_block(h));
}

/// Appends zero bytes up to the next block boundary.
pub fn pad_to_block(out: &mut Vec<u8>) {
    out.resize(out.len() + padding(out.len() as u64), 0);
}

/// Bytes of padding after `len` bytes of data.
pub fn padding(len: u64) -> usize {
    ((BLOCK as u64 - len % BLOCK as u64) % BLOCK as u64) as usize
}

/// The name of the PAX header for `path`: deterministic and under 100 bytes.
fn pax_header_name(path: &[u8]) -> Vec<u8> {
    let trimmed = path.strip_suffix(b"/").unwrap_or(path);
    let base = trimmed.rsplit(|b| *b == b'/').next().unwrap_or(trimmed);
    let mut name = b"PaxHeaders/".to_vec();
    name.extend_from_slice(&base[..base.len().min(80)]);
    name
}

/// The PAX records `h` needs: every field that the ustar block cannot hold.
fn pax_records(h: &Header) -> Vec<u8> {
    let mut out = Vec::new();
    if h.path.len() > 100 {
        push_record(&mut out, "path", &h.path);
    }
    if h.link.len() > 100 {
        push_record(&mut out, "linkpath", &h.link);
    }
    for (key, value, max) in [
        ("size", h.size, MAX_OCTAL_11),
        ("uid", h.uid, MAX_OCTAL_7),
        ("gid", h.gid, MAX_OCTAL_7),
    ] {
        if value > max {
            push_record(&mut out, key, value.to_string().as_bytes());
        }
    }
    if h.mtime < 0 || h.mtime as u64 > MAX_OCTAL_11 {
        push_record(&mut out, "mtime", h.mtime.to_string().as_bytes());
    }
    for (name, value) in &h.xattrs {
        push_record(&mut out, &format!("{PAX_XATTR}{name}"), value);
    }
    out
}

/// Appends one `LEN key=value\n` record; LEN counts the whole record, itself included.
fn push_record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key.as_bytes());
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// Encodes the ustar block; fields too large for it are zeroed or truncated (their
/// real values travel in PAX records).
fn ustar_block(h: &Header) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    put_bytes(&mut b[0..100], &h.path);
    put_octal(&mut b[100..108], u64::from(h.mode & 0o7777));
    put_octal(&mut b[108..116], fit(h.uid, MAX_OCTAL_7));
    put_octal(&mut b[116..124], fit(h.gid, MAX_OCTAL_7));
    put_octal(&mut b[124..136], fit(h.size, MAX_OCTAL_11));
    put_octal(
        &mut b[136..148],
        u64::try_from(h.mtime).map_or(0, |m| fit(m, MAX_OCTAL_11)),
    );
    b[156] = h.kind.flag();
    put_bytes(&mut b[157..257], &h.link);
    b[257..263].copy_from_slice(b"ustar\0");
    b[263..265].copy_from_slice(b"00");
    if matches!(h.kind, Kind::Char | Kind::Block) {
        put_octal(&mut b[329..337], fit(u64::from(h.dev_major), MAX_OCTAL_7));
        put_octal(&mut b[337..345], fit(u64::from(h.dev_minor), MAX_OCTAL_7));
    }
    let sum = checksum(&b);
    put_octal(&mut b[148..155], u64::from(sum));
    b[155] = b' ';
    b
}

fn fit(value: u64, max: u64) -> u64 {
    if value > max {
        0
    } else {
        value
    }
}

fn put_bytes(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
}

/// Zero-padded octal digits filling the field but its last byte, which stays NUL.
fn put_octal(field: &mut [u8], value: u64) {
    let digits = format!("{value:0width$o}", width = field.len() - 1);
    put_bytes(field, digits.as_bytes());
}

/// Sum of the block's bytes with the checksum field counted as spaces.
fn checksum(b: &[u8; BLOCK]) -> u32 {
    let head: u32 = b[..148].iter().map(|x| u32::from(*x)).sum();
    let tail: u32 = b[156..].iter().map(|x| u32::from(*x)).sum();
    head + tail + 8 * u32::from(b' ')
}

/// Decodes a ustar / GNU / v7 header block (not all zeros).
pub fn decode(b: &[u8; BLOCK]) -> Result<Header, FormatError> {
    verify_checksum(b)?;
    let is_ustar = &b[257..263] == b"ustar\0";
    let mut path = field_bytes(&b[0..100]).to_vec();
    let prefix = field_bytes(&b[345..500]);
    if is_ustar && !prefix.is_empty() {
        path = [prefix, b"/", &path].concat();
    }
    let mut h = Header::new(Kind::from_flag(b[156]), path);
    h.link = field_bytes(&b[157..257]).to_vec();
    h.mode = u32::try_from(number(&b[100..108], "mode")? & 0o7777).unwrap_or(0);
    h.uid = number(&b[108..116], "uid")?;
    h.gid = number(&b[116..124], "gid")?;
    h.size = number(&b[124..136], "size")?;
    h.mtime = i64::try_from(number(&b[136..148], "mtime")?).unwrap_or(i64::MAX);
    if matches!(h.kind, Kind::Char | Kind::Block) {
        h.dev_major = u32::try_from(number(&b[329..337], "devmajor")?).unwrap_or(u32::MAX);
        h.dev_minor = u32::try_from(number(&b[337..345], "devminor")?).unwrap_or(u32::MAX);
    }
    Ok(h)
}

fn verify_checksum(b: &[u8; BLOCK]) -> Result<(), FormatError> {
    let stored = number(&b[148..156], "chksum")?;
    let unsigned = u64::from(checksum(b));
    // Some old writers summed signed bytes.
    let signed: i64 = b[..148]
        .iter()
        .chain(&b[156..])
        .map(|x| i64::from(*x as i8))
        .sum::<i64>()
        + 8 * 32;
    if stored == unsigned || i64::try_from(stored).ok() == Some(signed) {
        Ok(())
    } else {
        Err(FormatError::Checksum)
    }
}

/// The bytes of a NUL-terminated (or full) text field.
fn field_bytes(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    &field[..end]
}

/// Parses an octal field (spaces/NULs around it) or a GNU base-256 field.
fn number(field: &[u8], name: &'static str) -> Result<u64, FormatError> {
    let bad = || FormatError::Number { field: name };
    if field[0] & 0x80 != 0 {
        if field[0] == 0xff {
            return Err(bad()); // negative base-256: never valid for us
        }
        let mut value: u64 = u64::from(field[0] & 0x7f);
        for byte in &field[1..] {
            value = value.checked_mul(256).ok_or_else(bad)? | u64::from(*byte);
        }
        return Ok(value);
    }
    let text = field_bytes(field);
    let text = std::str::from_utf8(text)
        .map_err(|_| bad())?
        .trim_matches(' ');
    if text.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(text, 8).map_err(|_| bad())
}

/// Folds PAX records into `h`. Unknown keys (atime, ctime, uname, …) are ignored.
pub fn apply_pax(h: &mut Header, records: &[u8]) -> Result<(), FormatError> {
    let mut offset = 0;
    while offset < records.len() {
        let (key, value, len) = parse_record(&records[offset..], offset)?;
        apply_record(h, key, value)?;
        offset += len;
    }
    Ok(())
}

/// Splits one record off the front of `rest`: `(key, value, record length)`.
fn parse_record(rest: &[u8], offset: usize) -> Result<(&str, &[u8], usize), FormatError> {
    let bad = || FormatError::PaxRecord { offset };
    let space = rest.iter().position(|b| *b == b' ').ok_or_else(bad)?;
    let len: usize = std::str::from_utf8(&rest[..space])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    if len <= space + 1 || len > rest.len() || rest[len - 1] != b'\n' {
        return Err(bad());
    }
    let body = &rest[space + 1..len - 1];
    let eq = body.iter().position(|b| *b == b'=').ok_or_else(bad)?;
    let key = std::str::from_utf8(&body[..eq]).map_err(|_| bad())?;
    Ok((key, &body[eq + 1..], len))
}

fn apply_record(h: &mut Header, key: &str, value: &[u8]) -> Result<(), FormatError> {
    let num = || -> Result<i64, FormatError> {
        let text = std::str::from_utf8(value).unwrap_or("");
        // mtime may carry a fraction ("1700000000.5"); keep whole seconds.
        let whole = text.split('.').next().unwrap_or("");
        whole.parse::<i64>().map_err(|_| FormatError::PaxNumber {
            key: key.to_string(),
        })
    };
    let unsigned = || {
        num().and_then(|n| {
            u64::try_from(n).map_err(|_| FormatError::PaxNumber {
                key: key.to_string(),
            })
        })
    };
    match key {
        "path" => h.path = value.to_vec(),
        "linkpath" => h.link = value.to_vec(),
        "size" => h.size = unsigned()?,
        "uid" => h.uid = unsigned()?,
        "gid" => h.gid = unsigned()?,
        "mtime" => h.mtime = num()?,
        _ => {
            if let Some(name) = key.strip_prefix(PAX_XATTR) {
                h.xattrs.retain(|(n, _)| n != name);
                h.xattrs.push((name.to_string(), value.to_vec()));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_encoded(h: &Header) -> Header {
        let mut bytes = Vec::new();
        encode(h, &mut bytes);
        assert_eq!(bytes.len() % BLOCK, 0);
        let last: &[u8; BLOCK] = bytes[bytes.len() - BLOCK..].try_into().expect("block");
        let mut out = decode(last).expect("decode");
        if bytes.len() > BLOCK {
            let first: &[u8; BLOCK] = bytes[..BLOCK].try_into().expect("block");
            let pax = decode(first).expect("decode pax");
            assert_eq!(pax.kind, Kind::PaxLocal);
            let records = &bytes[BLOCK..BLOCK + pax.size as usize];
            apply_pax(&mut out, records).expect("apply pax");
        }
        out
    }

    #[test]
    fn short_header_round_trips_without_pax() {
        let mut h = Header::new(Kind::Regular, b"etc/passwd".to_vec());
        h.mode = 0o4755;
        h.uid = 1000;
        h.gid = 100;
        h.size = 12345;
        h.mtime = 1_700_000_000;
        let mut bytes = Vec::new();
        encode(&h, &mut bytes);
        assert_eq!(bytes.len(), BLOCK, "no PAX header needed");
        assert_eq!(decode_encoded(&h), h);
    }

    #[test]
    fn long_and_large_fields_go_to_pax() {
        let mut h = Header::new(Kind::Symlink, vec![b'a'; 150]);
        h.link = vec![b'b'; 300];
        h.uid = 1 << 32;
        h.gid = 3_000_000;
        h.mtime = -5;
        h.xattrs = vec![("security.capability".into(), vec![0, 1, 2, 0xff, b'\n'])];
        let mut bytes = Vec::new();
        encode(&h, &mut bytes);
        assert!(bytes.len() > BLOCK);
        assert_eq!(decode_encoded(&h), h);
    }

    #[test]
    fn huge_size_round_trips() {
        let mut h = Header::new(Kind::Regular, b"big".to_vec());
        h.size = 20 << 30;
        assert_eq!(decode_encoded(&h).size, 20 << 30);
    }

    #[test]
    fn record_length_counts_its_own_digits() {
        for n in 0..200 {
            let mut out = Vec::new();
            push_record(&mut out, "k", &vec![b'v'; n]);
            let (key, value, len) = parse_record(&out, 0).expect("parse");
            assert_eq!((key, value.len(), len), ("k", n, out.len()));
        }
    }

    #[test]
    fn bad_records_and_checksums_are_errors() {
        assert!(parse_record(b"99 path=x\n", 0).is_err());
        assert!(parse_record(b"x path=x\n", 0).is_err());
        assert!(parse_record(b"9 pathx\n\n", 0).is_err());
        let mut h = Header::new(Kind::Regular, b"f".to_vec());
        h.size = 1;
        let mut bytes = Vec::new();
        encode(&h, &mut bytes);
        bytes[0] = b'g';
        let block: &[u8; BLOCK] = bytes[..BLOCK].try_into().expect("block");
        assert!(matches!(decode(block), Err(FormatError::Checksum)));
    }

    #[test]
    fn base256_numbers_parse() {
        let mut field = [0u8; 12];
        field[0] = 0x80;
        field[11] = 0x01;
        field[10] = 0x02;
        assert_eq!(number(&field, "size").expect("base256"), 0x0201);
        assert!(number(&[0xff; 12], "size").is_err());
        assert_eq!(number(b"  0000644 \0", "mode").expect("octal"), 0o644);
    }
}

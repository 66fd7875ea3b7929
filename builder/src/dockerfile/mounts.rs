//! The value of `RUN --mount=...`, parsed by BuildKit's rules
//! (`frontend/dockerfile/instructions/commands_runmount.go`): a CSV record of `key=value`
//! fields and a few bare words, checked per mount type.
//!
//! As in Go, an empty `from`, `source`, `target` or `id` counts as not given (`None`);
//! `env=` with an empty value is still given.

use super::error::did_you_mean;
use super::suggest_closest;

/// What a `RUN --mount` mounts (`type=`; bind when not given).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountType {
    /// A directory or file of the build context, a stage or an image (read-only by default).
    Bind,
    /// A persistent cache directory shared between builds.
    Cache,
    /// An empty tmpfs.
    Tmpfs,
    /// A build secret, as a file or an environment variable.
    Secret,
    /// An SSH agent socket.
    Ssh,
}

const TYPES: [(&str, MountType); 5] = [
    ("bind", MountType::Bind),
    ("cache", MountType::Cache),
    ("tmpfs", MountType::Tmpfs),
    ("secret", MountType::Secret),
    ("ssh", MountType::Ssh),
];

impl MountType {
    /// BuildKit's (lowercase) name of the type, as error messages show it.
    fn name(self) -> &'static str {
        TYPES
            .iter()
            .find(|(_, t)| *t == self)
            .map_or("", |(n, _)| n)
    }

    /// Whether `required` applies (secret and ssh).
    fn can_require(self) -> bool {
        matches!(self, MountType::Secret | MountType::Ssh)
    }
}

/// How concurrent builds share a cache mount (`sharing=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sharing {
    /// Concurrent writers use the cache at the same time (the default).
    #[default]
    Shared,
    /// Each concurrent writer gets its own copy.
    Private,
    /// Writers wait for each other.
    Locked,
}

const SHARINGS: [(&str, Sharing); 3] = [
    ("shared", Sharing::Shared),
    ("private", Sharing::Private),
    ("locked", Sharing::Locked),
];

/// Every key BuildKit knows, for "did you mean" suggestions.
const KEYS: [&str; 19] = [
    "type",
    "from",
    "source",
    "target",
    "readonly",
    "id",
    "sharing",
    "required",
    "size",
    "mode",
    "uid",
    "gid",
    "env",
    "src",
    "dst",
    "destination",
    "ro",
    "rw",
    "readwrite",
];

/// One parsed `--mount` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    /// `type=`.
    pub kind: MountType,
    /// `from=`: the stage or image to mount from (bind and cache).
    pub from: Option<String>,
    /// `source=`/`src=`: the path inside `from` (or the context), or the secret's id.
    pub source: Option<String>,
    /// `target=`/`dst=`/`destination=`: where the mount appears in the container.
    pub target: Option<String>,
    /// `ro`/`rw`; when neither is given, false for cache and tmpfs, true otherwise.
    pub read_only: bool,
    /// tmpfs `size=`, in bytes.
    pub size: Option<u64>,
    /// `id=`: the cache id, or the secret or SSH agent id.
    pub id: Option<String>,
    /// `sharing=` of a cache mount.
    pub sharing: Sharing,
    /// `required`: fail when the secret or SSH agent is missing.
    pub required: bool,
    /// `env=`: the environment variable a secret is exposed as.
    pub env: Option<String>,
    /// `mode=` (octal) of a secret, ssh socket or cache directory.
    pub mode: Option<u32>,
    /// `uid=` owning a secret, ssh socket or cache directory.
    pub uid: Option<u32>,
    /// `gid=` owning a secret, ssh socket or cache directory.
    pub gid: Option<u32>,
}

impl MountSpec {
    /// The secret or SSH id of a secret or ssh mount: `source`, else `id`, else the base
    /// name of `target`. `None` for other types.
    pub fn secret_id(&self) -> Option<String> {
        if !self.kind.can_require() {
            return None;
        }
        self.source
            .clone()
            .or_else(|| self.id.clone())
            .or_else(|| self.target.as_deref().map(go_base))
    }

    /// Where a secret mount's file appears: `target`, else (unless it is exposed as `env`)
    /// `/run/secrets/` and the base name of [`MountSpec::secret_id`]. `None` for other types.
    pub fn secret_target(&self) -> Option<String> {
        if self.kind != MountType::Secret {
            return None;
        }
        if self.target.is_some() || self.env.is_some() {
            return self.target.clone();
        }
        Some(format!("/run/secrets/{}", go_base(&self.secret_id()?)))
    }
}

/// Why a `--mount` value is invalid; displays as BuildKit's message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct MountError(pub String);

/// Parses a `--mount` value (already expanded) with BuildKit's rules.
pub fn parse_mount(raw: &str) -> Result<MountSpec, MountError> {
    let mut m = MountSpec {
        kind: MountType::Bind,
        from: None,
        source: None,
        target: None,
        read_only: false,
        size: None,
        id: None,
        sharing: Sharing::Shared,
        required: false,
        env: None,
        mode: None,
        uid: None,
        gid: None,
    };
    let mut ro_auto = true;
    let mut sharing_set = false;
    let unexpected_for_type = |key: &str, kind: MountType| {
        MountError(format!(
            "unexpected key '{key}' for mount type '{}'",
            kind.name()
        ))
    };
    for field in csv_fields(raw)? {
        let Some((key, value)) = field.split_once('=') else {
            match field.to_lowercase().as_str() {
                "readonly" | "ro" => (m.read_only, ro_auto) = (true, false),
                "readwrite" | "rw" => (m.read_only, ro_auto) = (false, false),
                "required" if m.kind.can_require() => m.required = true,
                "required" => return Err(unexpected_for_type("required", m.kind)),
                _ => {
                    return Err(MountError(format!(
                        "invalid field '{field}' must be a key=value pair"
                    )))
                }
            }
            continue;
        };
        let key = key.to_lowercase();
        let bad_value = || MountError(format!("invalid value for {key}: {value}"));
        let bad_number = || MountError(format!("invalid value {value} for {key}"));
        match key.as_str() {
            "type" => {
                let lower = value.to_lowercase();
                let Some(&(_, kind)) = TYPES.iter().find(|(n, _)| *n == lower) else {
                    let names = TYPES.map(|(n, _)| n);
                    let hint = suggest_closest(value, &names, true);
                    return Err(MountError(format!(
                        "unsupported mount type {value:?}{}",
                        did_you_mean(&hint)
                    )));
                };
                m.kind = kind;
            }
            "from" => m.from = non_empty(value),
            "source" | "src" => m.source = non_empty(value),
            "target" | "dst" | "destination" => m.target = non_empty(value),
            "readonly" | "ro" => {
                m.read_only = go_bool(value).ok_or_else(bad_value)?;
                ro_auto = false;
            }
            "readwrite" | "rw" => {
                m.read_only = !go_bool(value).ok_or_else(bad_value)?;
                ro_auto = false;
            }
            "required" if m.kind.can_require() => {
                m.required = go_bool(value).ok_or_else(bad_value)?;
            }
            "size" if m.kind == MountType::Tmpfs => {
                m.size = Some(ram_in_bytes(value).ok_or_else(bad_value)?);
            }
            "required" | "size" => return Err(unexpected_for_type(&key, m.kind)),
            "id" => m.id = non_empty(value),
            "sharing" => {
                let lower = value.to_lowercase();
                let Some(&(_, sharing)) = SHARINGS.iter().find(|(n, _)| *n == lower) else {
                    let names = SHARINGS.map(|(n, _)| n);
                    let hint = suggest_closest(value, &names, true);
                    return Err(MountError(format!(
                        "unsupported sharing value {value:?}{}",
                        did_you_mean(&hint)
                    )));
                };
                m.sharing = sharing;
                sharing_set = true;
            }
            "mode" => m.mode = Some(go_uint(value, 8).ok_or_else(bad_number)?),
            "uid" => m.uid = Some(go_uint(value, 10).ok_or_else(bad_number)?),
            "gid" => m.gid = Some(go_uint(value, 10).ok_or_else(bad_number)?),
            "env" => m.env = Some(value.to_string()),
            _ => {
                let hint = suggest_closest(&key, &KEYS, true);
                return Err(MountError(format!(
                    "unexpected key '{key}' in '{field}'{}",
                    did_you_mean(&hint)
                )));
            }
        }
    }
    validate(&mut m, ro_auto, sharing_set)?;
    Ok(m)
}

/// BuildKit's `validateMount`: per-type rules once all fields are read.
fn validate(m: &mut MountSpec, ro_auto: bool, sharing_set: bool) -> Result<(), MountError> {
    let kind = m.kind.name();
    if !matches!(
        m.kind,
        MountType::Secret | MountType::Ssh | MountType::Cache
    ) {
        for (name, given) in [("mode", m.mode), ("uid", m.uid), ("gid", m.gid)] {
            if given.is_some() {
                return Err(MountError(format!(
                    "{name} not allowed for {kind:?} type mounts"
                )));
            }
        }
    }
    if ro_auto {
        m.read_only = !matches!(m.kind, MountType::Cache | MountType::Tmpfs);
    }
    if m.kind == MountType::Secret {
        if m.from.is_some() {
            return Err(MountError("secret mount should not have a from".into()));
        }
        if sharing_set {
            return Err(MountError("secret mount should not define sharing".into()));
        }
        if m.source.is_none() && m.target.is_none() && m.id.is_none() {
            return Err(MountError(
                "invalid secret mount. one of source, target required".into(),
            ));
        }
        if m.source.is_some() && m.id.is_some() {
            return Err(MountError("both source and id can't be set".into()));
        }
    }
    if sharing_set && m.kind != MountType::Cache {
        return Err(MountError(format!(
            "invalid cache sharing set for {kind} mount"
        )));
    }
    Ok(())
}

fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_string())
}

/// Go's `strconv.ParseBool`.
fn go_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.ParseUint(value, radix, 32)`: digits only (no sign, no underscores).
fn go_uint(value: &str, radix: u32) -> Option<u32> {
    if value.is_empty() || !value.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u32::from_str_radix(value, radix).ok()
}

/// go-units' `RAMInBytes`: a number, an optional space, then an optional suffix `b` or
/// `k`/`m`/`g`/`t`/`p` (powers of 1024) with an optional `b` or `ib`, case-insensitive.
/// The number may have a fraction; the result is truncated to whole bytes.
fn ram_in_bytes(value: &str) -> Option<u64> {
    let sep = value.rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ')?;
    let (num, suffix) = if value.as_bytes()[sep] == b' ' {
        (&value[..sep], &value[sep + 1..])
    } else {
        (&value[..=sep], &value[sep + 1..])
    };
    // Go's ParseFloat also takes a sign, exponents and "inf"; overflow and NaN fail here.
    let mut size: f64 = num.parse().ok()?;
    if !size.is_finite() || size < 0.0 || suffix.len() > 3 {
        return None;
    }
    let suffix = suffix.to_ascii_lowercase();
    let mut rest = suffix.as_str();
    if let Some(unit) = rest.chars().next().filter(|c| *c != 'b') {
        let power = "kmgtp".find(unit)? + 1;
        size *= 1024f64.powi(i32::try_from(power).ok()?);
        rest = &rest[1..];
    }
    if !matches!(rest, "" | "b" | "ib") {
        return None;
    }
    // Go converts with int64(size): anything past i64::MAX has no meaning.
    (size < i64::MAX as f64).then_some(size as u64)
}

/// Go's `path.Base`: the last element, ignoring trailing slashes (`.` for "", `/` for "/").
fn go_base(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

/// Splits one CSV record as Go's `encoding/csv` reader does: fields are separated by `,`;
/// a field that starts with `"` is quoted (`""` is a literal quote inside it) and must end
/// at a `"` followed by `,` or the end; a `"` anywhere else is an error.
pub(crate) fn csv_fields(s: &str) -> Result<Vec<String>, MountError> {
    let csv_error = |why: &str| MountError(format!("failed to parse csv mounts: {why}"));
    if s.is_empty() {
        return Err(csv_error("EOF"));
    }
    let mut fields = Vec::new();
    let mut rest = s;
    loop {
        let (field, next) = if let Some(mut quoted) = rest.strip_prefix('"') {
            let mut field = String::new();
            loop {
                let Some(end) = quoted.find('"') else {
                    return Err(csv_error("extraneous or missing \" in quoted-field"));
                };
                field.push_str(&quoted[..end]);
                quoted = &quoted[end + 1..];
                match quoted.chars().next() {
                    Some('"') => {
                        field.push('"');
                        quoted = &quoted[1..];
                    }
                    Some(',') => break (field, Some(&quoted[1..])),
                    None => break (field, None),
                    Some(_) => return Err(csv_error("extraneous or missing \" in quoted-field")),
                }
            }
        } else {
            let (field, next) = match rest.split_once(',') {
                Some((field, next)) => (field, Some(next)),
                None => (rest, None),
            };
            if field.contains('"') {
                return Err(csv_error("bare \" in non-quoted-field"));
            }
            (field.to_string(), next)
        };
        fields.push(field);
        match next {
            Some(next) => rest = next,
            None => return Ok(fields),
        }
    }
}

#[cfg(test)]
#[path = "mounts_tests.rs"]
mod tests;

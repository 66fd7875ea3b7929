//! Instruction flags (`--from=stage`, `--link`, `--mount=...`), checked against what each
//! instruction accepts, with BuildKit's `BFlags` rules: bool flags take no value or
//! `=true`/`=false`, string flags need `=value`, only list flags may repeat.

use super::error::SyntaxError;
use super::suggest::closest;

/// How a flag takes its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `--link`, `--link=true`, `--link=false`.
    Bool,
    /// `--from=value`, at most once.
    Str,
    /// `--mount=value`, repeatable.
    List,
}

/// Every flag some instruction takes, with its owner(s), for "wrong instruction" messages.
const OWNERS: &[(&str, &str)] = &[
    ("from", "COPY"),
    ("chown", "COPY and ADD"),
    ("chmod", "COPY and ADD"),
    ("link", "COPY and ADD"),
    ("exclude", "COPY and ADD"),
    ("parents", "COPY"),
    ("keep-git-dir", "ADD"),
    ("checksum", "ADD"),
    ("unpack", "ADD"),
    ("platform", "FROM"),
    ("mount", "RUN"),
    ("network", "RUN"),
    ("security", "RUN"),
    ("interval", "HEALTHCHECK"),
    ("timeout", "HEALTHCHECK"),
    ("start-period", "HEALTHCHECK"),
    ("start-interval", "HEALTHCHECK"),
    ("retries", "HEALTHCHECK"),
];

/// The flags an instruction accepts.
pub(crate) fn accepted(keyword: &str) -> &'static [(&'static str, Kind)] {
    match keyword {
        "FROM" => &[("platform", Kind::Str)],
        "RUN" => &[
            ("mount", Kind::List),
            ("network", Kind::Str),
            ("security", Kind::Str),
        ],
        "COPY" => &[
            ("from", Kind::Str),
            ("chown", Kind::Str),
            ("chmod", Kind::Str),
            ("link", Kind::Bool),
            ("parents", Kind::Bool),
            ("exclude", Kind::List),
        ],
        "ADD" => &[
            ("chown", Kind::Str),
            ("chmod", Kind::Str),
            ("link", Kind::Bool),
            ("keep-git-dir", Kind::Bool),
            ("checksum", Kind::Str),
            ("unpack", Kind::Bool),
            ("exclude", Kind::List),
        ],
        "HEALTHCHECK" => &[
            ("interval", Kind::Str),
            ("timeout", Kind::Str),
            ("start-period", Kind::Str),
            ("start-interval", Kind::Str),
            ("retries", Kind::Str),
        ],
        _ => &[],
    }
}

/// The parsed flags of one instruction: `(name, value)` in the order given; bools are
/// stored as `"true"`/`"false"`.
#[derive(Debug, Default)]
pub(crate) struct Flags {
    values: Vec<(&'static str, String)>,
}

impl Flags {
    /// Parses `raw` (`--name[=value]` words) for `keyword`.
    pub(crate) fn parse(keyword: &'static str, raw: &[String]) -> Result<Flags, SyntaxError> {
        let spec = accepted(keyword);
        let mut flags = Flags::default();
        for word in raw {
            let (flag, value) = match word.split_once('=') {
                Some((f, v)) => (f, Some(v)),
                None => (word.as_str(), None),
            };
            let name = flag.strip_prefix("--").unwrap_or(flag);
            let Some(&(name, kind)) = spec.iter().find(|(n, _)| *n == name) else {
                return Err(unknown(keyword, flag, name, spec));
            };
            if kind != Kind::List && flags.values.iter().any(|(n, _)| *n == name) {
                return Err(SyntaxError::DuplicateFlag { flag: flag.into() });
            }
            flags.values.push((name, value_of(flag, kind, value)?));
        }
        Ok(flags)
    }

    /// A string flag's value; an empty value counts as not given.
    pub(crate) fn string(&self, name: &str) -> Option<String> {
        self.values
            .iter()
            .find(|(n, v)| *n == name && !v.is_empty())
            .map(|(_, v)| v.clone())
    }

    /// A bool flag's value, if given.
    pub(crate) fn boolean(&self, name: &str) -> Option<bool> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v == "true")
    }

    /// All values of a list flag, in order.
    pub(crate) fn list(&self, name: &str) -> Vec<String> {
        self.values
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// Checks and normalises one flag's value.
fn value_of(flag: &str, kind: Kind, value: Option<&str>) -> Result<String, SyntaxError> {
    let missing = || SyntaxError::MissingFlagValue { flag: flag.into() };
    match (kind, value) {
        (Kind::Bool, None) => Ok("true".into()),
        (Kind::Bool, Some("")) => Err(missing()),
        (Kind::Bool, Some(v)) => match v.to_ascii_lowercase().as_str() {
            "true" => Ok("true".into()),
            "false" => Ok("false".into()),
            _ => Err(SyntaxError::BadBool {
                flag: flag.into(),
                value: v.into(),
            }),
        },
        (_, None) => Err(missing()),
        (_, Some(v)) => Ok(v.into()),
    }
}

/// The error for a flag `keyword` does not take: misplaced if another instruction takes it.
fn unknown(keyword: &'static str, flag: &str, name: &str, spec: &[(&str, Kind)]) -> SyntaxError {
    if let Some((_, owner)) = OWNERS.iter().find(|(n, _)| *n == name) {
        return SyntaxError::FlagNotAllowed {
            flag: flag.into(),
            instruction: keyword,
            owner,
        };
    }
    let names: Vec<&str> = spec.iter().map(|(n, _)| *n).collect();
    SyntaxError::UnknownFlag {
        flag: flag.into(),
        instruction: keyword,
        suggestion: closest(name, &names, false).map(|s| format!("--{s}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_kinds() {
        let f = Flags::parse(
            "COPY",
            &raw(&[
                "--from=b",
                "--link",
                "--exclude=a",
                "--exclude=b",
                "--chown=",
            ]),
        )
        .unwrap();
        assert_eq!(f.string("from").as_deref(), Some("b"));
        assert_eq!(f.string("chown"), None);
        assert_eq!(f.boolean("link"), Some(true));
        assert_eq!(f.boolean("parents"), None);
        assert_eq!(f.list("exclude"), vec!["a", "b"]);
        let f = Flags::parse("ADD", &raw(&["--link=FALSE"])).unwrap();
        assert_eq!(f.boolean("link"), Some(false));
    }

    #[test]
    fn errors_like_buildkit() {
        let e = |kw, w: &[&str]| Flags::parse(kw, &raw(w)).unwrap_err().to_string();
        assert_eq!(
            e("COPY", &["--form=a"]),
            "unknown flag: --form on COPY (did you mean --from?)"
        );
        assert_eq!(
            e("COPY", &["--from=a", "--from=b"]),
            "duplicate flag specified: --from"
        );
        assert_eq!(e("COPY", &["--from"]), "missing a value on flag: --from");
        assert_eq!(e("COPY", &["--link="]), "missing a value on flag: --link");
        assert_eq!(
            e("COPY", &["--link=yes"]),
            "expecting boolean value for flag --link, not: yes"
        );
        assert_eq!(
            e("COPY", &["--network=none"]),
            "COPY does not take the flag --network (it is a flag of RUN)"
        );
        assert_eq!(e("USER", &["--boo"]), "unknown flag: --boo on USER");
    }
}

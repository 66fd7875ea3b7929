//! Parsing docker-style build flag values: `--build-arg K=V`, `--label k=v`, `--memory 512m`.

use std::collections::BTreeMap;

/// A flag value that does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OptionError {
    /// `--memory` is not a size.
    #[error(
        "invalid size {value:?}: expected a number with an optional unit b, k, m or g (e.g. 512m)"
    )]
    Size {
        /// The value given.
        value: String,
    },
    /// `--network` is not a mode rbuild supports.
    #[error("--network {value}: only host and none are supported")]
    Network {
        /// The value given.
        value: String,
    },
    /// `--secret` does not parse or its source cannot be read.
    #[error("--secret {value}: {reason}")]
    Secret {
        /// The value given.
        value: String,
        /// What is wrong.
        reason: String,
    },
}

/// Where a bare `--build-arg K` takes its value from.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// `K=V` pairs. With `lookup`, a bare `K` takes its value from it (docker's
/// `--build-arg K` reads the environment) and is dropped when unset; without, it maps to "".
pub fn key_values(items: &[String], lookup: Option<Lookup<'_>>) -> BTreeMap<String, String> {
    items
        .iter()
        .filter_map(|kv| match (kv.split_once('='), lookup) {
            (Some((k, v)), _) => Some((k.to_string(), v.to_string())),
            (None, Some(get)) => get(kv).map(|v| (kv.clone(), v)),
            (None, None) => Some((kv.clone(), String::new())),
        })
        .collect()
}

/// docker's memory syntax: `1048576`, `100k`, `512m`, `1g` (binary units, optional `b`).
pub fn parse_bytes(value: &str) -> Result<u64, OptionError> {
    let bad = || OptionError::Size {
        value: value.to_string(),
    };
    let lower = value.trim().to_ascii_lowercase();
    let digits = lower.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let n: f64 = digits.parse().map_err(|_| bad())?;
    let mult: u64 = match lower[digits.len()..].trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return Err(bad()),
    };
    if n < 0.0 {
        return Err(bad());
    }
    Ok((n * mult as f64) as u64)
}

/// `--network`: `host` (or `default`) and `none`.
pub fn parse_network(value: &str) -> Result<super::Network, OptionError> {
    match value {
        "host" | "default" => Ok(super::Network::Host),
        "none" => Ok(super::Network::None),
        other => Err(OptionError::Network {
            value: other.to_string(),
        }),
    }
}

/// `--secret id=ID[,src=PATH|,env=NAME][,type=file|env]` (buildx's syntax): the secret's id
/// and value, read now. With neither `src` nor `env`, the environment variable `ID` is used
/// when it is set, else the file `ID`.
pub fn parse_secret(
    value: &str,
    env: Lookup<'_>,
) -> Result<(String, super::SecretValue), OptionError> {
    let fail = |reason: String| OptionError::Secret {
        value: value.to_string(),
        reason,
    };
    let (mut id, mut src, mut var, mut kind) = (None, None, None, None);
    for field in value.split(',') {
        match field.split_once('=') {
            Some(("id", v)) => id = Some(v.to_string()),
            Some(("src" | "source", v)) => src = Some(v.to_string()),
            Some(("env", v)) => var = Some(v.to_string()),
            Some(("type", v @ ("file" | "env"))) => kind = Some(v.to_string()),
            _ => return Err(fail(format!("unexpected field {field:?}"))),
        }
    }
    let id = id
        .filter(|i| !i.is_empty())
        .ok_or_else(|| fail("id= is required".into()))?;
    let from_env = |name: &str| env(name).map(|v| super::SecretValue::new(v.into_bytes()));
    let read = |path: &str| {
        std::fs::read(path)
            .map(super::SecretValue::new)
            .map_err(|e| fail(format!("cannot read {path}: {e}")))
    };
    let secret = match (kind.as_deref(), src, var) {
        (Some("env"), src, var) => {
            let name = var.or(src).unwrap_or_else(|| id.clone());
            from_env(&name)
                .ok_or_else(|| fail(format!("environment variable {name} is not set")))?
        }
        (_, Some(path), _) => read(&path)?,
        (Some("file"), None, _) => read(&id)?,
        (_, None, Some(name)) => from_env(&name)
            .ok_or_else(|| fail(format!("environment variable {name} is not set")))?,
        (_, None, None) => match from_env(&id) {
            Some(v) => v,
            None => read(&id)?,
        },
    };
    Ok((id, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_docker() {
        let table = [
            ("1048576", 1 << 20),
            ("100k", 100 << 10),
            ("512m", 512 << 20),
            ("1g", 1 << 30),
            ("2GB", 2 << 30),
            ("1.5m", 3 << 19),
        ];
        for (input, want) in table {
            assert_eq!(parse_bytes(input), Ok(want), "{input}");
        }
        for bad in ["", "m", "12x", "-1m", "1t"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn key_values_with_and_without_environment() {
        let items = vec!["A=1".to_string(), "B".to_string(), "C=x=y".to_string()];
        let env = |k: &str| (k == "B").then(|| "from-env".to_string());
        let got = key_values(&items, Some(&env));
        assert_eq!(got["A"], "1");
        assert_eq!(got["B"], "from-env");
        assert_eq!(got["C"], "x=y");
        let none = |_: &str| None;
        assert!(!key_values(&items, Some(&none)).contains_key("B"));
        assert_eq!(key_values(&items, None)["B"], "");
    }

    #[test]
    fn secrets_like_buildx() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("tok");
        std::fs::write(&file, "from-file").expect("write");
        let env = |k: &str| (k == "TOK").then(|| "from-env".to_string());
        let value = |s: &str| parse_secret(s, &env).map(|(id, v)| (id, v.bytes().to_vec()));
        let src = format!("id=a,src={}", file.display());
        assert_eq!(value(&src), Ok(("a".into(), b"from-file".to_vec())));
        assert_eq!(
            value("id=b,env=TOK"),
            Ok(("b".into(), b"from-env".to_vec()))
        );
        assert_eq!(value("id=TOK"), Ok(("TOK".into(), b"from-env".to_vec())));
        assert_eq!(
            value("type=env,id=TOK").map(|v| v.1),
            Ok(b"from-env".to_vec())
        );
        for bad in [
            "src=/x",
            "id=a,env=NOPE",
            "id=a,src=/does/not/exist",
            "id=a,bogus=1",
        ] {
            let err = value(bad).unwrap_err().to_string();
            assert!(err.starts_with(&format!("--secret {bad}: ")), "{err}");
        }
        assert!(!format!("{:?}", parse_secret(&src, &env).unwrap().1).contains("from-file"));
    }

    #[test]
    fn networks() {
        assert_eq!(parse_network("none"), Ok(super::super::Network::None));
        assert_eq!(parse_network("default"), Ok(super::super::Network::Host));
        assert!(parse_network("bridge").is_err());
    }
}

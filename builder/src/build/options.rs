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
    fn networks() {
        assert_eq!(parse_network("none"), Ok(super::super::Network::None));
        assert_eq!(parse_network("default"), Ok(super::super::Network::Host));
        assert!(parse_network("bridge").is_err());
    }
}

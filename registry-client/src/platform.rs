//! Platforms (`os/arch[/variant]`) and choosing one manifest out of an image index.

use std::fmt;

use oci_spec::image::{Descriptor, ImageIndex};
use thiserror::Error;

/// A platform string that is not `os/arch[/variant]`.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid platform {input:?}: expected os/arch[/variant], e.g. linux/arm64/v8")]
pub struct PlatformError {
    /// The rejected text.
    pub input: String,
}

/// An OS, architecture and optional variant, in OCI spelling (`linux/amd64`, `linux/arm/v7`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Platform {
    /// `linux`, `windows`, …
    pub os: String,
    /// `amd64`, `arm64`, `arm`, …
    pub architecture: String,
    /// `v7`, `v8`, … when the architecture has variants.
    pub variant: Option<String>,
}

impl Platform {
    /// Parses `os/arch[/variant]`.
    pub fn parse(s: &str) -> Result<Platform, PlatformError> {
        let parts: Vec<&str> = s.split('/').collect();
        let bad = || PlatformError {
            input: s.to_string(),
        };
        if parts.len() < 2 || parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        let architecture = normalize_arch(parts[1]).to_string();
        let variant = parts.get(2).map(|v| v.to_string());
        Ok(Platform {
            os: parts[0].to_ascii_lowercase(),
            architecture,
            variant,
        })
    }

    /// The platform of this machine, in OCI terms (`linux/amd64`, `linux/arm64/v8`, …).
    pub fn host() -> Platform {
        let (architecture, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "aarch64" => ("arm64", Some("v8")),
            "arm" => ("arm", Some("v7")),
            "x86" => ("386", None),
            "powerpc64" => ("ppc64le", None),
            other => (other, None),
        };
        Platform {
            os: std::env::consts::OS.to_string(),
            architecture: architecture.into(),
            variant: variant.map(String::from),
        }
    }

    /// True when an index entry's platform satisfies this one. An unspecified variant
    /// matches any; `arm64` treats a missing variant as `v8`.
    pub fn matches(&self, desc: &Descriptor) -> bool {
        let Some(p) = desc.platform() else {
            return false;
        };
        let arch = normalize_arch(&p.architecture().to_string()).to_string();
        if p.os().to_string() != self.os || arch != self.architecture {
            return false;
        }
        let default_variant = (arch == "arm64").then_some("v8");
        match (&self.variant, p.variant().as_deref().or(default_variant)) {
            (None, _) => true,
            (Some(want), Some(have)) => want == have,
            (Some(want), None) => Some(want.as_str()) == default_variant,
        }
    }

    /// The manifest for this platform in `index`: exact variant first, then the first
    /// entry that matches at all.
    pub fn select<'a>(&self, index: &'a ImageIndex) -> Option<&'a Descriptor> {
        index.manifests().iter().find(|d| self.matches(d))
    }
}

fn normalize_arch(arch: &str) -> &str {
    match arch {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// `os/arch[/variant]` for each entry of an index, for "no matching platform" errors.
pub fn available(index: &ImageIndex) -> Vec<String> {
    index
        .manifests()
        .iter()
        .filter_map(|d| d.platform().as_ref())
        .map(|p| match p.variant() {
            Some(v) => format!("{}/{}/{v}", p.os(), p.architecture()),
            None => format!("{}/{}", p.os(), p.architecture()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> ImageIndex {
        let d = |n: u8, os: &str, arch: &str, variant: Option<&str>| {
            let mut p = serde_json::json!({"os": os, "architecture": arch});
            if let Some(v) = variant {
                p["variant"] = v.into();
            }
            serde_json::json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": n,
                "digest": format!("sha256:{}", format!("{n:02x}").repeat(32)), "platform": p})
        };
        serde_json::from_value(serde_json::json!({"schemaVersion": 2, "manifests": [
            d(1, "linux", "amd64", None), d(2, "linux", "arm", Some("v6")), d(3, "linux", "arm", Some("v7")),
            d(4, "linux", "arm64", None), d(5, "windows", "amd64", None)]}))
        .unwrap()
    }

    fn pick(p: &str) -> Option<u64> {
        Platform::parse(p)
            .unwrap()
            .select(&index())
            .map(|d| d.size())
    }

    #[test]
    fn selection_table() {
        assert_eq!(pick("linux/amd64"), Some(1));
        assert_eq!(pick("linux/x86_64"), Some(1));
        assert_eq!(pick("linux/arm/v7"), Some(3));
        assert_eq!(pick("linux/arm"), Some(2));
        assert_eq!(pick("linux/arm64/v8"), Some(4));
        assert_eq!(pick("linux/aarch64"), Some(4));
        assert_eq!(pick("windows/amd64"), Some(5));
        assert_eq!(pick("linux/s390x"), None);
        assert_eq!(pick("linux/arm/v5"), None);
    }

    #[test]
    fn parse_and_display() {
        assert_eq!(
            Platform::parse("linux/arm64/v8").unwrap().to_string(),
            "linux/arm64/v8"
        );
        for bad in ["linux", "linux/", "/amd64", "a/b/c/d"] {
            assert!(Platform::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(available(&index())[2], "linux/arm/v7");
        assert_eq!(Platform::host().os, std::env::consts::OS);
    }
}

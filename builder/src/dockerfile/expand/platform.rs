//! Platforms as the automatic ARGs (`BUILDPLATFORM`, `TARGETARCH`, ...) spell them.

use std::fmt;

/// An OS/architecture pair with an optional variant, e.g. `linux/arm/v7`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Platform {
    /// The OS, e.g. `linux`.
    pub os: String,
    /// The architecture in Go's spelling, e.g. `amd64`, `arm64`.
    pub architecture: String,
    /// The variant, e.g. `v7`; empty when there is none.
    pub variant: String,
}

impl Platform {
    /// A platform from its parts.
    pub fn new(os: &str, architecture: &str, variant: &str) -> Platform {
        Platform {
            os: os.to_string(),
            architecture: architecture.to_string(),
            variant: variant.to_string(),
        }
    }

    /// The platform this program runs on, normalized as containerd does
    /// (`x86_64` → `amd64`, `aarch64` → `arm64` without variant, 32-bit `arm` → `arm/v7`).
    pub fn host() -> Platform {
        let (architecture, variant) = go_arch(std::env::consts::ARCH);
        Platform::new(std::env::consts::OS, architecture, variant)
    }

    /// Parses `os/arch[/variant]` (BuildKit's `platforms.Parse` for the forms
    /// Dockerfiles use); architecture aliases are normalized. `None` if malformed.
    pub fn parse(text: &str) -> Option<Platform> {
        let parts: Vec<&str> = text.split('/').collect();
        if parts.len() < 2 || parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
            return None;
        }
        let arch = parts[1].to_ascii_lowercase();
        let (architecture, default_variant) = go_arch(&arch);
        let variant = match parts.get(2) {
            Some(v) if architecture == "arm64" && (*v == "v8" || *v == "8") => String::new(),
            Some(v) => v.to_string(),
            None => default_variant.to_string(),
        };
        Some(Platform {
            os: parts[0].to_ascii_lowercase(),
            architecture: architecture.to_string(),
            variant,
        })
    }
}

impl fmt::Display for Platform {
    /// `os/arch` or `os/arch/variant`, as `platforms.Format` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}

/// Maps an architecture name to Go's spelling and its default variant.
fn go_arch(arch: &str) -> (&str, &'static str) {
    match arch {
        "x86_64" | "x86-64" | "amd64" => ("amd64", ""),
        "aarch64" | "arm64" => ("arm64", ""),
        "arm" | "armhf" | "armv7l" | "armv7" => ("arm", "v7"),
        "armel" | "armv6l" | "armv6" => ("arm", "v6"),
        "x86" | "i386" | "i686" | "386" => ("386", ""),
        "powerpc64" => ("ppc64", ""),
        "powerpc64le" | "ppc64le" => ("ppc64le", ""),
        other => (other, ""),
    }
}

/// The automatic platform ARGs with their values, in BuildKit's order
/// (`defaultArgs` in `dockerfile2llb/platform.go`). `TARGETSTAGE` is the
/// target stage's name, or `default` when none is chosen.
pub(super) fn platform_args(
    build: &Platform,
    target: &Platform,
    target_stage: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("BUILDPLATFORM", build.to_string()),
        ("BUILDOS", build.os.clone()),
        ("BUILDOSVERSION", String::new()),
        ("BUILDARCH", build.architecture.clone()),
        ("BUILDVARIANT", build.variant.clone()),
        ("TARGETPLATFORM", target.to_string()),
        ("TARGETOS", target.os.clone()),
        ("TARGETOSVERSION", String::new()),
        ("TARGETARCH", target.architecture.clone()),
        ("TARGETVARIANT", target.variant.clone()),
        ("TARGETSTAGE", target_stage.to_string()),
    ]
}

/// The names [`platform_args`] defines.
pub(super) const PLATFORM_ARG_NAMES: &[&str] = &[
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDOSVERSION",
    "BUILDARCH",
    "BUILDVARIANT",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETOSVERSION",
    "TARGETARCH",
    "TARGETVARIANT",
    "TARGETSTAGE",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_format() {
        let p = Platform::parse("linux/arm/v6").unwrap();
        assert_eq!(p, Platform::new("linux", "arm", "v6"));
        assert_eq!(p.to_string(), "linux/arm/v6");
        assert_eq!(
            Platform::parse("linux/x86_64").unwrap().to_string(),
            "linux/amd64"
        );
        assert_eq!(
            Platform::parse("linux/arm64/v8").unwrap().to_string(),
            "linux/arm64"
        );
        assert_eq!(
            Platform::parse("linux/arm").unwrap().to_string(),
            "linux/arm/v7"
        );
        assert_eq!(Platform::parse("linux"), None);
        assert_eq!(Platform::parse("linux//v7"), None);
    }

    #[test]
    fn host_uses_go_names() {
        let host = Platform::host();
        assert_eq!(host.os, std::env::consts::OS);
        assert_ne!(host.architecture, "x86_64");
        assert_ne!(host.architecture, "aarch64");
    }

    #[test]
    fn platform_args_in_order() {
        let build = Platform::new("linux", "amd64", "");
        let target = Platform::new("linux", "arm", "v7");
        let args = platform_args(&build, &target, "default");
        let names: Vec<&str> = args.iter().map(|(k, _)| *k).collect();
        assert_eq!(names, PLATFORM_ARG_NAMES);
        assert_eq!(args[0].1, "linux/amd64");
        assert_eq!(args[5].1, "linux/arm/v7");
        assert_eq!(args[9].1, "v7");
    }
}

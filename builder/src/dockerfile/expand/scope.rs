//! ARG and ENV scoping, as BuildKit's `dockerfile2llb` keeps it.
//!
//! - The global scope holds the automatic platform ARGs and the ARGs declared
//!   before the first FROM (meta ARGs), with `--build-arg` overrides. Only FROM
//!   lines (image and `--platform`) expand with it.
//! - A stage starts with the base image's ENV (or, for `FROM <stage>`, a copy
//!   of that stage's scope). `ARG NAME` without default imports the global
//!   value; `ARG NAME=default` takes the build-arg if one was given, else the
//!   expanded default. An ARG with a value and an ENV write the same variable
//!   list, so the later one wins for expansion and RUN (BuildKit's order rule:
//!   `ENV X` after `ARG X` overrides it, and `ARG X=v` after an inherited
//!   `ENV X` overrides that too). ARGs never reach the image config.
//! - The proxy build-args reach RUN's environment without being declared, but
//!   are not visible to expansion unless declared.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::platform::{platform_args, Platform, PLATFORM_ARG_NAMES};
use crate::dockerfile::shell::{self, LexOptions, ShellError};

/// The PATH a stage gets when its base image sets none (BuildKit's `DefaultPathEnv` for Linux).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Build-args that need no ARG declaration: they are passed to RUN only.
pub const PROXY_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// ARGs that BuildKit keeps out of the environment (they only switch SBOM scanning).
const NON_ENV_ARGS: &[&str] = &["BUILDKIT_SBOM_SCAN_CONTEXT", "BUILDKIT_SBOM_SCAN_STAGE"];

/// An ordered variable list where a later write replaces the earlier value in place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct EnvList(Vec<(String, String)>);

impl EnvList {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn set(&mut self, key: &str, value: &str) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.to_string(),
            None => self.0.push((key.to_string(), value.to_string())),
        }
    }

    fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }
}

/// The inputs of a build that decide ARG values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgOptions {
    /// `--build-arg NAME=value` pairs.
    pub build_args: BTreeMap<String, String>,
    /// The platform the build runs on (`BUILDPLATFORM`).
    pub build_platform: Platform,
    /// The platform the image is for (`TARGETPLATFORM`).
    pub target_platform: Platform,
    /// The `--target` stage name; `TARGETSTAGE` is `default` when `None`.
    pub target_stage: Option<String>,
}

impl ArgOptions {
    /// Options for a native build on this host with the given build-args.
    pub fn host(build_args: BTreeMap<String, String>) -> ArgOptions {
        ArgOptions {
            build_args,
            build_platform: Platform::host(),
            target_platform: Platform::host(),
            target_stage: None,
        }
    }
}

/// The scope of FROM lines: platform ARGs plus the ARGs declared before the first FROM.
#[derive(Debug, Clone)]
pub struct GlobalScope {
    escape: char,
    build_args: Arc<BTreeMap<String, String>>,
    values: EnvList,
    declared: Vec<String>,
}

impl GlobalScope {
    /// The global scope before any meta ARG: the automatic platform ARGs
    /// (each overridable by a build-arg of the same name). `escape` is the
    /// Dockerfile's escape character.
    pub fn new(options: &ArgOptions, escape: char) -> GlobalScope {
        let stage = options.target_stage.as_deref().unwrap_or("default");
        let mut values = EnvList::default();
        let platforms = platform_args(&options.build_platform, &options.target_platform, stage);
        for (name, value) in platforms {
            let value = options.build_args.get(name).unwrap_or(&value);
            values.set(name, value);
        }
        GlobalScope {
            escape,
            build_args: Arc::new(options.build_args.clone()),
            values,
            declared: Vec::new(),
        }
    }

    /// Declares a meta ARG (before the first FROM): the build-arg wins, else
    /// the default expanded in the global scope; a bare `ARG NAME` without a
    /// build-arg leaves NAME as it was (unset, or a platform ARG's value).
    pub fn declare_arg(&mut self, name: &str, default: Option<&str>) -> Result<(), ShellError> {
        self.declared.push(name.to_string());
        let value = match (self.build_args.get(name), default) {
            (Some(given), _) => given.clone(),
            (None, Some(default)) => self.expand(default)?,
            (None, None) => return Ok(()),
        };
        self.values.set(name, &value);
        Ok(())
    }

    /// The value of a global variable, `None` when unset.
    pub fn lookup(&self, name: &str) -> Option<&str> {
        self.values.get(name)
    }

    /// Expands a FROM word (image reference or `--platform`).
    pub fn expand(&self, word: &str) -> Result<String, ShellError> {
        shell::expand_word(
            word,
            &|name| self.lookup(name).map(str::to_string),
            self.escape,
        )
    }

    /// The names declared with ARG before the first FROM, in order.
    pub fn declared_args(&self) -> &[String] {
        &self.declared
    }

    /// A fresh stage scope under this global scope, with an empty environment
    /// (seed it with [`StageEnv::seed_base_env`]).
    pub fn stage(&self) -> StageEnv {
        StageEnv {
            escape: self.escape,
            build_args: Arc::clone(&self.build_args),
            global: Arc::new(self.values.clone()),
            env: EnvList::default(),
            image_env: EnvList::default(),
            args: Vec::new(),
        }
    }
}

/// The variables of one stage at one point of its instructions.
///
/// Clone it for `FROM <earlier stage>`: BuildKit's child stage starts from the
/// parent's environment and declared ARGs.
#[derive(Debug, Clone)]
pub struct StageEnv {
    escape: char,
    build_args: Arc<BTreeMap<String, String>>,
    global: Arc<EnvList>,
    /// What expansion and RUN see: ENV and ARG values, in order of writing.
    env: EnvList,
    /// What the image config gets: base image ENV plus ENV instructions.
    image_env: EnvList,
    /// Declared ARGs in order, with the value each got (`None` if unset).
    args: Vec<(String, Option<String>)>,
}

impl StageEnv {
    /// Takes the base image's `Env` (`KEY=value` strings) and adds the default
    /// PATH when the image sets none, as BuildKit does for non-Windows stages.
    pub fn seed_base_env<S: AsRef<str>>(&mut self, image_env: &[S]) {
        for entry in image_env {
            let (key, value) = entry
                .as_ref()
                .split_once('=')
                .unwrap_or((entry.as_ref(), ""));
            self.set_env(key, value);
        }
        if self.image_env.get("PATH").is_none() {
            self.set_env("PATH", DEFAULT_PATH);
        }
    }

    /// Declares a stage ARG (BuildKit's `dispatchArg`): a build-arg wins; else
    /// the default, expanded in the stage scope; else the global value of the
    /// same name. With a value it becomes a variable for expansion and RUN.
    pub fn declare_arg(&mut self, name: &str, default: Option<&str>) -> Result<(), ShellError> {
        let value = match (self.build_args.get(name), default) {
            (Some(given), _) => Some(given.clone()),
            (None, Some(default)) => Some(self.expand(default)?),
            (None, None) => self.global.get(name).map(str::to_string),
        };
        if let Some(value) = value.as_deref().filter(|_| !NON_ENV_ARGS.contains(&name)) {
            self.env.set(name, value);
        }
        self.args.push((name.to_string(), value));
        Ok(())
    }

    /// Sets an ENV variable: visible to expansion and RUN, and stored in the image config.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.set(key, value);
        self.image_env.set(key, value);
    }

    /// The value a `$NAME` in this stage expands to; `None` when unset.
    pub fn lookup(&self, name: &str) -> Option<&str> {
        self.env.get(name)
    }

    /// The value of a global (meta or platform) ARG, whether or not the stage declared it.
    pub fn global_lookup(&self, name: &str) -> Option<&str> {
        self.global.get(name)
    }

    /// Expands one word in this stage (BuildKit's `ProcessWord`).
    pub fn expand(&self, word: &str) -> Result<String, ShellError> {
        shell::expand_word(
            word,
            &|name| self.lookup(name).map(str::to_string),
            self.escape,
        )
    }

    /// Expands one word into fields (BuildKit's `ProcessWords`, used by EXPOSE).
    pub fn expand_words(&self, word: &str) -> Result<Vec<String>, ShellError> {
        shell::expand_words(
            word,
            &|name| self.lookup(name).map(str::to_string),
            self.escape,
        )
    }

    /// Expands a COPY/ADD heredoc body: quotes are ordinary characters and
    /// the escape character is always `\`, whatever `# escape=` says.
    pub fn expand_heredoc(&self, body: &str) -> Result<String, ShellError> {
        let options = LexOptions {
            skip_quotes: true,
            ..LexOptions::default()
        };
        let vars = |name: &str| self.lookup(name).map(str::to_string);
        shell::process(body, &vars, '\\', options).map(|e| e.word)
    }

    /// Expands a FROM word with the global scope (for `expand_instruction`).
    pub(super) fn expand_global(&self, word: &str) -> Result<String, ShellError> {
        shell::expand_word(
            word,
            &|name| self.global_lookup(name).map(str::to_string),
            self.escape,
        )
    }

    /// The Dockerfile's escape character.
    pub fn escape(&self) -> char {
        self.escape
    }

    /// The environment of a RUN (`KEY=value`): ENV and ARG values in order,
    /// then the proxy build-args not already set, under both spellings
    /// (`HTTP_PROXY` and `http_proxy`), as BuildKit's proxy env does.
    pub fn run_env(&self) -> Vec<String> {
        let mut out = self.env.to_strings();
        for (upper, value) in proxy_values(&self.build_args) {
            for key in [upper.to_string(), upper.to_ascii_lowercase()] {
                if self.env.get(&key).is_none() {
                    out.push(format!("{key}={value}"));
                }
            }
        }
        out
    }

    /// The image config's `Env` (`KEY=value`): base image ENV plus ENV instructions, no ARGs.
    pub fn image_env(&self) -> Vec<String> {
        self.image_env.to_strings()
    }

    /// The declared ARGs with the values a RUN sees (`KEY=value`, each name
    /// once), as BuildKit prints them in RUN history (`RUN |2 A=1 B=2 ...`).
    pub fn arg_history(&self) -> Vec<String> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (name, value) in &self.args {
            let value = self
                .lookup(name)
                .map(str::to_string)
                .or_else(|| value.clone())
                .unwrap_or_default();
            match out.iter_mut().find(|(k, _)| k == name) {
                Some(slot) => slot.1 = value,
                None => out.push((name.clone(), value)),
            }
        }
        out.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    /// The names declared with ARG in this stage (and its parent stages), in order.
    pub fn declared_args(&self) -> impl Iterator<Item = &str> {
        self.args.iter().map(|(name, _)| name.as_str())
    }
}

/// The five proxy values from build-args matched case-insensitively; of two
/// spellings the one that sorts last wins (`http_proxy` over `HTTP_PROXY`).
fn proxy_values(build_args: &BTreeMap<String, String>) -> Vec<(&'static str, &str)> {
    let kinds = [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "FTP_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
    ];
    kinds
        .iter()
        .filter_map(|kind| {
            let value = build_args
                .iter()
                .rfind(|(k, _)| k.eq_ignore_ascii_case(kind))
                .map(|(_, v)| v.as_str())?;
            (!value.is_empty()).then_some((*kind, value))
        })
        .collect()
}

/// The build-args no ARG declared, sorted; proxy and platform build-args
/// never count as unused.
pub fn unused_build_args<'a>(
    build_args: &BTreeMap<String, String>,
    declared: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let declared: std::collections::BTreeSet<&str> = declared.into_iter().collect();
    build_args
        .keys()
        .filter(|k| !declared.contains(k.as_str()))
        .filter(|k| !PROXY_ARGS.contains(&k.as_str()) && !PLATFORM_ARG_NAMES.contains(&k.as_str()))
        .cloned()
        .collect()
}

/// Docker's warning for unused build-args, or `None` when all were used:
/// `[Warning] One or more build-args [A B] were not consumed`.
pub fn unused_build_args_warning(unused: &[String]) -> Option<String> {
    (!unused.is_empty()).then(|| {
        format!(
            "[Warning] One or more build-args [{}] were not consumed",
            unused.join(" ")
        )
    })
}

//! The typed instructions (pass 2's output): one [`Instruction`] variant per Dockerfile
//! instruction, each with its [`Span`].
//!
//! Words are raw: variables are not expanded and quotes in ENV/LABEL/ARG values are kept as
//! written (expansion is `expand.rs`'s job). Flags are kept as given; an empty flag value
//! (`--chown=`) counts as not given, as in BuildKit.

use std::time::Duration;

use super::heredoc::Heredoc;
use super::span::Span;

/// One Dockerfile instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    /// `FROM [--platform=P] image [AS name]` (a stage header; see [`super::StageDef`]).
    From(FromInstr),
    /// `RUN` in shell or exec form, with mounts and heredocs.
    Run(RunInstr),
    /// `CMD`.
    Cmd(CmdInstr),
    /// `LABEL k=v ...` or legacy `LABEL k v`.
    Label(LabelInstr),
    /// `MAINTAINER name` (deprecated).
    Maintainer(MaintainerInstr),
    /// `EXPOSE port[/proto] ...`.
    Expose(ExposeInstr),
    /// `ENV k=v ...` or legacy `ENV k v`.
    Env(EnvInstr),
    /// `ADD`.
    Add(AddInstr),
    /// `COPY`.
    Copy(CopyInstr),
    /// `ENTRYPOINT`.
    Entrypoint(EntrypointInstr),
    /// `VOLUME`.
    Volume(VolumeInstr),
    /// `USER user[:group]`.
    User(UserInstr),
    /// `WORKDIR path`.
    Workdir(WorkdirInstr),
    /// `ARG name[=default] ...`.
    Arg(ArgInstr),
    /// `ONBUILD <instruction>`.
    Onbuild(OnbuildInstr),
    /// `STOPSIGNAL signal`.
    StopSignal(StopSignalInstr),
    /// `HEALTHCHECK [options] CMD ...` or `HEALTHCHECK NONE`.
    Healthcheck(HealthcheckInstr),
    /// `SHELL ["exe", "arg"]`.
    Shell(ShellInstr),
}

impl Instruction {
    /// The lines this instruction came from.
    pub fn span(&self) -> Span {
        match self {
            Instruction::From(i) => i.span,
            Instruction::Run(i) => i.span,
            Instruction::Cmd(i) => i.span,
            Instruction::Label(i) => i.span,
            Instruction::Maintainer(i) => i.span,
            Instruction::Expose(i) => i.span,
            Instruction::Env(i) => i.span,
            Instruction::Add(i) => i.span,
            Instruction::Copy(i) => i.span,
            Instruction::Entrypoint(i) => i.span,
            Instruction::Volume(i) => i.span,
            Instruction::User(i) => i.span,
            Instruction::Workdir(i) => i.span,
            Instruction::Arg(i) => i.span,
            Instruction::Onbuild(i) => i.span,
            Instruction::StopSignal(i) => i.span,
            Instruction::Healthcheck(i) => i.span,
            Instruction::Shell(i) => i.span,
        }
    }

    /// The instruction's keyword in upper case (`RUN`, `COPY`, ...).
    pub fn keyword(&self) -> &'static str {
        match self {
            Instruction::From(_) => "FROM",
            Instruction::Run(_) => "RUN",
            Instruction::Cmd(_) => "CMD",
            Instruction::Label(_) => "LABEL",
            Instruction::Maintainer(_) => "MAINTAINER",
            Instruction::Expose(_) => "EXPOSE",
            Instruction::Env(_) => "ENV",
            Instruction::Add(_) => "ADD",
            Instruction::Copy(_) => "COPY",
            Instruction::Entrypoint(_) => "ENTRYPOINT",
            Instruction::Volume(_) => "VOLUME",
            Instruction::User(_) => "USER",
            Instruction::Workdir(_) => "WORKDIR",
            Instruction::Arg(_) => "ARG",
            Instruction::Onbuild(_) => "ONBUILD",
            Instruction::StopSignal(_) => "STOPSIGNAL",
            Instruction::Healthcheck(_) => "HEALTHCHECK",
            Instruction::Shell(_) => "SHELL",
        }
    }
}

/// A command line in exec (JSON array) or shell form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandLine {
    /// `["exe", "arg"]`: run directly, no shell, no expansion.
    Exec(Vec<String>),
    /// Plain text, run by the stage's SHELL (`/bin/sh -c` by default).
    Shell(String),
}

impl CommandLine {
    /// Whether this is the exec (JSON) form.
    pub fn is_exec(&self) -> bool {
        matches!(self, CommandLine::Exec(_))
    }
}

/// Whether a list-taking instruction (COPY, ADD, VOLUME) was written as a JSON array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// JSON array: words may contain spaces.
    Exec,
    /// Whitespace-separated words.
    Shell,
}

/// `FROM [--platform=P] image [AS name]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromInstr {
    /// Lines of the instruction.
    pub span: Span,
    /// The base: an image reference, `scratch` or an earlier stage's name (may contain `$ARG`).
    pub image: String,
    /// The stage name after `AS`, lowercased (stage names are case-insensitive).
    pub name: Option<String>,
    /// `--platform`, raw.
    pub platform: Option<String>,
}

/// One `RUN --mount=...` flag. Only `from=` is interpreted here (for stage dependencies);
/// the executor parses the rest after expansion, as BuildKit does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMount {
    /// The flag's value, e.g. `type=cache,target=/root/.cache`.
    pub raw: String,
    /// The `from=` field, if present: a stage name or an image reference.
    pub from: Option<String>,
}

/// `RUN [--mount=...]... [--network=...] [--security=...] command`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInstr {
    /// Lines of the instruction (including heredoc bodies).
    pub span: Span,
    /// The command; in shell form it still contains the `<<EOF` markers.
    pub command: CommandLine,
    /// Heredocs, in the order their markers appear.
    pub heredocs: Vec<Heredoc>,
    /// `--mount` flags, in order.
    pub mounts: Vec<RunMount>,
    /// `--network` (`default`, `none`, `host`).
    pub network: Option<String>,
    /// `--security` (`sandbox`, `insecure`).
    pub security: Option<String>,
}

/// `CMD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdInstr {
    /// Lines of the instruction.
    pub span: Span,
    /// The command; `CMD` with no arguments is an empty shell command.
    pub command: CommandLine,
}

/// `ENTRYPOINT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntrypointInstr {
    /// Lines of the instruction.
    pub span: Span,
    /// The command; `ENTRYPOINT` with no arguments is an empty shell command (it resets it).
    pub command: CommandLine,
}

/// `SHELL ["exe", "arg"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellInstr {
    /// Lines of the instruction.
    pub span: Span,
    /// The new shell and its arguments (non-empty).
    pub shell: Vec<String>,
}

/// One key/value pair of ENV or LABEL, raw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The key as written (may contain quotes or `$`).
    pub key: String,
    /// The value as written, quotes included; in the legacy form, the rest of the line.
    pub value: String,
    /// Written in the legacy `KEY value` form rather than `KEY=value`.
    pub legacy: bool,
}

/// `LABEL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelInstr {
    /// Lines of the instruction.
    pub span: Span,
    /// The labels, in order.
    pub pairs: Vec<KeyValue>,
}

/// `ENV`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvInstr {
    /// Lines of the instruction.
    pub span: Span,
    /// The variables, in order.
    pub pairs: Vec<KeyValue>,
}

/// `MAINTAINER`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintainerInstr {
    /// Lines of the instruction.
    pub span: Span,
    /// The whole argument text.
    pub name: String,
}

/// `EXPOSE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposeInstr {
    /// Lines of the instruction.
    pub span: Span,
    /// Ports as written (`80`, `53/udp`, `$PORT`), in order (BuildKit sorts after expansion).
    pub ports: Vec<String>,
}

/// A COPY/ADD source: a path (or URL for ADD) or an inline heredoc file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopySource {
    /// A path in the context or source stage, or a URL/git reference for ADD.
    Path(String),
    /// `<<EOF`: a file whose content is the heredoc body and whose name is its delimiter.
    Heredoc(Heredoc),
}

/// `COPY [--from=...] [--chown=...] [--chmod=...] [--link] [--parents] [--exclude=...]... src... dest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyInstr {
    /// Lines of the instruction (including heredoc bodies).
    pub span: Span,
    /// JSON or word form.
    pub form: Form,
    /// The sources, in order.
    pub sources: Vec<CopySource>,
    /// The destination.
    pub dest: String,
    /// `--from`: a stage name, a stage index or an image reference.
    pub from: Option<String>,
    /// `--chown`.
    pub chown: Option<String>,
    /// `--chmod`.
    pub chmod: Option<String>,
    /// `--link`.
    pub link: bool,
    /// `--parents`.
    pub parents: bool,
    /// `--exclude` patterns, in order.
    pub excludes: Vec<String>,
}

/// `ADD [--chown] [--chmod] [--link] [--keep-git-dir] [--checksum] [--unpack] [--exclude]... src... dest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddInstr {
    /// Lines of the instruction (including heredoc bodies).
    pub span: Span,
    /// JSON or word form.
    pub form: Form,
    /// The sources, in order.
    pub sources: Vec<CopySource>,
    /// The destination.
    pub dest: String,
    /// `--chown`.
    pub chown: Option<String>,
    /// `--chmod`.
    pub chmod: Option<String>,
    /// `--link`.
    pub link: bool,
    /// `--keep-git-dir`, if given.
    pub keep_git_dir: Option<bool>,
    /// `--checksum` (e.g. `sha256:...`) for remote sources.
    pub checksum: Option<String>,
    /// `--unpack`, if given.
    pub unpack: Option<bool>,
    /// `--exclude` patterns, in order.
    pub excludes: Vec<String>,
}

/// `VOLUME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeInstr {
    /// Lines of the instruction.
    pub span: Span,
    /// JSON or word form.
    pub form: Form,
    /// The paths (non-empty strings).
    pub paths: Vec<String>,
}

/// `USER`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInstr {
    /// Lines of the instruction.
    pub span: Span,
    /// The whole argument text (`user`, `uid:gid`, `$USER`).
    pub user: String,
}

/// `WORKDIR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkdirInstr {
    /// Lines of the instruction.
    pub span: Span,
    /// The whole argument text.
    pub path: String,
}

/// One name of an ARG instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    /// The variable name.
    pub name: String,
    /// The default after `=`, raw (quotes kept); `None` for a bare `ARG name`.
    pub default: Option<String>,
}

/// `ARG a=1 b`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgInstr {
    /// Lines of the instruction.
    pub span: Span,
    /// The declarations, in order.
    pub args: Vec<ArgDecl>,
}

/// `ONBUILD <trigger>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnbuildInstr {
    /// Lines of the instruction.
    pub span: Span,
    /// The trigger, parsed (never ONBUILD, FROM or MAINTAINER).
    pub trigger: Box<Instruction>,
    /// The trigger's source text as BuildKit stores it in the image config's `OnBuild`
    /// (heredoc bodies and terminators appended).
    pub expression: String,
}

/// `STOPSIGNAL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopSignalInstr {
    /// Lines of the instruction.
    pub span: Span,
    /// The signal as written (`SIGTERM`, `9`, `$SIG`).
    pub signal: String,
}

/// `HEALTHCHECK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthcheckInstr {
    /// Lines of the instruction.
    pub span: Span,
    /// What to do.
    pub check: HealthCheck,
}

/// The two kinds of HEALTHCHECK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthCheck {
    /// `HEALTHCHECK NONE`: disable any inherited check.
    None,
    /// `HEALTHCHECK [options] CMD command`.
    Cmd {
        /// The check command (shell form becomes `CMD-SHELL` in the image config).
        command: CommandLine,
        /// The timing options.
        options: HealthOptions,
    },
}

/// HEALTHCHECK timing options; `None` (or a zero duration, as in BuildKit) means the default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthOptions {
    /// `--interval`.
    pub interval: Option<Duration>,
    /// `--timeout`.
    pub timeout: Option<Duration>,
    /// `--start-period`.
    pub start_period: Option<Duration>,
    /// `--start-interval`.
    pub start_interval: Option<Duration>,
    /// `--retries`.
    pub retries: Option<u32>,
}

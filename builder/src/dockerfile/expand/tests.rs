//! Scoping and per-instruction expansion, checked on whole Dockerfiles.
//! Expected values follow BuildKit's `dockerfile2llb` (and its
//! `dockerfile_args_test.go` scenarios), not this implementation.

use std::collections::BTreeMap;

use super::*;
use crate::dockerfile::instruction::{CopySource, FromInstr, Instruction};
use crate::dockerfile::parse_dockerfile;

/// One stage after expansion: its FROM, its expanded instructions, its final scope.
struct Stage {
    from: FromInstr,
    instructions: Vec<Instruction>,
    scope: StageEnv,
}

fn options(build_args: &[(&str, &str)]) -> ArgOptions {
    ArgOptions {
        build_args: build_args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        build_platform: Platform::new("linux", "amd64", ""),
        target_platform: Platform::new("linux", "amd64", ""),
        target_stage: None,
    }
}

fn build(text: &str, build_args: &[(&str, &str)]) -> Result<Vec<Stage>, ExpandError> {
    build_with(text, &options(build_args))
}

/// Expands every stage the way the executor will: FROM with the global scope,
/// then instruction by instruction, a `FROM <stage>` starting from that stage's scope.
fn build_with(text: &str, options: &ArgOptions) -> Result<Vec<Stage>, ExpandError> {
    let dockerfile = parse_dockerfile(text, None).expect("test Dockerfile parses");
    let global = GlobalScope::for_dockerfile(&dockerfile, options)?;
    let mut stages: Vec<Stage> = Vec::new();
    for def in &dockerfile.stages {
        let mut scope = global.stage();
        let from = expand_from(&def.from, &scope)?;
        match stages
            .iter()
            .find(|s| s.from.name.as_deref() == Some(from.image.as_str()))
        {
            Some(parent) => scope = parent.scope.clone(),
            None => scope.seed_base_env(&["PATH=/bin", "BASE=image"]),
        }
        let mut instructions = Vec::new();
        for instr in &def.instructions {
            let expanded = expand_instruction(instr, &scope)?;
            scope
                .apply(&expanded)
                .map_err(|e| ExpandError::word(&expanded, e))?;
            instructions.push(expanded);
        }
        stages.push(Stage {
            from,
            instructions,
            scope,
        });
    }
    Ok(stages)
}

/// The WORKDIR paths of a stage, in order: the tests' probe of the scope at each point.
fn workdirs(stage: &Stage) -> Vec<String> {
    stage
        .instructions
        .iter()
        .filter_map(|i| match i {
            Instruction::Workdir(w) => Some(w.path.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn global_arg_is_visible_in_stage_only_when_redeclared() {
    let text = "ARG V=1\nFROM busybox:$V\nWORKDIR /a$V\nARG V\nWORKDIR /b$V\n";
    let stages = build(text, &[]).unwrap();
    assert_eq!(stages[0].from.image, "busybox:1");
    assert_eq!(workdirs(&stages[0]), ["/a", "/b1"]);
}

#[test]
fn build_arg_overrides_meta_and_stage_defaults() {
    let text = "ARG V=1\nARG W=$V-x\nFROM busybox:$W\nARG S=default\nWORKDIR /$S\n";
    let stages = build(text, &[("V", "2"), ("S", "given")]).unwrap();
    assert_eq!(stages[0].from.image, "busybox:2-x");
    assert_eq!(workdirs(&stages[0]), ["/given"]);
    let stages = build(text, &[("W", "w")]).unwrap();
    assert_eq!(stages[0].from.image, "busybox:w");
    assert_eq!(workdirs(&stages[0]), ["/default"]);
}

#[test]
fn overridden_default_is_not_expanded() {
    let text = "FROM busybox\nARG FOO\nARG BAR=${FOO:?\"foo missing\"}\nWORKDIR /$BAR\n";
    let err = build(text, &[])
        .err()
        .expect("the default must fail without FOO");
    assert!(err.to_string().contains("FOO: foo missing"), "{err}");
    let stages = build(text, &[("BAR", "123")]).unwrap();
    assert_eq!(workdirs(&stages[0]), ["/123"]);
    let stages = build(text, &[("FOO", "f")]).unwrap();
    assert_eq!(workdirs(&stages[0]), ["/f"]);
}

#[test]
fn meta_arg_default_error_names_the_line() {
    let err = build("ARG FOO=${FOO:?\"custom error\"}\nFROM busybox\n", &[])
        .err()
        .expect("meta default fails");
    assert!(
        matches!(err, ExpandError::Word { keyword: "ARG", .. }),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("line 1: ARG: "), "{err}");
    assert!(build(
        "ARG FOO=${FOO:?\"custom error\"}\nFROM busybox\n",
        &[("FOO", "bar")]
    )
    .is_ok());
}

#[test]
fn env_after_arg_wins_and_arg_after_env_wins() {
    let text = "FROM busybox\nARG X=arg\nENV X=env\nWORKDIR /$X\nARG X=again\nWORKDIR /$X\n";
    let stages = build(text, &[]).unwrap();
    assert_eq!(workdirs(&stages[0]), ["/env", "/again"]);
    assert_eq!(
        stages[0].scope.image_env(),
        ["PATH=/bin", "BASE=image", "X=env"]
    );
}

#[test]
fn bare_arg_keeps_inherited_env() {
    let text = "FROM busybox\nENV X=env\nARG X\nWORKDIR /$X$BASE\nARG BASE=arg\nWORKDIR /$BASE\n";
    let stages = build(text, &[]).unwrap();
    assert_eq!(workdirs(&stages[0]), ["/envimage", "/arg"]);
    assert_eq!(
        stages[0].scope.image_env(),
        ["PATH=/bin", "BASE=image", "X=env"]
    );
}

#[test]
fn arg_is_unset_before_its_declaration() {
    let text = "FROM busybox\nWORKDIR /$A\nARG A=1\nWORKDIR /$A\nARG B=$A$A\nWORKDIR /$B\n";
    let stages = build(text, &[("A", "x")]).unwrap();
    assert_eq!(workdirs(&stages[0]), ["/", "/x", "/xx"]);
}

#[test]
fn args_in_one_instruction_see_each_other() {
    let stages = build("FROM busybox\nARG A=1 B=${A}2\nWORKDIR /$B\n", &[]).unwrap();
    assert_eq!(workdirs(&stages[0]), ["/12"]);
}

#[test]
fn arg_and_env_reach_run_but_not_the_image() {
    let text = "FROM busybox\nARG FOO\nARG BAR=\nARG BAZ=baz\nENV E=e\n";
    let stages = build(text, &[]).unwrap();
    let env = stages[0].scope.run_env();
    assert!(env.contains(&"BAR=".to_string()), "{env:?}");
    assert!(env.contains(&"BAZ=baz".to_string()), "{env:?}");
    assert!(!env.iter().any(|e| e.starts_with("FOO=")), "{env:?}");
    assert_eq!(
        stages[0].scope.image_env(),
        ["PATH=/bin", "BASE=image", "E=e"]
    );
    assert_eq!(stages[0].scope.arg_history(), ["FOO=", "BAR=", "BAZ=baz"]);
}

#[test]
fn proxy_build_args_reach_run_without_declaration() {
    let text = "FROM busybox\nWORKDIR /$http_proxy\nARG NO_PROXY\nWORKDIR /$NO_PROXY\n";
    let args = [("http_proxy", "hp"), ("NO_PROXY", "np"), ("FOO", "f")];
    let stages = build(text, &args).unwrap();
    assert_eq!(workdirs(&stages[0]), ["/", "/np"]);
    let env = stages[0].scope.run_env();
    for want in [
        "HTTP_PROXY=hp",
        "http_proxy=hp",
        "NO_PROXY=np",
        "no_proxy=np",
    ] {
        assert!(
            env.contains(&want.to_string()),
            "{want} missing from {env:?}"
        );
    }
    assert_eq!(env.iter().filter(|e| e.starts_with("NO_PROXY=")).count(), 1);
    let declared: Vec<&str> = stages[0].scope.declared_args().collect();
    let unused = unused_build_args(&options(&args).build_args, declared);
    assert_eq!(unused, ["FOO"]);
}

#[test]
fn unused_build_args_warning_text() {
    let text = "ARG USED\nFROM busybox\nARG ALSO\n";
    let args = [
        ("USED", "1"),
        ("ALSO", "2"),
        ("B", "3"),
        ("A", "4"),
        ("TARGETARCH", "arm64"),
    ];
    let opts = options(&args);
    let dockerfile = parse_dockerfile(text, None).unwrap();
    let global = GlobalScope::for_dockerfile(&dockerfile, &opts).unwrap();
    let stages = build_with(text, &opts).unwrap();
    let declared = global
        .declared_args()
        .iter()
        .map(String::as_str)
        .chain(stages[0].scope.declared_args());
    let unused = unused_build_args(&opts.build_args, declared);
    assert_eq!(unused, ["A", "B"]);
    assert_eq!(
        unused_build_args_warning(&unused).as_deref(),
        Some("[Warning] One or more build-args [A B] were not consumed")
    );
    assert_eq!(unused_build_args_warning(&[]), None);
}

#[test]
fn platform_args_are_global_and_need_declaring_in_a_stage() {
    let text = "FROM --platform=$BUILDPLATFORM busybox:$TARGETARCH AS b\nWORKDIR /$TARGETARCH\n\
                ARG TARGETARCH\nARG TARGETVARIANT TARGETPLATFORM\nWORKDIR /$TARGETARCH/$TARGETVARIANT/$TARGETPLATFORM\n";
    let mut opts = options(&[]);
    opts.target_platform = Platform::new("linux", "arm", "v7");
    let stages = build_with(text, &opts).unwrap();
    assert_eq!(stages[0].from.platform.as_deref(), Some("linux/amd64"));
    assert_eq!(stages[0].from.image, "busybox:arm");
    assert_eq!(workdirs(&stages[0]), ["/", "/arm/v7/linux/arm/v7"]);
}

#[test]
fn platform_args_can_be_overridden_and_used_in_meta_args() {
    let text = "ARG IMG=alpine-$BUILDARCH\nFROM $IMG\nARG TARGETOS\nWORKDIR /$TARGETOS\n";
    let stages = build(text, &[("BUILDARCH", "riscv64"), ("TARGETOS", "plan9")]).unwrap();
    assert_eq!(stages[0].from.image, "alpine-riscv64");
    assert_eq!(workdirs(&stages[0]), ["/plan9"]);
}

#[test]
fn target_stage_arg() {
    let text =
        "FROM busybox AS base\nWORKDIR /$TARGETSTAGE\nARG TARGETSTAGE\nWORKDIR /$TARGETSTAGE\n";
    assert_eq!(workdirs(&build(text, &[]).unwrap()[0]), ["/", "/default"]);
    let mut opts = options(&[]);
    opts.target_stage = Some("foo".into());
    assert_eq!(
        workdirs(&build_with(text, &opts).unwrap()[0]),
        ["/", "/foo"]
    );
}

#[test]
fn child_stage_inherits_env_and_args() {
    let text = "FROM busybox AS base\nARG A=1\nENV E=2\nFROM base\nWORKDIR /$A$E\n";
    let stages = build(text, &[]).unwrap();
    assert_eq!(workdirs(&stages[1]), ["/12"]);
    assert_eq!(stages[1].scope.arg_history(), ["A=1"]);
}

#[test]
fn base_image_env_expands_and_path_defaults() {
    let stages = build("FROM busybox\nWORKDIR $PATH\n", &[]).unwrap();
    assert_eq!(workdirs(&stages[0]), ["/bin"]);
    let mut scope = GlobalScope::new(&options(&[]), '\\').stage();
    scope.seed_base_env(&["HOME=/root"]);
    assert_eq!(
        scope.image_env(),
        ["HOME=/root".to_string(), format!("PATH={DEFAULT_PATH}")]
    );
    assert_eq!(scope.expand("$HOME"), Ok("/root".to_string()));
}

#[test]
fn blank_base_name_and_platform_are_errors() {
    let err = build("ARG IMG\nFROM $IMG\n", &[]).err().unwrap();
    assert!(matches!(err, ExpandError::BlankBaseName { .. }), "{err:?}");
    let err = build("ARG P\nFROM --platform=$P busybox\n", &[])
        .err()
        .unwrap();
    assert!(matches!(err, ExpandError::BlankPlatform { .. }), "{err:?}");
}

#[test]
fn commands_are_left_to_the_shell() {
    let text = "FROM busybox\nARG X=x\nRUN echo $X\nCMD echo $X\nENTRYPOINT [\"echo\", \"$X\"]\n\
                SHELL [\"/bin/sh\", \"$X\"]\nHEALTHCHECK CMD echo $X\nONBUILD RUN echo $X\nMAINTAINER $X\n";
    let dockerfile = parse_dockerfile(text, None).unwrap();
    let stages = build(text, &[]).unwrap();
    // Everything after the ARG comes back exactly as parsed.
    assert_eq!(
        stages[0].instructions[1..],
        dockerfile.stages[0].instructions[1..]
    );
}

#[test]
fn metadata_instructions_expand() {
    let text = "FROM busybox\nARG P=80 N=web U=1000 S=SIGTERM D=/data\n\
                ENV \"K$N\"=\"v $U\" Q='$U'\nENV LEGACY_$N some \"$U\"  value\n\
                LABEL \"$N.label\"=\"$U $S\"\nEXPOSE $P ${P}/udp\n\
                USER $U:$U\nSTOPSIGNAL $S\nVOLUME [\"$D\", \"$D 2\"]\nWORKDIR $D/w\n";
    let stages = build(text, &[]).unwrap();
    let find = |kw: &str| {
        let mut all = stages[0].instructions.iter().filter(|i| i.keyword() == kw);
        all.next().unwrap().clone()
    };
    let Instruction::Env(env) = find("ENV") else {
        unreachable!()
    };
    assert_eq!(
        (env.pairs[0].key.as_str(), env.pairs[0].value.as_str()),
        ("Kweb", "v 1000")
    );
    assert_eq!(
        (env.pairs[1].key.as_str(), env.pairs[1].value.as_str()),
        ("Q", "$U")
    );
    let Instruction::Env(legacy) = &stages[0].instructions[2] else {
        unreachable!()
    };
    assert_eq!(legacy.pairs[0].key, "LEGACY_web");
    assert_eq!(legacy.pairs[0].value, "some 1000  value");
    let Instruction::Label(label) = find("LABEL") else {
        unreachable!()
    };
    let pair = (label.pairs[0].key.as_str(), label.pairs[0].value.as_str());
    assert_eq!(pair, ("web.label", "1000 SIGTERM"));
    let Instruction::Expose(expose) = find("EXPOSE") else {
        unreachable!()
    };
    assert_eq!(expose.ports, ["80", "80/udp"]);
    let Instruction::User(user) = find("USER") else {
        unreachable!()
    };
    assert_eq!(user.user, "1000:1000");
    let Instruction::StopSignal(stop) = find("STOPSIGNAL") else {
        unreachable!()
    };
    assert_eq!(stop.signal, "SIGTERM");
    let Instruction::Volume(volume) = find("VOLUME") else {
        unreachable!()
    };
    assert_eq!(volume.paths, ["/data", "/data 2"]);
    assert_eq!(workdirs(&stages[0]), ["/data/w"]);
}

#[test]
fn expose_splits_a_variable_into_ports() {
    let stages = build(
        "FROM busybox\nARG PORTS=\"80 443/udp\"\nEXPOSE $PORTS 8080\n",
        &[],
    )
    .unwrap();
    let Instruction::Expose(expose) = &stages[0].instructions[1] else {
        panic!()
    };
    assert_eq!(expose.ports, ["80", "443/udp", "8080"]);
}

#[test]
fn shell_form_words_are_split_before_expansion() {
    // COPY's shell form splits on white space first, so a quoted path with a
    // space is two words, and `"$S` alone is an unterminated quote (as in BuildKit).
    let err = build("FROM busybox\nARG S=s\nCOPY \"$S b\" /d\n", &[])
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            ExpandError::Word {
                keyword: "COPY",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn copy_and_add_expand_paths_and_flags() {
    let text = "FROM busybox\nARG S=src D=/dst O=1000 M=755 C=sha256:abc\n\
                COPY --chown=$O:$O --chmod=$M [\"$S/a\", \"$S b\", \"$D/\"]\n\
                ADD --chown=$O --checksum=$C https://x/$S.tgz $D\n";
    let stages = build(text, &[]).unwrap();
    let Instruction::Copy(copy) = &stages[0].instructions[1] else {
        panic!()
    };
    assert_eq!(
        copy.sources,
        [
            CopySource::Path("src/a".into()),
            CopySource::Path("src b".into())
        ]
    );
    assert_eq!(copy.dest, "/dst/");
    assert_eq!(
        (copy.chown.as_deref(), copy.chmod.as_deref()),
        (Some("1000:1000"), Some("755"))
    );
    let Instruction::Add(add) = &stages[0].instructions[2] else {
        panic!()
    };
    assert_eq!(add.sources, [CopySource::Path("https://x/src.tgz".into())]);
    assert_eq!(add.checksum.as_deref(), Some("sha256:abc"));
    assert_eq!(add.chown.as_deref(), Some("1000"));
}

#[test]
fn copy_from_refuses_variables() {
    let text = "FROM busybox AS a\nFROM busybox\nARG F=a\nCOPY --from=$F /x /y\n";
    let err = build(text, &[]).err().unwrap();
    assert!(
        matches!(err, ExpandError::CopyFromVariable { .. }),
        "{err:?}"
    );
    assert!(build(
        "FROM busybox AS a\nFROM busybox\nCOPY --from=a /x /y\n",
        &[]
    )
    .is_ok());
    assert!(check_copy_from("\"a\"", '\\', crate::dockerfile::Span::line(1)).is_err());
}

#[test]
fn heredoc_bodies_expand_only_for_copy_with_unquoted_delimiter() {
    let text = "FROM busybox\nARG X=val\nCOPY <<EOF /a\n\"$X\" '$X' \\$X a\\tb\nEOF\n\
                COPY <<'EOF' /b\n$X\nEOF\nCOPY <<-EOF /c\n\t$X\n\tEOF\nRUN <<EOF\necho $X\nEOF\n";
    let stages = build(text, &[]).unwrap();
    let body = |i: usize| match &stages[0].instructions[i] {
        Instruction::Copy(c) => match &c.sources[0] {
            CopySource::Heredoc(h) => h.content().into_owned(),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    // Quotes stay; the backslash escapes, so `\t` loses its backslash (as in BuildKit).
    assert_eq!(body(1), "\"val\" 'val' $X atb\n");
    assert_eq!(body(2), "$X\n");
    assert_eq!(body(3), "val\n");
    let Instruction::Run(run) = &stages[0].instructions[4] else {
        panic!()
    };
    assert_eq!(run.heredocs[0].body, "echo $X\n");
}

#[test]
fn heredoc_escape_is_always_backslash() {
    let text = "# escape=`\nFROM busybox\nARG X=val\nCOPY <<EOF /a\n\\$X `$X\nEOF\n";
    let stages = build(text, &[]).unwrap();
    let Instruction::Copy(copy) = &stages[0].instructions[1] else {
        panic!()
    };
    let CopySource::Heredoc(doc) = &copy.sources[0] else {
        panic!()
    };
    assert_eq!(doc.body, "$X `val\n");
}

#[test]
fn run_mount_values_expand_but_from_may_not() {
    let text =
        "FROM busybox\nARG T=/cache I=id1\nRUN --mount=type=cache,id=$I,target=$T,ro echo $T\n";
    let stages = build(text, &[]).unwrap();
    let Instruction::Run(run) = &stages[0].instructions[1] else {
        panic!()
    };
    assert_eq!(run.mounts[0].raw, "type=cache,id=id1,target=/cache,ro");
    // The parser already refuses `from=$F`; expansion refuses it too.
    let stages = build("FROM busybox AS a\nARG F=a\nRUN --mount=from=a echo\n", &[]).unwrap();
    let with_mount = |raw: &str| {
        let mut instr = stages[0].instructions[1].clone();
        if let Instruction::Run(run) = &mut instr {
            run.mounts[0].raw = raw.to_string();
        }
        instr
    };
    let err = expand_instruction(&with_mount("from=$F,target=/x"), &stages[0].scope)
        .err()
        .unwrap();
    assert!(
        matches!(err, ExpandError::MountFromVariable { .. }),
        "{err:?}"
    );
    let ok = expand_instruction(&with_mount("from=a$,target=/x"), &stages[0].scope).unwrap();
    let Instruction::Run(ok) = ok else { panic!() };
    assert_eq!(ok.mounts[0].from.as_deref(), Some("a$"));
}

#[test]
fn sbom_args_stay_out_of_the_environment() {
    let text =
        "FROM busybox\nARG BUILDKIT_SBOM_SCAN_STAGE=true\nWORKDIR /$BUILDKIT_SBOM_SCAN_STAGE\n";
    let stages = build(text, &[]).unwrap();
    assert_eq!(workdirs(&stages[0]), ["/"]);
    assert_eq!(
        stages[0].scope.arg_history(),
        ["BUILDKIT_SBOM_SCAN_STAGE=true"]
    );
}

#[test]
fn backtick_escape_applies_to_instructions() {
    let text = "# escape=`\nFROM busybox\nARG X=x\nWORKDIR C:\\$X`$X\n";
    assert_eq!(workdirs(&build(text, &[]).unwrap()[0]), ["C:\\x$X"]);
}

//! Tests of `RUN --mount` parsing against BuildKit's rules and messages.

use super::*;

fn ok(raw: &str) -> MountSpec {
    parse_mount(raw).unwrap_or_else(|e| panic!("{raw}: {e}"))
}

fn err(raw: &str) -> String {
    match parse_mount(raw) {
        Ok(m) => panic!("{raw}: parsed as {m:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn defaults_per_type() {
    let bind = ok("target=/x");
    assert_eq!(bind.kind, MountType::Bind);
    assert!(bind.read_only);
    assert_eq!(bind.sharing, Sharing::Shared);
    assert_eq!(bind.target.as_deref(), Some("/x"));
    assert!(!ok("type=cache,target=/c").read_only);
    assert!(!ok("type=tmpfs,target=/t").read_only);
    assert!(ok("type=secret,id=s").read_only);
    assert!(ok("type=ssh").read_only);
    assert_eq!(
        ok("type=cache").target,
        None,
        "a missing target is the build's to report"
    );
}

#[test]
fn aliases_and_read_write() {
    let m = ok("src=a,dst=/b,rw");
    assert_eq!(
        (m.source.as_deref(), m.target.as_deref()),
        (Some("a"), Some("/b"))
    );
    assert!(!m.read_only);
    assert_eq!(ok("destination=/d").target.as_deref(), Some("/d"));
    assert!(ok("type=cache,ro").read_only);
    assert!(ok("type=cache,readonly").read_only);
    assert!(!ok("readwrite").read_only);
    assert!(ok("type=cache,ro=true").read_only);
    assert!(!ok("ro=0").read_only);
    assert!(!ok("rw=T").read_only);
    assert!(ok("readwrite=False").read_only);
    assert!(ok("type=cache,readonly=1").read_only);
}

#[test]
fn keys_and_values_ignore_case() {
    let m = ok("TYPE=Cache,Target=/c,SHARING=Locked,Id=x,Mode=0755,UID=1,gid=2,RO");
    assert_eq!(m.kind, MountType::Cache);
    assert_eq!(m.sharing, Sharing::Locked);
    assert_eq!(m.id.as_deref(), Some("x"));
    assert_eq!((m.mode, m.uid, m.gid), (Some(0o755), Some(1), Some(2)));
    assert!(m.read_only);
    assert_eq!(ok("type=SSH,Required").kind, MountType::Ssh);
    assert_eq!(ok("type=cache,sharing=private").sharing, Sharing::Private);
}

#[test]
fn quoting() {
    assert_eq!(ok(r#""target=/a,b""#).target.as_deref(), Some("/a,b"));
    assert_eq!(ok(r#""target=/a""b""#).target.as_deref(), Some("/a\"b"));
    assert_eq!(
        csv_fields(r#"a=1,"b=2,3",c"#).unwrap(),
        vec!["a=1", "b=2,3", "c"]
    );
    assert_eq!(csv_fields("a,").unwrap(), vec!["a", ""]);
    assert_eq!(
        err(r#"target=/a"b"#),
        "failed to parse csv mounts: bare \" in non-quoted-field"
    );
    assert_eq!(
        err(r#""target=/a"#),
        "failed to parse csv mounts: extraneous or missing \" in quoted-field"
    );
    assert_eq!(
        err(r#""a"b"#),
        "failed to parse csv mounts: extraneous or missing \" in quoted-field"
    );
    assert_eq!(err(""), "failed to parse csv mounts: EOF");
}

#[test]
fn bare_word_errors() {
    assert_eq!(
        err("required"),
        "unexpected key 'required' for mount type 'bind'"
    );
    assert_eq!(
        err("type=cache,required=true"),
        "unexpected key 'required' for mount type 'cache'"
    );
    assert_eq!(
        err("required,type=secret,id=a"),
        "unexpected key 'required' for mount type 'bind'"
    );
    assert_eq!(
        err("type=cache,Nope"),
        "invalid field 'Nope' must be a key=value pair"
    );
    assert_eq!(
        err("type=cache,target=/c,"),
        "invalid field '' must be a key=value pair"
    );
    assert!(ok("type=secret,id=a,required").required);
    assert!(!ok("type=secret,id=a,required=false").required);
}

#[test]
fn value_errors() {
    assert_eq!(err("type=bogus"), "unsupported mount type \"bogus\"");
    assert_eq!(
        err("type=cahce"),
        "unsupported mount type \"cahce\" (did you mean cache?)"
    );
    assert_eq!(err("type="), "unsupported mount type \"\"");
    assert_eq!(err("ro=yes"), "invalid value for ro: yes");
    assert_eq!(err("readwrite=2"), "invalid value for readwrite: 2");
    assert_eq!(
        err("type=ssh,required=maybe"),
        "invalid value for required: maybe"
    );
    assert_eq!(
        err("type=cache,sharing=all"),
        "unsupported sharing value \"all\""
    );
    assert_eq!(err("type=cache,mode=0789"), "invalid value 0789 for mode");
    assert_eq!(err("type=cache,mode=+7"), "invalid value +7 for mode");
    assert_eq!(err("type=cache,uid=-1"), "invalid value -1 for uid");
    assert_eq!(
        err("type=cache,gid=4294967296"),
        "invalid value 4294967296 for gid"
    );
    assert_eq!(
        err("type=cache,Colour=red"),
        "unexpected key 'colour' in 'Colour=red'"
    );
    assert_eq!(
        err("targte=/x"),
        "unexpected key 'targte' in 'targte=/x' (did you mean target?)"
    );
}

#[test]
fn type_rules() {
    assert_eq!(
        err("mode=0600"),
        "mode not allowed for \"bind\" type mounts"
    );
    assert_eq!(
        err("type=tmpfs,uid=1"),
        "uid not allowed for \"tmpfs\" type mounts"
    );
    assert_eq!(
        err("type=bind,gid=1"),
        "gid not allowed for \"bind\" type mounts"
    );
    assert_eq!(
        err("type=cache,size=1g"),
        "unexpected key 'size' for mount type 'cache'"
    );
    assert_eq!(
        err("size=1g,type=tmpfs"),
        "unexpected key 'size' for mount type 'bind'"
    );
    assert_eq!(
        err("type=secret,id=a,from=b"),
        "secret mount should not have a from"
    );
    assert_eq!(
        err("type=secret,id=a,sharing=shared"),
        "secret mount should not define sharing"
    );
    assert_eq!(
        err("type=secret"),
        "invalid secret mount. one of source, target required"
    );
    assert_eq!(
        err("type=secret,env=TOKEN"),
        "invalid secret mount. one of source, target required"
    );
    assert_eq!(
        err("type=secret,source=a,id=b"),
        "both source and id can't be set"
    );
    assert_eq!(
        err("sharing=locked"),
        "invalid cache sharing set for bind mount"
    );
    assert_eq!(
        err("type=tmpfs,sharing=shared"),
        "invalid cache sharing set for tmpfs mount"
    );
    let ssh = ok("type=ssh,mode=0600,uid=1000,gid=1000,id=default");
    assert_eq!(ssh.mode, Some(0o600));
}

#[test]
fn tmpfs_sizes() {
    let size = |s: &str| ok(&format!("type=tmpfs,target=/t,size={s}")).size;
    assert_eq!(size("64m"), Some(67_108_864));
    assert_eq!(size("1g"), Some(1 << 30));
    assert_eq!(size("1G"), Some(1 << 30));
    assert_eq!(size("512kb"), Some(512 * 1024));
    assert_eq!(size("2MiB"), Some(2 << 20));
    assert_eq!(size("1.5k"), Some(1536));
    assert_eq!(size("100"), Some(100));
    assert_eq!(size("100b"), Some(100));
    assert_eq!(size("1 t"), Some(1 << 40));
    assert_eq!(size("1p"), Some(1 << 50));
    for bad in [
        "", "m", "-1m", "1x", "1kk", "1mbb", "1bb", "1kib1", "1 2k", "1e400",
    ] {
        assert_eq!(
            err(&format!("type=tmpfs,size={bad}")),
            format!("invalid value for size: {bad}")
        );
    }
}

#[test]
fn empty_values_count_as_unset() {
    let m = ok("type=cache,target=/c,from=,id=,source=");
    assert_eq!((m.from, m.id, m.source), (None, None, None));
    assert_eq!(ok("type=secret,id=a,env=").env.as_deref(), Some(""));
}

#[test]
fn secret_id_and_target() {
    let s = ok("type=secret,id=aws");
    assert_eq!(s.secret_id().as_deref(), Some("aws"));
    assert_eq!(s.secret_target().as_deref(), Some("/run/secrets/aws"));
    let s = ok("type=secret,src=dir/tok");
    assert_eq!(s.secret_id().as_deref(), Some("dir/tok"));
    assert_eq!(s.secret_target().as_deref(), Some("/run/secrets/tok"));
    let s = ok("type=secret,target=/etc/creds/");
    assert_eq!(s.secret_id().as_deref(), Some("creds"));
    assert_eq!(s.secret_target().as_deref(), Some("/etc/creds/"));
    let s = ok("type=secret,id=tok,env=TOKEN");
    assert_eq!(s.secret_target(), None);
    assert_eq!(s.env.as_deref(), Some("TOKEN"));
    let s = ok("type=secret,id=tok,env=TOKEN,dst=/t");
    assert_eq!(s.secret_target().as_deref(), Some("/t"));
    assert_eq!(ok("type=ssh").secret_id(), None);
    assert_eq!(
        ok("type=ssh,id=agent").secret_id().as_deref(),
        Some("agent")
    );
    assert_eq!(ok("type=ssh,id=agent").secret_target(), None);
    assert_eq!(ok("type=cache,id=c").secret_id(), None);
    assert_eq!(ok("target=/x").secret_target(), None);
}

#[test]
fn path_base_as_go() {
    assert_eq!(go_base(""), ".");
    assert_eq!(go_base("/"), "/");
    assert_eq!(go_base("//a//"), "a");
    assert_eq!(go_base("a"), "a");
}

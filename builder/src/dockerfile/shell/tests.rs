//! Table tests of the lexer. The expected values are BuildKit's: taken from the
//! behaviour its `shell/envVarTest`, `shell/wordsTest` and `lex_test.go`
//! pin down, or read off `lex.go` where those files say nothing. Rows are ours.

use super::*;

/// What a row expects.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// The expansion.
    Is(&'static str),
    /// `'` never closed.
    Sq,
    /// `"` never closed.
    Dq,
    /// `${` never closed.
    Brace,
    /// `${X/pat` never closed.
    Slash,
    /// `${}` and friends.
    Bad,
    /// An unsupported operator, with its text.
    Mod(&'static str),
    /// `${X?msg}`: the variable and the message.
    Req(&'static str, &'static str),
    /// An invalid `\x` in a pattern: the character after the backslash.
    Pat(char),
}

use Want::*;

fn lookup<'a>(env: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        env.iter()
            .rev()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }
}

fn matches_want(got: &Result<String, ShellError>, want: Want) -> bool {
    match (got, want) {
        (Ok(got), Is(want)) => got == want,
        (Err(ShellError::UnterminatedSingleQuote { .. }), Sq) => true,
        (Err(ShellError::UnterminatedDoubleQuote { .. }), Dq) => true,
        (Err(ShellError::MissingBrace { .. }), Brace) => true,
        (Err(ShellError::MissingSlash { .. }), Slash) => true,
        (Err(ShellError::BadSubstitution { .. }), Bad) => true,
        (Err(ShellError::UnsupportedModifier { modifier, .. }), Mod(m)) => modifier == m,
        (Err(ShellError::Required { name, message, .. }), Req(n, m)) => name == n && message == m,
        (Err(ShellError::InvalidPattern { escaped, .. }), Pat(c)) => *escaped == c,
        _ => false,
    }
}

fn run_table(rows: &[(&str, Want)], env: &[(&str, &str)], escape: char) -> Vec<String> {
    let vars = lookup(env);
    rows.iter()
        .filter_map(|(input, want)| {
            let got = expand_word(input, &vars, escape);
            (!matches_want(&got, *want)).then(|| format!("{input:?}: want {want:?}, got {got:?}"))
        })
        .collect()
}

const ENV: &[(&str, &str)] = &[
    ("PWD", "/home"),
    ("SHELL", "bash"),
    ("KOREAN", "한국어"),
    ("NULL", ""),
];

/// Quotes, escapes and plain `$NAME` with the default escape character.
const QUOTING: &[(&str, Want)] = &[
    ("hello", Is("hello")),
    ("he'll'o", Is("hello")),
    ("he'llo", Sq),
    (r"he\'llo", Is("he'llo")),
    (r"he\\'llo", Sq),
    (r"abc\tdef", Is("abctdef")),
    (r#""abc\tdef""#, Is(r"abc\tdef")),
    (r#""abc\\tdef""#, Is(r"abc\tdef")),
    (r"'abc\tdef'", Is(r"abc\tdef")),
    (r"hello\", Is("hello")),
    (r"hello\\", Is(r"hello\")),
    (r#""hello"#, Dq),
    (r#""hello\""#, Dq),
    (r#""hel'lo""#, Is("hel'lo")),
    ("'hello", Sq),
    (r"'hello\'", Is(r"hello\")),
    (r"'hello\\there'", Is(r"hello\\there")),
    (r#""''""#, Is("''")),
    (r#"'"hello"'"#, Is(r#""hello""#)),
    (r#""\a\$\"\\""#, Is(r#"\a$"\"#)),
    (r#"a"b"'c'd"#, Is("abcd")),
    (r#""""#, Is("")),
    ("''", Is("")),
    ("a  b", Is("a  b")),
    ("안'녕'하세요", Is("안녕하세요")),
    (r"안녕\'하세요", Is("안녕'하세요")),
    ("<<EOF", Is("<<EOF")),
    ("a<b", Is("a<b")),
];

/// `$NAME`, `${NAME}` and the forms that are errors.
const NAMES: &[(&str, Want)] = &[
    ("$.", Is("$.")),
    ("he$1x", Is("hex")),
    ("he$.x", Is("he$.x")),
    ("he$pwd.", Is("he.")),
    ("he$PWD", Is("he/home")),
    (r"he\$PWD", Is("he$PWD")),
    (r"he\\$PWD", Is(r"he\/home")),
    (r#""he\$PWD""#, Is("he$PWD")),
    (r#""he\\$PWD""#, Is(r"he\/home")),
    ("'$PWD'", Is("$PWD")),
    (r"'\$PWD'", Is(r"\$PWD")),
    (r#""he'$PWD'""#, Is("he'/home'")),
    ("$", Is("$")),
    ("a$", Is("a$")),
    ("$ x", Is("$ x")),
    ("$PWD_x", Is("")),
    ("${PWD}_x", Is("/home_x")),
    ("$PWD$SHELL", Is("/homebash")),
    ("$KOREAN", Is("한국어")),
    ("안녕$KOREAN", Is("안녕한국어")),
    (r"\${}", Is("${}")),
    (r"he\${}xx", Is("he${}xx")),
    ("${}", Bad),
    ("he${}xx", Bad),
    ("${{aaa}", Bad),
    ("${:}", Bad),
    ("${:-bbb}", Bad),
    ("${:+bbb}", Bad),
    ("he${hi}xx", Is("hexx")),
    ("he${PWD}", Is("he/home")),
    ("he${.}", Mod(".")),
    ("${aaa}}", Is("}")),
    ("${aaa", Brace),
    ("he${PWD", Brace),
    ("${", Brace),
    ("'he${XX}'", Is("he${XX}")),
    (r#""he${PWD}""#, Is("he/home")),
];

/// `-`, `+`, `?` with and without `:`, nesting, and unsupported operators.
const OPERATORS: &[(&str, Want)] = &[
    ("he${XXX:-000}xx", Is("he000xx")),
    ("he${PWD:-000}xx", Is("he/homexx")),
    ("he${XXX:-$PWD}xx", Is("he/homexx")),
    ("he${XXX:-${PWD:-yyy}}xx", Is("he/homexx")),
    ("he${XXX:-${YYY:-yyy}}xx", Is("heyyyxx")),
    ("${NULL:-def}", Is("def")),
    ("${NULL-def}", Is("")),
    ("${XXX-def}", Is("def")),
    ("${PWD-def}", Is("/home")),
    ("${NULL:+alt}", Is("")),
    ("${NULL+alt}", Is("alt")),
    ("${XXX+alt}", Is("")),
    ("he${PWD:+000}xx", Is("he000xx")),
    ("he${XXX:+000}xx", Is("hexx")),
    ("he${PWD:+${SHELL}}xx", Is("hebashxx")),
    ("he${PWD:+${XXX}}xx", Is("hexx")),
    ("he${PWD:+${PWD}:}xx", Is("he/home:xx")),
    (r"he${XXX:-\$PWD:}xx", Is("he$PWD:xx")),
    (r"he${XXX:-\${PWD}z}xx", Is("he${PWDz}xx")),
    ("${aaa:-bbb}}", Is("bbb}")),
    ("${aaa:-bbb", Brace),
    ("${aaa:-bbb ${foo}", Brace),
    ("${aaa:-bbb {foo}", Is("bbb {foo")),
    ("${aaa:-${bbb:-ccc}}", Is("ccc")),
    ("${XXX:-'a b'}", Is("a b")),
    (r#"${XXX:-"$PWD x"}"#, Is("/home x")),
    ("${XXX:-'x}", Brace),
    ("${XXX:-${}}", Bad),
    ("${XXX:-}", Is("")),
    ("he${XXX?}", Req("XXX", "is not allowed to be unset")),
    ("he${XXX:?}", Req("XXX", "is not allowed to be unset")),
    ("he${PWD?}", Is("he/home")),
    ("he${PWD:?}", Is("he/home")),
    ("he${NULL?}", Is("he")),
    ("he${NULL:?}", Req("NULL", "is not allowed to be empty")),
    (
        "${NULL:?custom $SHELL text}",
        Req("NULL", "custom bash text"),
    ),
    ("${XXX?must be set}", Req("XXX", "must be set")),
    ("${A:-${B:?inner}}", Req("B", "inner")),
    ("he${XXX:YYY}", Mod(":Y")),
    ("he${PWD:=000}xx", Mod(":=")),
    ("${PWD=x}", Mod("=")),
    ("${PWD:#x}", Mod(":#")),
    ("${PWD:%%x}", Mod(":%")),
    ("${#PWD}", Mod("P")),
    ("${X:", Brace),
];

/// Positional and special parameters: names that are never set.
const PARAMETERS: &[(&str, Want)] = &[
    ("$1", Is("")),
    ("${1}", Is("")),
    ("${1:-bbb}", Is("bbb")),
    ("${9:+bbb}", Is("")),
    ("$999aaa", Is("aaa")),
    ("${999}aaa", Is("aaa")),
    ("${001:-bbb}aaa", Is("bbbaaa")),
    ("$@@@", Is("@@")),
    ("${@:-bbb}aaa", Is("bbbaaa")),
    ("$*", Is("")),
    ("$#", Is("")),
    ("${#:+bbb}", Is("")),
    ("${?:-bbb}", Is("bbb")),
    ("$-x", Is("x")),
    ("$$", Is("")),
    ("${!}", Is("")),
    ("$0", Is("")),
    ("$0abc", Is("abc")),
];

/// The backtick as escape character (`# escape=``).
const BACKTICK: &[(&str, Want)] = &[
    ("he`'llo", Is("he'llo")),
    (r"C:\path\to", Is(r"C:\path\to")),
    ("a``b", Is("a`b")),
    ("`$PWD", Is("$PWD")),
    ("\"a`\"b\"", Is("a\"b")),
    (r#""a\$PWD""#, Is(r"a\/home")),
    ("hello`", Is("hello")),
    ("\"a`tb\"", Is("a`tb")),
    ("\"a``b\"", Is("a`b")),
    (r"${XXX:-c:\dir}", Is(r"c:\dir")),
];

#[test]
fn quoting_table() {
    assert_eq!(run_table(QUOTING, ENV, '\\'), Vec::<String>::new());
}

#[test]
fn names_table() {
    assert_eq!(run_table(NAMES, ENV, '\\'), Vec::<String>::new());
}

#[test]
fn operators_table() {
    assert_eq!(run_table(OPERATORS, ENV, '\\'), Vec::<String>::new());
}

#[test]
fn parameters_table() {
    assert_eq!(run_table(PARAMETERS, ENV, '\\'), Vec::<String>::new());
}

#[test]
fn backtick_table() {
    assert_eq!(run_table(BACKTICK, ENV, '`'), Vec::<String>::new());
}

/// `#`, `%` and `/` patterns, each row with its own variables.
#[allow(clippy::type_complexity)]
const PATTERNS: &[(&str, &[(&str, &str)], Want)] = &[
    ("${FOO#*x*y}", &[("FOO", "xxyy")], Is("y")),
    ("${FOO##*x}", &[("FOO", "xxyy")], Is("yy")),
    ("${FOO#}", &[("FOO", "xxyy")], Is("xxyy")),
    ("${FOO##}", &[("FOO", "xxyy")], Is("xxyy")),
    ("${FOO#*}", &[("FOO", "xxyy")], Is("xxyy")),
    ("${FOO##*}", &[("FOO", "xxyy")], Is("")),
    (r"${FOO#?\?}", &[("FOO", "???y")], Is("?y")),
    (r"${FOO%%\**}", &[("FOO", "xx**")], Is("xx")),
    (r"${FOO%%\**\*}", &[("FOO", "a***yy*")], Is("a")),
    ("${FOO%x}", &[("FOO", "xxyy")], Is("xxyy")),
    ("${FOO%y}", &[("FOO", "xxyy")], Is("xxy")),
    ("${FOO%y*}", &[("FOO", "xxyy")], Is("xxy")),
    ("${FOO%%y*}", &[("FOO", "xxyy")], Is("xx")),
    ("${FOO%}", &[("FOO", "xxyy")], Is("xxyy")),
    ("${FOO#$BAR}", &[("FOO", "xxyy"), ("BAR", "x")], Is("xyy")),
    ("${FOO#$BAR}", &[("FOO", "xxyy"), ("BAR", "")], Is("xxyy")),
    ("${FOO%%$BAR}", &[("FOO", "xxyy"), ("BAR", "")], Is("xxyy")),
    (
        "${ABC:-.}${FOO%x}${ABC:-.}",
        &[("FOO", "xxyy")],
        Is(".xxyy."),
    ),
    (
        r"${FOO#()[]{\}^$.\*\?|\\}",
        &[("FOO", r"()[]{}^$.*?|\x")],
        Is("x"),
    ),
    (r"${FOO#\x}", &[("FOO", "xy")], Pat('x')),
    ("${UNSET#x}", &[], Is("")),
    ("${VERSION#v}", &[("VERSION", "v1.2.3")], Is("1.2.3")),
    ("${IMAGE%%:*}", &[("IMAGE", "repo:tag:x")], Is("repo")),
    ("${IMAGE%:*}", &[("IMAGE", "repo:tag:x")], Is("repo:tag")),
    ("${IMAGE##*:}", &[("IMAGE", "repo:tag:x")], Is("x")),
    ("${IMAGE#*:}", &[("IMAGE", "repo:tag:x")], Is("tag:x")),
    ("${image#idle}", &[("image", "idlebox")], Is("box")),
    (
        "${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}",
        &[("FOO", "/foo*/*/*.txt"), ("NEEDLE", r"\*/")],
        Is("/foo.*/*.txt - /foo..*.txt"),
    ),
    (
        "${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}",
        &[("FOO", "/tmp/tmp/bar.txt"), ("NEEDLE", "/tmp")],
        Is("/tmp/bar.txt - /bar.txt"),
    ),
    (
        "${FOO/$N/$R} - ${FOO//$N/$R}",
        &[("FOO", "/a/foo/b/c.txt"), ("N", "/?/"), ("R", "/")],
        Is("/foo/b/c.txt - /foo/c.txt"),
    ),
    (
        "${FOO/$N/$R}",
        &[
            ("FOO", "http://google.de"),
            ("N", "http://"),
            ("R", "https://"),
        ],
        Is("https://google.de"),
    ),
    (
        r"${FOO//\//\/}",
        &[("FOO", "/tmp/foo.txt")],
        Is(r"\/tmp\/foo.txt"),
    ),
    (
        "${FOO/$BAR/ww}",
        &[("FOO", "xxyy"), ("BAR", "")],
        Is("wwxxyy"),
    ),
    ("${FOO//ww}", &[("FOO", "xxyy")], Slash),
    ("${FOO//}", &[("FOO", "xxyy")], Slash),
    ("${FOO///}", &[("FOO", "xxyy")], Is("xxyy")),
    ("${FOO///}", &[], Is("")),
    ("${FOO/*/z}", &[("FOO", "ab")], Is("z")),
    ("${FOO/b*/}", &[("FOO", "abc")], Is("a")),
    ("${FOO/b/c", &[("FOO", "abc")], Brace),
    (r"${FOO/y/\$0}", &[("FOO", "xy")], Is(r"x\$0")),
    (r"${FOO//y/\$0\$0}", &[("FOO", "xy")], Is(r"x\y\y")),
    (
        "rel-${V}.${OS}-${ARCH}${VARIANT:+-${VARIANT}}.tgz",
        &[
            ("V", "v1"),
            ("OS", "linux"),
            ("ARCH", "arm"),
            ("VARIANT", "v7"),
        ],
        Is("rel-v1.linux-arm-v7.tgz"),
    ),
    (
        "rel-${V}.${OS}-${ARCH}${VARIANT:+-${VARIANT}}.tgz",
        &[
            ("V", "v1"),
            ("OS", "linux"),
            ("ARCH", "arm64"),
            ("VARIANT", ""),
        ],
        Is("rel-v1.linux-arm64.tgz"),
    ),
];

#[test]
fn patterns_table() {
    let failures: Vec<String> = PATTERNS
        .iter()
        .filter_map(|(input, env, want)| {
            let got = expand_word(input, &lookup(env), '\\');
            (!matches_want(&got, *want)).then(|| format!("{input:?}: want {want:?}, got {got:?}"))
        })
        .collect();
    assert_eq!(failures, Vec::<String>::new());
}

const WORDS_ENV: &[(&str, &str)] = &[
    ("hi", "hi"),
    ("space", "abc  def"),
    ("leading", "  ab c"),
    ("trailing", "ab c   "),
    ("PORTS", "80 443/udp"),
];

/// Field splitting (`expand_words`); `None` means an error.
#[allow(clippy::type_complexity)]
const WORDS: &[(&str, char, Option<&[&str]>)] = &[
    ("hello", '\\', Some(&["hello"])),
    ("hello${nope}bye", '\\', Some(&["hellobye"])),
    ("hello${hi}bye", '\\', Some(&["hellohibye"])),
    ("hello${space}bye", '\\', Some(&["helloabc", "defbye"])),
    (r#"hello"${space}"bye"#, '\\', Some(&["helloabc  defbye"])),
    (
        r#"hello "${space}"bye"#,
        '\\',
        Some(&["hello", "abc  defbye"]),
    ),
    ("hello${leading}def", '\\', Some(&["hello", "ab", "cdef"])),
    (
        r#"hello"${leading}" def"#,
        '\\',
        Some(&["hello  ab c", "def"]),
    ),
    ("hello${leading}", '\\', Some(&["hello", "ab", "c"])),
    ("hello${trailing}", '\\', Some(&["helloab", "c"])),
    ("hello${trailing}d", '\\', Some(&["helloab", "c", "d"])),
    (r#"hel"lo${trailing}""#, '\\', Some(&["helloab c   "])),
    (r#"hello" there  ""#, '\\', Some(&["hello there  "])),
    ("hello there     ", '\\', Some(&["hello", "there"])),
    (r"hello\ there", '\\', Some(&["hello there"])),
    (r#"hello" there"#, '\\', None),
    (r#"hello\" there"#, '\\', Some(&["hello\"", "there"])),
    (r#"hello"\\there""#, '\\', Some(&[r"hello\there"])),
    (r#"hello"\there""#, '\\', Some(&[r"hello\there"])),
    (r"hello'\\there'", '\\', Some(&[r"hello\\there"])),
    ("hello'$there'", '\\', Some(&["hello$there"])),
    (r#"a "" b"#, '\\', Some(&["a", "b"])),
    (r#""""#, '\\', Some(&[])),
    ("   ", '\\', Some(&[])),
    ("80/tcp\t443", '\\', Some(&["80/tcp", "443"])),
    ("${PORTS}", '\\', Some(&["80", "443/udp"])),
    ("${PORTS:+x y}", '\\', Some(&["x", "y"])),
    // BuildKit v0.15+ yields ["bc"] here (its nested word clears the shared
    // field buffer); v0.14 and bash keep the prefix. We keep it.
    ("a${X:-b}c", '\\', Some(&["abc"])),
    ("a <<  EOF", '\\', Some(&["a", "<<  EOF"])),
    ("a\\\tb", '\\', Some(&["a\tb"])),
    ("hello` there", '`', Some(&["hello there"])),
    ("'a", '\\', None),
];

#[test]
fn words_table() {
    let vars = lookup(WORDS_ENV);
    let failures: Vec<String> = WORDS
        .iter()
        .filter_map(|(input, escape, want)| {
            let got = expand_words(input, &vars, *escape).ok();
            let want: Option<Vec<String>> = want.map(|w| w.iter().map(|s| s.to_string()).collect());
            (got != want).then(|| format!("{input:?}: want {want:?}, got {got:?}"))
        })
        .collect();
    assert_eq!(failures, Vec::<String>::new());
}

#[test]
fn table_is_large_enough() {
    let rows = QUOTING.len()
        + NAMES.len()
        + OPERATORS.len()
        + PARAMETERS.len()
        + BACKTICK.len()
        + PATTERNS.len()
        + WORDS.len();
    assert!(rows >= 90, "only {rows} rows");
}

#[test]
fn required_message_names_variable() {
    let vars = lookup(&[("ARG", "x"), ("VAR", "")]);
    let err = expand_word("${VAR:?message here$ARG}", &vars, '\\').unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"failed to process "${VAR:?message here$ARG}": VAR: message herex"#
    );
    assert_eq!(
        expand_word("${VAR?message here$ARG}", &vars, '\\'),
        Ok(String::new())
    );
}

#[test]
fn error_texts_follow_buildkit() {
    let vars = lookup(ENV);
    let text = |w: &str| expand_word(w, &vars, '\\').unwrap_err().to_string();
    assert_eq!(
        text("${}"),
        r#"failed to process "${}": syntax error: bad substitution"#
    );
    assert_eq!(
        text("${a"),
        r#"failed to process "${a": syntax error: missing '}'"#
    );
    assert_eq!(
        text("${a/b"),
        r#"failed to process "${a/b": syntax error: missing '/' in ${}"#
    );
    assert_eq!(
        text("${a:=b}"),
        r#"failed to process "${a:=b}": unsupported modifier (:=) in substitution"#
    );
    assert_eq!(
        text("'x"),
        r#"failed to process "'x": unexpected end of statement while looking for matching single-quote"#
    );
    assert_eq!(
        text(r"${PWD#\q}"),
        r#"failed to process "${PWD#\\q}": invalid pattern (\q) in substitution: invalid escape '\q'"#
    );
}

#[test]
fn raw_and_skip_options() {
    let vars = lookup(ENV);
    let raw = LexOptions {
        raw_quotes: true,
        skip_unset: true,
        ..LexOptions::default()
    };
    let got = process(r#"a "$PWD" '$X' $X ${Y:-z}"#, &vars, '\\', raw).unwrap();
    assert_eq!(got.word, r#"a "/home" '$X' $X ${Y:-z}"#);
    let heredoc = LexOptions {
        skip_quotes: true,
        ..LexOptions::default()
    };
    let got = process(r#"echo "$PWD" '$SHELL' \$PWD"#, &vars, '\\', heredoc).unwrap();
    assert_eq!(got.word, r#"echo "/home" 'bash' $PWD"#);
}

//! Table tests for `.dockerignore` matching, rows drawn from Docker's documented and tested
//! behaviour (moby/patternmatcher and the dockerignore reader), written for rbuild.

use super::*;

/// (ignore file text, context-relative path, excluded?)
const ROWS: &[(&str, &str, bool)] = &[
    // plain names and parent directories
    ("*", "fileutils.go", true),
    ("*.go", "fileutils.go", true),
    ("*.go", "pkg/fileutils.go", false),
    ("docs", "docs", true),
    ("docs", "docs/README.md", true),
    ("docs/", "docs/README.md", true),
    ("docs", "docsfoo", false),
    ("docs", "sub/docs", false),
    ("a/b", "a/b/c/d", true),
    ("abc", "abc", true),
    // exceptions: the last matching pattern wins
    ("!fileutils.go\n*.go", "fileutils.go", true),
    ("*.go\n!fileutils.go", "fileutils.go", false),
    ("docs\n!docs/README.md", "docs/README.md", false),
    ("docs\n!docs/README.md", "docs/other.md", true),
    ("docs/*\n!docs/README.md", "docs/README.md", false),
    ("docs\n  !docs/README.md  ", "docs/README.md", false),
    ("**\n!util/docker/web", "util/docker/web/foo", false),
    (
        "**\n!util/docker/web\nutil/docker/web/foo",
        "util/docker/web/foo",
        true,
    ),
    (
        "**\n!dist/*.whl",
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        false,
    ),
    (
        "*.md\n!README*.md\nREADME-secret.md",
        "README-secret.md",
        true,
    ),
    (
        "*.md\n!README*.md\nREADME-secret.md",
        "README-public.md",
        false,
    ),
    // single star and question mark never cross '/'
    ("a*/b", "abc/b", true),
    ("a*/b", "a/c/b", false),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
    ("a?b", "a/b", false),
    ("a?b", "a☺b", true),
    ("abc?def", "abcdef", false),
    ("*/temp*", "somedir/temporary.txt", true),
    ("*/temp*", "somedir/sub/temp", false),
    ("*/*/temp*", "somedir/subdir/temporary.txt", true),
    ("temp?", "tempa", true),
    ("temp?", "temp", false),
    // double star
    ("**", "dir/file", true),
    ("**/*.go", "a/b/c.go", true),
    ("**/*.go", "c.go", true),
    ("**/dir", "dir", true),
    ("**/dir", "x/y/dir/file", true),
    ("**/dir2/*", "dir/dir2/file", true),
    ("dir/**", "dir/dir2/file", true),
    ("abc/**", "abc/def/ghi", true),
    ("**file", "dir/dir/file", true),
    ("**/file*.txt", "dir/dir/file.txt", true),
    ("**/**/*.txt2", "dir/dir/file.txt", false),
    ("a**/*.txt", "a/dir/dir/file.txt", true),
    ("a/*.txt", "a/dir/file.txt", false),
    ("**/.foo", "bar.foo", false),
    ("**/foo/bar", "dir/dir2/foo/bar", true),
    // character classes and escapes
    ("a[b-d]e", "ace", true),
    ("a[b-d]e", "aae", false),
    ("a[^b-d]e", "aze", true),
    ("ab[^c]", "abc", false),
    ("[\\]a]", "]", true),
    ("[x\\-]", "-", true),
    ("a\\*b", "a*b", true),
    ("a\\*b", "axb", false),
    ("[a-ζ]*", "α", true),
    // regexp metacharacters are literal
    ("abc.def", "abcZdef", false),
    ("abc.def", "abc.def", true),
    ("a(b)c/def", "a(b)c/def", true),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
    (".*", ".foo", true),
    (".*", "foo", false),
    // cleaning: leading '/', './', '..', comments, blank lines, BOM
    ("/foo", "foo", true),
    ("./foo/bar", "foo/bar", true),
    ("!/keep\n*", "keep", true),
    ("*\n!/keep", "keep", false),
    ("foo/../bar", "bar", true),
    ("foo/../bar", "foo", false),
    (
        "# comment\n\n   \nnode_modules",
        "node_modules/x/y.js",
        true,
    ),
    ("#node_modules", "node_modules", false),
    (" # not a comment", "# not a comment", true),
    ("\u{feff}secret", "secret", true),
    ("//a///b//", "a/b", true),
    // the context root itself is never excluded
    ("*", ".", false),
    ("**", ".", false),
];

#[test]
fn dockerignore_table() {
    assert!(ROWS.len() >= 40);
    for (text, path, want) in ROWS {
        let m = IgnoreMatcher::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(
            m.is_excluded(path),
            *want,
            "patterns {text:?} path {path:?}"
        );
    }
}

#[test]
fn reader_cleans_patterns() {
    let text = "\u{feff}# c\n/a/b/\n! /c\n./d/../e\n\n  f  \n!./g\n";
    assert_eq!(read_patterns(text), ["a/b", "!c", "e", "f", "!g"]);
}

#[test]
fn lone_exclusion_and_bad_syntax_are_errors() {
    assert!(matches!(
        IgnoreMatcher::parse("!"),
        Err(IgnoreError::LoneExclusion)
    ));
    assert!(matches!(
        IgnoreMatcher::parse("a["),
        Err(IgnoreError::BadPattern { .. })
    ));
    assert!(matches!(
        IgnoreMatcher::parse("\\"),
        Err(IgnoreError::BadPattern { .. })
    ));
}

#[test]
fn descend_only_when_an_exception_could_reach_below() {
    let m = IgnoreMatcher::parse("vendor\n!vendor/keep/*.go\nbuild").unwrap();
    assert!(m.must_descend("vendor"));
    assert!(m.must_descend("vendor/keep"));
    assert!(!m.must_descend("vendor/other"));
    assert!(!m.must_descend("build"));
    let m = IgnoreMatcher::parse("*\n!**/*.rs").unwrap();
    assert!(m.must_descend("deep/dir"));
    let none = IgnoreMatcher::parse("*").unwrap();
    assert!(!none.must_descend("src"));
}

#[test]
fn missing_file_ignores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let m = IgnoreMatcher::load(&dir.path().join(".dockerignore")).unwrap();
    assert!(m.is_empty());
    assert!(!m.is_excluded("anything"));
}

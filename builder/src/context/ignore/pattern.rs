//! One `.dockerignore` pattern, compiled the way moby/patternmatcher compiles it.
//!
//! Docker turns each pattern into a regular expression: `*` is `[^/]*`, `?` is `[^/]`,
//! `**` followed by more pattern is `(.*/)?`, a trailing `**` is `.*`, `\x` is a literal `x`
//! and `[...]` classes pass through. Patterns without any of these compare as plain strings,
//! and two shortcuts (`foo**` as a prefix, `**foo` as a suffix) compare literally too.
//! We keep those match types and run the regex as a small NFA over tokens instead.

use super::IgnoreError;

/// How a compiled pattern compares against a path (mirrors patternmatcher's `matchType`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum MatchType {
    /// The path equals the pattern text.
    Exact,
    /// The path starts with the pattern text minus its trailing `**`.
    Prefix,
    /// The path ends with the pattern text minus its leading `**`.
    Suffix,
    /// The token program below decides.
    Tokens,
}

/// One step of the compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// One literal character.
    Lit(char),
    /// `?`: one character except `/`.
    One,
    /// `*`: any run of characters except `/`.
    Star,
    /// `**` followed by more pattern: nothing, or anything ending in `/`.
    AnyDirs,
    /// `**` at the end: anything at all.
    Rest,
    /// `[...]`: one character in (or, negated, not in) the ranges.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A compiled pattern; `exclusion` is true for `!pattern` lines.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    pub(crate) exclusion: bool,
    pub(crate) text: String,
    kind: MatchType,
    tokens: Vec<Token>,
}

impl Pattern {
    /// Compiles a cleaned pattern (without its `!`).
    pub(crate) fn compile(text: &str, exclusion: bool) -> Result<Pattern, IgnoreError> {
        let (kind, tokens) = tokenize(text)?;
        Ok(Pattern {
            exclusion,
            text: text.to_string(),
            kind,
            tokens,
        })
    }

    /// Whether the slash-separated relative `path` matches this pattern.
    pub(crate) fn matches(&self, path: &str) -> bool {
        match self.kind {
            MatchType::Exact => path == self.text,
            MatchType::Prefix => path.starts_with(&self.text[..self.text.len() - 2]),
            MatchType::Suffix => {
                let suffix = &self.text[2..];
                path.ends_with(suffix) || (suffix.starts_with('/') && path == &suffix[1..])
            }
            MatchType::Tokens => run(&self.tokens, path),
        }
    }

    /// Whether this pattern could match some path strictly below directory `dir`.
    ///
    /// Conservative: answers true whenever a `**` could reach below `dir`.
    pub(crate) fn could_match_below(&self, dir: &str) -> bool {
        let pat: Vec<&str> = self.text.split('/').collect();
        let dirs: Vec<&str> = dir.split('/').collect();
        for (i, d) in dirs.iter().enumerate() {
            let Some(p) = pat.get(i) else { return false };
            if p.contains("**") {
                return true;
            }
            if !component_matches(p, d) {
                return false;
            }
        }
        pat.len() > dirs.len()
    }
}

/// Matches one pattern component (no `/`, no `**`) against one path component.
pub(crate) fn component_matches(pattern: &str, name: &str) -> bool {
    match tokenize(pattern) {
        Ok((MatchType::Exact, _)) => pattern == name,
        Ok((_, tokens)) => run(&tokens, name),
        Err(_) => false,
    }
}

/// Reports whether Go's `filepath.Match` syntax characters appear in `s`.
pub(crate) fn has_meta(s: &str) -> bool {
    s.contains(['*', '?', '[', '\\'])
}

/// Converts pattern text into a match type and tokens, like patternmatcher's `compile`.
fn tokenize(text: &str) -> Result<(MatchType, Vec<Token>), IgnoreError> {
    let chars: Vec<char> = text.chars().collect();
    let mut kind = MatchType::Exact;
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut first = true;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        match ch {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i >= chars.len() {
                    if kind == MatchType::Exact {
                        kind = MatchType::Prefix;
                    } else {
                        kind = MatchType::Tokens;
                    }
                    tokens.push(Token::Rest);
                } else {
                    kind = MatchType::Tokens;
                    tokens.push(Token::AnyDirs);
                }
                if first {
                    kind = MatchType::Suffix;
                }
            }
            '*' => {
                kind = MatchType::Tokens;
                tokens.push(Token::Star);
            }
            '?' => {
                kind = MatchType::Tokens;
                tokens.push(Token::One);
            }
            '\\' => match chars.get(i) {
                Some(&next) => {
                    i += 1;
                    kind = MatchType::Tokens;
                    tokens.push(Token::Lit(next));
                }
                None => {
                    return Err(IgnoreError::BadPattern {
                        pattern: text.to_string(),
                    })
                }
            },
            '[' => {
                let (token, next) = parse_class(&chars, i, text)?;
                i = next;
                kind = MatchType::Tokens;
                tokens.push(token);
            }
            ']' => {
                kind = MatchType::Tokens;
                tokens.push(Token::Lit(']'));
            }
            c => tokens.push(Token::Lit(c)),
        }
        first = false;
    }
    Ok((kind, tokens))
}

/// Parses a `[...]` class whose body starts at `chars[start]`; returns the token and the
/// index after the closing `]`.
fn parse_class(chars: &[char], start: usize, text: &str) -> Result<(Token, usize), IgnoreError> {
    let bad = || IgnoreError::BadPattern {
        pattern: text.to_string(),
    };
    let mut i = start;
    let negated = chars.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        let c = *chars.get(i).ok_or_else(bad)?;
        if c == ']' && !ranges.is_empty() {
            return Ok((Token::Class { negated, ranges }, i + 1));
        }
        let (lo, next) = class_char(chars, i).ok_or_else(bad)?;
        i = next;
        let mut hi = lo;
        if chars.get(i) == Some(&'-') {
            let (h, next) = class_char(chars, i + 1).ok_or_else(bad)?;
            hi = h;
            i = next;
        }
        if hi < lo {
            return Err(bad());
        }
        ranges.push((lo, hi));
    }
}

/// Reads one (possibly `\`-escaped) character inside a class.
fn class_char(chars: &[char], i: usize) -> Option<(char, usize)> {
    match chars.get(i)? {
        '\\' => chars.get(i + 1).map(|c| (*c, i + 2)),
        ']' | '-' => None,
        c => Some((*c, i + 1)),
    }
}

/// Runs the token program as an NFA; true when the whole `path` is consumed.
fn run(tokens: &[Token], path: &str) -> bool {
    let mut states = vec![false; tokens.len() + 1];
    states[0] = true;
    close(tokens, &mut states);
    for c in path.chars() {
        let mut next = vec![false; tokens.len() + 1];
        for (i, token) in tokens.iter().enumerate() {
            if states[i] {
                step(token, i, c, &mut next);
            }
        }
        close(tokens, &mut next);
        if !next.iter().any(|s| *s) {
            return false;
        }
        states = next;
    }
    states[tokens.len()]
}

/// Moves the NFA across token `i` on character `c`.
fn step(token: &Token, i: usize, c: char, next: &mut [bool]) {
    match token {
        Token::Lit(l) if *l == c => next[i + 1] = true,
        Token::One if c != '/' => next[i + 1] = true,
        Token::Star if c != '/' => next[i] = true,
        Token::AnyDirs => {
            next[i] = true;
            if c == '/' {
                next[i + 1] = true;
            }
        }
        Token::Rest => next[i] = true,
        Token::Class { negated, ranges } => {
            let inside = ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi);
            if inside != *negated {
                next[i + 1] = true;
            }
        }
        _ => {}
    }
}

/// Adds the states reachable without consuming a character (after `*`, `**`).
fn close(tokens: &[Token], states: &mut [bool]) {
    for i in 0..tokens.len() {
        let skippable = matches!(tokens[i], Token::Star | Token::AnyDirs | Token::Rest);
        if states[i] && skippable {
            states[i + 1] = true;
        }
    }
}

/// Go's `filepath.Clean` for slash paths: drops `.` and empty components, resolves `..`
/// lexically (kept at the front of a relative path, dropped at the root), `""` → `"."`.
pub fn clean_path(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match out.last() {
                Some(&last) if last != ".." => {
                    out.pop();
                }
                _ if rooted => {}
                _ => out.push(".."),
            },
            p => out.push(p),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_matches_go() {
        let rows = [
            ("", "."),
            ("a/b/../c", "a/c"),
            ("/../a", "/a"),
            ("../../a", "../../a"),
            ("./a//b/", "a/b"),
            ("/", "/"),
            ("a/..", "."),
            ("a/../../b", "../b"),
        ];
        for (input, want) in rows {
            assert_eq!(clean_path(input), want, "clean({input:?})");
        }
    }

    #[test]
    fn bad_patterns_are_errors() {
        for bad in [
            "[", "a[", "[]", "[z-a]", "[-a]", "[a-]", "\\", "[a-b-c]", "[^bc",
        ] {
            assert!(
                Pattern::compile(bad, false).is_err(),
                "{bad} should be rejected"
            );
        }
    }

    #[test]
    fn could_match_below_checks_components() {
        let p = Pattern::compile("a/*/keep", true).unwrap();
        assert!(p.could_match_below("a"));
        assert!(p.could_match_below("a/x"));
        assert!(!p.could_match_below("b"));
        assert!(!p.could_match_below("a/x/keep"));
        let p = Pattern::compile("**/keep", true).unwrap();
        assert!(p.could_match_below("anything/deep"));
    }
}

//! Shell patterns of `${NAME#pat}`, `${NAME%pat}` and `${NAME/pat/repl}`.
//!
//! BuildKit turns the pattern into a Go regular expression (`*` → `.*` or
//! `.*?`, `?` → `.`, everything else literal) and uses leftmost-first
//! matching. We match the same token list with a small memoised
//! backtracking matcher that tries alternatives in the same preference
//! order, so the chosen match is the one Go's `regexp` picks. Like Go's `.`,
//! `*` and `?` do not match a newline.

use std::collections::HashMap;

use super::EOF_CHAR;

/// One element of a converted pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// `*`: any run of characters.
    Star,
    /// `?`: any one character.
    Any,
    /// A character that matches itself.
    Literal(char),
}

/// Converts a pattern; `Err` carries the character after an invalid `\`.
///
/// `\*`, `\?` and `\\` are literals; `\}` and `\/` drop the backslash (it only
/// kept the character from ending the `${}`); any other `\x` is an error.
fn tokens(pattern: &str) -> Result<Vec<Token>, char> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        let token = match ch {
            '*' => Token::Star,
            '?' => Token::Any,
            '\\' if matches!(chars.get(i), Some('}' | '/')) => continue,
            '\\' => {
                let escaped = chars.get(i).copied().unwrap_or(EOF_CHAR);
                i += 1;
                if !matches!(escaped, '*' | '?' | '\\') {
                    return Err(escaped);
                }
                Token::Literal(escaped)
            }
            other => Token::Literal(other),
        };
        out.push(token);
    }
    Ok(out)
}

/// A leftmost-first matcher of a token list against a text.
struct Matcher<'a> {
    tokens: &'a [Token],
    text: &'a [char],
    /// `true`: `*` prefers the longest run (`.*`); `false`: the shortest (`.*?`).
    greedy: bool,
    memo: HashMap<(usize, usize), Option<usize>>,
}

impl<'a> Matcher<'a> {
    fn new(tokens: &'a [Token], text: &'a [char], greedy: bool) -> Self {
        Matcher {
            tokens,
            text,
            greedy,
            memo: HashMap::new(),
        }
    }

    /// The end of the preferred match of `tokens[ti..]` starting at `pos`.
    fn match_from(&mut self, ti: usize, pos: usize) -> Option<usize> {
        if let Some(found) = self.memo.get(&(ti, pos)) {
            return *found;
        }
        let found = self.match_uncached(ti, pos);
        self.memo.insert((ti, pos), found);
        found
    }

    fn match_uncached(&mut self, ti: usize, pos: usize) -> Option<usize> {
        let Some(token) = self.tokens.get(ti).copied() else {
            return Some(pos);
        };
        let ch = self.text.get(pos).copied();
        match token {
            Token::Literal(want) if ch == Some(want) => self.match_from(ti + 1, pos + 1),
            Token::Any if ch.is_some_and(|c| c != '\n') => self.match_from(ti + 1, pos + 1),
            Token::Star => self.match_star(ti, pos),
            _ => None,
        }
    }

    /// Tries every run length of a `*` in preference order.
    fn match_star(&mut self, ti: usize, pos: usize) -> Option<usize> {
        let run = self.text[pos..].iter().take_while(|c| **c != '\n').count();
        if self.greedy {
            (0..=run)
                .rev()
                .find_map(|k| self.match_from(ti + 1, pos + k))
        } else {
            (0..=run).find_map(|k| self.match_from(ti + 1, pos + k))
        }
    }

    /// The leftmost match starting at or after `from`: `(start, end)`.
    fn find(&mut self, from: usize) -> Option<(usize, usize)> {
        (from..=self.text.len()).find_map(|start| self.match_from(0, start).map(|end| (start, end)))
    }
}

/// `${NAME#pat}` (`longest` false) and `${NAME##pat}` (`longest` true).
pub(super) fn trim_prefix(pattern: &str, value: &str, longest: bool) -> Result<String, char> {
    let tokens = tokens(pattern)?;
    let text: Vec<char> = value.chars().collect();
    let end = Matcher::new(&tokens, &text, longest).match_from(0, 0);
    Ok(match end {
        Some(end) => text[end..].iter().collect(),
        None => value.to_string(),
    })
}

/// `${NAME%pat}` and `${NAME%%pat}`: a prefix trim of the reversed value
/// with the reversed pattern, as BuildKit does it.
pub(super) fn trim_suffix(pattern: &str, value: &str, longest: bool) -> Result<String, char> {
    let reversed_value: String = value.chars().rev().collect();
    let trimmed = trim_prefix(&reverse_pattern(pattern), &reversed_value, longest)?;
    Ok(trimmed.chars().rev().collect())
}

/// Reverses a pattern but keeps each `\x` pair in order (`a\*c` → `c\*a`).
fn reverse_pattern(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut pieces: Vec<&[char]> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let len = if chars[i] == '\\' && i + 1 < chars.len() {
            2
        } else {
            1
        };
        pieces.push(&chars[i..i + len]);
        i += len;
    }
    pieces.iter().rev().flat_map(|p| p.iter()).collect()
}

/// `${NAME/pat/repl}` (first match, `repl` literal) and `${NAME//pat/repl}`
/// (every match, `repl` is a Go `regexp` template where `$0`/`${0}` is the
/// match, `$$` a dollar, and any other `$name` empty).
pub(super) fn replace(
    pattern: &str,
    value: &str,
    replacement: &str,
    all: bool,
) -> Result<String, char> {
    let tokens = tokens(pattern)?;
    let text: Vec<char> = value.chars().collect();
    let mut matcher = Matcher::new(&tokens, &text, true);
    if !all {
        return Ok(match matcher.find(0) {
            Some((start, end)) => {
                let mut out: String = text[..start].iter().collect();
                out.push_str(replacement);
                out.extend(&text[end..]);
                out
            }
            None => value.to_string(),
        });
    }
    Ok(replace_all(&mut matcher, &text, replacement))
}

/// Go's `Regexp.ReplaceAllString` loop, including its rules for empty matches.
fn replace_all(matcher: &mut Matcher<'_>, text: &[char], template: &str) -> String {
    let mut out = String::new();
    let mut last_end = 0;
    let mut search = 0;
    while search <= text.len() {
        let Some((start, end)) = matcher.find(search) else {
            break;
        };
        out.extend(&text[last_end..start]);
        // No replacement for an empty match right after the previous match.
        if end > last_end || start == 0 {
            let matched: String = text[start..end].iter().collect();
            expand_template(&mut out, template, &matched);
        }
        last_end = end;
        let width = usize::from(search < text.len());
        if search + width > end {
            search += width;
        } else if search + 1 > end {
            search += 1;
        } else {
            search = end;
        }
    }
    out.extend(&text[last_end..]);
    out
}

/// Go's `Regexp.Expand` for a regexp whose only group is the whole match.
fn expand_template(out: &mut String, template: &str, matched: &str) {
    let mut rest = template;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        rest = &rest[dollar + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        match template_name(rest) {
            Some((name, after)) => {
                if name.parse::<u64>() == Ok(0) {
                    out.push_str(matched);
                }
                rest = after;
            }
            None => out.push('$'),
        }
    }
    out.push_str(rest);
}

/// The group reference after a `$`: `name` or `{name}`, and the text after it.
fn template_name(text: &str) -> Option<(&str, &str)> {
    let (body, braced) = match text.strip_prefix('{') {
        Some(body) => (body, true),
        None => (text, false),
    };
    let len: usize = body
        .chars()
        .take_while(|c| c.is_alphabetic() || c.is_numeric() || *c == '_')
        .map(char::len_utf8)
        .sum();
    if len == 0 {
        return None;
    }
    let (name, after) = body.split_at(len);
    if !braced {
        return Some((name, after));
    }
    after.strip_prefix('}').map(|after| (name, after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_of_escapes() {
        assert_eq!(
            tokens(r"a\*\?\\\}\/*?"),
            Ok(vec![
                Token::Literal('a'),
                Token::Literal('*'),
                Token::Literal('?'),
                Token::Literal('\\'),
                Token::Literal('}'),
                Token::Literal('/'),
                Token::Star,
                Token::Any,
            ])
        );
        assert_eq!(tokens(r"\"), Err(EOF_CHAR));
        assert_eq!(tokens(r"\x"), Err('x'));
        assert_eq!(tokens(r"\\\"), Err(EOF_CHAR));
    }

    #[test]
    fn reverse_keeps_escape_pairs() {
        for (pattern, reversed) in [
            (r"a\*c", r"c\*a"),
            (r"\\\ab", r"b\a\\"),
            (r"ab\", r"\ba"),
            ("👽\\🚀🖖", "🖖\\🚀👽"),
            (r"\\b", r"b\\"),
        ] {
            assert_eq!(reverse_pattern(pattern), reversed, "{pattern}");
        }
    }

    #[test]
    fn star_preference_follows_leftmost_first() {
        assert_eq!(trim_prefix("*x*y", "xxyy", false), Ok("y".into()));
        assert_eq!(trim_prefix("*x*y", "xxyy", true), Ok(String::new()));
        assert_eq!(trim_prefix("*", "xxyy", false), Ok("xxyy".into()));
        assert_eq!(trim_suffix("*y", "xxyy", false), Ok("xxy".into()));
        assert_eq!(trim_suffix("*y", "xxyy", true), Ok(String::new()));
    }

    #[test]
    fn wildcards_stop_at_newline() {
        assert_eq!(trim_prefix("*", "ab\ncd", true), Ok("\ncd".into()));
        assert_eq!(trim_prefix("a?c", "a\nc", true), Ok("a\nc".into()));
    }

    #[test]
    fn replace_all_handles_empty_matches() {
        // Go: regexp.MustCompile("").ReplaceAllString("ab", "-") == "-a-b-"
        assert_eq!(replace("", "ab", "-", true), Ok("-a-b-".into()));
        // Go: regexp.MustCompile(".*").ReplaceAllString("ab", "-") == "-": no
        // second replacement for the empty match right after the first one.
        assert_eq!(replace("*", "ab", "-", true), Ok("-".into()));
        assert_eq!(replace("?", "ab", "-", true), Ok("--".into()));
        assert_eq!(replace("x*", "abxd", "-", true), Ok("ab-".into()));
        assert_eq!(replace("", "ab", "-", false), Ok("-ab".into()));
    }

    #[test]
    fn template_references() {
        let mut out = String::new();
        expand_template(&mut out, "<$0|${0}|$$|$x|${|$>", "m");
        assert_eq!(out, "<m|m|$||${|$>");
    }
}

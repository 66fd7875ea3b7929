//! Splitting an instruction line into keyword, flags and arguments, the way BuildKit's
//! `split_command.go` and `line_parsers.go` do. Nothing here expands variables: quotes and
//! escapes in arguments are kept as written.

/// Whitespace that separates words in BuildKit (`[\t\v\f\r ]+`).
pub(crate) fn is_sep(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

/// Splits on runs of separator whitespace, dropping empty words.
pub(crate) fn split_ws(s: &str) -> Vec<String> {
    s.split(is_sep)
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Splits a logical line into `(keyword, flags, rest)`.
///
/// Flags are the leading `--words` of the arguments (quotes removed, the escape token honoured);
/// a bare `--` ends them. `rest` is the remaining argument text, trimmed.
pub(crate) fn split_command(line: &str, escape: char) -> (String, Vec<String>, String) {
    let line = line.trim();
    let (keyword, args) = match line.find(is_sep) {
        Some(i) => (&line[..i], line[i..].trim_start_matches(is_sep)),
        None => (line, ""),
    };
    let (rest, flags) = extract_flags(args, escape);
    (keyword.to_string(), flags, rest.trim().to_string())
}

/// Scanner state for [`extract_flags`].
#[derive(PartialEq)]
enum Phase {
    Spaces,
    Word,
    Quote(char),
}

/// Takes the leading `--flag[=value]` words off `line`; returns the rest and the flags.
fn extract_flags(line: &str, escape: char) -> (&str, Vec<String>) {
    let mut flags = Vec::new();
    let mut word = String::new();
    let mut blank_ok = false;
    let mut phase = Phase::Spaces;
    let mut chars = line.char_indices().peekable();
    while let Some((pos, ch)) = chars.next() {
        match phase {
            Phase::Spaces => {
                if ch.is_whitespace() {
                    continue;
                }
                if !line[pos..].starts_with("--") {
                    return (&line[pos..], flags);
                }
                phase = Phase::Word;
                word.push(ch);
            }
            Phase::Word => {
                if ch.is_whitespace() {
                    if word == "--" {
                        return (&line[pos..], flags);
                    }
                    if blank_ok || !word.is_empty() {
                        flags.push(std::mem::take(&mut word));
                    }
                    blank_ok = false;
                    phase = Phase::Spaces;
                } else if ch == '\'' || ch == '"' {
                    blank_ok = true;
                    phase = Phase::Quote(ch);
                } else if ch == escape {
                    if let Some((_, next)) = chars.next() {
                        word.push(next);
                    }
                } else {
                    word.push(ch);
                }
            }
            Phase::Quote(q) => {
                if ch == q {
                    phase = Phase::Word;
                } else if ch == escape {
                    match chars.next() {
                        Some((_, next)) => word.push(next),
                        None => phase = Phase::Word,
                    }
                } else {
                    word.push(ch);
                }
            }
        }
    }
    if phase != Phase::Spaces && word != "--" && (blank_ok || !word.is_empty()) {
        flags.push(word);
    }
    ("", flags)
}

/// Splits into words, keeping quotes and escapes in the words (BuildKit's `parseWords`, used
/// by ENV, LABEL and ARG). Whitespace inside quotes does not split.
pub(crate) fn parse_words(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut blank_ok = false;
    let mut quote: Option<char> = None;
    let mut chars = rest.chars().peekable();
    while let Some(ch) = chars.next() {
        if let Some(q) = quote {
            if ch == q {
                quote = None;
            }
            if ch == escape && q != '\'' {
                if chars.peek().is_none() {
                    quote = None;
                    continue;
                }
                word.push(ch);
                word.extend(chars.next());
                continue;
            }
            word.push(ch);
        } else if ch.is_whitespace() {
            if blank_ok || !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            blank_ok = false;
        } else {
            if ch == '\'' || ch == '"' {
                quote = Some(ch);
                blank_ok = true;
            }
            if ch == escape {
                if chars.peek().is_none() {
                    continue;
                }
                word.push(ch);
                word.extend(chars.next());
                continue;
            }
            word.push(ch);
        }
    }
    if blank_ok || !word.is_empty() {
        words.push(word);
    }
    words
}

/// The outcome of trying to read arguments as a JSON array.
#[derive(Debug, PartialEq)]
pub(crate) enum Json {
    /// Not a JSON array: the arguments are in shell form.
    No,
    /// A JSON array of strings: exec form.
    Strings(Vec<String>),
    /// A JSON array with a non-string element: an error in BuildKit.
    NotStrings,
}

/// Reads `rest` as a JSON array of strings, as BuildKit's `parseJSON` does: text that does
/// not start with `[` or is not valid JSON is shell form, not an error.
pub(crate) fn parse_json(rest: &str) -> Json {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return Json::No;
    }
    let Ok(values) = serde_json::from_str::<Vec<serde_json::Value>>(rest) else {
        return Json::No;
    };
    let mut out = Vec::with_capacity(values.len());
    for value in values {
        match value {
            serde_json::Value::String(s) => out.push(s),
            _ => return Json::NotStrings,
        }
    }
    Json::Strings(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_command_takes_flags_and_rest() {
        let (k, f, r) = split_command("  COPY --from=a  --chown=\"1 2\" src dst ", '\\');
        assert_eq!(k, "COPY");
        assert_eq!(f, vec!["--from=a", "--chown=1 2"]);
        assert_eq!(r, "src dst");
    }

    #[test]
    fn double_dash_ends_flags() {
        let (_, f, r) = split_command("COPY --doit=true -- --foo /tmp/", '\\');
        assert_eq!(f, vec!["--doit=true"]);
        assert_eq!(r, "--foo /tmp/");
        let (_, f, r) = split_command("CMD --doit -- [ ]", '\\');
        assert_eq!(f, vec!["--doit"]);
        assert_eq!(r, "[ ]");
    }

    #[test]
    fn single_dash_is_an_argument() {
        let (_, f, r) = split_command("RUN -x", '\\');
        assert!(f.is_empty());
        assert_eq!(r, "-x");
        let (k, f, r) = split_command("HEALTHCHECK", '\\');
        assert_eq!((k.as_str(), f.len(), r.as_str()), ("HEALTHCHECK", 0, ""));
    }

    #[test]
    fn parse_words_keeps_quotes_and_escapes() {
        let w = parse_words(r#"a="b c" d='e\ f' g\ h"#, '\\');
        assert_eq!(w, vec![r#"a="b c""#, r"d='e\ f'", r"g\ h"]);
        assert_eq!(parse_words(r#"x="" "#, '\\'), vec![r#"x="""#]);
        assert_eq!(parse_words("a `b", '`'), vec!["a", "`b"]);
    }

    #[test]
    fn json_detection() {
        assert_eq!(
            parse_json(r#" ["a", "b c"] "#),
            Json::Strings(vec!["a".into(), "b c".into()])
        );
        assert_eq!(parse_json("[]"), Json::Strings(vec![]));
        assert_eq!(parse_json("['a']"), Json::No);
        assert_eq!(parse_json(r#"["a" "#), Json::No);
        assert_eq!(parse_json(r#"["a", 1]"#), Json::NotStrings);
        assert_eq!(parse_json("echo [x]"), Json::No);
    }

    #[test]
    fn split_ws_ignores_runs() {
        assert_eq!(split_ws(" a \t b  "), vec!["a", "b"]);
    }
}

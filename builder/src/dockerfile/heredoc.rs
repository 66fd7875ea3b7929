//! Here-documents (`RUN <<EOF`, `COPY <<-'EOF' /dest`): finding the `<<WORD` markers in an
//! instruction line and describing them, as BuildKit's `heredocsFromLine`/`ParseHeredoc` do.

use std::borrow::Cow;

/// One here-document attached to a RUN, COPY or ADD instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter with quotes removed (`EOF` for `<<"EOF"`); also the file name BuildKit
    /// uses for `COPY <<EOF /dest` sources.
    pub name: String,
    /// The file descriptor written before `<<` (`3<<EOF`), if any.
    pub fd: Option<u32>,
    /// Whether the body is subject to variable expansion: false when any part of the
    /// delimiter was quoted (`<<'EOF'`, `<<"EOF"`, `<<E"O"F`).
    pub expand: bool,
    /// `<<-EOF`: leading tabs are stripped from body lines and from the terminator line.
    pub strip_tabs: bool,
    /// The body exactly as written: every line up to the terminator, each with its newline.
    pub body: String,
}

impl Heredoc {
    /// The body as the instruction sees it: with leading tabs removed from every line when
    /// `strip_tabs` is set (BuildKit's `ChompHeredocContent`), otherwise unchanged.
    pub fn content(&self) -> Cow<'_, str> {
        if !self.strip_tabs {
            return Cow::Borrowed(&self.body);
        }
        let mut out = String::with_capacity(self.body.len());
        for line in self.body.split_inclusive('\n') {
            out.push_str(line.trim_start_matches('\t'));
        }
        Cow::Owned(out)
    }

    /// Whether `line` (newline already removed) terminates this heredoc.
    pub(crate) fn is_terminator(&self, line: &str) -> bool {
        let line = if self.strip_tabs {
            line.trim_start_matches('\t')
        } else {
            line
        };
        line == self.name
    }
}

/// Finds the heredoc markers of an instruction line, in order. The line is split into words
/// with quotes and escapes kept (the backslash is always the escape here, as in BuildKit); a
/// line that does not lex (an unterminated quote) has no heredocs.
pub(crate) fn heredocs_in_line(line: &str) -> Vec<Heredoc> {
    raw_words(line)
        .unwrap_or_default()
        .iter()
        .filter_map(|w| parse_marker(w))
        .collect()
}

/// Parses one word as a heredoc marker: `^(\d*)<<(-?)\s*([^<]*)$` whose tail is one word.
pub(crate) fn parse_marker(word: &str) -> Option<Heredoc> {
    let digits = word.len() - word.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let after = word[digits..].strip_prefix("<<")?;
    let (strip_tabs, after) = match after.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, after),
    };
    let rest = after.trim_start();
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    let (name, quoted) = unquote(rest)?;
    Some(Heredoc {
        name,
        fd: word[..digits].parse().ok(),
        expand: !quoted,
        strip_tabs,
        body: String::new(),
    })
}

/// Removes shell quoting from a delimiter; returns the name and whether any part was quoted.
/// `None` when the delimiter is not exactly one word or a quote is unterminated.
fn unquote(word: &str) -> Option<(String, bool)> {
    let mut out = String::new();
    let mut quoted = false;
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => out.push(c),
                    }
                }
            }
            '"' => {
                quoted = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => out.push(chars.next()?),
                        c => out.push(c),
                    }
                }
            }
            '\\' => out.extend(chars.next()),
            c if c.is_whitespace() => return None,
            c => out.push(c),
        }
    }
    Some((out, quoted))
}

/// Splits a line into words keeping quotes and escapes; `<<` glues to the blanks after it
/// (BuildKit's `processPossibleHeredoc`), so `<<  EOF` is one word.
fn raw_words(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                word.push(c);
                loop {
                    let q = chars.next()?;
                    word.push(q);
                    if q == c {
                        break;
                    }
                    if q == '\\' && c == '"' {
                        word.push(chars.next()?);
                    }
                }
            }
            '\\' => {
                word.push(c);
                word.extend(chars.next());
            }
            '<' if chars.peek() == Some(&'<') => {
                word.push_str("<<");
                chars.next();
                while let Some(&b) = chars.peek().filter(|b| b.is_whitespace()) {
                    word.push(b);
                    chars.next();
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                }
                in_word = false;
                continue;
            }
            c => word.push(c),
        }
        in_word = true;
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(line: &str) -> Vec<(String, bool, bool, Option<u32>)> {
        heredocs_in_line(line)
            .into_iter()
            .map(|h| (h.name, h.expand, h.strip_tabs, h.fd))
            .collect()
    }

    #[test]
    fn markers_like_buildkit() {
        assert_eq!(names("RUN <<EOF"), vec![("EOF".into(), true, false, None)]);
        assert_eq!(names("RUN <<-EOF"), vec![("EOF".into(), true, true, None)]);
        assert_eq!(
            names("RUN 3<<E2"),
            vec![("E2".into(), true, false, Some(3))]
        );
        assert_eq!(
            names("RUN <<'EOF'"),
            vec![("EOF".into(), false, false, None)]
        );
        assert_eq!(
            names("RUN <<eo'f'"),
            vec![("eof".into(), false, false, None)]
        );
        assert_eq!(
            names(r"RUN <<eo\'f"),
            vec![("eo'f".into(), true, false, None)]
        );
        assert_eq!(
            names("RUN <<'one two'"),
            vec![("one two".into(), false, false, None)]
        );
        assert_eq!(
            names("RUN <<$EOF"),
            vec![("$EOF".into(), true, false, None)]
        );
        assert_eq!(
            names("RUN <<  EOF  > foo"),
            vec![("EOF".into(), true, false, None)]
        );
        assert_eq!(
            names("RUN << -EOF"),
            vec![("-EOF".into(), true, false, None)]
        );
        let two = names("COPY <<A <<B /dest");
        assert_eq!(two.len(), 2);
        assert_eq!((two[0].0.as_str(), two[1].0.as_str()), ("A", "B"));
    }

    #[test]
    fn not_markers() {
        assert!(names(r#"RUN "<<EOF""#).is_empty());
        assert!(names("RUN '<<EOF'").is_empty());
        assert!(names("RUN <<- EOF").is_empty());
        assert!(names("RUN <<<EOF").is_empty());
        assert!(names("RUN a<<EOF").is_empty());
        assert!(names("RUN <<'EOF").is_empty());
        assert!(names("RUN echo <<").is_empty());
    }

    #[test]
    fn content_strips_tabs_only_when_asked() {
        let mut h = parse_marker("<<-X").unwrap();
        h.body = "\t\ta\n\tb\n c\n".into();
        assert_eq!(h.content(), "a\nb\n c\n");
        assert!(h.is_terminator("\t\tX"));
        h.strip_tabs = false;
        assert_eq!(h.content(), "\t\ta\n\tb\n c\n");
        assert!(!h.is_terminator("\tX"));
    }
}

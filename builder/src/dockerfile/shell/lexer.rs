//! The scanner: quotes, escapes, `$NAME` and `${...}` in the order BuildKit's
//! `shellWord.processStopOn` handles them.

use super::pattern;
use super::{Expansion, LexOptions, ShellError, EOF_CHAR};

/// One pass over one word.
pub(super) struct Lexer<'a> {
    source: &'a str,
    chars: Vec<char>,
    pos: usize,
    vars: &'a dyn Fn(&str) -> Option<String>,
    escape: char,
    options: LexOptions,
    /// Whether escape characters are currently kept (patterns keep them).
    raw_escapes: bool,
}

/// Collects fields while the word is scanned (BuildKit's `wordsStruct`).
#[derive(Default)]
struct Fields {
    buf: String,
    words: Vec<String>,
    in_word: bool,
}

impl Fields {
    /// Adds a character that splits fields when it is white space.
    fn add_char(&mut self, ch: char) {
        if ch.is_whitespace() {
            if self.in_word && !self.buf.is_empty() {
                self.words.push(std::mem::take(&mut self.buf));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(ch);
        }
    }

    /// Adds a character that never splits (quoted or escaped).
    fn add_raw_char(&mut self, ch: char) {
        self.buf.push(ch);
        self.in_word = true;
    }

    /// Adds a substitution result, which is split like unquoted text.
    fn add_string(&mut self, text: &str) {
        text.chars().for_each(|c| self.add_char(c));
    }

    /// Adds quoted text, which never splits.
    fn add_raw_string(&mut self, text: &str) {
        self.buf.push_str(text);
        self.in_word = true;
    }

    /// Ends the scan: the pending field, if not empty, becomes the last one.
    fn finish(mut self) -> Vec<String> {
        if !self.buf.is_empty() {
            self.words.push(std::mem::take(&mut self.buf));
        }
        self.words
    }
}

/// What a special character's handler produced.
enum Piece {
    /// Text from `$`: split into fields like unquoted text.
    Split(String),
    /// Text from quotes or `<<`: never split.
    Raw(String),
}

impl<'a> Lexer<'a> {
    /// Prepares a pass over `source`.
    pub(super) fn new(
        source: &'a str,
        vars: &'a dyn Fn(&str) -> Option<String>,
        escape: char,
        options: LexOptions,
    ) -> Self {
        Lexer {
            source,
            chars: source.chars().collect(),
            pos: 0,
            vars,
            escape,
            options,
            raw_escapes: options.raw_escapes,
        }
    }

    /// Expands the whole word.
    pub(super) fn run(mut self) -> Result<Expansion, ShellError> {
        let (word, words) = self.process_until(None, self.options.raw_escapes)?;
        Ok(Expansion { word, words })
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let ch = self.peek();
        if ch.is_some() {
            self.pos += 1;
        }
        ch
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn word(&self) -> String {
        self.source.to_string()
    }

    /// Scans until `stop` (consumed) or the end; `None` means the end is expected.
    fn process_until(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), ShellError> {
        let saved = std::mem::replace(&mut self.raw_escapes, raw_escapes);
        let result = self.scan(stop);
        self.raw_escapes = saved;
        result
    }

    fn scan(&mut self, stop: Option<char>) -> Result<(String, Vec<String>), ShellError> {
        let mut result = String::new();
        let mut fields = Fields::default();
        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                self.next();
                return Ok((result, fields.finish()));
            }
            if let Some(piece) = self.special(ch)? {
                match piece {
                    Piece::Split(text) => {
                        fields.add_string(&text);
                        result.push_str(&text);
                    }
                    Piece::Raw(text) => {
                        fields.add_raw_string(&text);
                        result.push_str(&text);
                    }
                }
                continue;
            }
            self.next();
            if ch != self.escape {
                fields.add_char(ch);
                result.push(ch);
                continue;
            }
            if self.raw_escapes {
                fields.add_raw_char(ch);
                result.push(ch);
            }
            // The escape character quotes the next one; at the end it is dropped.
            let Some(escaped) = self.next() else { break };
            fields.add_raw_char(escaped);
            result.push(escaped);
        }
        match stop {
            Some(stop) => Err(ShellError::Unterminated {
                word: self.word(),
                stop,
            }),
            None => Ok((result, fields.finish())),
        }
    }

    /// Runs the handler of a special character, if `ch` is one.
    fn special(&mut self, ch: char) -> Result<Option<Piece>, ShellError> {
        let piece = match ch {
            '$' => Piece::Split(self.dollar()?),
            '<' => Piece::Raw(self.possible_heredoc()),
            '\'' if !self.options.skip_quotes => Piece::Raw(self.single_quote()?),
            '"' if !self.options.skip_quotes => Piece::Raw(self.double_quote()?),
            _ => return Ok(None),
        };
        Ok(Some(piece))
    }

    /// `'...'`: everything literal; a single quote cannot be escaped inside.
    fn single_quote(&mut self) -> Result<String, ShellError> {
        let mut out = String::new();
        let open = self.next();
        if self.options.raw_quotes {
            out.extend(open);
        }
        loop {
            match self.next() {
                None => return Err(ShellError::UnterminatedSingleQuote { word: self.word() }),
                Some('\'') => {
                    if self.options.raw_quotes {
                        out.push('\'');
                    }
                    return Ok(out);
                }
                Some(ch) => out.push(ch),
            }
        }
    }

    /// `"..."`: `$` expands; the escape character quotes only `"`, `$` and itself.
    fn double_quote(&mut self) -> Result<String, ShellError> {
        let mut out = String::new();
        let open = self.next();
        if self.options.raw_quotes {
            out.extend(open);
        }
        loop {
            match self.peek() {
                None => return Err(ShellError::UnterminatedDoubleQuote { word: self.word() }),
                Some('"') => {
                    self.next();
                    if self.options.raw_quotes {
                        out.push('"');
                    }
                    return Ok(out);
                }
                Some('$') => out.push_str(&self.dollar()?),
                Some(_) => self.double_quoted_char(&mut out),
            }
        }
    }

    /// One ordinary character inside double quotes, with BuildKit's escape rule.
    fn double_quoted_char(&mut self, out: &mut String) {
        let Some(mut ch) = self.next() else { return };
        if ch == self.escape {
            if self.raw_escapes {
                out.push(ch);
            }
            match self.peek() {
                // An escape before the end is ignored; the missing quote is reported next.
                None => return,
                Some(next) if next == '"' || next == '$' || next == self.escape => {
                    self.next();
                    ch = next;
                }
                Some(_) => {}
            }
        }
        out.push(ch);
    }

    /// `<` or `<<` plus the blanks after it, kept as one unsplit piece.
    fn possible_heredoc(&mut self) -> String {
        self.next();
        if self.peek() != Some('<') {
            return "<".to_string();
        }
        self.next();
        let mut out = "<<".to_string();
        while let Some(ch @ (' ' | '\t' | '\r')) = self.peek() {
            out.push(ch);
            self.next();
        }
        out
    }

    /// Looks a variable up; `None` when unset.
    fn lookup(&self, name: &str) -> Option<String> {
        (self.vars)(name)
    }

    /// `$NAME` or `${...}`; the scanner is on the `$`.
    fn dollar(&mut self) -> Result<String, ShellError> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".to_string());
            }
            return Ok(match self.lookup(&name) {
                Some(value) => value,
                None if self.options.skip_unset => format!("${name}"),
                None => String::new(),
            });
        }
        self.next();
        match self.peek() {
            None => return Err(ShellError::MissingBrace { word: self.word() }),
            Some('{' | '}' | ':') => return Err(ShellError::BadSubstitution { word: self.word() }),
            Some(_) => {}
        }
        let name = self.name();
        self.braced(name)
    }

    /// The part of `${NAME...}` after the name.
    fn braced(&mut self, name: String) -> Result<String, ShellError> {
        match self.next() {
            Some('}') => Ok(match self.lookup(&name) {
                Some(value) => value,
                None if self.options.skip_unset => format!("${{{name}}}"),
                None => String::new(),
            }),
            Some(':') => {
                let op = self.next();
                self.operator(name, op, true)
            }
            Some(op @ ('+' | '-' | '?' | '#' | '%')) => self.operator(name, Some(op), false),
            Some('/') => self.substitute(name),
            // BuildKit says "unsupported modifier (\u{FFFD})" here; the real problem is the brace.
            None => Err(ShellError::MissingBrace { word: self.word() }),
            Some(op) => Err(self.unsupported(op.to_string())),
        }
    }

    fn unsupported(&self, modifier: String) -> ShellError {
        ShellError::UnsupportedModifier {
            word: self.word(),
            modifier,
        }
    }

    /// `${NAME[:]op word}` for op in `- + ? # %` (and, after `:`, anything else is an error).
    fn operator(
        &mut self,
        name: String,
        op: Option<char>,
        colon: bool,
    ) -> Result<String, ShellError> {
        let op_char = op.unwrap_or(EOF_CHAR);
        let modifier = if colon {
            format!(":{op_char}")
        } else {
            op_char.to_string()
        };
        let trims = matches!(op, Some('#' | '%'));
        if colon && trims {
            return Err(self.unsupported(modifier));
        }
        let word = self.nested_word('}', trims)?;
        let value = self.lookup(&name);
        if value.is_none() && self.options.skip_unset {
            return Ok(format!("${{{name}{modifier}{word}}}"));
        }
        match op {
            Some('-') => Ok(default_value(value, colon, word)),
            Some('+') => Ok(alternate_value(value, colon, word)),
            Some('?') => self.required(name, value, colon, word),
            Some(trim @ ('#' | '%')) => self.trim(value.unwrap_or_default(), trim, word),
            _ => Err(self.unsupported(modifier)),
        }
    }

    /// Scans a nested word up to `stop`. Any failure that ran into the end of
    /// the input is reported as the missing terminator, as BuildKit does.
    fn nested_word(&mut self, stop: char, raw_escapes: bool) -> Result<String, ShellError> {
        match self.process_until(Some(stop), raw_escapes) {
            Ok((word, _)) => Ok(word),
            Err(_) if self.at_end() && stop == '/' => {
                Err(ShellError::MissingSlash { word: self.word() })
            }
            Err(_) if self.at_end() => Err(ShellError::MissingBrace { word: self.word() }),
            Err(err) => Err(err),
        }
    }

    /// `${NAME?msg}` / `${NAME:?msg}`.
    fn required(
        &self,
        name: String,
        value: Option<String>,
        colon: bool,
        word: String,
    ) -> Result<String, ShellError> {
        let default_message = match value.as_deref() {
            None => "is not allowed to be unset",
            Some("") if colon => "is not allowed to be empty",
            Some(value) => return Ok(value.to_string()),
        };
        let message = if word.is_empty() {
            default_message.to_string()
        } else {
            word
        };
        Err(ShellError::Required {
            word: self.word(),
            name,
            message,
        })
    }

    /// `${NAME#pat}`, `${NAME##pat}`, `${NAME%pat}`, `${NAME%%pat}`.
    fn trim(&self, value: String, op: char, word: String) -> Result<String, ShellError> {
        let (longest, pat) = match word.strip_prefix(op) {
            Some(rest) => (true, rest),
            None => (false, word.as_str()),
        };
        let trimmed = if op == '%' {
            pattern::trim_suffix(pat, &value, longest)
        } else {
            pattern::trim_prefix(pat, &value, longest)
        };
        trimmed.map_err(|escaped| self.invalid_pattern(pat, escaped))
    }

    fn invalid_pattern(&self, pattern: &str, escaped: char) -> ShellError {
        ShellError::InvalidPattern {
            word: self.word(),
            pattern: pattern.to_string(),
            escaped,
        }
    }

    /// `${NAME/pat/repl}` and `${NAME//pat/repl}`; the scanner is after the first `/`.
    fn substitute(&mut self, name: String) -> Result<String, ShellError> {
        let all = self.peek() == Some('/');
        if all {
            self.next();
        }
        let pat = self.nested_word('/', true)?;
        let replacement = self.nested_word('}', true)?;
        let value = self.lookup(&name);
        let Some(value) = value.or_else(|| (!self.options.skip_unset).then(String::new)) else {
            return Ok(format!("${{{name}/{pat}/{replacement}}}"));
        };
        pattern::replace(&pat, &value, &replacement, all)
            .map_err(|escaped| self.invalid_pattern(&pat, escaped))
    }

    /// A name: letters, digits and `_`; or a run of digits; or one special parameter.
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && ch.is_numeric() {
                while let Some(digit) = self.peek().filter(|c| c.is_numeric()) {
                    name.push(digit);
                    self.next();
                }
                return name;
            }
            if name.is_empty() && is_special_param(ch) {
                self.next();
                return ch.to_string();
            }
            if !ch.is_alphabetic() && !ch.is_numeric() && ch != '_' {
                break;
            }
            name.push(ch);
            self.next();
        }
        name
    }
}

/// `${NAME-word}` / `${NAME:-word}`.
fn default_value(value: Option<String>, colon: bool, word: String) -> String {
    match value {
        Some(v) if !(colon && v.is_empty()) => v,
        _ => word,
    }
}

/// `${NAME+word}` / `${NAME:+word}`.
fn alternate_value(value: Option<String>, colon: bool, word: String) -> String {
    match value {
        Some(v) if !(colon && v.is_empty()) => word,
        _ => String::new(),
    }
}

/// The POSIX special parameters (`$@`, `$*`, `$#`, `$?`, `$-`, `$$`, `$!`, `$0`).
fn is_special_param(ch: char) -> bool {
    matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0')
}

//! "Did you mean ...?" suggestions: the closest option within edit distance 2, as BuildKit's
//! `util/suggest` does.

/// Levenshtein distance between two strings, by characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The option closest to `value` (distance below 3), or `None` when nothing is close or
/// `value` is itself an option. Case-insensitive when `ignore_case`; the suggestion then
/// follows `value`'s case when that is all-lower or all-upper.
pub(crate) fn closest(value: &str, options: &[&str], ignore_case: bool) -> Option<String> {
    let needle = if ignore_case {
        value.to_lowercase()
    } else {
        value.to_string()
    };
    let mut best: Option<(usize, String)> = None;
    for opt in options {
        let opt = if ignore_case {
            opt.to_lowercase()
        } else {
            opt.to_string()
        };
        if opt == needle {
            return None;
        }
        let d = distance(&needle, &opt);
        if d < 3 && best.as_ref().is_none_or(|(bd, _)| d < *bd) {
            best = Some((d, opt));
        }
    }
    best.map(|(_, s)| match_case(s, value, ignore_case))
}

fn match_case(s: String, orig: &str, ignore_case: bool) -> String {
    if !ignore_case || orig == orig.to_lowercase() {
        s
    } else if orig == orig.to_uppercase() {
        s.to_uppercase()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("run", "run"), 0);
    }

    #[test]
    fn suggestions_follow_case() {
        let opts = ["run", "copy", "cmd"];
        assert_eq!(closest("RUNN", &opts, true).as_deref(), Some("RUN"));
        assert_eq!(closest("copx", &opts, true).as_deref(), Some("copy"));
        assert_eq!(closest("xyzzy", &opts, true), None);
        assert_eq!(closest("RUN", &opts, true), None);
        assert_eq!(
            closest("form", &["from", "chown"], false).as_deref(),
            Some("from")
        );
    }
}

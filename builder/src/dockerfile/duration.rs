//! Go `time.ParseDuration` syntax for HEALTHCHECK options (`30s`, `1m30s`, `1.5h`, `250ms`).

/// Why a duration does not parse.
pub(crate) type Reason = &'static str;

/// Parses a Go duration into signed nanoseconds.
pub(crate) fn parse_go_duration(s: &str) -> Result<i128, Reason> {
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err("empty duration");
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let (number, after) = leading_number(rest)?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let scale = unit_nanos(&after[..unit_len])?;
        total += number * scale;
        rest = &after[unit_len..];
    }
    if total > i64::MAX as f64 {
        return Err("duration out of range");
    }
    let nanos = total.round() as i128;
    Ok(if negative { -nanos } else { nanos })
}

/// Splits `12.5ms` into `12.5` and `ms`.
fn leading_number(s: &str) -> Result<(f64, &str), Reason> {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let text = &s[..end];
    if text.is_empty() || text == "." || text.matches('.').count() > 1 {
        return Err("expected a number");
    }
    let number = text.parse::<f64>().map_err(|_| "expected a number")?;
    Ok((number, &s[end..]))
}

/// Nanoseconds per unit.
fn unit_nanos(unit: &str) -> Result<f64, Reason> {
    Ok(match unit {
        "ns" => 1.0,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "h" => 3600e9,
        "" => return Err("missing unit (ns, us, ms, s, m, h)"),
        _ => return Err("unknown unit (expected ns, us, ms, s, m or h)"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(parse_go_duration("5s"), Ok(5_000_000_000));
        assert_eq!(parse_go_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_go_duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse_go_duration("250ms"), Ok(250_000_000));
        assert_eq!(parse_go_duration("-1s"), Ok(-1_000_000_000));
        assert_eq!(parse_go_duration(".5s"), Ok(500_000_000));
    }

    #[test]
    fn bad_durations() {
        assert!(parse_go_duration("5").is_err());
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration("5x").is_err());
        assert!(parse_go_duration("s").is_err());
        assert!(parse_go_duration("1..2s").is_err());
    }
}

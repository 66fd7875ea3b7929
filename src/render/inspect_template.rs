//! The part of Go's `text/template` that `docker inspect --format` is mostly used with:
//! literal text, `{{.Field.Sub}}` and `{{json .Field}}`, over a JSON value.

use serde_json::Value;

/// Why a template could not be applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    /// `{{` without `}}`.
    #[error("template: unclosed action starting at byte {at}")]
    Unclosed {
        /// Byte offset of the `{{`.
        at: usize,
    },
    /// An action other than a field path or `json PATH`.
    #[error("template: unsupported action {{{{{action}}}}} (supported: {{{{.Path}}}}, {{{{json .Path}}}})")]
    Unsupported {
        /// The action's text.
        action: String,
    },
}

/// Expands `template` against `value`.
pub fn expand(template: &str, value: &Value) -> Result<String, TemplateError> {
    let mut out = String::new();
    let mut rest = template;
    let mut offset = 0;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or(TemplateError::Unclosed { at: offset + start })?;
        out.push_str(&action(after[..end].trim(), value)?);
        offset += start + 2 + end + 2;
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn action(text: &str, value: &Value) -> Result<String, TemplateError> {
    let unsupported = || TemplateError::Unsupported {
        action: text.to_string(),
    };
    let (json, path) = match text.strip_prefix("json ") {
        Some(p) => (true, p.trim()),
        None => (false, text),
    };
    if !path.starts_with('.') {
        return Err(unsupported());
    }
    let found = lookup(value, path);
    Ok(match (json, found) {
        (true, v) => v.map_or("null".to_string(), |v| v.to_string()),
        (false, Some(v)) => go_format(v),
        (false, None) => "<no value>".to_string(),
    })
}

fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .filter(|s| !s.is_empty())
        .try_fold(value, |v, key| v.get(key))
}

/// Formats a value the way Go's `fmt` prints the decoded equivalent.
fn go_format(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".to_string(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(go_format).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", go_format(&map[*k])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fields_lists_maps_and_json() {
        let v = json!({"Id": "sha256:ab", "Config": {"Env": ["A=1", "B=2"], "Labels": {"z": "1", "a": "2"}}, "Size": 12});
        assert_eq!(expand("{{.Id}}", &v).unwrap(), "sha256:ab");
        assert_eq!(
            expand("env={{ .Config.Env }}!", &v).unwrap(),
            "env=[A=1 B=2]!"
        );
        assert_eq!(expand("{{.Config.Labels}}", &v).unwrap(), "map[a:2 z:1]");
        assert_eq!(
            expand("{{json .Config.Env}}", &v).unwrap(),
            "[\"A=1\",\"B=2\"]"
        );
        assert_eq!(expand("{{.Size}} {{.Nope}}", &v).unwrap(), "12 <no value>");
    }

    #[test]
    fn errors() {
        assert_eq!(
            expand("x {{.Id", &json!({})),
            Err(TemplateError::Unclosed { at: 2 })
        );
        assert!(matches!(
            expand("{{range .X}}", &json!({})),
            Err(TemplateError::Unsupported { .. })
        ));
    }
}

//! Graph API field selection: `fields=id,name,picture.type(large),instagram_business_account{id,username}`.
//! Graph answers only what is asked for (plus the node's `id`), and a nested node without
//! sub-fields comes back as its default fields only.

use serde_json::{Map, Value, json};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    pub name: String,
    /// `.type(large)`, `.limit(10)`: (modifier, argument).
    pub modifiers: Vec<(String, String)>,
    /// `{id,username}`.
    pub sub: Option<Vec<Field>>,
}

pub(crate) fn parse(raw: &str) -> Vec<Field> {
    split_top_level(raw)
        .into_iter()
        .filter_map(parse_one)
        .collect()
}

/// Splits on the commas that are not inside `{…}` or `(…)`.
fn split_top_level(raw: &str) -> Vec<&str> {
    let mut depth = 0usize;
    let mut start = 0;
    let mut out = Vec::new();
    for (i, c) in raw.char_indices() {
        match c {
            '{' | '(' => depth += 1,
            '}' | ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(&raw[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&raw[start..]);
    out
}

/// One field; what cannot be read after the name is ignored, as the fakes are lenient
/// about syntax they do not model.
fn parse_one(item: &str) -> Option<Field> {
    let item = item.trim();
    let name_end = item.find(['.', '{', '(']).unwrap_or(item.len());
    let name = item[..name_end].trim();
    if name.is_empty() {
        return None;
    }
    let mut field = Field {
        name: name.to_owned(),
        modifiers: Vec::new(),
        sub: None,
    };
    let mut rest = &item[name_end..];
    loop {
        if let Some(r) = rest.strip_prefix('.') {
            let (Some(open), Some(close)) = (r.find('('), r.find(')')) else {
                break;
            };
            if close < open {
                break;
            }
            field.modifiers.push((
                r[..open].trim().to_owned(),
                r[open + 1..close].trim().to_owned(),
            ));
            rest = &r[close + 1..];
        } else if let Some(r) = rest.strip_prefix('{') {
            let Some(close) = r.rfind('}') else {
                break;
            };
            field.sub = Some(parse(&r[..close]));
            rest = &r[close + 1..];
        } else {
            break;
        }
    }
    Some(field)
}

/// The argument of `field.modifier(…)` when that field was requested.
pub(crate) fn modifier<'a>(
    requested: Option<&'a [Field]>,
    field: &str,
    modifier: &str,
) -> Option<&'a str> {
    requested?
        .iter()
        .find(|f| f.name == field)?
        .modifiers
        .iter()
        .find(|(m, _)| m == modifier)
        .map(|(_, arg)| arg.as_str())
}

/// Whether the answer will carry `field`.
pub(crate) fn wants(requested: Option<&[Field]>, defaults: &[&str], field: &str) -> bool {
    match requested {
        None => defaults.contains(&field),
        Some(fields) => fields.iter().any(|f| f.name == field),
    }
}

/// The fields of `full` that Graph would return. Unknown fields are left out rather than
/// refused: the fakes model only some of each node's fields. `nested` gives the default
/// fields of nested nodes (without it, just `id`).
pub(crate) fn select(
    full: &Map<String, Value>,
    requested: Option<&[Field]>,
    defaults: &[&str],
    nested: &[(&str, &[&str])],
) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(fields) = requested else {
        for key in defaults {
            if let Some(v) = full.get(*key) {
                out.insert((*key).to_owned(), v.clone());
            }
        }
        return out;
    };
    // Graph always names the node it answers for.
    if let Some(id) = full.get("id") {
        out.insert("id".into(), id.clone());
    }
    for field in fields {
        if let Some(v) = full.get(&field.name) {
            out.insert(field.name.clone(), narrow(v, field, nested));
        }
    }
    out
}

fn narrow(value: &Value, field: &Field, nested: &[(&str, &[&str])]) -> Value {
    let Some(obj) = value.as_object() else {
        return value.clone();
    };
    // An edge such as `picture` wraps its object in `data`.
    if let Some(Value::Object(data)) = obj.get("data") {
        return match &field.sub {
            Some(sub) => json!({ "data": select(data, Some(sub), &[], &[]) }),
            None => value.clone(),
        };
    }
    let defaults = nested
        .iter()
        .find(|(k, _)| *k == field.name)
        .map_or(&["id"][..], |(_, d)| *d);
    Value::Object(select(obj, field.sub.as_deref(), defaults, &[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str) -> Field {
        Field {
            name: name.into(),
            modifiers: Vec::new(),
            sub: None,
        }
    }

    #[test]
    fn nested_fields_and_modifiers_are_parsed_without_splitting_inside_braces() {
        let got = parse(
            "id, name,picture.type(large),instagram_business_account{id,username},x.limit(5){a}",
        );
        assert_eq!(
            got,
            vec![
                f("id"),
                f("name"),
                Field {
                    modifiers: vec![("type".into(), "large".into())],
                    ..f("picture")
                },
                Field {
                    sub: Some(vec![f("id"), f("username")]),
                    ..f("instagram_business_account")
                },
                Field {
                    modifiers: vec![("limit".into(), "5".into())],
                    sub: Some(vec![f("a")]),
                    ..f("x")
                },
            ]
        );
        assert_eq!(parse(""), vec![]);
        assert_eq!(parse("a,,b"), vec![f("a"), f("b")]);
    }

    #[test]
    fn select_keeps_the_requested_fields_the_id_and_nested_defaults() {
        let full = match json!({
            "id": "1", "name": "n", "secret": "s",
            "ig": {"id": "2", "username": "u", "name": "m"},
            "business": {"id": "3", "name": "b", "other": 1},
            "picture": {"data": {"url": "p", "width": 50}},
        }) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let requested = parse("name,ig,business,picture{url}");
        let got = select(
            &full,
            Some(&requested),
            &[],
            &[("business", &["id", "name"])],
        );
        assert_eq!(
            Value::Object(got),
            json!({"id": "1", "name": "n", "ig": {"id": "2"}, "business": {"id": "3", "name": "b"}, "picture": {"data": {"url": "p"}}})
        );
        let got = select(&full, None, &["name", "missing"], &[]);
        assert_eq!(Value::Object(got), json!({"name": "n"}));
    }
}

//! A Bot API method's parameters, from wherever the caller put them.
//!
//! Telegram accepts the query string, `application/json`, `application/x-www-form-urlencoded`
//! and `multipart/form-data` alike (<https://core.telegram.org/bots/api#making-requests>),
//! and teloxide uses two of them: JSON for most methods, multipart for `setWebhook`. Form
//! and multipart values arrive as text, so the getters accept a JSON number or its digits,
//! and a list either as a JSON array or as the JSON text of one.

use std::collections::HashMap;

use serde_json::Value;
use url::form_urlencoded;

use super::api::ApiError;

#[derive(Debug, Default)]
pub(crate) struct Params(HashMap<String, Value>);

/// A `chat_id` as Telegram takes it: a number, or `@username` for public chats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChatKey {
    Id(i64),
    Username(String),
}

impl Params {
    /// Query parameters first; the body's win where both name one.
    pub fn parse(query: &str, content_type: &str, body: &[u8]) -> Result<Self, ApiError> {
        let mut map: HashMap<String, Value> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        let mime = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match mime.as_str() {
            _ if body.iter().all(u8::is_ascii_whitespace) => {}
            "application/json" => {
                let parsed: Value = serde_json::from_slice(body)
                    .map_err(|_| ApiError::bad_request("Bad Request: can't parse JSON object"))?;
                let Value::Object(obj) = parsed else {
                    return Err(ApiError::bad_request(
                        "Bad Request: JSON object expected as the request body",
                    ));
                };
                map.extend(obj);
            }
            "multipart/form-data" => {
                let boundary = boundary(content_type).ok_or_else(|| {
                    ApiError::bad_request("Bad Request: can't parse multipart boundary")
                })?;
                for (name, value) in multipart_fields(body, &boundary)? {
                    map.insert(name, Value::String(value));
                }
            }
            // Telegram reads a body without a type as a form, as curl sends one.
            _ => {
                for (k, v) in form_urlencoded::parse(body) {
                    map.insert(k.into_owned(), Value::String(v.into_owned()));
                }
            }
        }
        Ok(Self(map))
    }

    fn raw(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    pub fn string(&self, name: &str) -> Option<String> {
        match self.raw(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.raw(name) else {
            return Ok(None);
        };
        let parsed = match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) if s.trim().is_empty() => return Ok(None),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        parsed
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("Bad Request: invalid {name} specified")))
    }

    pub fn required_int(&self, name: &str) -> Result<i64, ApiError> {
        self.int(name)?
            .ok_or_else(|| ApiError::bad_request(format!("Bad Request: {name} is empty")))
    }

    pub fn bool(&self, name: &str) -> bool {
        match self.raw(name) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => matches!(s.as_str(), "true" | "True" | "1"),
            Some(Value::Number(n)) => n.as_i64().is_some_and(|n| n != 0),
            _ => false,
        }
    }

    /// A list of strings, `None` when the parameter is absent.
    pub fn string_list(&self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        let bad = || ApiError::bad_request(format!("Bad Request: can't parse {name} JSON array"));
        let list = match self.raw(name) {
            None => return Ok(None),
            Some(Value::Array(items)) => items.clone(),
            Some(Value::String(s)) if s.trim().is_empty() => Vec::new(),
            Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Array(items)) => items,
                _ => return Err(bad()),
            },
            Some(_) => return Err(bad()),
        };
        list.into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(bad()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    pub fn chat(&self, name: &str) -> Result<ChatKey, ApiError> {
        let raw = self
            .string(name)
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| ApiError::bad_request(format!("Bad Request: {name} is empty")))?;
        let raw = raw.trim();
        if let Some(handle) = raw.strip_prefix('@') {
            return Ok(ChatKey::Username(handle.to_ascii_lowercase()));
        }
        raw.parse()
            .map(ChatKey::Id)
            // What Telegram answers for a chat_id that is neither a number nor an @username.
            .map_err(|_| ApiError::bad_request("Bad Request: chat not found"))
    }
}

fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_owned())
            .filter(|b| !b.is_empty())
    })
}

/// The text fields of a `multipart/form-data` body (RFC 7578). File parts (a webhook
/// certificate) are skipped: the sandbox has no use for them.
fn multipart_fields(body: &[u8], boundary: &str) -> Result<Vec<(String, String)>, ApiError> {
    let bad = || ApiError::bad_request("Bad Request: can't parse multipart body");
    let delimiter = format!("--{boundary}");
    let mut fields = Vec::new();
    let mut parts = split(body, delimiter.as_bytes()).into_iter();
    // Whatever precedes the first delimiter is the preamble.
    parts.next();
    for part in parts {
        if part.starts_with(b"--") {
            break;
        }
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let part = part.strip_suffix(b"\r\n").unwrap_or(part);
        let split_at = find(part, b"\r\n\r\n").ok_or_else(bad)?;
        let headers = std::str::from_utf8(&part[..split_at]).map_err(|_| bad())?;
        let value = &part[split_at + 4..];
        let disposition = headers
            .split("\r\n")
            .find_map(|line| {
                let (k, v) = line.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("content-disposition")
                    .then_some(v)
            })
            .ok_or_else(bad)?;
        let attr = |key: &str| {
            disposition.split(';').find_map(|p| {
                let (k, v) = p.trim().split_once('=')?;
                (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
            })
        };
        if attr("filename").is_some() {
            continue;
        }
        let name = attr("name").ok_or_else(bad)?;
        let value = String::from_utf8(value.to_vec()).map_err(|_| bad())?;
        fields.push((name, value));
    }
    Ok(fields)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn split<'a>(mut body: &'a [u8], delimiter: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    while let Some(at) = find(body, delimiter) {
        out.push(&body[..at]);
        body = &body[at + delimiter.len()..];
    }
    out.push(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_text_fields_are_read_and_files_skipped() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"url\"\r\n\r\nhttp://h/x\r\n\
            --XyZ\r\nContent-Disposition: form-data; name=\"certificate\"; filename=\"c.pem\"\r\n\
            Content-Type: application/octet-stream\r\n\r\nBYTES\r\n\
            --XyZ\r\nContent-Disposition: form-data; name=\"allowed_updates\"\r\n\r\n[\"message\"]\r\n\
            --XyZ--\r\n";
        let p = Params::parse("", "multipart/form-data; boundary=XyZ", body.as_bytes()).unwrap();
        assert_eq!(p.string("url").as_deref(), Some("http://h/x"));
        assert_eq!(p.string("certificate"), None);
        assert_eq!(
            p.string_list("allowed_updates").unwrap(),
            Some(vec!["message".to_owned()])
        );
    }

    #[test]
    fn chat_ids_are_numbers_or_usernames() {
        let p = Params::parse("a=-1001&b=%40Chan&c=x", "", b"").unwrap();
        assert_eq!(p.chat("a").unwrap(), ChatKey::Id(-1001));
        assert_eq!(p.chat("b").unwrap(), ChatKey::Username("chan".into()));
        assert!(p.chat("c").is_err());
        assert!(p.chat("d").is_err());
    }
}

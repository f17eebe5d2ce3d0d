//! Form and query parameters, kept as pairs so a repeated parameter can be refused
//! (RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once").

use url::form_urlencoded;

#[derive(Debug, Default, Clone)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(raw: &[u8]) -> Self {
        Self(form_urlencoded::parse(raw).into_owned().collect())
    }

    /// The query followed by the form body (Meta accepts either).
    pub fn merged(mut self, other: Params) -> Self {
        self.0.extend(other.0);
        self
    }

    /// The value, treating an empty one as absent as providers do.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// The first parameter that appears more than once.
    pub fn repeated(&self) -> Option<&str> {
        self.0.iter().enumerate().find_map(|(i, (k, _))| {
            self.0[..i]
                .iter()
                .any(|(seen, _)| seen == k)
                .then_some(k.as_str())
        })
    }

    pub fn encode(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.0 {
            out.append_pair(k, v);
        }
        out.finish()
    }
}

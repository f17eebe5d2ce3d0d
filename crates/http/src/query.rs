//! Query strings parsed by hand so every bad value gets a precise 400 naming the
//! parameter (serde's query errors name neither the field nor the rule), and repeated keys
//! and Zernio's aliases are handled.

use crate::error::ApiError;
use actix_web::HttpRequest;
use std::collections::HashMap;

pub struct QueryMap(HashMap<String, Vec<String>>);

impl QueryMap {
    pub fn from_request(req: &HttpRequest) -> Self {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
            map.entry(k.into_owned()).or_default().push(v.into_owned());
        }
        QueryMap(map)
    }

    /// The value of a parameter; empty values count as absent (the Python SDK drops
    /// them, other clients should be treated the same).
    pub fn str(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// An optional filter naming one of the platforms Plugboard connects.
    pub fn platform(
        &self,
        name: &'static str,
    ) -> Result<Option<plugboard_core::Platform>, ApiError> {
        self.str(name)
            .map(|p| {
                p.parse::<plugboard_core::Platform>().map_err(|_| {
                    ApiError::bad_request(
                        "validation_error",
                        name,
                        format!("{p:?} is not a platform Plugboard connects"),
                    )
                })
            })
            .transpose()
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .get(name)
            .map(|v| {
                v.iter()
                    .map(String::as_str)
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn has(&self, name: &str) -> bool {
        self.str(name).is_some()
    }

    /// `true`/`false` in any case; anything else is a 400.
    pub fn bool(&self, name: &'static str) -> Result<bool, ApiError> {
        match self.str(name) {
            None => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(_) => Err(ApiError::bad_request(
                "validation_error",
                name,
                format!("{name} must be true or false"),
            )),
        }
    }

    /// A whole number in `min..=max`; out of range is a 400, never clamped.
    pub fn int(&self, name: &'static str, min: u64, max: u64) -> Result<Option<u64>, ApiError> {
        let Some(v) = self.str(name) else {
            return Ok(None);
        };
        match v.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::bad_request(
                "validation_error",
                name,
                format!("{name} must be an integer from {min} to {max}"),
            )),
        }
    }

    /// One of the allowed words.
    pub fn one_of(&self, name: &'static str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
        match self.str(name) {
            None => Ok(None),
            Some(v) if allowed.contains(&v) => Ok(Some(v.to_owned())),
            Some(_) => Err(ApiError::bad_request(
                "validation_error",
                name,
                format!("{name} must be one of: {}", allowed.join(", ")),
            )),
        }
    }
}

//! `Idempotency-Key`: a retried create replays the first answer instead of running twice.

use crate::{Caller, ServiceError, ServiceResult, Services};
use chrono::Duration;
use plugboard_store::IdempotencyBegin;
use sha2::{Digest, Sha256};

/// How long a completed request's answer is replayed.
pub const KEEP: Duration = Duration::hours(24);

/// A validated `Idempotency-Key` header value (1-255 visible characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> ServiceResult<Self> {
        let ok = (1..=255).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ServiceError::invalid(
                "Idempotency-Key",
                "Idempotency-Key must be 1-255 visible ASCII characters",
            ))
        }
    }
}

/// What to do with an incoming idempotent request.
pub enum Replay {
    /// Run it, then call [`Services::finish_idempotent`] or [`Services::abandon_idempotent`].
    Run,
    /// Answer with this stored response.
    Stored {
        status: u16,
        body: serde_json::Value,
    },
}

/// A fingerprint of the request; the same key with another request is refused. Object keys
/// are sorted first, so the order a client sends fields in does not matter.
pub fn request_hash(request: &serde_json::Value) -> String {
    fn canonical(v: &serde_json::Value, out: &mut String) {
        match v {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (k, v)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String(k.clone()).to_string());
                    out.push(':');
                    canonical(v, out);
                }
                out.push('}');
            }
            serde_json::Value::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    canonical(v, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = String::new();
    canonical(request, &mut text);
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl Services {
    pub async fn begin_idempotent(
        &self,
        caller: &Caller,
        operation: &str,
        key: &IdempotencyKey,
        request: &serde_json::Value,
    ) -> ServiceResult<Replay> {
        let begin = self
            .store
            .begin_idempotent(
                &caller.owner,
                operation,
                &key.0,
                &request_hash(request),
                self.clock.now(),
            )
            .await?;
        match begin {
            IdempotencyBegin::Started => Ok(Replay::Run),
            IdempotencyBegin::Completed { status, body } => Ok(Replay::Stored { status, body }),
            IdempotencyBegin::InProgress => Err(ServiceError::Conflict {
                code: "idempotency_key_in_progress",
                message:
                    "A request with this Idempotency-Key is still being processed; retry shortly"
                        .into(),
                details: None,
            }),
            IdempotencyBegin::Mismatch => Err(ServiceError::Conflict {
                code: "idempotency_key_reused",
                message: "This Idempotency-Key was used with a different request body".into(),
                details: None,
            }),
        }
    }

    pub async fn finish_idempotent(
        &self,
        caller: &Caller,
        operation: &str,
        key: &IdempotencyKey,
        status: u16,
        body: &serde_json::Value,
    ) -> ServiceResult<()> {
        self.store
            .finish_idempotent(
                &caller.owner,
                operation,
                &key.0,
                status,
                body,
                self.clock.now() + KEEP,
            )
            .await?;
        Ok(())
    }

    /// Frees the key after a failed request so that a retry runs again.
    pub async fn abandon_idempotent(&self, caller: &Caller, operation: &str, key: &IdempotencyKey) {
        if let Err(e) = self
            .store
            .abandon_idempotent(&caller.owner, operation, &key.0)
            .await
        {
            // The record expires with its processing lease anyway.
            tracing::warn!(error = %e, "could not release an idempotency key");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_bounded_and_visible() {
        assert!(IdempotencyKey::parse("k1").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        for bad in ["", "with space", "tab\t", &"k".repeat(256)] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn same_request_same_hash_regardless_of_key_order() {
        let a: serde_json::Value = serde_json::from_str(r#"{"name":"x","color":"y"}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{"color":"y","name":"x"}"#).unwrap();
        assert_eq!(request_hash(&a), request_hash(&b));
        assert_ne!(
            request_hash(&a),
            request_hash(&serde_json::json!({"name": "z"}))
        );
    }
}

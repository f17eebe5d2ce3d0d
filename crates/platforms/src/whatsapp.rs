//! WhatsApp Cloud API through the Graph endpoints of a WhatsApp Business Account (WABA):
//! what connecting a number with a system-user token needs (platforms.md §12; Zernio's
//! `POST /v1/connect/whatsapp/credentials`, api-scope.md §5.3). There is no OAuth
//! connector: Embedded Signup runs in Meta's JavaScript popup, and the direct-credentials
//! path starts from a token the business already holds. So this is a client, not an
//! `impl Connector`, and it sends through the same engine and Graph error dialect as
//! Facebook.

use std::fmt;
use std::sync::Arc;

use plugboard_core::{Platform, Secret, SystemClock};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::connector::{ConnectorError, PlatformApp};
use crate::engine::{Call, Dialect, Endpoint, Engine, classify, fill_segment, id_at, str_at};
use crate::spec::{BaseUrl, SpecError};

/// The version is pinned in the path as in [`crate::facebook`] (unversioned calls are
/// silently auto-upgraded); config can only rebase the origin. `{waba-id}` and
/// `{phone-number-id}` are filled per call, percent-encoded as one segment.
pub const WABA_URL: &str = "https://graph.facebook.com/v24.0/{waba-id}?fields=id,name,currency,timezone_id,message_template_namespace";

/// platforms.md §12 "Identity / selection", plus what Zernio keeps in the account's
/// metadata (api-scope.md §2.1: qualityRating, nameStatus, messagingLimitTier).
pub const PHONE_NUMBERS_URL: &str = "https://graph.facebook.com/v24.0/{waba-id}/phone_numbers?fields=id,display_phone_number,verified_name,quality_rating,name_status,messaging_limit_tier,code_verification_status&limit=100";

pub const PHONE_NUMBER_URL: &str = "https://graph.facebook.com/v24.0/{phone-number-id}?fields=id,display_phone_number,verified_name,quality_rating,name_status,messaging_limit_tier,code_verification_status";

/// platforms.md §12 step 5: the app subscribes to the WABA's webhooks.
pub const SUBSCRIBED_APPS_URL: &str = "https://graph.facebook.com/v24.0/{waba-id}/subscribed_apps";

/// platforms.md §12 step 6: registration of the number for Cloud API.
pub const REGISTER_URL: &str = "https://graph.facebook.com/v24.0/{phone-number-id}/register";

/// Graph and WhatsApp throttling codes: 4 app, 17 user, 32 Page, 613 custom rate limit,
/// 80007 WABA rate limit, 130429 Cloud API throughput, 133016 too many (de)registrations of
/// one number. Graph sends them with HTTP 400; they mean "later", so they become 429.
const THROTTLING_CODES: &[&str] = &["4", "17", "32", "613", "80007", "130429", "133016"];

/// One phone number of a WABA, in Graph's names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneNumber {
    pub id: String,
    pub display_phone_number: String,
    pub verified_name: Option<String>,
    /// `GREEN`, `YELLOW`, `RED` or `UNKNOWN`.
    pub quality_rating: Option<String>,
    /// The display name's review: `APPROVED`, `PENDING_REVIEW`, `DECLINED`…
    pub name_status: Option<String>,
    /// `TIER_50`, `TIER_250`, `TIER_1K`, `TIER_10K`, `TIER_100K`, `TIER_UNLIMITED`.
    pub messaging_limit_tier: Option<String>,
    /// `VERIFIED`, `NOT_VERIFIED`, `EXPIRED`.
    pub code_verification_status: Option<String>,
}

/// A WhatsApp Business Account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waba {
    pub id: String,
    pub name: Option<String>,
}

/// The Graph calls of a WABA, with a system-user (or business) token given per call.
pub struct WhatsAppClient {
    engine: Engine,
    waba_url: Url,
    phone_numbers_url: Url,
    phone_number_url: Url,
    subscribed_apps_url: Url,
    register_url: Url,
}

impl fmt::Debug for WhatsAppClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WhatsAppClient")
            .field("base_url", &self.engine.app.base_url)
            .finish_non_exhaustive()
    }
}

impl WhatsAppClient {
    /// `base_url`: None for graph.facebook.com (version pinned like facebook.rs), or a rebase (sandbox, proxy).
    pub fn new(base_url: Option<BaseUrl>, http: reqwest::Client) -> Result<Self, SpecError> {
        // The engine is built around an app and its OAuth spec. These calls need neither:
        // the token comes with each call, and no OAuth endpoint is ever called. Facebook's
        // spec stands in, since Embedded Signup is Facebook Login for Business on the same
        // Graph host.
        let app = PlatformApp {
            client_id: String::new(),
            client_secret: Secret::new(String::new()),
            base_url,
            scopes: None,
            user_agent: String::new(),
        };
        let engine = Engine::new(
            Platform::Whatsapp,
            &crate::facebook::SPEC,
            app,
            http,
            Arc::new(SystemClock),
            Dialect::Graph,
            Dialect::Graph,
        )?;
        Ok(Self {
            waba_url: engine.api_url(WABA_URL)?,
            phone_numbers_url: engine.api_url(PHONE_NUMBERS_URL)?,
            phone_number_url: engine.api_url(PHONE_NUMBER_URL)?,
            subscribed_apps_url: engine.api_url(SUBSCRIBED_APPS_URL)?,
            register_url: engine.api_url(REGISTER_URL)?,
            engine,
        })
    }

    pub async fn waba(
        &self,
        token: &Secret<String>,
        waba_id: &str,
    ) -> Result<Waba, ConnectorError> {
        let url = fill_segment(&self.waba_url, "waba-id", waba_id)?;
        let v = self
            .engine
            .get_json(&url, token.expose(), &[])
            .await
            .map_err(throttling)?;
        parse_waba(&v)
    }

    /// Every number of the WABA, over Graph's pages.
    pub async fn phone_numbers(
        &self,
        token: &Secret<String>,
        waba_id: &str,
    ) -> Result<Vec<PhoneNumber>, ConnectorError> {
        let url = fill_segment(&self.phone_numbers_url, "waba-id", waba_id)?;
        let entries = crate::facebook::graph_list(&self.engine, &url, token.expose())
            .await
            .map_err(throttling)?;
        entries.iter().map(parse_phone_number).collect()
    }

    pub async fn phone_number(
        &self,
        token: &Secret<String>,
        phone_number_id: &str,
    ) -> Result<PhoneNumber, ConnectorError> {
        let url = fill_segment(&self.phone_number_url, "phone-number-id", phone_number_id)?;
        let v = self
            .engine
            .get_json(&url, token.expose(), &[])
            .await
            .map_err(throttling)?;
        parse_phone_number(&v)
    }

    /// Subscribes the token's app to the WABA's webhooks (no override callback).
    pub async fn subscribe_app(
        &self,
        token: &Secret<String>,
        waba_id: &str,
    ) -> Result<(), ConnectorError> {
        let url = fill_segment(&self.subscribed_apps_url, "waba-id", waba_id)?;
        self.post_success(&url, token, &[]).await
    }

    /// Registers the number for Cloud API with its two-step verification `pin` (which
    /// becomes the number's PIN when it had none). A wrong PIN is Graph's code 133005.
    pub async fn register(
        &self,
        token: &Secret<String>,
        phone_number_id: &str,
        pin: &str,
    ) -> Result<(), ConnectorError> {
        let url = fill_segment(&self.register_url, "phone-number-id", phone_number_id)?;
        // Graph takes POST parameters as a form as well as JSON; the form goes through the
        // engine's one sending path.
        let form = [
            ("messaging_product".to_owned(), "whatsapp".to_owned()),
            ("pin".to_owned(), pin.to_owned()),
        ];
        self.post_success(&url, token, &form).await
    }

    /// A Graph POST answering `{success:true}`. The token travels in the Authorization
    /// header (RFC 6750 §2.1) and, with the form's values, is scrubbed from any message.
    async fn post_success(
        &self,
        url: &Url,
        token: &Secret<String>,
        form: &[(String, String)],
    ) -> Result<(), ConnectorError> {
        let headers = [("Accept".to_owned(), "application/json".to_owned())];
        let mut sent: Vec<&str> = vec![token.expose()];
        sent.extend(form.iter().map(|(_, v)| v.as_str()));
        let call = Call {
            method: reqwest::Method::POST,
            url,
            headers: &headers,
            form: Some(form),
            bearer: Some(token.expose()),
        };
        let (status, body) = self
            .engine
            .send(call, Dialect::Graph, Endpoint::Api, &sent)
            .await
            .map_err(throttling)?;
        let json: Value = serde_json::from_slice(&body).map_err(|_| {
            ConnectorError::Malformed("Graph answered with a body that is not JSON".into())
        })?;
        if json.get("error").is_some_and(Value::is_object) {
            return Err(throttling(classify(
                Dialect::Graph,
                Endpoint::Api,
                status,
                &json,
                &sent,
            )));
        }
        match json.get("success") {
            Some(Value::Bool(true)) => Ok(()),
            _ => Err(ConnectorError::Malformed(
                "Graph did not report success".into(),
            )),
        }
    }
}

/// Graph's throttling codes come with HTTP 400; as 429 they are transient
/// ([`ConnectorError::is_transient`]) and the service answers them as rate limits.
fn throttling(e: ConnectorError) -> ConnectorError {
    match e {
        ConnectorError::Platform {
            code: Some(code),
            message,
            ..
        } if THROTTLING_CODES.contains(&code.as_str()) => ConnectorError::Platform {
            status: 429,
            code: Some(code),
            message,
        },
        other => other,
    }
}

fn parse_waba(v: &Value) -> Result<Waba, ConnectorError> {
    Ok(Waba {
        id: id_at(v, "/id", "the WhatsApp Business Account")?,
        name: str_at(v, "/name"),
    })
}

fn parse_phone_number(v: &Value) -> Result<PhoneNumber, ConnectorError> {
    let id = id_at(v, "/id", "a WhatsApp phone number")?;
    let display_phone_number = str_at(v, "/display_phone_number").ok_or_else(|| {
        ConnectorError::Malformed("a WhatsApp phone number has no display_phone_number".into())
    })?;
    Ok(PhoneNumber {
        id,
        display_phone_number,
        verified_name: str_at(v, "/verified_name"),
        quality_rating: str_at(v, "/quality_rating"),
        name_status: str_at(v, "/name_status"),
        messaging_limit_tier: str_at(v, "/messaging_limit_tier"),
        code_verification_status: str_at(v, "/code_verification_status"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_url_is_on_graph_facebook_com_with_the_pinned_version() {
        for raw in [
            WABA_URL,
            PHONE_NUMBERS_URL,
            PHONE_NUMBER_URL,
            SUBSCRIBED_APPS_URL,
            REGISTER_URL,
        ] {
            let url = Url::parse(raw).unwrap();
            assert_eq!(url.scheme(), "https", "{raw}");
            assert_eq!(url.host_str(), Some("graph.facebook.com"), "{raw}");
            assert!(url.path().starts_with("/v24.0/"), "{raw}");
        }
    }

    #[test]
    fn an_id_fills_its_segment_and_cannot_climb_out_of_it() {
        let url = Url::parse(REGISTER_URL).unwrap();
        let filled = fill_segment(&url, "phone-number-id", "106540352242922").unwrap();
        assert_eq!(
            filled.as_str(),
            "https://graph.facebook.com/v24.0/106540352242922/register"
        );
        let odd = fill_segment(&url, "phone-number-id", "1/../../me?x=1").unwrap();
        assert_eq!(odd.path_segments().unwrap().count(), 3, "{odd}");
        assert!(odd.query().is_none(), "{odd}");
        assert!(fill_segment(&url, "phone-number-id", "..").is_err());
    }

    #[test]
    fn a_graph_phone_number_becomes_a_phone_number() {
        let v = json!({"id": "106540352242922", "display_phone_number": "+1 631-555-5555",
            "verified_name": "Acme", "quality_rating": "GREEN", "name_status": "APPROVED",
            "messaging_limit_tier": "TIER_1K", "code_verification_status": "VERIFIED",
            "throughput": {"level": "STANDARD"}});
        assert_eq!(
            parse_phone_number(&v).unwrap(),
            PhoneNumber {
                id: "106540352242922".into(),
                display_phone_number: "+1 631-555-5555".into(),
                verified_name: Some("Acme".into()),
                quality_rating: Some("GREEN".into()),
                name_status: Some("APPROVED".into()),
                messaging_limit_tier: Some("TIER_1K".into()),
                code_verification_status: Some("VERIFIED".into()),
            }
        );
        let bare = json!({"id": 106540352242922_u64, "display_phone_number": "15550001111"});
        assert_eq!(
            parse_phone_number(&bare).unwrap(),
            PhoneNumber {
                id: "106540352242922".into(),
                display_phone_number: "15550001111".into(),
                verified_name: None,
                quality_rating: None,
                name_status: None,
                messaging_limit_tier: None,
                code_verification_status: None,
            },
            "a numeric id is kept exactly, missing facts are None"
        );
        for (v, why) in [
            (json!({"display_phone_number": "1555"}), "no id"),
            (json!({"id": "1"}), "no display number"),
        ] {
            assert!(
                matches!(parse_phone_number(&v), Err(ConnectorError::Malformed(_))),
                "{why}"
            );
        }
    }

    #[test]
    fn graph_errors_map_to_what_the_service_acts_on() {
        let graph = |code: u32| json!({"error": {"message": format!("(#{code}) boom"), "type": "OAuthException", "code": code}});
        let classified = |code: u32| {
            throttling(classify(
                Dialect::Graph,
                Endpoint::Api,
                400,
                &graph(code),
                &[],
            ))
        };
        for code in [190, 102] {
            assert!(
                matches!(classified(code), ConnectorError::InvalidGrant { .. }),
                "{code}"
            );
        }
        for code in [10, 200, 294, 299] {
            assert!(
                matches!(classified(code), ConnectorError::PermissionDenied { .. }),
                "{code}"
            );
        }
        for code in [4, 17, 32, 613, 80007, 130429, 133016] {
            let e = classified(code);
            let want = code.to_string();
            assert!(
                matches!(&e, ConnectorError::Platform { status: 429, code: Some(c), .. } if *c == want),
                "{code}: {e:?}"
            );
            assert!(e.is_transient(), "{code}");
        }
        for code in [100, 133005] {
            let e = classified(code);
            let want = code.to_string();
            assert!(
                matches!(&e, ConnectorError::Platform { status: 400, code: Some(c), .. } if *c == want),
                "{code}: {e:?}"
            );
            assert!(!e.is_transient(), "{code}");
        }
    }

    #[test]
    fn the_client_shows_its_base_and_nothing_else_in_debug() {
        let base = BaseUrl::parse("http://127.0.0.1:9/sandbox/whatsapp").unwrap();
        let client = WhatsAppClient::new(Some(base), reqwest::Client::new()).unwrap();
        let shown = format!("{client:?}");
        assert!(shown.starts_with("WhatsAppClient"), "{shown}");
        assert!(shown.contains("/sandbox/whatsapp"), "{shown}");
    }
}

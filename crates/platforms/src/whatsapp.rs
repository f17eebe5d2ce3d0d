//! WhatsApp Cloud API through the Graph endpoints of a WhatsApp Business Account (WABA)
//! (platforms.md §12), reached two ways:
//!
//! - from credentials the business already holds (a system-user token, Zernio's
//!   `POST /v1/connect/whatsapp/credentials`, api-scope.md §5.3): [`WhatsAppClient`];
//! - through Meta's OAuth, Facebook Login with the WhatsApp permissions (Zernio's
//!   `GET /v1/connect/whatsapp`): [`WhatsAppConnector`], whose destinations are the phone
//!   numbers of the WABAs the login granted.
//!
//! Both send through the same engine and Graph error dialect as Facebook.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use plugboard_core::{Clock, Platform, Secret, SystemClock};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use url::Url;

use crate::connector::{
    AuthorizeParams, Connector, ConnectorError, Destination, Identity, PlatformApp, SelectionKind,
    TokenSet,
};
use crate::engine::{
    Call, Dialect, Endpoint, Engine, classify, clean, fill_segment, id_at, id_string, malformed,
    str_at, with_param,
};
use crate::pkce::PkceVerifier;
use crate::spec::{BaseUrl, OAuthSpec, ResolvedSpec, SpecError};

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

/// Facebook Login with the WhatsApp permissions (platforms.md §3 endpoints, §12 scopes):
/// Facebook's dialect in every respect (authorize and token URLs, Graph v24.0, the
/// long-lived `fb_exchange_token` swap, no refresh grant, client secret in the body, comma
/// scopes), asking for the WhatsApp permissions directly. Embedded Signup proper is Facebook
/// Login for Business with a `config_id` in place of `scope`; it is not used yet.
pub const OAUTH_SPEC: OAuthSpec = OAuthSpec {
    scopes: &[
        "whatsapp_business_management",
        "whatsapp_business_messaging",
        "business_management",
    ],
    ..crate::facebook::SPEC
};

/// platforms.md §3 "Debug" and §12: what Meta knows about a token, including the WABAs it
/// was granted (`granular_scopes[].target_ids`). `input_token` and the app token are added
/// per call.
pub const DEBUG_TOKEN_URL: &str = "https://graph.facebook.com/v24.0/debug_token";

/// The permission whose targets are the WABAs the app may manage (platforms.md §12).
const WABA_SCOPE: &str = "whatsapp_business_management";

/// A login that grants more WABAs than this lists the first ones only: each costs two
/// calls, and a connect session must answer in bounded time.
const MAX_WABAS: usize = 25;

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
            usage: crate::usage::no_usage(),
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

    /// The same client reporting its calls to `usage` ([`crate::usage`]).
    pub fn with_usage(mut self, usage: Arc<dyn crate::UsageSink>) -> Self {
        self.engine.app.usage = usage;
        self
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

/// WhatsApp through Meta's OAuth (Zernio's `GET /v1/connect/whatsapp`): Facebook Login with
/// the WhatsApp permissions, then one phone number picked among the WABAs the login
/// granted. The account is the number; its token is the long-lived user token.
pub struct WhatsAppConnector {
    engine: Engine,
    graph: WhatsAppClient,
    identity_url: Url,
    debug_token_url: Url,
}

impl fmt::Debug for WhatsAppConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WhatsAppConnector")
            .field("app", &self.engine.app)
            .finish_non_exhaustive()
    }
}

impl WhatsAppConnector {
    pub fn new(
        app: PlatformApp,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SpecError> {
        let graph =
            WhatsAppClient::new(app.base_url.clone(), http.clone())?.with_usage(app.usage.clone());
        let engine = Engine::new(
            Platform::Whatsapp,
            &OAUTH_SPEC,
            app,
            http,
            clock,
            Dialect::Graph,
            Dialect::Graph,
        )?;
        Ok(Self {
            identity_url: engine.api_url(crate::facebook::IDENTITY_URL)?,
            debug_token_url: engine.api_url(DEBUG_TOKEN_URL)?,
            graph,
            engine,
        })
    }

    /// The WABAs the login granted: `debug_token` of the user token, read with the app
    /// token `{app-id}|{app-secret}` as Graph requires, then the `target_ids` of
    /// `whatsapp_business_management` (platforms.md §12: without session logging, this is
    /// where the shared WABA ids are).
    ///
    /// Graph documents `debug_token` with both tokens in the query (platforms.md §3), so
    /// here, unlike at token endpoints (STYLE §7), the app secret travels in a query string.
    /// Both tokens and the bare secret are scrubbed from any error, and the engine never
    /// puts a query string in a message or a log line.
    async fn granted_wabas(&self, user_token: &str) -> Result<Vec<String>, ConnectorError> {
        let secret = self.engine.app.client_secret.expose();
        let app_token = Secret::new(format!("{}|{secret}", self.engine.app.client_id));
        let url = with_param(
            &with_param(&self.debug_token_url, "input_token", user_token),
            "access_token",
            app_token.expose(),
        );
        let sent = [app_token.expose().as_str(), secret.as_str(), user_token];
        let headers = [("Accept".to_owned(), "application/json".to_owned())];
        let call = Call {
            method: reqwest::Method::GET,
            url: &url,
            headers: &headers,
            form: None,
            bearer: None,
        };
        let (status, body) = self
            .engine
            .send(call, Dialect::Graph, Endpoint::Api, &sent)
            .await
            .map_err(throttling)?;
        let json: Value = serde_json::from_slice(&body)
            .map_err(|_| malformed("debug_token answered with a body that is not JSON"))?;
        if json.get("error").is_some_and(Value::is_object) {
            return Err(throttling(classify(
                Dialect::Graph,
                Endpoint::Api,
                status,
                &json,
                &sent,
            )));
        }
        granted_wabas(&json, &self.engine.app.client_id, &sent)
    }
}

/// The WABA ids of a `debug_token` answer, in Graph's order without repeats. A token Graph
/// calls invalid, or one issued to another app (Meta's manual-flow guide: check `app_id`),
/// is a dead grant.
fn granted_wabas(v: &Value, app_id: &str, sent: &[&str]) -> Result<Vec<String>, ConnectorError> {
    let data = v
        .get("data")
        .filter(|d| d.is_object())
        .ok_or_else(|| malformed("debug_token answered without data"))?;
    if data.get("is_valid").and_then(Value::as_bool) != Some(true) {
        let why = str_at(data, "/error/message")
            .unwrap_or_else(|| "Graph reports the token as invalid".to_owned());
        return Err(ConnectorError::InvalidGrant {
            description: clean(why, sent),
        });
    }
    if let Some(owner) = data.get("app_id").map(id_string).transpose()?.flatten()
        && owner != app_id
    {
        return Err(ConnectorError::InvalidGrant {
            description: "the token was issued to another Meta app".into(),
        });
    }
    let mut wabas: Vec<String> = Vec::new();
    let granular = data
        .get("granular_scopes")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for entry in granular
        .iter()
        .filter(|e| e.get("scope").and_then(Value::as_str) == Some(WABA_SCOPE))
    {
        let targets = entry
            .get("target_ids")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for target in targets {
            if let Some(id) = id_string(target)?
                && !wabas.contains(&id)
            {
                wabas.push(id);
            }
        }
    }
    Ok(wabas)
}

/// One number of a WABA as a destination: named by its id, shown by its display number,
/// with Zernio's metadata keys (api-scope.md §2.1) and without the facts Graph left out.
fn number_destination(waba: &Waba, n: &PhoneNumber) -> Destination {
    let mut extra = Map::new();
    let facts = [
        ("wabaId", Some(&waba.id)),
        ("wabaName", waba.name.as_ref()),
        ("displayPhoneNumber", Some(&n.display_phone_number)),
        ("verifiedName", n.verified_name.as_ref()),
        ("qualityRating", n.quality_rating.as_ref()),
        ("nameStatus", n.name_status.as_ref()),
        ("messagingLimitTier", n.messaging_limit_tier.as_ref()),
    ];
    for (key, value) in facts {
        if let Some(v) = value {
            extra.insert(key.into(), json!(v));
        }
    }
    Destination {
        id: n.id.clone(),
        name: n.display_phone_number.clone(),
        username: None,
        picture: None,
        url: None,
        access_token: None,
        extra,
    }
}

#[async_trait]
impl Connector for WhatsAppConnector {
    fn platform(&self) -> Platform {
        Platform::Whatsapp
    }

    fn spec(&self) -> &ResolvedSpec {
        &self.engine.spec
    }

    fn selection(&self) -> Option<SelectionKind> {
        Some(SelectionKind::WhatsAppPhoneNumber)
    }

    fn authorization_url(&self, params: &AuthorizeParams<'_>) -> Result<String, ConnectorError> {
        self.engine.authorization_url(params, &[])
    }

    /// The code exchange, then at once the long-lived swap, as for Facebook (platforms.md
    /// §3): everything read afterwards is read with the ~60-day token.
    async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        verifier: Option<&PkceVerifier>,
    ) -> Result<TokenSet, ConnectorError> {
        crate::facebook::exchange_long_lived(&self.engine, code, redirect_uri, verifier).await
    }

    /// The Facebook user who logged in; the account itself is the number picked later.
    async fn identity(&self, tokens: &TokenSet) -> Result<Identity, ConnectorError> {
        let v = self
            .engine
            .get_json(&self.identity_url, &tokens.access_token, &[])
            .await?;
        crate::facebook::parse_user(&v)
    }

    /// Every phone number of every WABA the login granted, WABA by WABA in Graph's order.
    async fn destinations(
        &self,
        tokens: &TokenSet,
        _identity: &Identity,
    ) -> Result<Vec<Destination>, ConnectorError> {
        let mut wabas = self.granted_wabas(&tokens.access_token).await?;
        if wabas.len() > MAX_WABAS {
            tracing::warn!(
                granted = wabas.len(),
                listed = MAX_WABAS,
                "the Meta login granted more WhatsApp Business Accounts than are listed"
            );
            wabas.truncate(MAX_WABAS);
        }
        let token = Secret::new(tokens.access_token.clone());
        let mut out = Vec::new();
        for waba_id in &wabas {
            let waba = self.graph.waba(&token, waba_id).await?;
            let numbers = self.graph.phone_numbers(&token, waba_id).await?;
            out.extend(numbers.iter().map(|n| number_destination(&waba, n)));
        }
        Ok(out)
    }

    /// A business-integration token is long-lived and has no refresh grant (platforms.md
    /// §12); when it dies the business logs in again.
    async fn refresh(&self, _tokens: &TokenSet) -> Result<TokenSet, ConnectorError> {
        Err(ConnectorError::Unsupported(
            "WhatsApp business tokens are long-lived and cannot be refreshed; the business logs in again",
        ))
    }

    /// There is no revocation endpoint for one number: access ends when the business
    /// removes the app from its WABA in Meta Business Suite.
    async fn revoke(&self, _tokens: &TokenSet) -> Result<(), ConnectorError> {
        Err(ConnectorError::Unsupported(
            "WhatsApp access ends when the business removes the app in Meta Business Suite",
        ))
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
            DEBUG_TOKEN_URL,
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
    fn the_meta_login_is_facebook_login_with_the_whatsapp_permissions() {
        let fb = crate::facebook::SPEC;
        assert_eq!(
            OAUTH_SPEC,
            OAuthSpec {
                scopes: OAUTH_SPEC.scopes,
                ..fb
            },
            "everything but the scopes is Facebook's"
        );
        assert_eq!(
            OAUTH_SPEC.scopes,
            [
                "whatsapp_business_management",
                "whatsapp_business_messaging",
                "business_management"
            ]
        );
    }

    #[test]
    fn debug_token_names_the_wabas_of_the_management_permission_once_each() {
        let v = json!({"data": {"app_id": "123", "type": "USER", "is_valid": true,
        "scopes": ["whatsapp_business_management", "whatsapp_business_messaging", "business_management"],
        "granular_scopes": [
            {"scope": "business_management", "target_ids": ["9000"]},
            {"scope": "whatsapp_business_management", "target_ids": ["102290129340398", 104996122399160_u64]},
            {"scope": "whatsapp_business_messaging", "target_ids": ["102290129340398", "555"]},
            {"scope": "whatsapp_business_management", "target_ids": ["102290129340398"]},
            {"scope": "whatsapp_business_management"},
        ]}});
        assert_eq!(
            granted_wabas(&v, "123", &[]).unwrap(),
            ["102290129340398", "104996122399160"]
        );
        let numeric_app = json!({"data": {"app_id": 123, "is_valid": true}});
        assert_eq!(
            granted_wabas(&numeric_app, "123", &[]).unwrap(),
            Vec::<String>::new(),
            "no granular scopes: nothing granted"
        );
    }

    #[test]
    fn debug_token_of_a_dead_or_foreign_token_is_a_dead_grant() {
        let cases = [
            (
                json!({"data": {"is_valid": false, "error": {"code": 190, "message": "Session for EAAsecrettoken has expired"}}}),
                "Session for [redacted] has expired",
                "invalid, with the token echoed",
            ),
            (
                json!({"data": {"is_valid": false}}),
                "Graph reports the token as invalid",
                "invalid without a message",
            ),
            (
                json!({"data": {"app_id": "999", "is_valid": true, "granular_scopes": []}}),
                "the token was issued to another Meta app",
                "another app's token",
            ),
        ];
        for (v, want, why) in cases {
            match granted_wabas(&v, "123", &["EAAsecrettoken"]) {
                Err(ConnectorError::InvalidGrant { description }) => {
                    assert_eq!(description, want, "{why}")
                }
                other => panic!("{why}: {other:?}"),
            }
        }
        for (v, why) in [
            (json!({}), "no data"),
            (json!({"data": "x"}), "data not an object"),
        ] {
            assert!(
                matches!(
                    granted_wabas(&v, "123", &[]),
                    Err(ConnectorError::Malformed(_))
                ),
                "{why}"
            );
        }
    }

    #[test]
    fn a_number_becomes_a_destination_with_zernios_keys_and_no_nulls() {
        let waba = Waba {
            id: "102290129340398".into(),
            name: Some("Acme".into()),
        };
        let full = PhoneNumber {
            id: "106540352242922".into(),
            display_phone_number: "+1 631-555-5555".into(),
            verified_name: Some("Acme Support".into()),
            quality_rating: Some("GREEN".into()),
            name_status: Some("APPROVED".into()),
            messaging_limit_tier: Some("TIER_1K".into()),
            code_verification_status: Some("VERIFIED".into()),
        };
        let d = number_destination(&waba, &full);
        assert_eq!(
            (d.id.as_str(), d.name.as_str()),
            ("106540352242922", "+1 631-555-5555")
        );
        assert_eq!(
            (&d.username, &d.picture, &d.url, &d.access_token),
            (&None, &None, &None, &None)
        );
        assert_eq!(
            Value::Object(d.extra),
            json!({"wabaId": "102290129340398", "wabaName": "Acme",
                "displayPhoneNumber": "+1 631-555-5555", "verifiedName": "Acme Support",
                "qualityRating": "GREEN", "nameStatus": "APPROVED", "messagingLimitTier": "TIER_1K"})
        );
        let bare = PhoneNumber {
            verified_name: None,
            quality_rating: None,
            name_status: None,
            messaging_limit_tier: None,
            ..full
        };
        let unnamed = Waba { name: None, ..waba };
        assert_eq!(
            Value::Object(number_destination(&unnamed, &bare).extra),
            json!({"wabaId": "102290129340398", "displayPhoneNumber": "+1 631-555-5555"})
        );
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

//! `GET /v1/connect/{platform}`: a connect session in the store and the platform's
//! authorization URL.

use super::session::{
    AdsFlow, FlowRecord, SESSION_KIND, SESSION_MINUTES, SessionRecord, StateToken,
    login_method_name,
};
use crate::auth::ResourceGroup;
use crate::{Caller, ServiceError, ServiceResult, Services};
use plugboard_core::{AccountId, Platform, ProfileId, RedirectUrl};
use plugboard_platforms::instagram::LoginMethod;
use plugboard_platforms::{AuthorizeParams, Flavor, PkceVerifier};
use plugboard_store::OneTimeRecord;

/// A validated connect start.
#[derive(Debug, Clone)]
pub struct StartConnect {
    pub platform: Platform,
    pub profile_id: ProfileId,
    pub redirect_url: Option<RedirectUrl>,
    pub headless: bool,
    /// Instagram only; ignored elsewhere (the SDK sends it for every platform).
    pub login_method: LoginMethod,
    pub force_reauth: bool,
    pub reconnect_account_id: Option<AccountId>,
    pub expected_platform_user_id: Option<String>,
    pub expected_username: Option<String>,
}

#[derive(Debug)]
pub struct StartedConnect {
    pub auth_url: String,
    pub state: StateToken,
}

/// What a flow carries besides the request: the ads flow's settings, a ticket's "every
/// destination".
#[derive(Debug, Default)]
pub(crate) struct FlowOptions {
    pub ads: Option<AdsFlow>,
    pub all_destinations: bool,
}

/// X limits the URL-encoded `redirect_url` of API callers to 258 characters
/// (shared/api-scope.md §3.1).
const X_REDIRECT_LIMIT: usize = 258;

impl Services {
    #[tracing::instrument(name = "connect.start", skip_all, fields(platform = %req.platform, flow = tracing::field::Empty))]
    pub async fn start_connect(
        &self,
        caller: &Caller,
        req: StartConnect,
    ) -> ServiceResult<StartedConnect> {
        self.start_connect_as(caller, req, false).await
    }

    /// `start_connect`; with `all_destinations` (a ticket) every Page or channel granted
    /// becomes an account.
    pub(crate) async fn start_connect_as(
        &self,
        caller: &Caller,
        req: StartConnect,
        all_destinations: bool,
    ) -> ServiceResult<StartedConnect> {
        caller.require(ResourceGroup::Accounts, true)?;
        let ctx = self.connect_context()?;
        let platform = req.platform;
        if plugboard_platforms::oauth_spec(platform).is_none() {
            return Err(ServiceError::BadRequest {
                code: "unsupported_platform",
                message: format!(
                    "{platform} does not connect through an OAuth redirect; use its own connect route"
                ),
                param: Some("platform"),
            });
        }
        self.visible_profile(caller, &req.profile_id).await?;
        let login_method = if platform == Platform::Instagram {
            req.login_method
        } else {
            LoginMethod::InstagramLogin
        };
        let connector = ctx
            .connector(platform, Flavor::from(login_method))
            .ok_or_else(|| not_configured(platform, login_method))?;
        if req.headless && req.redirect_url.is_none() {
            return Err(ServiceError::BadRequest {
                code: "INVALID_REDIRECT_URL",
                message: "headless mode hands the login back on redirect_url; give one".into(),
                param: Some("redirect_url"),
            });
        }
        if platform == Platform::Twitter
            && let Some(r) = &req.redirect_url
        {
            let encoded: String =
                url::form_urlencoded::byte_serialize(r.as_str().as_bytes()).collect();
            if encoded.len() > X_REDIRECT_LIMIT {
                return Err(ServiceError::BadRequest {
                    code: "INVALID_REDIRECT_URL",
                    message: format!(
                        "X allows a redirect_url of at most {X_REDIRECT_LIMIT} characters once URL-encoded"
                    ),
                    param: Some("redirect_url"),
                });
            }
        }
        if let Some(id) = &req.reconnect_account_id {
            let account = self.get_account(caller, id).await.map_err(|_| {
                ServiceError::invalid(
                    "reconnectAccountId",
                    "reconnectAccountId names no account of yours",
                )
            })?;
            if account.platform != platform || account.profile_id != req.profile_id {
                return Err(ServiceError::invalid(
                    "reconnectAccountId",
                    "reconnectAccountId must be an account of the same platform and profile",
                ));
            }
        }

        let options = FlowOptions {
            all_destinations,
            ..FlowOptions::default()
        };
        self.open_session(caller, &req, &connector, login_method, &[], options)
            .await
    }

    /// Stores a connect session and builds the authorization URL for it.
    pub(crate) async fn open_session(
        &self,
        caller: &Caller,
        req: &StartConnect,
        connector: &std::sync::Arc<dyn plugboard_platforms::Connector>,
        login_method: LoginMethod,
        extra_scopes: &[&str],
        options: FlowOptions,
    ) -> ServiceResult<StartedConnect> {
        let ctx = self.connect_context()?;
        let platform = req.platform;
        // A login the callback could not finish is not started (docs/quota.md).
        self.check_quota(platform).await?;
        let now = self.clock.now();
        let state = StateToken::generate();
        let key = state.hash();
        let verifier = connector.uses_pkce().then(PkceVerifier::generate);
        let sealed_verifier = verifier.as_ref().map(|v| {
            self.keyring
                .seal(&verifier_context(&key), v.expose().as_bytes())
                .as_stored()
                .to_owned()
        });
        let record = SessionRecord {
            flow: FlowRecord {
                platform,
                login_method: login_method_name(login_method).to_owned(),
                profile_id: req.profile_id.to_string(),
                key_id: caller.key_id.to_string(),
                redirect_url: req.redirect_url.as_ref().map(|r| r.as_str().to_owned()),
                headless: req.headless,
                reconnect_account_id: req.reconnect_account_id.as_ref().map(|a| a.to_string()),
                expected_platform_user_id: req.expected_platform_user_id.clone(),
                expected_username: req.expected_username.clone(),
                ads: options.ads,
                all_destinations: options.all_destinations,
            },
            verifier: sealed_verifier,
            key: None,
        };
        let challenge = verifier.as_ref().map(PkceVerifier::challenge);
        let callback = ctx.callback_url(platform);
        let auth_url = connector
            .authorization_url(&AuthorizeParams {
                redirect_uri: &callback,
                state: state.as_str(),
                pkce: challenge.as_ref(),
                force_reauth: req.force_reauth,
                extra_scopes,
            })
            .map_err(|e| {
                ServiceError::Internal(format!("building the {platform} authorization URL: {e}"))
            })?;
        self.store
            .put_one_time(&OneTimeRecord {
                kind: SESSION_KIND.into(),
                key,
                owner_id: Some(caller.owner.clone()),
                payload: serde_json::to_value(&record)
                    .map_err(|e| ServiceError::Internal(e.to_string()))?,
                expires_at: now + chrono::Duration::minutes(SESSION_MINUTES),
                created_at: now,
            })
            .await?;
        let flow = flow_id(&state.hash()).to_owned();
        tracing::Span::current().record("flow", flow.as_str());
        self.metrics
            .connects_started
            .with_label_values(&[platform.as_str()])
            .inc();
        tracing::info!(platform = %platform, profile = %req.profile_id, headless = req.headless, flow = %flow, "connect started");
        Ok(StartedConnect { auth_url, state })
    }
}

/// A short, non-secret name for one connect flow in logs and traces (a prefix of the
/// state's hash, which is what the store keys the session by), so a flow's start, callback
/// and selection can be followed across requests and replicas.
pub(crate) fn flow_id(session_key: &str) -> &str {
    session_key.get(..12).unwrap_or(session_key)
}

pub(crate) fn verifier_context(session_key: &str) -> String {
    format!("connect_session:{session_key}:pkce_verifier")
}

fn not_configured(platform: Platform, login: LoginMethod) -> ServiceError {
    let (setting, through) = match (platform, login) {
        (Platform::Instagram, LoginMethod::FacebookLogin) => (
            "FACEBOOK",
            " (Instagram through Facebook Login uses the Facebook app)",
        ),
        _ => ("", ""),
    };
    let setting = if setting.is_empty() {
        platform.as_str().to_ascii_uppercase()
    } else {
        setting.to_owned()
    };
    ServiceError::NotConfigured {
        message: format!(
            "{platform} is not configured on this server{through}: set PLUGBOARD_{setting}_CLIENT_ID and PLUGBOARD_{setting}_CLIENT_SECRET, or enable the sandbox"
        ),
    }
}

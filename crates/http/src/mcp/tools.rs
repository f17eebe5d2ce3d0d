//! The MCP tools. Each is a thin call into the same service methods the REST handlers use,
//! with the caller the access token speaks for; results are JSON an agent can read (the
//! REST shapes where one exists). Failures of the call itself (not found, not configured,
//! a platform refusing) come back as tool errors with the REST error body, so the agent
//! sees the message; only a missing principal is a protocol error.

use super::McpPrincipalExt;
use crate::dto::{ProfileBody, SocialAccount};
use crate::error::ApiError;
use crate::routes::connect_direct::telegram_status_body;
use crate::routes::health::{health_body, summary_row};
use plugboard_core::{AccountId, Platform, ProfileId, RedirectUrl, Secret};
use plugboard_platforms::instagram::LoginMethod;
use plugboard_service::accounts::AccountListRequest;
use plugboard_service::connect::{BlueskyCredentials, StartConnect, valid_identifier};
use plugboard_service::health::{HealthFilter, HealthStatus};
use plugboard_service::mcp::{McpPrincipal, McpScope};
use plugboard_service::profiles::NewProfile;
use plugboard_service::{ServiceError, Services};
use plugboard_store::{
    AccountPatch, AccountStatus, DeliveryStatus, ProfileFilter, WebhookLogFilter,
};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, ErrorData};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

/// The scope each tool needs. The guard answers HTTP 403 `insufficient_scope` from this
/// table before a call reaches the tool; a test checks every tool has a row.
pub const TOOL_SCOPES: &[(&str, McpScope)] = &[
    ("list_profiles", McpScope::ProfilesRead),
    ("get_profile", McpScope::ProfilesRead),
    ("create_profile", McpScope::ProfilesWrite),
    ("list_accounts", McpScope::ConnectionsRead),
    ("get_account", McpScope::ConnectionsRead),
    ("activate_account", McpScope::ConnectionsWrite),
    ("deactivate_account", McpScope::ConnectionsWrite),
    ("disconnect_account", McpScope::ConnectionsWrite),
    ("accounts_health", McpScope::ConnectionsRead),
    ("account_health", McpScope::ConnectionsRead),
    ("refresh_account_token", McpScope::ConnectionsWrite),
    ("start_connect", McpScope::ConnectionsWrite),
    ("connect_bluesky", McpScope::ConnectionsWrite),
    ("start_telegram_connect", McpScope::ConnectionsWrite),
    ("telegram_connect_status", McpScope::ConnectionsRead),
    ("list_platforms", McpScope::PlatformsRead),
    ("get_webhook_settings", McpScope::WebhooksRead),
    ("list_webhook_deliveries", McpScope::WebhooksRead),
    ("usage_stats", McpScope::StatsRead),
];

pub fn scope_of(tool: &str) -> Option<McpScope> {
    TOOL_SCOPES
        .iter()
        .find(|(name, _)| *name == tool)
        .map(|(_, s)| *s)
}

#[derive(Clone)]
pub struct PlugboardTools {
    services: Services,
    tool_router: ToolRouter<Self>,
}

impl PlugboardTools {
    pub fn new(services: Services) -> Self {
        Self {
            services,
            tool_router: Self::tool_router(),
        }
    }
}

fn ok(value: Value) -> Result<CallToolResult, ErrorData> {
    Ok(CallToolResult::structured(value))
}

/// A failed call as the agent sees it: the REST error body.
fn failed(e: impl Into<ApiError>) -> Result<CallToolResult, ErrorData> {
    let e: ApiError = e.into();
    let mut body = json!({"error": e.message, "code": e.code});
    if let Some(param) = e.param {
        body["param"] = json!(param);
    }
    if let Some(details) = e.details {
        body["details"] = *details;
    }
    if let Some(platform_error) = e.platform_error {
        body["platformError"] = json!(platform_error);
    }
    Ok(CallToolResult::error(vec![ContentBlock::text(
        body.to_string(),
    )]))
}

fn invalid(param: &'static str, message: impl Into<String>) -> Result<CallToolResult, ErrorData> {
    failed(ServiceError::invalid(param, message))
}

/// An argument that did not parse: which one, and why.
struct BadArgument {
    param: &'static str,
    message: String,
}

fn parse_profile(raw: &str) -> Result<ProfileId, BadArgument> {
    raw.trim().parse().map_err(|_| BadArgument {
        param: "profileId",
        message: format!("{raw:?} is not a profile id (24 hex characters)"),
    })
}

fn parse_account(raw: &str) -> Result<AccountId, BadArgument> {
    raw.trim().parse().map_err(|_| BadArgument {
        param: "accountId",
        message: format!("{raw:?} is not an account id (24 hex characters)"),
    })
}

fn parse_platform(raw: &str) -> Result<Platform, BadArgument> {
    raw.trim()
        .to_ascii_lowercase()
        .parse()
        .map_err(|_| BadArgument {
            param: "platform",
            message: format!(
                "{raw:?} is not a platform; one of {}",
                Platform::ALL.map(Platform::as_str).join(", ")
            ),
        })
}

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(BadArgument { param, message }) => return invalid(param, message),
        }
    };
}

macro_rules! call {
    ($e:expr) => {
        match $e.await {
            Ok(v) => v,
            Err(e) => return failed(e),
        }
    };
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileArgs {
    /// The profile's id (24 hex characters).
    pub profile_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateProfileArgs {
    /// 1-100 characters, unique among your profiles.
    pub name: String,
    pub description: Option<String>,
    /// A hex color such as #ffeda0.
    pub color: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListAccountsArgs {
    /// Only accounts of this profile.
    pub profile_id: Option<String>,
    /// Only this platform (twitter, instagram, facebook, linkedin, tiktok, youtube,
    /// pinterest, reddit, threads, googlebusiness, snapchat, bluesky, telegram, whatsapp,
    /// metaads).
    pub platform: Option<String>,
    /// `true`: only accounts that need reconnecting; `false`: only healthy connections.
    pub needs_reconnection: Option<bool>,
    /// Matches username, display name or id.
    pub search: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountArgs {
    /// The account's id (24 hex characters), from list_accounts.
    pub account_id: String,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthArgs {
    pub profile_id: Option<String>,
    pub platform: Option<String>,
    /// healthy, warning or error.
    pub status: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartConnectArgs {
    /// An OAuth platform: twitter, instagram, facebook, linkedin, tiktok, youtube,
    /// pinterest, reddit, threads, googlebusiness, snapchat or whatsapp. (Bluesky and
    /// Telegram have their own tools.)
    pub platform: String,
    /// The profile the account will belong to.
    pub profile_id: String,
    /// Where the user's browser goes when done; omit to show Plugboard's own result page.
    pub redirect_url: Option<String>,
    /// Reconnect this existing account (a login of another account is refused).
    pub reconnect_account_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlueskyArgs {
    pub profile_id: String,
    /// The Bluesky handle (alice.bsky.social), email or DID.
    pub identifier: String,
    /// An app password from Bluesky settings (xxxx-xxxx-xxxx-xxxx), never the account
    /// password.
    pub app_password: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TelegramStatusArgs {
    /// The code start_telegram_connect returned (PB-…).
    pub code: String,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveriesArgs {
    /// success or failed.
    pub status: Option<String>,
    /// Only this event, e.g. account.connected.
    pub event: Option<String>,
    /// At most this many, newest first (1-100, default 20).
    pub limit: Option<u64>,
}

fn principal(ctx: &RequestContext<RoleServer>) -> Result<McpPrincipal, ErrorData> {
    ctx.principal().ok_or_else(|| {
        ErrorData::internal_error("request reached a tool without a principal", None)
    })
}

/// The tool's scope, checked again here (the guard checks it first, with an HTTP 403).
fn authorized(ctx: &RequestContext<RoleServer>, tool: &str) -> Result<McpPrincipal, ErrorData> {
    let p = principal(ctx)?;
    match scope_of(tool) {
        Some(scope) if p.scopes.allows(scope) => Ok(p),
        Some(scope) => Err(ErrorData::invalid_request(
            format!("insufficient_scope: this tool needs {scope}"),
            None,
        )),
        None => Err(ErrorData::internal_error("tool without a scope", None)),
    }
}

#[tool_router]
impl PlugboardTools {
    #[tool(
        description = "List the profiles (groups of connected accounts, e.g. one per brand or customer) with how many accounts each has.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_profiles(
        &self,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let p = authorized(&ctx, "list_profiles")?;
        let list = call!(
            self.services
                .list_profiles(&p.caller, ProfileFilter::default(), 0, None)
        );
        ok(json!({
            "total": list.total,
            "profiles": list.profiles.iter().map(ProfileBody::from).collect::<Vec<_>>(),
        }))
    }

    #[tool(
        description = "Get one profile by id.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_profile(
        &self,
        Parameters(args): Parameters<ProfileArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let p = authorized(&ctx, "get_profile")?;
        let id = tri!(parse_profile(&args.profile_id));
        let view = call!(self.services.get_profile(&p.caller, &id));
        ok(json!({"profile": ProfileBody::from(&view)}))
    }

    #[tool(
        description = "Create a profile to group connected accounts under (for example one per brand or client).",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn create_profile(
        &self,
        Parameters(args): Parameters<CreateProfileArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        use plugboard_service::profiles::{validate_color, validate_description, validate_name};
        let p = authorized(&ctx, "create_profile")?;
        let new = NewProfile {
            name: match validate_name(&args.name) {
                Ok(n) => n,
                Err(e) => return failed(e),
            },
            description: match args
                .description
                .as_deref()
                .map(validate_description)
                .transpose()
            {
                Ok(d) => d,
                Err(e) => return failed(e),
            },
            color: match args.color.as_deref().map(validate_color).transpose() {
                Ok(c) => c,
                Err(e) => return failed(e),
            },
            timezone: None,
            external_id: None,
        };
        let profile = call!(self.services.create_profile(&p.caller, new));
        ok(json!({"message": "Profile created", "profile": ProfileBody::new(&profile, Some(0))}))
    }

    #[tool(
        description = "List connected social accounts (with follower counts where the platform reports them), optionally by profile, platform, or whether they need reconnecting.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_accounts(
        &self,
        Parameters(args): Parameters<ListAccountsArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let p = authorized(&ctx, "list_accounts")?;
        let profile_ids = match args.profile_id.as_deref() {
            Some(raw) => Some(vec![tri!(parse_profile(raw))]),
            None => None,
        };
        let platform = match args.platform.as_deref() {
            Some(raw) => Some(tri!(parse_platform(raw))),
            None => None,
        };
        let req = AccountListRequest {
            profile_ids,
            platform,
            status: args.needs_reconnection.map(|n| {
                if n {
                    AccountStatus::Disconnected
                } else {
                    AccountStatus::Connected
                }
            }),
            search: args.search.filter(|s| !s.trim().is_empty()),
            ..AccountListRequest::default()
        };
        let list = call!(self.services.list_accounts(&p.caller, req));
        ok(json!({
            "total": list.page.total,
            "accounts": list.page.accounts.iter().map(SocialAccount::from).collect::<Vec<_>>(),
        }))
    }

    #[tool(
        description = "Get one connected account by id.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_account(
        &self,
        Parameters(args): Parameters<AccountArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let p = authorized(&ctx, "get_account")?;
        let id = tri!(parse_account(&args.account_id));
        let account = call!(self.services.get_account(&p.caller, &id));
        ok(json!({"account": SocialAccount::from(&account)}))
    }

    #[tool(
        description = "Activate an account so new work may use it again.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn activate_account(
        &self,
        Parameters(args): Parameters<AccountArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let p = authorized(&ctx, "activate_account")?;
        self.set_active(&p, &args.account_id, true).await
    }

    #[tool(
        description = "Deactivate an account: it stays connected but new work must not use it until it is activated again.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn deactivate_account(
        &self,
        Parameters(args): Parameters<AccountArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let p = authorized(&ctx, "deactivate_account")?;
        self.set_active(&p, &args.account_id, false).await
    }

    #[tool(
        description = "Disconnect an account: Plugboard revokes its token at the platform where it can and forgets the tokens. Reconnecting later needs the user to log in again.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn disconnect_account(
        &self,
        Parameters(args): Parameters<AccountArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let p = authorized(&ctx, "disconnect_account")?;
        let id = tri!(parse_account(&args.account_id));
        let account = call!(self.services.delete_account(&p.caller, &id));
        ok(json!({
            "message": "Account disconnected",
            "accountId": account.id,
            "platform": account.platform,
            "username": account.username,
        }))
    }

    #[tool(
        description = "Health of every account: a summary (healthy / warning / error / needs reconnect) and one row per account. Use it to answer which accounts need reconnecting.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn accounts_health(
        &self,
        Parameters(args): Parameters<HealthArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let p = authorized(&ctx, "accounts_health")?;
        let filter = HealthFilter {
            profile_id: match args.profile_id.as_deref() {
                Some(raw) => Some(tri!(parse_profile(raw))),
                None => None,
            },
            platform: match args.platform.as_deref() {
                Some(raw) => Some(tri!(parse_platform(raw))),
                None => None,
            },
            status: match args.status.as_deref() {
                None => None,
                Some(raw) => match HealthStatus::parse(raw) {
                    Some(s) => Some(s),
                    None => return invalid("status", "status is healthy, warning or error"),
                },
            },
        };
        let list = call!(self.services.accounts_health(&p.caller, &filter));
        let count = |s: HealthStatus| list.iter().filter(|h| h.status == s).count();
        ok(json!({
            "summary": {
                "total": list.len(),
                "healthy": count(HealthStatus::Healthy),
                "warning": count(HealthStatus::Warning),
                "error": count(HealthStatus::Error),
                "needsReconnect": list.iter().filter(|h| !h.token_valid).count(),
            },
            "accounts": list.iter().map(summary_row).collect::<Vec<_>>(),
        }))
    }

    #[tool(
        description = "Detailed health of one account: token validity and expiry, granted permissions, issues and what to do about them. Asks the platform whether the token still works.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn account_health(
        &self,
        Parameters(args): Parameters<AccountArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let p = authorized(&ctx, "account_health")?;
        let id = tri!(parse_account(&args.account_id));
        let h = call!(self.services.account_health(&p.caller, &id));
        ok(health_body(&h, self.services.clock.now()))
    }

    #[tool(
        description = "Refresh an account's access token now (Plugboard also refreshes tokens on its own before they expire). If the platform says the grant is dead, the account needs reconnecting with start_connect.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn refresh_account_token(
        &self,
        Parameters(args): Parameters<AccountArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let p = authorized(&ctx, "refresh_account_token")?;
        let id = tri!(parse_account(&args.account_id));
        let account = call!(self.services.refresh_account_now(&p.caller, &id));
        ok(json!({
            "message": "Token refreshed",
            "accountId": account.id,
            "tokenExpiresAt": account.token_expires_at,
        }))
    }

    #[tool(
        description = "Start connecting a social account: returns a link (authUrl) for the user to open in their browser and log in to the platform. The account appears in list_accounts once they finish. For Bluesky use connect_bluesky, for Telegram start_telegram_connect.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn start_connect(
        &self,
        Parameters(args): Parameters<StartConnectArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let p = authorized(&ctx, "start_connect")?;
        let platform = tri!(parse_platform(&args.platform));
        if matches!(
            platform,
            Platform::Bluesky | Platform::Telegram | Platform::Metaads
        ) {
            return invalid(
                "platform",
                format!(
                    "{platform} does not connect with a link: use connect_bluesky or start_telegram_connect"
                ),
            );
        }
        let profile_id = tri!(parse_profile(&args.profile_id));
        let redirect_url = match args
            .redirect_url
            .as_deref()
            .map(RedirectUrl::parse)
            .transpose()
        {
            Ok(r) => r,
            Err(e) => {
                return failed(ServiceError::BadRequest {
                    code: "INVALID_REDIRECT_URL",
                    message: format!("redirectUrl: {e}"),
                    param: Some("redirectUrl"),
                });
            }
        };
        let reconnect_account_id = match args.reconnect_account_id.as_deref() {
            Some(raw) => Some(tri!(parse_account(raw))),
            None => None,
        };
        let started = call!(self.services.start_connect(
            &p.caller,
            StartConnect {
                platform,
                profile_id,
                redirect_url,
                headless: false,
                login_method: LoginMethod::InstagramLogin,
                force_reauth: false,
                reconnect_account_id,
                expected_platform_user_id: None,
                expected_username: None,
            },
        ));
        ok(json!({
            "authUrl": started.auth_url,
            "platform": platform,
            "instructions": format!("Open this link in a browser and log in to {platform} to connect the account. The link works once and expires in about 15 minutes."),
        }))
    }

    #[tool(
        description = "Connect a Bluesky account with its handle and an app password (created in Bluesky under Settings → Privacy and security → App passwords).",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn connect_bluesky(
        &self,
        Parameters(args): Parameters<BlueskyArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let p = authorized(&ctx, "connect_bluesky")?;
        let profile_id = tri!(parse_profile(&args.profile_id));
        let identifier = args.identifier.trim();
        if !valid_identifier(identifier) {
            return invalid("identifier", "identifier is a handle, an email or a DID");
        }
        if args.app_password.trim().is_empty() {
            return invalid("appPassword", "appPassword is required");
        }
        let account = call!(self.services.connect_bluesky(
            &p.caller,
            BlueskyCredentials {
                identifier: identifier.to_owned(),
                app_password: Secret::new(args.app_password.trim().to_owned()),
                profile_id,
            },
        ));
        ok(
            json!({"message": "Bluesky account connected", "account": SocialAccount::from(&account)}),
        )
    }

    #[tool(
        description = "Start connecting a Telegram channel or group: returns a one-time code (15 minutes) and the bot to send it to. Check the result with telegram_connect_status.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn start_telegram_connect(
        &self,
        Parameters(args): Parameters<ProfileArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let p = authorized(&ctx, "start_telegram_connect")?;
        let profile_id = tri!(parse_profile(&args.profile_id));
        let code = call!(self.services.telegram_code(&p.caller, &profile_id));
        ok(json!({
            "code": code.code,
            "expiresAt": code.expires_at,
            "botUsername": code.bot_username,
            "instructions": code.instructions,
        }))
    }

    #[tool(
        description = "Whether a Telegram code from start_telegram_connect has been used: pending, connected (with the account) or expired.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn telegram_connect_status(
        &self,
        Parameters(args): Parameters<TelegramStatusArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let p = authorized(&ctx, "telegram_connect_status")?;
        let status = call!(self.services.telegram_status(&p.caller, args.code.trim()));
        ok(telegram_status_body(status, self.services.clock.now()))
    }

    #[tool(
        description = "The platforms Plugboard connects, how each connects (link, app password, bot code), what the user picks after logging in, and whether this server is set up for it.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_platforms(
        &self,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        authorized(&ctx, "list_platforms")?;
        let platforms = match self.services.platform_overview() {
            Ok(p) => p,
            Err(e) => return failed(e),
        };
        ok(json!({"platforms": platforms}))
    }

    #[tool(
        description = "The webhook subscriptions: URL, events, whether active, failure streak and last delivery. Secrets are never shown.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_webhook_settings(
        &self,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let p = authorized(&ctx, "get_webhook_settings")?;
        let list = call!(self.services.list_webhooks(&p.caller));
        ok(json!({
            "webhooks": list.iter().map(|w| json!({
                "id": w.id, "name": w.name, "url": w.url, "events": w.events,
                "isActive": w.is_active, "hasSecret": w.secret.is_some(),
                "failureCount": w.failure_count, "lastFiredAt": w.last_fired_at,
            })).collect::<Vec<_>>(),
        }))
    }

    #[tool(
        description = "Recent webhook delivery attempts, newest first: event, outcome, HTTP status and error.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_webhook_deliveries(
        &self,
        Parameters(args): Parameters<DeliveriesArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let p = authorized(&ctx, "list_webhook_deliveries")?;
        let status = match args.status.as_deref() {
            None => None,
            Some(raw) => match raw.parse::<DeliveryStatus>() {
                Ok(s) => Some(s),
                Err(()) => return invalid("status", "status is success or failed"),
            },
        };
        let limit = args.limit.unwrap_or(20).clamp(1, 100);
        let filter = WebhookLogFilter {
            status,
            event: args.event.filter(|e| !e.trim().is_empty()),
            ..WebhookLogFilter::default()
        };
        let (logs, total) = call!(self.services.webhook_logs(&p.caller, filter, 0, limit));
        ok(json!({
            "total": total,
            "deliveries": logs.iter().map(|l| json!({
                "eventId": l.event_id, "event": l.event, "webhookName": l.webhook_name,
                "status": l.status.as_str(), "statusCode": l.status_code, "attempt": l.attempt_number,
                "error": l.error_message, "responseTimeMs": l.response_time_ms,
                "test": l.test, "createdAt": l.created_at,
            })).collect::<Vec<_>>(),
        }))
    }

    #[tool(
        description = "Usage statistics: accounts per platform (active, needing reconnection, with failing refreshes) and the webhook delivery success rate over the last 7 days.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn usage_stats(
        &self,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let p = authorized(&ctx, "usage_stats")?;
        let stats = call!(self.services.usage_stats(&p.caller));
        ok(json!(stats))
    }
}

impl PlugboardTools {
    async fn set_active(
        &self,
        p: &McpPrincipal,
        raw_id: &str,
        active: bool,
    ) -> Result<CallToolResult, ErrorData> {
        let id = tri!(parse_account(raw_id));
        let account = call!(self.services.update_account(
            &p.caller,
            &id,
            AccountPatch {
                is_active: Some(active),
                ..AccountPatch::default()
            },
        ));
        ok(json!({
            "message": if active { "Account activated" } else { "Account deactivated" },
            "account": SocialAccount::from(&account),
        }))
    }
}

#[tool_handler(
    router = self.tool_router,
    name = "plugboard",
    instructions = "Plugboard connects social media accounts (14 networks) to an app. Accounts belong to profiles. To connect an account, call start_connect with the platform and a profile id (list_profiles) and give the user the authUrl; Bluesky uses connect_bluesky, Telegram start_telegram_connect. accounts_health tells which accounts need reconnecting."
)]
impl ServerHandler for PlugboardTools {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_exactly_one_scope_row() {
        let router = PlugboardTools::tool_router();
        let tools = router.list_all();
        assert_eq!(tools.len(), TOOL_SCOPES.len());
        for t in &tools {
            assert_eq!(
                TOOL_SCOPES.iter().filter(|(n, _)| *n == t.name).count(),
                1,
                "{} needs one row in TOOL_SCOPES",
                t.name
            );
        }
    }

    #[test]
    fn every_tool_says_whether_it_only_reads() {
        for t in PlugboardTools::tool_router().list_all() {
            let a = t.annotations.as_ref().expect("annotated");
            let read_only = a.read_only_hint.expect("read_only_hint set");
            if !read_only {
                assert!(
                    a.destructive_hint.is_some(),
                    "{} says if it is destructive",
                    t.name
                );
            }
            let needs_write = scope_of(&t.name).is_some_and(|s| s.writes());
            assert_eq!(
                read_only, !needs_write,
                "{}: read-only hint and scope agree",
                t.name
            );
        }
    }
}

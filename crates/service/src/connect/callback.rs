//! The provider's callback: take the session once, exchange the code, read the identity,
//! then either store the account or park the login as a pending selection.

#![allow(
    clippy::result_large_err,
    reason = "a ConnectError ends a browser flow once; its size does not matter there"
)]

use super::outcome::{ConnectError, ResultPage, with_params};
use super::session::{
    AccountTokens, CONNECT_TOKEN_KIND, CONNECT_TOKEN_MINUTES, ConnectToken, ConnectTokenRecord,
    FlowRecord, PENDING_KIND, PENDING_MINUTES, PendingRecord, PendingSecrets, PendingToken,
    SESSION_KIND, SessionRecord, StateToken, nonce_hash, parse_login_method,
};
use super::start::verifier_context;
use crate::auth::ResourceGroup;
use crate::{Caller, ServiceError, ServiceResult, Services};
use plugboard_core::{AccountId, OwnerId, Platform, ProfileId, RedirectUrl, Sealed};
use plugboard_platforms::{
    ConnectorError, Destination, Flavor, Identity, PkceVerifier, SelectionKind, TokenSet,
};
use plugboard_store::{Account, AccountEvent, AccountUpsert, OneTimeRecord, StoreError};
use std::collections::BTreeMap;
use tracing::Instrument as _;
use url::Url;

/// What the platform sent to the callback URL.
#[derive(Debug, Clone, Default)]
pub struct CallbackInput {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    pub error_reason: Option<String>,
}

/// Where the browser goes next.
#[derive(Debug)]
pub enum CallbackOutcome {
    /// Back to the integrator's `redirect_url`, with Zernio's result parameters.
    Redirect(Url),
    /// To the hosted selection page; `nonce` goes in a cookie that binds the page to this
    /// browser.
    Picker {
        url: String,
        token: PendingToken,
        nonce: String,
    },
    /// No redirect known: show this.
    Page(ResultPage),
}

/// The result of `POST /v1/connect/{platform}` (code handed over by the integrator).
#[derive(Debug)]
pub enum CodeCompletion {
    Connected(Account),
    /// The platform needs a destination picked (LinkedIn organization, Pinterest board).
    SelectionRequired {
        kind: SelectionKind,
        token: PendingToken,
        connect_token: ConnectToken,
        identity: Identity,
    },
}

/// The login made it through exchange and identity.
pub(crate) enum Finished {
    Connected(Box<Account>),
    /// A ticket's login: every Page or channel became an account (at least one).
    ConnectedAll(Vec<Account>),
    Pending {
        token: PendingToken,
        record: Box<PendingRecord>,
        nonce: Option<String>,
    },
}

impl Services {
    /// The browser's return from the platform. Never fails: every problem becomes a
    /// redirect with Zernio's error parameters, or an error page when no redirect is known.
    pub async fn complete_callback(
        &self,
        platform: Platform,
        input: CallbackInput,
    ) -> CallbackOutcome {
        let timer = self
            .metrics
            .callback_duration
            .with_label_values(&[platform.as_str()])
            .start_timer();
        let span = tracing::info_span!("connect.callback", platform = %platform, flow = tracing::field::Empty);
        let outcome = self
            .callback_outcome(platform, input, span.clone())
            .instrument(span)
            .await;
        timer.observe_duration();
        outcome
    }

    async fn callback_outcome(
        &self,
        platform: Platform,
        input: CallbackInput,
        span: tracing::Span,
    ) -> CallbackOutcome {
        let session = match self.take_session(platform, input.state.as_deref()).await {
            Ok(s) => s,
            Err(page) => {
                self.metrics
                    .connects_failed
                    .with_label_values(&[platform.as_str(), "invalid_state"])
                    .inc();
                return CallbackOutcome::Page(page);
            }
        };
        let (owner, record) = session;
        if let Some(key) = record.key.as_deref() {
            span.record("flow", super::start::flow_id(key));
        }
        let redirect = record
            .flow
            .redirect_url
            .as_deref()
            .and_then(|r| RedirectUrl::parse(r).ok());
        let fail = |e: ConnectError| {
            self.metrics
                .connects_failed
                .with_label_values(&[platform.as_str(), e.code])
                .inc();
            match &redirect {
                Some(r) => CallbackOutcome::Redirect(with_params(r, &e.params(platform))),
                None => CallbackOutcome::Page(ResultPage {
                    success: false,
                    platform: Some(platform),
                    title: "The connection did not go through".into(),
                    message: e.message.clone(),
                }),
            }
        };
        if let Some(error) = input.error.as_deref() {
            return fail(denial(
                error,
                input.error_description.as_deref(),
                input.error_reason.as_deref(),
            ));
        }
        let Some(code) = input.code.as_deref().filter(|c| !c.is_empty()) else {
            return fail(ConnectError::new(
                "invalid_callback",
                "callback",
                "The platform came back without an authorization code",
            ));
        };
        match self
            .finish_login(&owner, &record, code, !record.flow.headless)
            .await
        {
            Ok(Finished::Connected(account)) => match &redirect {
                Some(r) => {
                    CallbackOutcome::Redirect(with_params(r, &success_params(&account, "callback")))
                }
                None => CallbackOutcome::Page(connected_page(&account)),
            },
            Ok(Finished::ConnectedAll(accounts)) => {
                let Some(first) = accounts.first() else {
                    return fail(internal());
                };
                match &redirect {
                    Some(r) => {
                        let mut params = success_params(first, "callback");
                        params.push((
                            "accountIds",
                            accounts
                                .iter()
                                .map(|a| a.id.to_string())
                                .collect::<Vec<_>>()
                                .join(","),
                        ));
                        params.push(("count", accounts.len().to_string()));
                        CallbackOutcome::Redirect(with_params(r, &params))
                    }
                    None => CallbackOutcome::Page(connected_page(first)),
                }
            }
            Ok(Finished::Pending {
                token,
                record,
                nonce,
            }) => {
                if record.flow.headless {
                    match (
                        &redirect,
                        self.issue_connect_token(&owner, &record.flow).await,
                    ) {
                        (Some(r), Ok(ct)) => CallbackOutcome::Redirect(with_params(
                            r,
                            &handoff_params(&record, &token, &ct),
                        )),
                        (_, Err(e)) => {
                            tracing::error!(error = %e, "cannot issue a connect token");
                            fail(internal())
                        }
                        (None, Ok(_)) => fail(internal()),
                    }
                } else {
                    let ctx = match self.connect_context() {
                        Ok(c) => c,
                        Err(_) => return fail(internal()),
                    };
                    CallbackOutcome::Picker {
                        url: ctx.selection_page_url(platform, &token),
                        token,
                        nonce: nonce.unwrap_or_default(),
                    }
                }
            }
            Err(e) => fail(e),
        }
    }

    /// `POST /v1/connect/{platform}`: the integrator hands over the code and state its own
    /// page received.
    pub async fn complete_code(
        &self,
        caller: &Caller,
        platform: Platform,
        code: &str,
        state: &str,
        profile_id: &ProfileId,
    ) -> ServiceResult<CodeCompletion> {
        caller.require(ResourceGroup::Accounts, true)?;
        let (owner, record) = self
            .take_session(platform, Some(state))
            .await
            .map_err(|_| ServiceError::BadRequest {
                code: "invalid_state",
                message: "state is unknown, expired or already used; start the connect again"
                    .into(),
                param: Some("state"),
            })?;
        if owner != caller.owner || record.flow.profile_id != profile_id.as_str() {
            tracing::warn!(target: "security", platform = %platform, "code handed over for another owner's or profile's session");
            return Err(ServiceError::BadRequest {
                code: "invalid_state",
                message: "state does not belong to this profile".into(),
                param: Some("state"),
            });
        }
        match self.finish_login(&owner, &record, code, false).await {
            Ok(Finished::Connected(a)) => Ok(CodeCompletion::Connected(*a)),
            Ok(Finished::ConnectedAll(all)) => all
                .into_iter()
                .next()
                .map(CodeCompletion::Connected)
                .ok_or_else(|| ServiceError::Internal("a ticket login stored no account".into())),
            Ok(Finished::Pending { token, record, .. }) => {
                let connect_token = self.issue_connect_token(&owner, &record.flow).await?;
                Ok(CodeCompletion::SelectionRequired {
                    kind: record.kind,
                    token,
                    connect_token,
                    identity: record.identity.clone(),
                })
            }
            Err(e) => Err(connect_error_to_service(e)),
        }
    }

    /// Takes the session named by `state`, once. Any failure is the same generic page for
    /// the browser; the exact reason goes to the security log.
    async fn take_session(
        &self,
        platform: Platform,
        state: Option<&str>,
    ) -> Result<(OwnerId, SessionRecord), ResultPage> {
        let expired = || {
            ResultPage {
            success: false,
            platform: Some(platform),
            title: "This connection link has expired".into(),
            message: "The link was already used, is older than 15 minutes, or did not come from this server. Go back to the app and start connecting again.".into(),
        }
        };
        let Some(state) = state.and_then(StateToken::parse) else {
            tracing::info!(target: "security", platform = %platform, reason = "missing or malformed state", "callback refused");
            return Err(expired());
        };
        let taken = match self
            .store
            .consume_one_time(SESSION_KIND, &state.hash(), self.clock.now())
            .await
        {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "store failure taking a connect session");
                return Err(ResultPage {
                    success: false,
                    platform: Some(platform),
                    title: "Something went wrong".into(),
                    message: "The server could not finish the connection. Try again in a moment."
                        .into(),
                });
            }
        };
        let Some(taken) = taken else {
            tracing::info!(target: "security", platform = %platform, reason = "unknown, used or expired state", "callback refused");
            return Err(expired());
        };
        let record: Option<SessionRecord> = serde_json::from_value(taken.payload).ok();
        match (taken.owner_id, record) {
            (Some(owner), Some(record)) if record.flow.platform == platform => {
                Ok((owner, record.with_key(&state)))
            }
            _ => {
                tracing::warn!(target: "security", platform = %platform, reason = "state of another platform or unreadable", "callback refused");
                Err(expired())
            }
        }
    }

    /// Exchange, identity, checks; then the account or a pending selection.
    async fn finish_login(
        &self,
        owner: &OwnerId,
        record: &SessionRecord,
        code: &str,
        bind_browser: bool,
    ) -> Result<Finished, ConnectError> {
        let flow = &record.flow;
        let platform = flow.platform;
        let ctx = self.connect_context().map_err(|_| internal())?;
        let login = parse_login_method(&flow.login_method).unwrap_or_default();
        let connector = ctx
            .connector(platform, Flavor::from(login))
            .ok_or_else(|| {
                ConnectError::new(
                    "byok_config_error",
                    "callback",
                    format!("{platform} is no longer configured on this server"),
                )
            })?;
        let verifier = match &record.verifier {
            None => None,
            Some(sealed) => Some(self.open_verifier(record, sealed).map_err(|_| internal())?),
        };
        self.quota_gate(platform).await?;
        let callback = ctx.callback_url(platform);
        let exchange = self
            .metrics
            .token_exchange_duration
            .with_label_values(&[platform.as_str()])
            .start_timer();
        let tokens = connector
            .exchange_code(code, &callback, verifier.as_ref())
            .instrument(tracing::info_span!("connect.exchange", platform = %platform))
            .await
            .map_err(|e| upstream("token_exchange_failed", platform, &e));
        exchange.observe_duration();
        let tokens = tokens?;
        let identity = connector
            .identity(&tokens)
            .instrument(tracing::info_span!("connect.identity", platform = %platform))
            .await
            .map_err(|e| upstream("connection_failed", platform, &e))?;

        if let Some(ads) = &flow.ads {
            return self
                .finish_ads_login(owner, flow, ads, connector.as_ref(), tokens, identity)
                .await;
        }
        if flow.all_destinations
            && let Some(accounts) = self
                .connect_every_destination(owner, flow, connector.as_ref(), &tokens, &identity)
                .await?
        {
            return Ok(Finished::ConnectedAll(accounts));
        }
        if let Some(kind) = connector.selection() {
            let destinations = connector
                .destinations(&tokens, &identity)
                .await
                .map_err(|e| upstream(listing_error(kind), platform, &e))?;
            if destinations.is_empty() && kind != SelectionKind::LinkedinOrganization {
                return Err(nothing_to_pick(kind));
            }
            // A WABA with one number has nothing to choose: Zernio completes it in the
            // callback.
            if kind == SelectionKind::WhatsAppPhoneNumber && destinations.len() == 1 {
                let d = &destinations[0];
                let placed = super::select::place(kind, &identity, Some(d));
                if let Some(target) = self.reconnect_target(owner, flow).await?
                    && target.platform_user_id != placed.platform_user_id
                {
                    return Err(reconnect_mismatch(&identity));
                }
                let metadata = super::select::selection_metadata(kind, Some(d));
                let account = self
                    .store_account(
                        owner,
                        flow,
                        &identity,
                        Some(&placed),
                        AccountTokens {
                            tokens,
                            login: None,
                        },
                        metadata,
                    )
                    .await
                    .map_err(|e| {
                        tracing::error!(error = %e, "cannot store the account");
                        internal()
                    })?;
                return Ok(Finished::Connected(Box::new(account)));
            }
            return self
                .park(
                    owner,
                    flow,
                    kind,
                    tokens,
                    identity,
                    destinations,
                    bind_browser,
                )
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "cannot store a pending selection");
                    internal()
                });
        }

        check_expected(flow, &identity)?;
        let reconnect = self.reconnect_target(owner, flow).await?;
        if let Some(target) = &reconnect
            && target.platform_user_id != identity.platform_user_id
        {
            return Err(reconnect_mismatch(&identity));
        }
        let account = self
            .store_account(
                owner,
                flow,
                &identity,
                None,
                AccountTokens {
                    tokens,
                    login: None,
                },
                Default::default(),
            )
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "cannot store the account");
                internal()
            })?;
        Ok(Finished::Connected(Box::new(account)))
    }

    /// Stops a login before its code exchange when the platform is exhausted.
    pub(crate) async fn quota_gate(&self, platform: Platform) -> Result<(), ConnectError> {
        match self.quota_block(platform).await {
            Ok(None) => Ok(()),
            Ok(Some(block)) => Err(ConnectError::quota_exceeded(
                block.platform,
                Some(block.reset_at),
                block.message(),
            )),
            Err(e) => {
                tracing::error!(error = %e, "store failure reading the platform quota");
                Err(internal())
            }
        }
    }

    /// A ticket's grant: each Facebook Page, or each channel of a Google account with
    /// several, becomes its own account in this one pass. `None` when the platform (or a
    /// single-channel grant) takes the ordinary path.
    async fn connect_every_destination(
        &self,
        owner: &OwnerId,
        flow: &FlowRecord,
        connector: &dyn plugboard_platforms::Connector,
        tokens: &TokenSet,
        identity: &Identity,
    ) -> Result<Option<Vec<Account>>, ConnectError> {
        let platform = flow.platform;
        if !matches!(platform, Platform::Facebook | Platform::Youtube) {
            return Ok(None);
        }
        let kind = connector.selection();
        let listing = kind.map(listing_error).unwrap_or("connection_failed");
        let destinations = connector
            .destinations(tokens, identity)
            .await
            .map_err(|e| upstream(listing, platform, &e))?;
        let stored = |e: ServiceError| {
            tracing::error!(error = %e, "cannot store the account");
            internal()
        };
        let mut accounts = Vec::new();
        match kind {
            Some(kind @ SelectionKind::FacebookPage) => {
                if destinations.is_empty() {
                    return Err(nothing_to_pick(kind));
                }
                let mut destination_tokens = BTreeMap::new();
                for d in &destinations {
                    if let Some(t) = &d.access_token {
                        destination_tokens.insert(d.id.clone(), t.clone());
                    }
                }
                let secrets = PendingSecrets {
                    tokens: tokens.clone(),
                    destination_tokens,
                };
                for d in &destinations {
                    let placed = super::select::place(kind, identity, Some(d));
                    let account = self
                        .store_account(
                            owner,
                            flow,
                            identity,
                            Some(&placed),
                            super::select::account_tokens(kind, &secrets, Some(d)),
                            super::select::selection_metadata(kind, Some(d)),
                        )
                        .await
                        .map_err(stored)?;
                    accounts.push(account);
                }
            }
            None if destinations.len() > 1 => {
                for d in &destinations {
                    let channel = Identity {
                        platform_user_id: d.id.clone(),
                        username: d.username.clone(),
                        display_name: Some(d.name.clone()),
                        profile_picture: d.picture.clone(),
                        profile_url: d.url.clone(),
                        followers_count: d
                            .extra
                            .get("subscriberCount")
                            .and_then(serde_json::Value::as_i64),
                        metadata: Default::default(),
                    };
                    let account = self
                        .store_account(
                            owner,
                            flow,
                            &channel,
                            None,
                            AccountTokens {
                                tokens: tokens.clone(),
                                login: None,
                            },
                            Default::default(),
                        )
                        .await
                        .map_err(stored)?;
                    accounts.push(account);
                }
            }
            _ => return Ok(None),
        }
        tracing::info!(platform = %platform, accounts = accounts.len(), "ticket grant connected every destination");
        Ok(Some(accounts))
    }

    fn open_verifier(
        &self,
        record: &SessionRecord,
        sealed: &str,
    ) -> Result<PkceVerifier, ServiceError> {
        let key = record.key.as_deref().unwrap_or_default();
        let bytes = self
            .keyring
            .open(
                &verifier_context(key),
                &Sealed::from_stored(sealed.to_owned()),
            )
            .map_err(|e| ServiceError::Internal(format!("opening the PKCE verifier: {e}")))?;
        let text = String::from_utf8(bytes.expose().clone())
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        PkceVerifier::parse(text).map_err(|e| ServiceError::Internal(e.to_string()))
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "one call site; a struct would only rename these"
    )]
    async fn park(
        &self,
        owner: &OwnerId,
        flow: &FlowRecord,
        kind: SelectionKind,
        tokens: TokenSet,
        identity: Identity,
        destinations: Vec<Destination>,
        bind_browser: bool,
    ) -> ServiceResult<Finished> {
        let token = PendingToken::generate();
        let key = token.hash();
        let mut destination_tokens = BTreeMap::new();
        let destinations: Vec<Destination> = destinations
            .into_iter()
            .map(|mut d| {
                if let Some(t) = d.access_token.take() {
                    destination_tokens.insert(d.id.clone(), t);
                }
                d
            })
            .collect();
        let secrets = PendingSecrets {
            tokens,
            destination_tokens,
        };
        let sealed = self.keyring.seal_json(&pending_context(&key), &secrets);
        let nonce = bind_browser.then(|| PendingToken::generate().as_str().to_owned());
        let record = PendingRecord {
            flow: flow.clone(),
            kind,
            identity,
            destinations,
            sealed: sealed.as_stored().to_owned(),
            browser: nonce.as_deref().map(nonce_hash),
        };
        let now = self.clock.now();
        self.store
            .put_one_time(&OneTimeRecord {
                kind: PENDING_KIND.into(),
                key,
                owner_id: Some(owner.clone()),
                payload: serde_json::to_value(&record)
                    .map_err(|e| ServiceError::Internal(e.to_string()))?,
                expires_at: now + chrono::Duration::minutes(PENDING_MINUTES),
                created_at: now,
            })
            .await?;
        Ok(Finished::Pending {
            token,
            record: Box::new(record),
            nonce,
        })
    }

    pub(crate) async fn issue_connect_token(
        &self,
        owner: &OwnerId,
        flow: &FlowRecord,
    ) -> ServiceResult<ConnectToken> {
        let token = ConnectToken::generate();
        let now = self.clock.now();
        let payload = ConnectTokenRecord {
            key_id: flow.key_id.clone(),
            profile_id: flow.profile_id.clone(),
        };
        self.store
            .put_one_time(&OneTimeRecord {
                kind: CONNECT_TOKEN_KIND.into(),
                key: token.hash(),
                owner_id: Some(owner.clone()),
                payload: serde_json::to_value(&payload)
                    .map_err(|e| ServiceError::Internal(e.to_string()))?,
                expires_at: now + chrono::Duration::minutes(CONNECT_TOKEN_MINUTES),
                created_at: now,
            })
            .await?;
        Ok(token)
    }

    /// The account a reconnect names, if the flow is one.
    pub(crate) async fn reconnect_target(
        &self,
        owner: &OwnerId,
        flow: &FlowRecord,
    ) -> Result<Option<Account>, ConnectError> {
        let Some(raw) = &flow.reconnect_account_id else {
            return Ok(None);
        };
        let id = AccountId::parse(raw).map_err(|_| internal())?;
        match self.store.get_account(owner, &id).await {
            Ok(Some(a)) => Ok(Some(a)),
            Ok(None) => Err(ConnectError::new(
                "reconnect_account_mismatch",
                "callback",
                "The account to reconnect no longer exists",
            )),
            Err(e) => {
                tracing::error!(error = %e, "store failure reading the account to reconnect");
                Err(internal())
            }
        }
    }

    /// Upserts the account of a finished login. `destination` is the picked Page,
    /// organization, location… (None for platforms whose login is the account).
    pub(crate) async fn store_account(
        &self,
        owner: &OwnerId,
        flow: &FlowRecord,
        identity: &Identity,
        destination: Option<&super::select::Placed>,
        tokens: AccountTokens,
        extra_metadata: serde_json::Map<String, serde_json::Value>,
    ) -> ServiceResult<Account> {
        self.upsert_connected(
            owner,
            flow,
            identity,
            destination,
            Some(tokens),
            extra_metadata,
        )
        .await
    }

    /// An account whose platform access is the installation's own (a Telegram chat the
    /// bot administers): nothing per account to seal.
    pub(crate) async fn store_account_without_tokens(
        &self,
        owner: &OwnerId,
        flow: &FlowRecord,
        identity: &Identity,
    ) -> ServiceResult<Account> {
        self.upsert_connected(owner, flow, identity, None, None, Default::default())
            .await
    }

    async fn upsert_connected(
        &self,
        owner: &OwnerId,
        flow: &FlowRecord,
        identity: &Identity,
        destination: Option<&super::select::Placed>,
        tokens: Option<AccountTokens>,
        extra_metadata: serde_json::Map<String, serde_json::Value>,
    ) -> ServiceResult<Account> {
        let platform = flow.platform;
        let profile_id = ProfileId::parse(&flow.profile_id)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let (platform_user_id, destination_id, username, display_name, picture, url) =
            match destination {
                Some(p) => (
                    p.platform_user_id.clone(),
                    p.destination_id.clone(),
                    p.username.clone(),
                    p.display_name.clone(),
                    p.picture.clone(),
                    p.url.clone(),
                ),
                None => (
                    identity.platform_user_id.clone(),
                    String::new(),
                    identity.username.clone(),
                    identity.display_name.clone(),
                    identity.profile_picture.clone(),
                    identity.profile_url.clone(),
                ),
            };
        let mut metadata = identity.metadata.clone();
        if platform == Platform::Instagram {
            metadata.insert("loginMethod".into(), flow.login_method.clone().into());
        }
        metadata.extend(extra_metadata);
        let expires_at = tokens.as_ref().and_then(|t| t.tokens.expires_at);
        let scopes = tokens
            .as_ref()
            .map(|t| t.tokens.scopes.clone())
            .unwrap_or_default();
        let context = Account::tokens_context(owner, platform, &platform_user_id, &destination_id);
        let sealed = tokens.as_ref().map(|t| self.keyring.seal_json(&context, t));
        let upsert = AccountUpsert {
            owner_id: owner.clone(),
            profile_id,
            platform,
            platform_user_id,
            destination_id,
            username,
            display_name,
            profile_picture: picture,
            profile_url: url,
            followers_count: identity.followers_count,
            parent_account_id: None,
            enabled: true,
            metadata,
            tokens: sealed,
            token_expires_at: expires_at,
            scopes,
        };
        let now = self.clock.now();
        let connected = AccountEvent::connected(now);
        let account = match self
            .store
            .upsert_account(&upsert, Some(&connected), now)
            .await
        {
            Ok(a) => a,
            Err(StoreError::Conflict { field, .. }) => {
                return Err(ServiceError::Internal(format!(
                    "account upsert conflict on {field}"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        self.metrics
            .connects_completed
            .with_label_values(&[platform.as_str()])
            .inc();
        tracing::info!(platform = %platform, account = %account.id, profile = %account.profile_id, "account connected");
        Ok(account)
    }
}

pub(crate) fn pending_context(key: &str) -> String {
    format!("pending_selection:{key}:secrets")
}

impl SessionRecord {
    fn with_key(mut self, state: &StateToken) -> Self {
        self.key = Some(state.hash());
        self
    }
}

/// The Zernio success parameters (shared/api-scope.md §3.2).
pub(crate) fn success_params(
    account: &Account,
    stage: &'static str,
) -> Vec<(&'static str, String)> {
    vec![
        ("connected", account.platform.to_string()),
        ("profileId", account.profile_id.to_string()),
        ("accountId", account.id.to_string()),
        ("username", account.username.clone().unwrap_or_default()),
        ("stage", stage.to_owned()),
    ]
}

/// The headless hand-over of a pending selection, per platform as Zernio documents it.
fn handoff_params(
    record: &PendingRecord,
    token: &PendingToken,
    ct: &ConnectToken,
) -> Vec<(&'static str, String)> {
    let profile = record.flow.profile_id.clone();
    let user_profile = || {
        // Zernio percent-encodes the JSON once before setting it as a parameter, so it is
        // double-encoded on the wire; clients decode twice (shared/api-scope.md §3.2).
        let json = serde_json::json!({
            "id": record.identity.platform_user_id,
            "name": record.identity.display_name,
            "username": record.identity.username,
            "profilePicture": record.identity.profile_picture,
        })
        .to_string();
        url::form_urlencoded::byte_serialize(json.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    let mut p: Vec<(&'static str, String)> = match record.kind {
        SelectionKind::FacebookPage => vec![
            ("step", "select_page".into()),
            ("profileId", profile),
            ("tempToken", token.as_str().to_owned()),
            ("userProfile", user_profile()),
        ],
        SelectionKind::InstagramAccount => vec![
            ("step", "select_account".into()),
            ("platform", "instagram".into()),
            ("profileId", profile),
            ("tempToken", token.as_str().to_owned()),
            ("userProfile", user_profile()),
        ],
        SelectionKind::GoogleBusinessLocation => vec![
            ("step", "select_location".into()),
            ("profileId", profile),
            ("pendingDataToken", token.as_str().to_owned()),
        ],
        SelectionKind::WhatsAppPhoneNumber => vec![
            ("step", "select_phone_number".into()),
            ("profileId", profile),
            ("tempToken", token.as_str().to_owned()),
        ],
        SelectionKind::LinkedinOrganization
        | SelectionKind::PinterestBoard
        | SelectionKind::SnapchatPublicProfile => vec![
            ("step", step_name(record.kind).into()),
            ("profileId", profile),
            ("pendingDataToken", token.as_str().to_owned()),
        ],
    };
    p.push(("connect_token", ct.as_str().to_owned()));
    p.push(("stage", "callback".into()));
    p
}

pub fn step_name(kind: SelectionKind) -> &'static str {
    match kind {
        SelectionKind::FacebookPage => "select_page",
        SelectionKind::InstagramAccount => "select_account",
        SelectionKind::LinkedinOrganization => "select_organization",
        SelectionKind::PinterestBoard => "select_board",
        SelectionKind::GoogleBusinessLocation => "select_location",
        SelectionKind::SnapchatPublicProfile => "select_profile",
        SelectionKind::WhatsAppPhoneNumber => "select_phone_number",
    }
}

fn connected_page(account: &Account) -> ResultPage {
    let who = account
        .username
        .clone()
        .or_else(|| account.display_name.clone())
        .unwrap_or_else(|| account.platform_user_id.clone());
    ResultPage {
        success: true,
        platform: Some(account.platform),
        title: "Connected".into(),
        message: format!(
            "{who} on {} is connected. You can close this window.",
            account.platform
        ),
    }
}

/// The consent dialog came back with an error: all upstream values collapse into
/// `oauth_denied`, with the provider's own in `platform_error*` (shared/api-scope.md §3.2).
fn denial(error: &str, description: Option<&str>, reason: Option<&str>) -> ConnectError {
    let cancelled = matches!(
        error,
        "access_denied" | "user_cancelled_authorize" | "user_cancelled_login"
    ) || reason == Some("user_denied");
    let message = if cancelled {
        "The authorization was cancelled on the platform's consent screen".to_owned()
    } else {
        "The platform refused the authorization request".to_owned()
    };
    let mut e = ConnectError::new("oauth_denied", "authorize", message);
    e.user_fixable = cancelled;
    e.platform_error = Some(error.chars().take(100).collect());
    e.platform_error_description = description.map(str::to_owned);
    e.error_reason = reason.map(|r| r.chars().take(100).collect());
    e
}

/// A failed platform call during the callback. The connector's message is ours and holds
/// no secret; it goes to the log and, shortened, to `platform_error_description`.
pub(crate) fn upstream(code: &'static str, platform: Platform, e: &ConnectorError) -> ConnectError {
    tracing::warn!(platform = %platform, error = %e, code, "platform call failed during connect");
    match e {
        ConnectorError::NotEligible { code, message } => {
            ConnectError::new(code, "callback", message.clone()).user_fixable()
        }
        ConnectorError::QuotaExceeded { reset_at, .. } => {
            let message = match reset_at {
                Some(at) => crate::quota::QuotaBlock {
                    platform,
                    reason: crate::quota::Exhaustion::PlatformRefused,
                    reset_at: *at,
                }
                .message(),
                None => format!(
                    "{platform} is refusing this server's API calls for quota; try again once its quota resets"
                ),
            };
            let mut err = ConnectError::quota_exceeded(platform, *reset_at, message);
            err.platform_error_description = Some(e.to_string());
            err
        }
        ConnectorError::PermissionDenied { description } => {
            let mut err = ConnectError::new(
                if platform == Platform::Googlebusiness || platform == Platform::Youtube { "missing_google_permissions" } else { code },
                "callback",
                "A permission the connection needs was not granted; connect again and allow every permission",
            )
            .user_fixable();
            err.platform_error_description = Some(description.clone());
            err
        }
        other => {
            let mut err = ConnectError::new(
                code,
                "callback",
                format!("Connecting {platform} failed; try again"),
            );
            err.platform_error_description = Some(other.to_string());
            err
        }
    }
}

fn listing_error(kind: SelectionKind) -> &'static str {
    match kind {
        SelectionKind::FacebookPage | SelectionKind::InstagramAccount => "facebook_pages_error",
        SelectionKind::GoogleBusinessLocation => "google_locations_error",
        SelectionKind::SnapchatPublicProfile => "snapchat_profiles_error",
        SelectionKind::WhatsAppPhoneNumber => "whatsapp_error",
        SelectionKind::LinkedinOrganization | SelectionKind::PinterestBoard => "connection_failed",
    }
}

pub(crate) fn nothing_to_pick(kind: SelectionKind) -> ConnectError {
    let (code, message, reason) = match kind {
        SelectionKind::FacebookPage => (
            "no_facebook_pages",
            "No Facebook Pages were granted. Connect again and tick at least one Page you manage in Facebook's dialog.",
            Some("no_pages_granted"),
        ),
        SelectionKind::InstagramAccount => (
            "no_facebook_pages",
            "None of the granted Facebook Pages has a linked Instagram professional account. Link one in the Page's settings, or connect with Instagram Login.",
            Some("granted_pages_not_listed"),
        ),
        SelectionKind::GoogleBusinessLocation => (
            "no_google_locations",
            "This Google account manages no Business Profile locations.",
            None,
        ),
        SelectionKind::SnapchatPublicProfile => (
            "no_snapchat_public_profiles",
            "This Snapchat account has no Public Profile. Create one in the Snapchat app first.",
            None,
        ),
        SelectionKind::PinterestBoard => (
            "no_pinterest_boards",
            "This Pinterest account has no boards. Create a board on Pinterest first.",
            None,
        ),
        SelectionKind::WhatsAppPhoneNumber => (
            "whatsapp_error",
            "The Meta login granted no WhatsApp Business Account with a phone number. Add a number in WhatsApp Manager, then connect again.",
            None,
        ),
        SelectionKind::LinkedinOrganization => ("connection_failed", "Nothing to connect", None),
    };
    let mut e = ConnectError::new(code, "callback", message).user_fixable();
    e.error_reason = reason.map(str::to_owned);
    e
}

/// `expectedPlatformUserId` / `expectedUsername` (shared/api-scope.md §3.1): both must
/// match when both are given.
pub(crate) fn check_expected(flow: &FlowRecord, identity: &Identity) -> Result<(), ConnectError> {
    let authorized = identity
        .username
        .clone()
        .unwrap_or_else(|| identity.platform_user_id.clone());
    if let Some(expected) = &flow.expected_platform_user_id {
        let scoped = identity
            .metadata
            .get("instagramScopedId")
            .and_then(|v| v.as_str());
        if expected != &identity.platform_user_id && Some(expected.as_str()) != scoped {
            return Err(mismatch(&authorized));
        }
    }
    if let Some(expected) = &flow.expected_username {
        let norm = |s: &str| s.trim().trim_start_matches('@').to_lowercase();
        if identity.username.as_deref().map(norm) != Some(norm(expected)) {
            return Err(mismatch(&authorized));
        }
    }
    Ok(())
}

fn mismatch(authorized: &str) -> ConnectError {
    ConnectError::new(
        "account_mismatch",
        "callback",
        format!("The authorized account is @{authorized}, not the one this link was made for; nothing was changed"),
    )
    .user_fixable()
}

pub(crate) fn reconnect_mismatch(identity: &Identity) -> ConnectError {
    let who = identity
        .username
        .clone()
        .unwrap_or_else(|| identity.platform_user_id.clone());
    ConnectError::new(
        "reconnect_account_mismatch",
        "callback",
        format!(
            "The login is {who}, not the account being reconnected; that account was left untouched"
        ),
    )
    .user_fixable()
}

pub(crate) fn internal() -> ConnectError {
    ConnectError::new(
        "internal_error",
        "callback",
        "The server could not finish the connection; try again",
    )
}

/// For JSON routes that finish a login: the redirect error becomes an API error.
pub(crate) fn connect_error_to_service(e: ConnectError) -> ServiceError {
    if let Some((platform, reset_at)) = e.quota {
        return ServiceError::QuotaExceeded {
            platform,
            reset_at,
            message: e.message,
        };
    }
    match e.code {
        "internal_error" => ServiceError::Internal(e.message),
        "account_mismatch" | "reconnect_account_mismatch" => ServiceError::Conflict {
            code: e.code,
            message: e.message,
            details: None,
        },
        "token_exchange_failed"
        | "connection_failed"
        | "facebook_pages_error"
        | "google_locations_error"
        | "snapchat_profiles_error" => ServiceError::Upstream {
            code: e.code,
            message: e.message,
            details: e.platform_error_description,
        },
        code => ServiceError::BadRequest {
            code,
            message: e.message,
            param: None,
        },
    }
}

//! The production backend: MongoDB through the official driver, shared by any number of
//! replicas. Uniqueness is a unique index; single-use consumption, job claiming and leases
//! are one conditional `findOneAndUpdate` (or an insert that a unique index decides).
//! Nothing relies on multi-document transactions: what SQLite does in one transaction is
//! done here as a sequence of steps that are each atomic and safe to interleave.
//!
//! Document conventions, chosen so that every filter is a plain comparison that behaves the
//! same on every server speaking the wire protocol (including the SQLite-backed nx-27017
//! the tests use):
//! - `_id` is our own 24-hex id, stored as a string;
//! - every timestamp is an `i64` of milliseconds since the epoch;
//! - absent optional fields are omitted, never stored as null, and filters that need
//!   "absent" use a sentinel instead: `removed_at: 0` for a live account, `consumed_at: 0`
//!   for an unused one-time record, `lease_until: 0` for a free job;
//! - free-form JSON (account metadata, one-time and job payloads) is stored as JSON text,
//!   so it round-trips exactly whatever its keys (`$`-prefixed or dotted keys included).

use crate::*;
use mongodb::bson::{Bson, Document, doc};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{IndexOptions, ReturnDocument};
use mongodb::{Collection, Cursor, Database, IndexModel};
use std::collections::HashSet;

mod quota;

const OWNERS: &str = "owners";
const API_KEYS: &str = "api_keys";
const PROFILES: &str = "profiles";
const ACCOUNTS: &str = "accounts";
const ONE_TIME: &str = "one_time";
const JOBS: &str = "jobs";
const LEASES: &str = "leases";
const META: &str = "meta";
const IDEMPOTENCY: &str = "idempotency";
const WEBHOOKS: &str = "webhooks";
const WEBHOOK_LOGS: &str = "webhook_logs";
const MCP_CLIENTS: &str = "mcp_clients";
const MCP_GRANTS: &str = "mcp_grants";
const MCP_TOKENS: &str = "mcp_tokens";

/// The account field holding an event queued with the account's last change (JSON of an
/// [`AccountEvent`]) until it is moved into a job; `""` when empty. See [`crate::outbox`].
const OUTBOX: &str = "outbox";
/// How many full outbox slots one relay pass moves.
const RELAY_BATCH: i64 = 100;

/// How many dead MCP grants one purge round removes (with their tokens).
const MCP_PURGE_BATCH: i64 = 500;

/// The server's code for a unique-index violation.
const DUPLICATE_KEY: i32 = 11000;

/// `_id` of the lock document that serializes first-key bootstraps.
const BOOTSTRAP_LOCK: &str = "api_key_bootstrap";
/// How long a bootstrap lock holds if its holder dies before releasing it.
const BOOTSTRAP_LOCK_MS: i64 = 60_000;

/// How many insert-or-update rounds an account upsert tries before giving up. A round only
/// fails when the account changes state (removed, revived, deleted) between its steps.
const UPSERT_ROUNDS: usize = 8;

pub struct MongoStore {
    db: Database,
    observer: std::sync::Arc<dyn crate::StoreObserver>,
}

impl MongoStore {
    /// Connects, checks the server answers, and creates the indexes (idempotently).
    pub async fn connect(uri: &str, database: &str) -> StoreResult<Self> {
        Self::connect_observed(uri, database, std::sync::Arc::new(crate::NoObserver)).await
    }

    /// [`MongoStore::connect`], reporting every command's time (by the driver's command
    /// monitoring) and take-overs to `observer`.
    pub async fn connect_observed(
        uri: &str,
        database: &str,
        observer: std::sync::Arc<dyn crate::StoreObserver>,
    ) -> StoreResult<Self> {
        let mut options = mongodb::options::ClientOptions::parse(uri).await?;
        let watch = observer.clone();
        options.command_event_handler = Some(mongodb::event::EventHandler::callback(
            move |event: mongodb::event::command::CommandEvent| {
                use mongodb::event::command::CommandEvent;
                match event {
                    CommandEvent::Succeeded(e) => watch.operation(&e.command_name, e.duration),
                    CommandEvent::Failed(e) => watch.operation(&e.command_name, e.duration),
                    _ => {}
                }
            },
        ));
        let client = mongodb::Client::with_options(options)?;
        let db = client.database(database);
        db.run_command(doc! { "ping": 1 }).await?;
        let store = Self { db, observer };
        store.create_indexes().await?;
        // Accounts written before the outbox existed get an empty slot, so filters on an
        // empty slot match them.
        store
            .coll(ACCOUNTS)
            .update_many(
                doc! { OUTBOX: { "$exists": false } },
                doc! { "$set": { OUTBOX: "" } },
            )
            .await?;
        Ok(store)
    }

    /// The underlying database (tests read raw documents through it).
    pub fn database(&self) -> &Database {
        &self.db
    }

    fn coll(&self, name: &str) -> Collection<Document> {
        self.db.collection(name)
    }

    async fn create_indexes(&self) -> StoreResult<()> {
        let unique = |name: &str| {
            IndexOptions::builder()
                .name(name.to_owned())
                .unique(true)
                .build()
        };
        let plain = |name: &str| IndexOptions::builder().name(name.to_owned()).build();
        // No compound key includes `_id`, though it would let the `_id` tie-breaks of our
        // sorts come from the index: nx-27017 accepts such an index and then fails every
        // insert into the collection ("JSON path error near '_id'").
        let indexes = [
            (OWNERS, doc! { "created_at": 1 }, plain("owners_created")),
            (
                API_KEYS,
                doc! { "key_hash": 1 },
                unique("api_keys_key_hash"),
            ),
            (
                API_KEYS,
                doc! { "owner_id": 1, "created_at": 1 },
                plain("api_keys_owner"),
            ),
            (
                PROFILES,
                doc! { "owner_id": 1, "name": 1 },
                unique("profiles_owner_name"),
            ),
            (
                PROFILES,
                doc! { "owner_id": 1, "external_id": 1 },
                // Only profiles that have an external id take part.
                IndexOptions::builder()
                    .name("profiles_owner_external_id".to_owned())
                    .unique(true)
                    .partial_filter_expression(doc! { "external_id": { "$exists": true } })
                    .build(),
            ),
            (
                PROFILES,
                doc! { "owner_id": 1, "is_default": -1, "created_at": 1 },
                plain("profiles_owner_listing"),
            ),
            (
                ACCOUNTS,
                doc! { "profile_id": 1, "platform": 1, "platform_user_id": 1, "destination_id": 1 },
                unique("accounts_identity"),
            ),
            (
                ACCOUNTS,
                doc! { "owner_id": 1, "removed_at": 1 },
                plain("accounts_owner"),
            ),
            // The refresh worker's scan: live accounts by token expiry.
            (
                ACCOUNTS,
                doc! { "removed_at": 1, "token_expires_at": 1 },
                plain("accounts_due"),
            ),
            (
                ONE_TIME,
                doc! { "kind": 1, "key": 1 },
                unique("one_time_key"),
            ),
            (JOBS, doc! { "kind": 1, "run_at": 1 }, plain("jobs_due")),
            (ACCOUNTS, doc! { OUTBOX: 1 }, plain("accounts_outbox")),
            (
                WEBHOOKS,
                doc! { "owner_id": 1, "created_at": 1 },
                plain("webhooks_owner"),
            ),
            (
                WEBHOOK_LOGS,
                doc! { "owner_id": 1, "created_at": -1 },
                plain("webhook_logs_owner"),
            ),
            (
                WEBHOOK_LOGS,
                doc! { "created_at": 1 },
                plain("webhook_logs_created"),
            ),
            (
                MCP_GRANTS,
                doc! { "owner_id": 1, "api_key_id": 1 },
                plain("mcp_grants_key"),
            ),
            (
                MCP_GRANTS,
                doc! { "expires_at": 1 },
                plain("mcp_grants_expiry"),
            ),
            (
                MCP_TOKENS,
                doc! { "grant_id": 1 },
                plain("mcp_tokens_grant"),
            ),
            (
                MCP_TOKENS,
                doc! { "expires_at": 1 },
                plain("mcp_tokens_expiry"),
            ),
            (
                quota::PLATFORM_USAGE,
                doc! { "day": 1 },
                plain("platform_usage_day"),
            ),
        ];
        for (coll, keys, options) in indexes {
            self.coll(coll)
                .create_index(IndexModel::builder().keys(keys).options(options).build())
                .await?;
        }
        Ok(())
    }

    /// Applies `update` to the account matching `filter` and, with an event, fills the
    /// account's outbox slot in the same update. A slot still holding an earlier event is
    /// relayed first. `None` when no account matches `filter`.
    async fn update_account_with_event(
        &self,
        filter: Document,
        update: Document,
        event: Option<&AccountEvent>,
    ) -> StoreResult<Option<Document>> {
        let accounts = self.coll(ACCOUNTS);
        let Some(event) = event else {
            return Ok(accounts
                .find_one_and_update(filter, update)
                .return_document(ReturnDocument::After)
                .await?);
        };
        let slot = to_json(event);
        for _ in 0..UPSERT_ROUNDS {
            let mut guarded = filter.clone();
            guarded.insert(OUTBOX, "");
            let mut filling = update.clone();
            match filling.get_document_mut("$set") {
                Ok(set) => {
                    set.insert(OUTBOX, slot.as_str());
                }
                Err(_) => {
                    filling.insert("$set", doc! { OUTBOX: slot.as_str() });
                }
            }
            if let Some(d) = accounts
                .find_one_and_update(guarded, filling)
                .return_document(ReturnDocument::After)
                .await?
            {
                self.relay_after_change(&d).await;
                return Ok(Some(d));
            }
            // Either nothing matches, or the slot is taken by an event not moved yet.
            match accounts.find_one(filter.clone()).await? {
                None => return Ok(None),
                Some(d) => self.relay_slot(&d).await?,
            }
        }
        Err(StoreError::Backend(
            "account update kept racing with concurrent events".into(),
        ))
    }

    /// Moves the event a change just queued into its job. The change is already durable,
    /// so a failure here is not the caller's: the slot stays full for the relay pass.
    async fn relay_after_change(&self, account: &Document) {
        if let Err(e) = self.relay_slot(account).await {
            tracing::warn!(error = %e, "queued event left in the account outbox for the relay");
        }
    }

    /// Moves the event in an account's outbox slot (if any) into a dispatch job, then
    /// empties the slot unless another event has replaced it meanwhile.
    async fn relay_slot(&self, account: &Document) -> StoreResult<()> {
        let slot = opt_str(account, OUTBOX)?.unwrap_or_default();
        if slot.is_empty() {
            return Ok(());
        }
        let event: AccountEvent = serde_json::from_str(&slot)
            .map_err(|e| StoreError::Corrupt(format!("field {OUTBOX}: {e}")))?;
        let a = account_from(account)?;
        let external_id = self
            .coll(PROFILES)
            .find_one(doc! { "_id": a.profile_id.as_str() })
            .await?
            .map(|p| opt_str(&p, "external_id"))
            .transpose()?
            .flatten();
        let queued = event.queued(&a, external_id.as_deref());
        self.insert_job_once(
            &outbox::dispatch_job_id(&queued.event_id),
            outbox::DISPATCH_JOB,
            &queued.job_payload(),
            event.at,
        )
        .await?;
        self.coll(ACCOUNTS)
            .update_one(
                doc! { "_id": a.id.as_str(), OUTBOX: slot.as_str() },
                doc! { "$set": { OUTBOX: "" } },
            )
            .await?;
        Ok(())
    }

    async fn insert_job_once(
        &self,
        id: &str,
        kind: &str,
        payload: &serde_json::Value,
        run_at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let job = doc! {
            "_id": id,
            "kind": kind,
            "payload": to_json(payload),
            "run_at": ms(run_at),
            "attempts": 0_i64,
            "lease_until": 0_i64,
        };
        match self.coll(JOBS).insert_one(job).await {
            Ok(_) => Ok(true),
            Err(e) if duplicate_key(&e).is_some() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether `owner` owns the profile `id`.
    async fn owns_profile(&self, owner: &OwnerId, id: &ProfileId) -> StoreResult<bool> {
        let n = self
            .coll(PROFILES)
            .count_documents(doc! { "_id": id.as_str(), "owner_id": owner.as_str() })
            .limit(1)
            .await?;
        Ok(n > 0)
    }

    /// Clears the default flag on the owner's profiles other than `keep`.
    async fn clear_other_defaults(&self, owner: &OwnerId, keep: &ProfileId) -> StoreResult<()> {
        self.coll(PROFILES)
            .update_many(
                doc! {
                    "owner_id": owner.as_str(),
                    "is_default": true,
                    "_id": { "$ne": keep.as_str() },
                },
                doc! { "$set": { "is_default": false } },
            )
            .await?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Reading and writing fields.

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// A "happened at" marker that can never be mistaken for the `0` sentinel.
fn marker(t: DateTime<Utc>) -> i64 {
    ms(t).max(1)
}

fn corrupt(key: &str, found: Option<&Bson>) -> StoreError {
    StoreError::Corrupt(format!("field {key}: unexpected {found:?}"))
}

fn get_str<'a>(d: &'a Document, key: &str) -> StoreResult<&'a str> {
    match d.get(key) {
        Some(Bson::String(s)) => Ok(s),
        other => Err(corrupt(key, other)),
    }
}

fn opt_str(d: &Document, key: &str) -> StoreResult<Option<String>> {
    match d.get(key) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::String(s)) => Ok(Some(s.clone())),
        other => Err(corrupt(key, other)),
    }
}

fn parse_str<T: std::str::FromStr>(d: &Document, key: &str) -> StoreResult<T> {
    let s = get_str(d, key)?;
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("field {key}: cannot parse {s:?}")))
}

fn opt_parse<T: std::str::FromStr>(d: &Document, key: &str) -> StoreResult<Option<T>> {
    match opt_str(d, key)? {
        None => Ok(None),
        Some(_) => parse_str(d, key).map(Some),
    }
}

/// An integer, whichever BSON width the server hands back.
fn as_int(v: &Bson) -> Option<i64> {
    match v {
        Bson::Int64(n) => Some(*n),
        Bson::Int32(n) => Some(i64::from(*n)),
        Bson::Double(f) if f.is_finite() && f.fract() == 0.0 => Some(*f as i64),
        _ => None,
    }
}

fn get_int(d: &Document, key: &str) -> StoreResult<i64> {
    d.get(key)
        .and_then(as_int)
        .ok_or_else(|| corrupt(key, d.get(key)))
}

fn opt_int(d: &Document, key: &str) -> StoreResult<Option<i64>> {
    match d.get(key) {
        None | Some(Bson::Null) => Ok(None),
        Some(_) => get_int(d, key).map(Some),
    }
}

fn get_bool(d: &Document, key: &str) -> StoreResult<bool> {
    match d.get(key) {
        Some(Bson::Boolean(b)) => Ok(*b),
        Some(v) if as_int(v).is_some() => Ok(as_int(v) != Some(0)),
        other => Err(corrupt(key, other)),
    }
}

fn to_time(key: &str, v: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(v)
        .ok_or_else(|| StoreError::Corrupt(format!("field {key}: timestamp {v}")))
}

fn get_time(d: &Document, key: &str) -> StoreResult<DateTime<Utc>> {
    to_time(key, get_int(d, key)?)
}

fn opt_time(d: &Document, key: &str) -> StoreResult<Option<DateTime<Utc>>> {
    opt_int(d, key)?.map(|v| to_time(key, v)).transpose()
}

/// A time stored as a [`marker`], `0` (or absent) meaning "not yet".
fn marker_time(d: &Document, key: &str) -> StoreResult<Option<DateTime<Utc>>> {
    match opt_int(d, key)?.unwrap_or(0) {
        0 => Ok(None),
        v => to_time(key, v).map(Some),
    }
}

fn get_strings(d: &Document, key: &str) -> StoreResult<Vec<String>> {
    match d.get(key) {
        Some(Bson::Array(items)) => items
            .iter()
            .map(|item| match item {
                Bson::String(s) => Ok(s.clone()),
                other => Err(corrupt(key, Some(other))),
            })
            .collect(),
        other => Err(corrupt(key, other)),
    }
}

fn get_json<T: serde::de::DeserializeOwned>(d: &Document, key: &str) -> StoreResult<T> {
    serde_json::from_str(get_str(d, key)?)
        .map_err(|e| StoreError::Corrupt(format!("field {key}: {e}")))
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// Sets `key` when there is a value; leaves it out otherwise (we never store nulls).
fn put_opt(d: &mut Document, key: &str, v: Option<impl Into<Bson>>) {
    if let Some(v) = v {
        d.insert(key, v.into());
    }
}

/// Routes a patched nullable field to `$set` or, when cleared, to `$unset`.
fn set_or_unset(set: &mut Document, unset: &mut Document, key: &str, v: Option<impl Into<Bson>>) {
    match v {
        Some(v) => {
            set.insert(key, v.into());
        }
        None => {
            unset.insert(key, "");
        }
    }
}

fn update_doc(set: Document, unset: Document) -> Document {
    let mut update = doc! { "$set": set };
    if !unset.is_empty() {
        update.insert("$unset", unset);
    }
    update
}

/// All of the conditions. An `$or` is always nested in an `$and` rather than placed beside
/// other top-level fields: both mean the same to MongoDB, but nx-27017 translates the
/// sibling form to SQL without parentheses (`a AND b OR c`) in findAndModify.
fn all_of(mut conditions: Vec<Document>) -> Document {
    if conditions.len() == 1 {
        conditions.pop().unwrap_or_default()
    } else {
        doc! { "$and": conditions }
    }
}

/// A regular expression matching `text` literally.
fn regex_literal(text: &str) -> String {
    /// Characters with a meaning in a PCRE (MongoDB) or Python `re` (nx-27017) pattern.
    /// Escaping punctuation is always allowed in both; letters and digits are never escaped.
    const SPECIAL: &str = r"\.^$|?*+()[]{}-#/";
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if SPECIAL.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

async fn collect<T>(
    mut cursor: Cursor<Document>,
    read: impl Fn(&Document) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut out = Vec::new();
    while cursor.advance().await? {
        let d: Document = cursor.deserialize_current()?;
        out.push(read(&d)?);
    }
    Ok(out)
}

/// The server's message when `e` is a unique-index violation.
fn duplicate_key(e: &mongodb::error::Error) -> Option<&str> {
    match e.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(w)) if w.code == DUPLICATE_KEY => {
            Some(&w.message)
        }
        ErrorKind::Command(c) if c.code == DUPLICATE_KEY => Some(&c.message),
        _ => None,
    }
}

/// Maps a unique-index violation to a conflict naming the field.
fn unique_violation(
    e: mongodb::error::Error,
    field_of: impl Fn(&str) -> &'static str,
) -> StoreError {
    match duplicate_key(&e) {
        Some(msg) => StoreError::Conflict {
            field: field_of(msg),
            existing_id: None,
        },
        None => e.into(),
    }
}

/// Which profile index a duplicate-key message names. MongoDB says
/// `E11000 … index: profiles_owner_external_id dup key: { … }`, nx-27017 says
/// `UNIQUE constraint failed: index 'idx_profiles_owner_id_external_id'`; only the part
/// before the duplicated values is looked at, so a name that contains the text does not
/// confuse it.
fn profile_conflict_field(msg: &str) -> &'static str {
    let index = msg.split("dup key").next().unwrap_or(msg);
    if index.contains("external_id") {
        "externalId"
    } else {
        "name"
    }
}

fn account_conflict(e: mongodb::error::Error) -> StoreError {
    unique_violation(e, |_| "account")
}

// ---------------------------------------------------------------------------------------
// Documents.

fn owner_doc(o: &Owner) -> Document {
    let mut d = doc! {
        "_id": o.id.as_str(),
        "name": o.name.as_str(),
        "created_at": ms(o.created_at),
    };
    put_opt(&mut d, "email", o.email.clone());
    d
}

fn owner_from(d: &Document) -> StoreResult<Owner> {
    Ok(Owner {
        id: parse_str(d, "_id")?,
        name: get_str(d, "name")?.to_owned(),
        email: opt_str(d, "email")?,
        created_at: get_time(d, "created_at")?,
    })
}

fn key_doc(k: &ApiKeyRecord) -> Document {
    let mut d = doc! {
        "_id": k.id.as_str(),
        "owner_id": k.owner_id.as_str(),
        "name": k.name.as_str(),
        "key_hash": k.key_hash.as_str(),
        "preview": k.preview.as_str(),
        "permission": k.permission.as_str(),
        "disabled_groups": k.disabled_resource_groups.clone(),
        "created_at": ms(k.created_at),
    };
    put_opt(
        &mut d,
        "profile_ids",
        k.profile_ids
            .as_ref()
            .map(|ids| ids.iter().map(|i| i.to_string()).collect::<Vec<_>>()),
    );
    put_opt(&mut d, "expires_at", k.expires_at.map(ms));
    d
}

fn key_from(d: &Document) -> StoreResult<ApiKeyRecord> {
    let permission = get_str(d, "permission")?;
    let profile_ids = match d.get("profile_ids") {
        None | Some(Bson::Null) => None,
        Some(_) => Some(
            get_strings(d, "profile_ids")?
                .iter()
                .map(|s| {
                    s.parse()
                        .map_err(|_| StoreError::Corrupt(format!("profile id {s:?}")))
                })
                .collect::<StoreResult<Vec<ProfileId>>>()?,
        ),
    };
    Ok(ApiKeyRecord {
        id: parse_str(d, "_id")?,
        owner_id: parse_str(d, "owner_id")?,
        name: get_str(d, "name")?.to_owned(),
        key_hash: get_str(d, "key_hash")?.to_owned(),
        preview: get_str(d, "preview")?.to_owned(),
        profile_ids,
        permission: serde_json::from_value(serde_json::Value::String(permission.to_owned()))
            .map_err(|_| StoreError::Corrupt(format!("permission {permission:?}")))?,
        disabled_resource_groups: get_strings(d, "disabled_groups")?,
        expires_at: opt_time(d, "expires_at")?,
        created_at: get_time(d, "created_at")?,
    })
}

fn profile_doc(p: &Profile) -> Document {
    let mut d = doc! {
        "_id": p.id.as_str(),
        "owner_id": p.owner_id.as_str(),
        "name": p.name.as_str(),
        "is_default": p.is_default,
        "created_at": ms(p.created_at),
        "updated_at": ms(p.updated_at),
    };
    put_opt(&mut d, "description", p.description.clone());
    put_opt(&mut d, "color", p.color.clone());
    put_opt(&mut d, "timezone", p.timezone.clone());
    put_opt(&mut d, "external_id", p.external_id.clone());
    d
}

fn profile_from(d: &Document) -> StoreResult<Profile> {
    Ok(Profile {
        id: parse_str(d, "_id")?,
        owner_id: parse_str(d, "owner_id")?,
        name: get_str(d, "name")?.to_owned(),
        description: opt_str(d, "description")?,
        color: opt_str(d, "color")?,
        timezone: opt_str(d, "timezone")?,
        external_id: opt_str(d, "external_id")?,
        is_default: get_bool(d, "is_default")?,
        created_at: get_time(d, "created_at")?,
        updated_at: get_time(d, "updated_at")?,
    })
}

/// What a connect writes into an account, new or existing: the fields to set and the
/// nullable ones to clear. `username_lc` is the sort key for username order (SQLite sorts
/// by `lower(username)`; MongoDB has no expression sort on a plain find).
fn account_changes(a: &AccountUpsert, now: DateTime<Utc>) -> (Document, Document) {
    let mut set = doc! {
        "username_lc": a.username.as_deref().unwrap_or_default().to_lowercase(),
        "needs_reconnection": false,
        "enabled": a.enabled,
        "metadata": to_json(&a.metadata),
        "scopes": a.scopes.clone(),
        "updated_at": ms(now),
        "removed_at": 0_i64,
        "refresh_failures": 0_i64,
        "refresh_not_before": 0_i64,
    };
    let mut unset = Document::new();
    let (s, u) = (&mut set, &mut unset);
    set_or_unset(s, u, "username", a.username.clone());
    set_or_unset(s, u, "display_name", a.display_name.clone());
    set_or_unset(s, u, "profile_picture", a.profile_picture.clone());
    set_or_unset(s, u, "profile_url", a.profile_url.clone());
    set_or_unset(
        s,
        u,
        "parent_account_id",
        a.parent_account_id.as_ref().map(|p| p.to_string()),
    );
    set_or_unset(
        s,
        u,
        "tokens",
        a.tokens.as_ref().map(|t| t.as_stored().to_owned()),
    );
    set_or_unset(s, u, "token_expires_at", a.token_expires_at.map(ms));
    // A connect that did not read the follower count keeps the last known one.
    if let Some(n) = a.followers_count {
        set.insert("followers_count", n);
        set.insert("followers_last_updated", ms(now));
    }
    (set, unset)
}

fn account_identity(
    profile: &str,
    platform: &str,
    platform_user_id: &str,
    destination_id: &str,
) -> Document {
    doc! {
        "profile_id": profile,
        "platform": platform,
        "platform_user_id": platform_user_id,
        "destination_id": destination_id,
    }
}

fn account_from(d: &Document) -> StoreResult<Account> {
    Ok(Account {
        id: parse_str(d, "_id")?,
        owner_id: parse_str(d, "owner_id")?,
        profile_id: parse_str(d, "profile_id")?,
        platform: parse_str(d, "platform")?,
        platform_user_id: get_str(d, "platform_user_id")?.to_owned(),
        destination_id: get_str(d, "destination_id")?.to_owned(),
        username: opt_str(d, "username")?,
        display_name: opt_str(d, "display_name")?,
        profile_picture: opt_str(d, "profile_picture")?,
        profile_url: opt_str(d, "profile_url")?,
        is_active: get_bool(d, "is_active")?,
        needs_reconnection: get_bool(d, "needs_reconnection")?,
        enabled: get_bool(d, "enabled")?,
        followers_count: opt_int(d, "followers_count")?,
        followers_last_updated: opt_time(d, "followers_last_updated")?,
        parent_account_id: opt_parse(d, "parent_account_id")?,
        metadata: get_json(d, "metadata")?,
        tokens: opt_str(d, "tokens")?.map(Sealed::from_stored),
        token_expires_at: opt_time(d, "token_expires_at")?,
        scopes: get_strings(d, "scopes")?,
        created_at: get_time(d, "created_at")?,
        updated_at: get_time(d, "updated_at")?,
        refresh_failures: u32::try_from(opt_int(d, "refresh_failures")?.unwrap_or(0)).unwrap_or(0),
    })
}

/// The filter (without paging conditions) for an account query.
fn account_filter(owner: &OwnerId, q: &AccountQuery) -> Vec<Document> {
    let mut base = doc! { "owner_id": owner.as_str(), "removed_at": 0_i64 };
    if let Some(ids) = &q.profile_ids {
        let ids: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
        base.insert("profile_id", doc! { "$in": ids });
    }
    if let Some(ps) = &q.platforms {
        let ps: Vec<String> = ps.iter().map(|p| p.as_str().to_owned()).collect();
        base.insert("platform", doc! { "$in": ps });
    }
    match q.status {
        Some(AccountStatus::Connected) => {
            base.insert("needs_reconnection", false);
        }
        Some(AccountStatus::Disconnected) => {
            base.insert("needs_reconnection", true);
        }
        None => {}
    }
    if q.exclude_hidden {
        base.insert("enabled", true);
    }
    let mut conditions = vec![base];
    if let Some(s) = &q.search {
        let re = doc! { "$regex": regex_literal(s), "$options": "i" };
        conditions.push(doc! { "$or": [
            { "username": re.clone() },
            { "display_name": re.clone() },
            { "platform_user_id": re },
            { "_id": s.to_lowercase() },
        ] });
    }
    conditions
}

fn sort_field(sort: AccountSort) -> &'static str {
    match sort {
        AccountSort::Id => "_id",
        AccountSort::Username => "username_lc",
        AccountSort::Platform => "platform",
        AccountSort::Profile => "profile_id",
        AccountSort::Status => "needs_reconnection",
        AccountSort::Connected => "created_at",
    }
}

fn one_time_from(d: &Document) -> StoreResult<OneTimeRecord> {
    Ok(OneTimeRecord {
        kind: get_str(d, "kind")?.to_owned(),
        key: get_str(d, "key")?.to_owned(),
        owner_id: opt_parse(d, "owner_id")?,
        payload: get_json(d, "payload")?,
        expires_at: get_time(d, "expires_at")?,
        created_at: get_time(d, "created_at")?,
    })
}

fn job_from(d: &Document) -> StoreResult<Job> {
    let attempts = get_int(d, "attempts")?;
    let lease_until = get_int(d, "lease_until")?;
    Ok(Job {
        id: get_str(d, "_id")?.to_owned(),
        kind: get_str(d, "kind")?.to_owned(),
        payload: get_json(d, "payload")?,
        run_at: get_time(d, "run_at")?,
        attempts: u32::try_from(attempts)
            .map_err(|_| StoreError::Corrupt(format!("attempts {attempts}")))?,
        lease_holder: opt_str(d, "lease_holder")?,
        lease_until: match lease_until {
            0 => None,
            v => Some(to_time("lease_until", v)?),
        },
    })
}

fn count(n: u64) -> bool {
    n > 0
}

// ---------------------------------------------------------------------------------------
// The traits.

#[async_trait]
impl OwnerStore for MongoStore {
    async fn insert_owner(&self, owner: &Owner) -> StoreResult<()> {
        self.coll(OWNERS)
            .insert_one(owner_doc(owner))
            .await
            .map_err(|e| unique_violation(e, |_| "id"))?;
        Ok(())
    }

    async fn get_owner(&self, id: &OwnerId) -> StoreResult<Option<Owner>> {
        self.coll(OWNERS)
            .find_one(doc! { "_id": id.as_str() })
            .await?
            .as_ref()
            .map(owner_from)
            .transpose()
    }

    async fn first_owner(&self) -> StoreResult<Option<Owner>> {
        self.coll(OWNERS)
            .find_one(doc! {})
            .sort(doc! { "created_at": 1, "_id": 1 })
            .await?
            .as_ref()
            .map(owner_from)
            .transpose()
    }
}

#[async_trait]
impl ApiKeyStore for MongoStore {
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> StoreResult<()> {
        self.coll(API_KEYS)
            .insert_one(key_doc(key))
            .await
            .map_err(|e| unique_violation(e, |_| "key"))?;
        Ok(())
    }

    async fn insert_first_api_key(&self, key: &ApiKeyRecord) -> StoreResult<bool> {
        // Without a transaction, "insert only into an empty collection" needs a lock: a
        // lock document with a fixed `_id` in `meta`, which only one bootstrap can insert.
        // Whoever holds it checks again that there is no key, inserts, and releases it, so
        // bootstraps are serialized and a later one sees the earlier one's key. The lock
        // expires (on the caller's clock, through the key's `created_at`) in case its holder
        // dies in between.
        let keys = self.coll(API_KEYS);
        if count(keys.count_documents(doc! {}).limit(1).await?) {
            return Ok(false);
        }
        let meta = self.coll(META);
        let at = ms(key.created_at);
        meta.delete_one(doc! { "_id": BOOTSTRAP_LOCK, "until": { "$lte": at } })
            .await?;
        let lock = doc! {
            "_id": BOOTSTRAP_LOCK,
            "key_id": key.id.as_str(),
            "until": at.saturating_add(BOOTSTRAP_LOCK_MS),
        };
        match meta.insert_one(lock).await {
            Ok(_) => {}
            Err(e) if duplicate_key(&e).is_some() => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        let outcome = async {
            if count(keys.count_documents(doc! {}).limit(1).await?) {
                return Ok(false);
            }
            self.insert_api_key(key).await?;
            Ok(true)
        }
        .await;
        let released = meta
            .delete_one(doc! { "_id": BOOTSTRAP_LOCK, "key_id": key.id.as_str() })
            .await;
        if let Err(e) = released {
            tracing::warn!(error = %e, "could not release the API key bootstrap lock; it expires by itself");
        }
        outcome
    }

    async fn find_api_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<ApiKeyRecord>> {
        self.coll(API_KEYS)
            .find_one(doc! { "key_hash": key_hash })
            .await?
            .as_ref()
            .map(key_from)
            .transpose()
    }

    async fn list_api_keys(&self, owner: &OwnerId) -> StoreResult<Vec<ApiKeyRecord>> {
        let cursor = self
            .coll(API_KEYS)
            .find(doc! { "owner_id": owner.as_str() })
            .sort(doc! { "created_at": 1, "_id": 1 })
            .await?;
        collect(cursor, key_from).await
    }

    async fn delete_api_key(&self, owner: &OwnerId, id: &ApiKeyId) -> StoreResult<bool> {
        let r = self
            .coll(API_KEYS)
            .delete_one(doc! { "_id": id.as_str(), "owner_id": owner.as_str() })
            .await?;
        Ok(count(r.deleted_count))
    }

    async fn count_api_keys(&self) -> StoreResult<u64> {
        Ok(self.coll(API_KEYS).count_documents(doc! {}).await?)
    }
}

#[async_trait]
impl ProfileStore for MongoStore {
    async fn insert_profile(&self, profile: &Profile) -> StoreResult<()> {
        // Insert first, then clear the other defaults: a conflicting insert changes nothing.
        // Two default profiles inserted at the same instant may both end up cleared or both
        // set; SQLite's transaction rules that out, a single-document store cannot.
        self.coll(PROFILES)
            .insert_one(profile_doc(profile))
            .await
            .map_err(|e| unique_violation(e, profile_conflict_field))?;
        if profile.is_default {
            self.clear_other_defaults(&profile.owner_id, &profile.id)
                .await?;
        }
        Ok(())
    }

    async fn get_profile(&self, owner: &OwnerId, id: &ProfileId) -> StoreResult<Option<Profile>> {
        self.coll(PROFILES)
            .find_one(doc! { "_id": id.as_str(), "owner_id": owner.as_str() })
            .await?
            .as_ref()
            .map(profile_from)
            .transpose()
    }

    async fn list_profiles(
        &self,
        owner: &OwnerId,
        filter: &ProfileFilter,
        skip: u64,
        limit: Option<u64>,
    ) -> StoreResult<(Vec<Profile>, u64)> {
        let mut f = doc! { "owner_id": owner.as_str() };
        if let Some(name) = &filter.name {
            f.insert("name", name.as_str());
        }
        if let Some(ext) = &filter.external_id {
            f.insert("external_id", ext.as_str());
        }
        if let Some(only) = &filter.only {
            let ids: Vec<String> = only.iter().map(|i| i.to_string()).collect();
            f.insert("_id", doc! { "$in": ids });
        }
        let coll = self.coll(PROFILES);
        let total = coll.count_documents(f.clone()).await?;
        // MongoDB reads a limit of 0 as "no limit".
        if limit == Some(0) {
            return Ok((Vec::new(), total));
        }
        let mut find = coll
            .find(f)
            .sort(doc! { "is_default": -1, "created_at": 1, "_id": 1 })
            .skip(skip);
        if let Some(l) = limit {
            find = find.limit(i64::try_from(l).unwrap_or(i64::MAX));
        }
        let profiles = collect(find.await?, profile_from).await?;
        Ok((profiles, total))
    }

    async fn update_profile(
        &self,
        owner: &OwnerId,
        id: &ProfileId,
        patch: &ProfilePatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Profile>> {
        let filter = doc! { "_id": id.as_str(), "owner_id": owner.as_str() };
        let mut set = doc! { "updated_at": ms(now) };
        let mut unset = Document::new();
        if let Some(v) = &patch.name {
            set.insert("name", v.as_str());
        }
        if let Some(v) = &patch.description {
            set_or_unset(&mut set, &mut unset, "description", v.clone());
        }
        if let Some(v) = &patch.color {
            set.insert("color", v.as_str());
        }
        if let Some(v) = &patch.timezone {
            set_or_unset(&mut set, &mut unset, "timezone", v.clone());
        }
        if let Some(v) = &patch.external_id {
            set_or_unset(&mut set, &mut unset, "external_id", v.clone());
        }
        if let Some(v) = patch.is_default {
            set.insert("is_default", v);
        }
        let coll = self.coll(PROFILES);
        // update_one, not findOneAndUpdate: the update can hit a unique index, and
        // nx-27017 answers a findAndModify that fails that way with "no document" instead
        // of the duplicate-key error.
        let r = coll
            .update_one(filter.clone(), update_doc(set, unset))
            .await
            .map_err(|e| unique_violation(e, profile_conflict_field))?;
        if r.matched_count == 0 {
            return Ok(None);
        }
        if patch.is_default == Some(true) {
            self.clear_other_defaults(owner, id).await?;
        }
        coll.find_one(filter)
            .await?
            .as_ref()
            .map(profile_from)
            .transpose()
    }

    async fn delete_profile(&self, owner: &OwnerId, id: &ProfileId) -> StoreResult<bool> {
        let r = self
            .coll(PROFILES)
            .delete_one(doc! { "_id": id.as_str(), "owner_id": owner.as_str() })
            .await?;
        Ok(count(r.deleted_count))
    }
}

#[async_trait]
impl AccountStore for MongoStore {
    async fn upsert_account(
        &self,
        account: &AccountUpsert,
        event: Option<&AccountEvent>,
        now: DateTime<Utc>,
    ) -> StoreResult<Account> {
        let a = account;
        // The profile must belong to the same owner; ids are global, so check it here
        // rather than trust the caller.
        if !self.owns_profile(&a.owner_id, &a.profile_id).await? {
            return Err(StoreError::Conflict {
                field: "profileId",
                existing_id: None,
            });
        }
        let accounts = self.coll(ACCOUNTS);
        let identity = account_identity(
            a.profile_id.as_str(),
            a.platform.as_str(),
            &a.platform_user_id,
            &a.destination_id,
        );
        let (set, unset) = account_changes(a, now);
        // Insert, and let the unique identity index decide whether the account exists; if
        // it does, update it in place. Each step is atomic on its own, so concurrent
        // connects of one identity leave exactly one account. (An upsert with
        // `$setOnInsert: {_id}` would be one step on MongoDB, but nx-27017 ignores a
        // `_id` given that way and invents an ObjectId.)
        for _ in 0..UPSERT_ROUNDS {
            let mut fresh = identity.clone();
            fresh.insert("_id", AccountId::generate(now.timestamp()).as_str());
            fresh.insert("owner_id", a.owner_id.as_str());
            fresh.insert("is_active", true);
            fresh.insert("created_at", ms(now));
            fresh.insert(OUTBOX, event.map(to_json).unwrap_or_default());
            fresh.extend(set.clone());
            match accounts.insert_one(&fresh).await {
                Ok(_) => {
                    self.relay_after_change(&fresh).await;
                    return account_from(&fresh);
                }
                Err(e) if duplicate_key(&e).is_none() => return Err(e.into()),
                Err(_) => {}
            }
            // A disconnected account comes back active…
            let mut revive = identity.clone();
            revive.insert("removed_at", doc! { "$gt": 0_i64 });
            let mut revive_set = set.clone();
            revive_set.insert("is_active", true);
            if let Some(d) = self
                .update_account_with_event(revive, update_doc(revive_set, unset.clone()), event)
                .await?
            {
                return account_from(&d);
            }
            // …a live one keeps its is_active.
            let mut live = identity.clone();
            live.insert("removed_at", 0_i64);
            if let Some(d) = self
                .update_account_with_event(live, update_doc(set.clone(), unset.clone()), event)
                .await?
            {
                return account_from(&d);
            }
            // It changed state between the steps (or the id collided); go round again.
        }
        Err(StoreError::Backend(
            "account upsert kept racing with concurrent changes".into(),
        ))
    }

    async fn get_account(&self, owner: &OwnerId, id: &AccountId) -> StoreResult<Option<Account>> {
        self.coll(ACCOUNTS)
            .find_one(doc! { "_id": id.as_str(), "owner_id": owner.as_str(), "removed_at": 0_i64 })
            .await?
            .as_ref()
            .map(account_from)
            .transpose()
    }

    async fn list_accounts(
        &self,
        owner: &OwnerId,
        query: &AccountQuery,
    ) -> StoreResult<AccountPage> {
        let coll = self.coll(ACCOUNTS);
        let conditions = account_filter(owner, query);
        let total = coll.count_documents(all_of(conditions.clone())).await?;
        let dir = match query.order {
            Order::Asc => 1,
            Order::Desc => -1,
        };
        let field = sort_field(query.sort);
        let mut sort = Document::new();
        sort.insert(field, dir);
        if field != "_id" {
            sort.insert("_id", 1);
        }
        let accounts = match &query.page {
            PageRequest::All => {
                let cursor = coll.find(all_of(conditions)).sort(sort).await?;
                collect(cursor, account_from).await?
            }
            // MongoDB reads a limit of 0 as "no limit".
            PageRequest::Offset { limit: 0, .. } => Vec::new(),
            PageRequest::Offset { skip, limit } => {
                let cursor = coll
                    .find(all_of(conditions))
                    .sort(sort)
                    .skip(*skip)
                    .limit(i64::try_from(*limit).unwrap_or(i64::MAX))
                    .await?;
                collect(cursor, account_from).await?
            }
            PageRequest::Cursor { after, limit } => {
                let mut conditions = conditions;
                if let Some(after) = after {
                    conditions.push(doc! { "_id": { "$gt": after.as_str() } });
                }
                // One extra document tells whether there is a next page.
                let fetch = i64::try_from(*limit).unwrap_or(i64::MAX).saturating_add(1);
                let cursor = coll
                    .find(all_of(conditions))
                    .sort(doc! { "_id": 1 })
                    .limit(fetch)
                    .await?;
                collect(cursor, account_from).await?
            }
        };
        let mut accounts = accounts;
        let mut next_cursor = None;
        if let PageRequest::Cursor { limit, .. } = query.page
            && accounts.len() as u64 > limit
        {
            accounts.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            next_cursor = accounts.last().map(|a| a.id.clone());
        }
        Ok(AccountPage {
            accounts,
            total,
            next_cursor,
        })
    }

    async fn count_accounts_by_profile(
        &self,
        owner: &OwnerId,
    ) -> StoreResult<Vec<(ProfileId, u64)>> {
        let cursor = self
            .coll(ACCOUNTS)
            .aggregate([
                doc! { "$match": { "owner_id": owner.as_str(), "removed_at": 0_i64 } },
                doc! { "$group": { "_id": "$profile_id", "n": { "$sum": 1 } } },
            ])
            .await?;
        let mut counts = collect(cursor, |d| {
            let n = get_int(d, "n")?;
            Ok((
                parse_str::<ProfileId>(d, "_id")?,
                u64::try_from(n).unwrap_or(0),
            ))
        })
        .await?;
        counts.sort();
        Ok(counts)
    }

    async fn update_account(
        &self,
        owner: &OwnerId,
        id: &AccountId,
        patch: &AccountPatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Account>> {
        let mut set = doc! { "updated_at": ms(now) };
        if let Some(u) = &patch.username {
            set.insert("username", u.as_str());
            set.insert("username_lc", u.to_lowercase());
        }
        if let Some(d) = &patch.display_name {
            set.insert("display_name", d.as_str());
        }
        if let Some(b) = patch.is_active {
            set.insert("is_active", b);
        }
        self.coll(ACCOUNTS)
            .find_one_and_update(
                doc! { "_id": id.as_str(), "owner_id": owner.as_str(), "removed_at": 0_i64 },
                doc! { "$set": set },
            )
            .return_document(ReturnDocument::After)
            .await?
            .as_ref()
            .map(account_from)
            .transpose()
    }

    async fn accounts_due_for_refresh(
        &self,
        due_before: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: u64,
    ) -> StoreResult<Vec<Account>> {
        // "Not set" is 0 in this backend, so a token without an expiry (0) is excluded by
        // the lower bound, and an account never deferred (0) passes the retry bound.
        let filter = doc! {
            "removed_at": 0_i64,
            "tokens": { "$exists": true },
            "needs_reconnection": false,
            "token_expires_at": { "$gt": 0_i64, "$lte": ms(due_before) },
            "$or": [
                { "refresh_not_before": { "$exists": false } },
                { "refresh_not_before": { "$lte": ms(now) } },
            ],
        };
        let cursor = self
            .coll(ACCOUNTS)
            .find(filter)
            .sort(doc! { "token_expires_at": 1, "_id": 1 })
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await?;
        collect(cursor, account_from).await
    }

    async fn store_refreshed_tokens(
        &self,
        id: &AccountId,
        expected: &Sealed,
        new: &Sealed,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut set = doc! {
            "tokens": new.as_stored(),
            "refresh_failures": 0_i64,
            "refresh_not_before": 0_i64,
            "updated_at": ms(now),
        };
        let mut update = Document::new();
        match expires_at {
            Some(t) => {
                set.insert("token_expires_at", ms(t));
            }
            None => {
                update.insert("$unset", doc! { "token_expires_at": "" });
            }
        }
        update.insert("$set", set);
        let r = self
            .coll(ACCOUNTS)
            .update_one(
                doc! { "_id": id.as_str(), "tokens": expected.as_stored(), "removed_at": 0_i64 },
                update,
            )
            .await?;
        Ok(r.modified_count == 1)
    }

    async fn defer_refresh(&self, id: &AccountId, retry_at: DateTime<Utc>) -> StoreResult<u32> {
        let d = self
            .coll(ACCOUNTS)
            .find_one_and_update(
                doc! { "_id": id.as_str() },
                doc! {
                    "$inc": { "refresh_failures": 1_i64 },
                    "$set": { "refresh_not_before": ms(retry_at) },
                },
            )
            .return_document(ReturnDocument::After)
            .await?;
        Ok(d.and_then(|d| d.get("refresh_failures").and_then(as_int))
            .and_then(|f| u32::try_from(f).ok())
            .unwrap_or(0))
    }

    async fn mark_needs_reconnection(
        &self,
        id: &AccountId,
        event: Option<&AccountEvent>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Account>> {
        self.update_account_with_event(
            doc! { "_id": id.as_str(), "needs_reconnection": false, "removed_at": 0_i64 },
            doc! { "$set": { "needs_reconnection": true, "updated_at": ms(now) } },
            event,
        )
        .await?
        .as_ref()
        .map(account_from)
        .transpose()
    }

    async fn retarget_account(
        &self,
        owner: &OwnerId,
        id: &AccountId,
        change: &AccountRetarget,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Account>> {
        let coll = self.coll(ACCOUNTS);
        let filter = doc! { "_id": id.as_str(), "owner_id": owner.as_str(), "removed_at": 0_i64 };
        let Some(current) = coll.find_one(filter.clone()).await? else {
            return Ok(None);
        };
        let acc = account_from(&current)?;
        let mut tombstones = account_identity(
            acc.profile_id.as_str(),
            acc.platform.as_str(),
            &acc.platform_user_id,
            &change.destination_id,
        );
        tombstones.insert("removed_at", doc! { "$gt": 0_i64 });
        coll.delete_many(tombstones).await?;
        let c = change;
        let mut set = doc! {
            "destination_id": c.destination_id.as_str(),
            "username_lc": c.username.as_deref().unwrap_or_default().to_lowercase(),
            "metadata": to_json(&c.metadata),
            "updated_at": ms(now),
        };
        let mut unset = Document::new();
        let (s, u) = (&mut set, &mut unset);
        set_or_unset(s, u, "username", c.username.clone());
        set_or_unset(s, u, "display_name", c.display_name.clone());
        set_or_unset(s, u, "profile_picture", c.profile_picture.clone());
        set_or_unset(s, u, "profile_url", c.profile_url.clone());
        set_or_unset(
            s,
            u,
            "tokens",
            c.tokens.as_ref().map(|t| t.as_stored().to_owned()),
        );
        set_or_unset(s, u, "token_expires_at", c.token_expires_at.map(ms));
        let mut update = doc! { "$set": set };
        if !unset.is_empty() {
            update.insert("$unset", unset);
        }
        // update_one rather than findOneAndUpdate, for the duplicate-key error (see
        // update_profile).
        let r = coll
            .update_one(filter.clone(), update)
            .await
            .map_err(account_conflict)?;
        if r.matched_count == 0 {
            return Ok(None);
        }
        coll.find_one(filter)
            .await?
            .as_ref()
            .map(account_from)
            .transpose()
    }

    async fn move_account(
        &self,
        owner: &OwnerId,
        id: &AccountId,
        to: &ProfileId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Account>> {
        if !self.owns_profile(owner, to).await? {
            return Ok(None);
        }
        let coll = self.coll(ACCOUNTS);
        let filter = doc! { "_id": id.as_str(), "owner_id": owner.as_str(), "removed_at": 0_i64 };
        let Some(current) = coll.find_one(filter.clone()).await? else {
            return Ok(None);
        };
        let acc = account_from(&current)?;
        // A tombstone of the same identity in the target must not block the move; a live
        // account there must (the unique index refuses the update below).
        let mut tombstones = account_identity(
            to.as_str(),
            acc.platform.as_str(),
            &acc.platform_user_id,
            &acc.destination_id,
        );
        tombstones.insert("removed_at", doc! { "$gt": 0_i64 });
        coll.delete_many(tombstones).await?;
        // update_one rather than findOneAndUpdate, for the duplicate-key error (see
        // update_profile).
        let r = coll
            .update_one(
                filter.clone(),
                doc! { "$set": { "profile_id": to.as_str(), "updated_at": ms(now) } },
            )
            .await
            .map_err(account_conflict)?;
        if r.matched_count == 0 {
            return Ok(None);
        }
        coll.find_one(filter)
            .await?
            .as_ref()
            .map(account_from)
            .transpose()
    }

    async fn move_profile_accounts(
        &self,
        owner: &OwnerId,
        from: &ProfileId,
        to: &ProfileId,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        if !self.owns_profile(owner, to).await? {
            return Ok(0);
        }
        let coll = self.coll(ACCOUNTS);
        let moving_filter =
            doc! { "owner_id": owner.as_str(), "profile_id": from.as_str(), "removed_at": 0_i64 };
        let moving = collect(coll.find(moving_filter.clone()).await?, account_from).await?;
        if moving.is_empty() {
            return Ok(0);
        }
        // Look at what the target holds for these identities first, so that a live clash
        // refuses the whole move before anything changes (SQLite rolls back instead), and
        // tombstones that would collide are dropped.
        let moving_ids: HashSet<&str> = moving.iter().map(|a| a.id.as_str()).collect();
        let identities: HashSet<(&str, &str, &str)> = moving
            .iter()
            .map(|a| {
                (
                    a.platform.as_str(),
                    a.platform_user_id.as_str(),
                    a.destination_id.as_str(),
                )
            })
            .collect();
        let uids: Vec<&str> = identities.iter().map(|(_, uid, _)| *uid).collect();
        let in_target = coll
            .find(doc! { "profile_id": to.as_str(), "platform_user_id": { "$in": uids } })
            .await?;
        let mut tombstones = Vec::new();
        for d in collect(in_target, |d| Ok(d.clone())).await? {
            let id = get_str(&d, "_id")?;
            let key = (
                get_str(&d, "platform")?,
                get_str(&d, "platform_user_id")?,
                get_str(&d, "destination_id")?,
            );
            if moving_ids.contains(id) || !identities.contains(&key) {
                continue;
            }
            if get_int(&d, "removed_at")? == 0 {
                return Err(StoreError::Conflict {
                    field: "account",
                    existing_id: Some(id.to_owned()),
                });
            }
            tombstones.push(id.to_owned());
        }
        if !tombstones.is_empty() {
            coll.delete_many(doc! { "_id": { "$in": tombstones }, "removed_at": { "$gt": 0_i64 } })
                .await?;
        }
        let r = coll
            .update_many(
                moving_filter,
                doc! { "$set": { "profile_id": to.as_str(), "updated_at": ms(now) } },
            )
            .await
            .map_err(account_conflict)?;
        Ok(r.matched_count)
    }

    async fn remove_account(
        &self,
        owner: &OwnerId,
        id: &AccountId,
        event: Option<&AccountEvent>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Account>> {
        self.update_account_with_event(
            doc! { "_id": id.as_str(), "owner_id": owner.as_str(), "removed_at": 0_i64 },
            doc! {
                "$set": { "removed_at": marker(now), "updated_at": ms(now) },
                "$unset": { "tokens": "", "token_expires_at": "" },
            },
            event,
        )
        .await?
        .as_ref()
        .map(account_from)
        .transpose()
    }

    async fn accounts_with_tokens(&self) -> StoreResult<Vec<Account>> {
        let cursor = self
            .coll(ACCOUNTS)
            .find(doc! { "tokens": { "$exists": true } })
            .sort(doc! { "_id": 1 })
            .await?;
        collect(cursor, account_from).await
    }

    async fn replace_tokens(
        &self,
        id: &AccountId,
        expected: &Sealed,
        new: &Sealed,
    ) -> StoreResult<bool> {
        let r = self
            .coll(ACCOUNTS)
            .update_one(
                doc! { "_id": id.as_str(), "tokens": expected.as_stored() },
                doc! { "$set": { "tokens": new.as_stored() } },
            )
            .await?;
        Ok(count(r.matched_count))
    }
}

#[async_trait]
impl OneTimeStore for MongoStore {
    async fn put_one_time(&self, record: &OneTimeRecord) -> StoreResult<()> {
        let r = record;
        let mut d = doc! {
            "_id": plugboard_core::new_object_id(r.created_at.timestamp()),
            "kind": r.kind.as_str(),
            "key": r.key.as_str(),
            "payload": to_json(&r.payload),
            "expires_at": ms(r.expires_at),
            "created_at": ms(r.created_at),
            "consumed_at": 0_i64,
        };
        put_opt(
            &mut d,
            "owner_id",
            r.owner_id.as_ref().map(|o| o.to_string()),
        );
        self.coll(ONE_TIME)
            .insert_one(d)
            .await
            .map_err(|e| unique_violation(e, |_| "key"))?;
        Ok(())
    }

    async fn consume_one_time(
        &self,
        kind: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<OneTimeRecord>> {
        self.coll(ONE_TIME)
            .find_one_and_update(
                doc! {
                    "kind": kind,
                    "key": key,
                    "consumed_at": 0_i64,
                    "expires_at": { "$gt": ms(now) },
                },
                doc! { "$set": { "consumed_at": marker(now) } },
            )
            .await?
            .as_ref()
            .map(one_time_from)
            .transpose()
    }

    async fn get_one_time(
        &self,
        kind: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<OneTimeRecord>> {
        self.coll(ONE_TIME)
            .find_one(doc! {
                "kind": kind,
                "key": key,
                "consumed_at": 0_i64,
                "expires_at": { "$gt": ms(now) },
            })
            .await?
            .as_ref()
            .map(one_time_from)
            .transpose()
    }

    async fn purge_one_time(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let r = self
            .coll(ONE_TIME)
            .delete_many(doc! {
                "$or": [
                    { "consumed_at": { "$ne": 0_i64 } },
                    { "expires_at": { "$lte": ms(now) } },
                ],
            })
            .await?;
        Ok(r.deleted_count)
    }
}

#[async_trait]
impl JobStore for MongoStore {
    async fn enqueue_job(
        &self,
        kind: &str,
        payload: &serde_json::Value,
        run_at: DateTime<Utc>,
    ) -> StoreResult<String> {
        let id = plugboard_core::new_object_id(run_at.timestamp());
        self.coll(JOBS)
            .insert_one(doc! {
                "_id": id.as_str(),
                "kind": kind,
                "payload": to_json(payload),
                "run_at": ms(run_at),
                "attempts": 0_i64,
                "lease_until": 0_i64,
            })
            .await?;
        Ok(id)
    }

    async fn claim_job(
        &self,
        kind: &str,
        holder: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> StoreResult<Option<Job>> {
        let now_ms = ms(now);
        let until = marker(now + lease);
        // The document as it was, to tell a take-over (a lease left by a holder that never
        // finished) from a free job; the claim's own changes are applied below.
        let before = self
            .coll(JOBS)
            .find_one_and_update(
                doc! {
                    "kind": kind,
                    "run_at": { "$lte": now_ms },
                    "lease_until": { "$lte": now_ms },
                },
                doc! {
                    "$set": { "lease_holder": holder, "lease_until": until },
                    "$inc": { "attempts": 1_i64 },
                },
            )
            .sort(doc! { "run_at": 1, "_id": 1 })
            .return_document(ReturnDocument::Before)
            .await?;
        let Some(mut doc) = before else {
            return Ok(None);
        };
        if get_int(&doc, "lease_until")? > 0 {
            self.observer.taken_over(&format!("job:{kind}"));
        }
        let attempts = get_int(&doc, "attempts")? + 1;
        doc.insert("lease_holder", holder);
        doc.insert("lease_until", until);
        doc.insert("attempts", attempts);
        job_from(&doc).map(Some)
    }

    async fn count_jobs(&self, kinds: &[&str]) -> StoreResult<u64> {
        Ok(self
            .coll(JOBS)
            .count_documents(doc! { "kind": { "$in": kinds } })
            .await?)
    }

    async fn complete_job(&self, id: &str, holder: &str) -> StoreResult<bool> {
        let r = self
            .coll(JOBS)
            .delete_one(doc! { "_id": id, "lease_holder": holder })
            .await?;
        Ok(count(r.deleted_count))
    }

    async fn retry_job(&self, id: &str, holder: &str, run_at: DateTime<Utc>) -> StoreResult<bool> {
        let r = self
            .coll(JOBS)
            .update_one(
                doc! { "_id": id, "lease_holder": holder },
                doc! {
                    "$set": { "run_at": ms(run_at), "lease_until": 0_i64 },
                    "$unset": { "lease_holder": "" },
                },
            )
            .await?;
        Ok(count(r.matched_count))
    }

    async fn enqueue_job_once(
        &self,
        id: &str,
        kind: &str,
        payload: &serde_json::Value,
        run_at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.insert_job_once(id, kind, payload, run_at).await
    }

    async fn complete_job_with_event(
        &self,
        id: &str,
        holder: &str,
        event: &QueuedEvent,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // Queue first, then complete: a crash in between leaves the job to run again, and
        // its event (whose id the caller derives from the job) is queued only once.
        let jobs = self.coll(JOBS);
        if jobs
            .find_one(doc! { "_id": id, "lease_holder": holder })
            .await?
            .is_none()
        {
            return Ok(false);
        }
        self.insert_job_once(
            &outbox::dispatch_job_id(&event.event_id),
            outbox::DISPATCH_JOB,
            &event.job_payload(),
            now,
        )
        .await?;
        let r = jobs
            .delete_one(doc! { "_id": id, "lease_holder": holder })
            .await?;
        Ok(count(r.deleted_count))
    }
}

#[async_trait]
impl LeaseStore for MongoStore {
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: chrono::Duration,
    ) -> StoreResult<bool> {
        let leases = self.coll(LEASES);
        let until = ms(now + ttl);
        // Renew our own lease or take over an expired one…
        let taken = leases
            .find_one_and_update(
                all_of(vec![
                    doc! { "_id": name },
                    doc! { "$or": [ { "holder": holder }, { "until": { "$lte": ms(now) } } ] },
                ]),
                doc! { "$set": { "holder": holder, "until": until } },
            )
            .return_document(ReturnDocument::Before)
            .await?;
        if let Some(before) = taken {
            if before.get_str("holder").is_ok_and(|h| h != holder) {
                self.observer.taken_over(crate::observer::lease_kind(name));
            }
            return Ok(true);
        }
        // …or create it; if it exists, someone else holds it.
        match leases
            .insert_one(doc! { "_id": name, "holder": holder, "until": until })
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if duplicate_key(&e).is_some() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        self.coll(LEASES)
            .delete_one(doc! { "_id": name, "holder": holder })
            .await?;
        Ok(())
    }
}

#[async_trait]
impl IdempotencyStore for MongoStore {
    async fn begin_idempotent(
        &self,
        owner: &OwnerId,
        scope: &str,
        key: &str,
        request_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<IdempotencyBegin> {
        let coll = self.coll(IDEMPOTENCY);
        // `done` is 0/1 and read with `get_int`, which accepts whichever integer width the
        // server returns (nx-27017 hands back Int32 for small values).
        let id = crate::idempotency_id(owner, scope, key);
        let lease = ms(now + crate::IDEMPOTENCY_PROCESSING_LEASE);
        // A record that expired (or whose request died holding it) is taken over; a live one
        // decides. The loop only repeats when a record vanishes between two steps.
        for _ in 0..4 {
            let fresh = doc! { "_id": id.as_str(), "request_hash": request_hash, "done": 0_i64, "expires_at": lease };
            match coll.insert_one(fresh).await {
                Ok(_) => return Ok(IdempotencyBegin::Started),
                Err(e) if duplicate_key(&e).is_some() => {}
                Err(e) => return Err(e.into()),
            }
            let taken = coll
                .find_one_and_update(
                    doc! { "_id": id.as_str(), "expires_at": { "$lte": ms(now) } },
                    doc! {
                        "$set": { "request_hash": request_hash, "done": 0_i64, "expires_at": lease },
                        "$unset": { "status": "", "body": "" },
                    },
                )
                .await?;
            if taken.is_some() {
                return Ok(IdempotencyBegin::Started);
            }
            let Some(d) = coll.find_one(doc! { "_id": id.as_str() }).await? else {
                continue;
            };
            if get_int(&d, "expires_at")? <= ms(now) {
                continue;
            }
            if d.get_str("request_hash").unwrap_or_default() != request_hash {
                return Ok(IdempotencyBegin::Mismatch);
            }
            if get_int(&d, "done")? == 0 {
                return Ok(IdempotencyBegin::InProgress);
            }
            let body = d
                .get_str("body")
                .ok()
                .map(|b| serde_json::from_str(b).map_err(|e| StoreError::Corrupt(e.to_string())))
                .transpose()?
                .unwrap_or_default();
            let status = u16::try_from(get_int(&d, "status")?).unwrap_or(200);
            return Ok(IdempotencyBegin::Completed { status, body });
        }
        Ok(IdempotencyBegin::InProgress)
    }

    async fn finish_idempotent(
        &self,
        owner: &OwnerId,
        scope: &str,
        key: &str,
        status: u16,
        body: &serde_json::Value,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.coll(IDEMPOTENCY)
            .update_one(
                doc! { "_id": crate::idempotency_id(owner, scope, key), "done": 0_i64 },
                doc! { "$set": {
                    "done": 1_i64,
                    "status": i64::from(status),
                    "body": to_json(body),
                    "expires_at": ms(expires_at),
                } },
            )
            .await?;
        Ok(())
    }

    async fn abandon_idempotent(&self, owner: &OwnerId, scope: &str, key: &str) -> StoreResult<()> {
        self.coll(IDEMPOTENCY)
            .delete_one(doc! { "_id": crate::idempotency_id(owner, scope, key), "done": 0_i64 })
            .await?;
        Ok(())
    }
}

fn webhook_doc(w: &Webhook) -> Document {
    let mut d = doc! {
        "_id": w.id.as_str(),
        "owner_id": w.owner_id.as_str(),
        "name": w.name.as_str(),
        "url": w.url.as_str(),
        "events": w.events.clone(),
        "is_active": w.is_active,
        "custom_headers": to_json(&w.custom_headers),
        "disabled_groups": w.disabled_resource_groups.clone(),
        "profile_ids": w.profile_ids.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        "account_ids": w.account_ids.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "failure_count": i64::from(w.failure_count),
        "failing_since": w.failing_since.map_or(0, marker),
        "created_at": ms(w.created_at),
        "updated_at": ms(w.updated_at),
    };
    put_opt(
        &mut d,
        "secret",
        w.secret.as_ref().map(|s| s.as_stored().to_owned()),
    );
    put_opt(&mut d, "last_fired_at", w.last_fired_at.map(ms));
    d
}

fn parse_all<T: std::str::FromStr>(d: &Document, key: &str) -> StoreResult<Vec<T>> {
    get_strings(d, key)?
        .iter()
        .map(|s| {
            s.parse()
                .map_err(|_| StoreError::Corrupt(format!("field {key}: cannot parse {s:?}")))
        })
        .collect()
}

fn webhook_from(d: &Document) -> StoreResult<Webhook> {
    let failing_since = get_int(d, "failing_since")?;
    Ok(Webhook {
        id: parse_str(d, "_id")?,
        owner_id: parse_str(d, "owner_id")?,
        name: get_str(d, "name")?.to_owned(),
        url: get_str(d, "url")?.to_owned(),
        secret: opt_str(d, "secret")?.map(Sealed::from_stored),
        events: get_strings(d, "events")?,
        is_active: get_bool(d, "is_active")?,
        custom_headers: get_json(d, "custom_headers")?,
        disabled_resource_groups: get_strings(d, "disabled_groups")?,
        profile_ids: parse_all(d, "profile_ids")?,
        account_ids: parse_all(d, "account_ids")?,
        last_fired_at: opt_time(d, "last_fired_at")?,
        failure_count: u32::try_from(get_int(d, "failure_count")?).unwrap_or(0),
        failing_since: match failing_since {
            0 => None,
            v => Some(to_time("failing_since", v)?),
        },
        created_at: get_time(d, "created_at")?,
        updated_at: get_time(d, "updated_at")?,
    })
}

fn log_doc(l: &WebhookLog) -> Document {
    let mut d = doc! {
        "_id": l.id.as_str(),
        "owner_id": l.owner_id.as_str(),
        "webhook_id": l.webhook_id.as_str(),
        "webhook_name": l.webhook_name.as_str(),
        "event_id": l.event_id.as_str(),
        "event": l.event.as_str(),
        "test": l.test,
        "url": l.url.as_str(),
        "status": l.status.as_str(),
        "request_body": l.request_body.as_str(),
        "attempt_number": i64::from(l.attempt_number),
        "created_at": ms(l.created_at),
    };
    put_opt(&mut d, "status_code", l.status_code.map(i64::from));
    put_opt(&mut d, "response_body", l.response_body.clone());
    put_opt(&mut d, "error_message", l.error_message.clone());
    put_opt(
        &mut d,
        "response_time_ms",
        l.response_time_ms.and_then(|t| i64::try_from(t).ok()),
    );
    d
}

fn log_from(d: &Document) -> StoreResult<WebhookLog> {
    Ok(WebhookLog {
        id: get_str(d, "_id")?.to_owned(),
        owner_id: parse_str(d, "owner_id")?,
        webhook_id: parse_str(d, "webhook_id")?,
        webhook_name: get_str(d, "webhook_name")?.to_owned(),
        event_id: get_str(d, "event_id")?.to_owned(),
        event: get_str(d, "event")?.to_owned(),
        test: get_bool(d, "test")?,
        url: get_str(d, "url")?.to_owned(),
        status: get_str(d, "status")?
            .parse()
            .map_err(|()| corrupt("status", d.get("status")))?,
        status_code: opt_int(d, "status_code")?.and_then(|c| u16::try_from(c).ok()),
        request_body: get_str(d, "request_body")?.to_owned(),
        response_body: opt_str(d, "response_body")?,
        error_message: opt_str(d, "error_message")?,
        attempt_number: u32::try_from(get_int(d, "attempt_number")?).unwrap_or(0),
        response_time_ms: opt_int(d, "response_time_ms")?.and_then(|t| u64::try_from(t).ok()),
        created_at: get_time(d, "created_at")?,
    })
}

#[async_trait]
impl WebhookStore for MongoStore {
    async fn insert_webhook(&self, webhook: &Webhook, max_per_owner: u64) -> StoreResult<bool> {
        // The limit is a quota, not a uniqueness rule: two creations racing past it by one
        // is harmless, so a count before the insert is enough.
        let webhooks = self.coll(WEBHOOKS);
        let n = webhooks
            .count_documents(doc! { "owner_id": webhook.owner_id.as_str() })
            .await?;
        if n >= max_per_owner {
            return Ok(false);
        }
        webhooks.insert_one(webhook_doc(webhook)).await?;
        Ok(true)
    }

    async fn get_webhook(&self, owner: &OwnerId, id: &WebhookId) -> StoreResult<Option<Webhook>> {
        self.coll(WEBHOOKS)
            .find_one(doc! { "_id": id.as_str(), "owner_id": owner.as_str() })
            .await?
            .as_ref()
            .map(webhook_from)
            .transpose()
    }

    async fn list_webhooks(&self, owner: &OwnerId) -> StoreResult<Vec<Webhook>> {
        let cursor = self
            .coll(WEBHOOKS)
            .find(doc! { "owner_id": owner.as_str() })
            .sort(doc! { "created_at": 1, "_id": 1 })
            .await?;
        collect(cursor, webhook_from).await
    }

    async fn update_webhook(
        &self,
        owner: &OwnerId,
        id: &WebhookId,
        patch: &WebhookPatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Webhook>> {
        let p = patch;
        let mut set = doc! { "updated_at": ms(now) };
        let mut unset = Document::new();
        if let Some(n) = &p.name {
            set.insert("name", n.as_str());
        }
        if let Some(u) = &p.url {
            set.insert("url", u.as_str());
        }
        if let Some(s) = &p.secret {
            set_or_unset(
                &mut set,
                &mut unset,
                "secret",
                s.as_ref().map(|s| s.as_stored().to_owned()),
            );
        }
        if let Some(e) = &p.events {
            set.insert("events", e.clone());
        }
        if let Some(a) = p.is_active {
            set.insert("is_active", a);
            if a {
                set.insert("failure_count", 0_i64);
                set.insert("failing_since", 0_i64);
            }
        }
        if let Some(h) = &p.custom_headers {
            set.insert("custom_headers", to_json(h));
        }
        if let Some(g) = &p.disabled_resource_groups {
            set.insert("disabled_groups", g.clone());
        }
        if let Some(ids) = &p.profile_ids {
            let ids: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
            set.insert("profile_ids", ids);
        }
        if let Some(ids) = &p.account_ids {
            let ids: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
            set.insert("account_ids", ids);
        }
        self.coll(WEBHOOKS)
            .find_one_and_update(
                doc! { "_id": id.as_str(), "owner_id": owner.as_str() },
                update_doc(set, unset),
            )
            .return_document(ReturnDocument::After)
            .await?
            .as_ref()
            .map(webhook_from)
            .transpose()
    }

    async fn delete_webhook(&self, owner: &OwnerId, id: &WebhookId) -> StoreResult<bool> {
        let r = self
            .coll(WEBHOOKS)
            .delete_one(doc! { "_id": id.as_str(), "owner_id": owner.as_str() })
            .await?;
        Ok(count(r.deleted_count))
    }

    async fn record_webhook_outcome(
        &self,
        owner: &OwnerId,
        id: &WebhookId,
        success: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Webhook>> {
        let webhooks = self.coll(WEBHOOKS);
        let this = doc! { "_id": id.as_str(), "owner_id": owner.as_str() };
        if success {
            return webhooks
                .find_one_and_update(
                    this,
                    doc! { "$set": {
                        "last_fired_at": ms(now),
                        "failure_count": 0_i64,
                        "failing_since": 0_i64,
                    } },
                )
                .return_document(ReturnDocument::After)
                .await?
                .as_ref()
                .map(webhook_from)
                .transpose();
        }
        // Two steps, each atomic: count the failure, then start the streak if none runs.
        webhooks
            .update_one(this.clone(), doc! { "$inc": { "failure_count": 1_i64 } })
            .await?;
        let mut idle = this.clone();
        idle.insert("failing_since", 0_i64);
        webhooks
            .update_one(idle, doc! { "$set": { "failing_since": marker(now) } })
            .await?;
        webhooks
            .find_one(this)
            .await?
            .as_ref()
            .map(webhook_from)
            .transpose()
    }

    async fn insert_webhook_log(&self, log: &WebhookLog) -> StoreResult<()> {
        self.coll(WEBHOOK_LOGS).insert_one(log_doc(log)).await?;
        Ok(())
    }

    async fn list_webhook_logs(
        &self,
        owner: &OwnerId,
        filter: &WebhookLogFilter,
        skip: u64,
        limit: u64,
    ) -> StoreResult<(Vec<WebhookLog>, u64)> {
        let mut f = doc! { "owner_id": owner.as_str() };
        if let Some(w) = &filter.webhook_id {
            f.insert("webhook_id", w.as_str());
        }
        if let Some(e) = &filter.event_id {
            f.insert("event_id", e.as_str());
        }
        if let Some(e) = &filter.event {
            f.insert("event", e.as_str());
        }
        if let Some(s) = filter.status {
            f.insert("status", s.as_str());
        }
        let logs = self.coll(WEBHOOK_LOGS);
        let total = logs.count_documents(f.clone()).await?;
        let cursor = logs
            .find(f)
            .sort(doc! { "created_at": -1, "_id": -1 })
            .skip(skip)
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await?;
        Ok((collect(cursor, log_from).await?, total))
    }

    async fn purge_webhook_logs(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let r = self
            .coll(WEBHOOK_LOGS)
            .delete_many(doc! { "created_at": { "$lt": ms(before) } })
            .await?;
        Ok(r.deleted_count)
    }

    async fn relay_outbox(&self, _now: DateTime<Utc>) -> StoreResult<u64> {
        let cursor = self
            .coll(ACCOUNTS)
            .find(doc! { OUTBOX: { "$gt": "" } })
            .limit(RELAY_BATCH)
            .await?;
        let stranded = collect(cursor, |d| Ok(d.clone())).await?;
        for d in &stranded {
            self.relay_slot(d).await?;
        }
        let warnings = self.relay_usage_outbox(RELAY_BATCH).await?;
        Ok(u64::try_from(stranded.len()).unwrap_or(0) + warnings)
    }
}

fn mcp_client_doc(c: &McpClient) -> Document {
    doc! {
        "_id": c.id.as_str(),
        "name": c.name.as_str(),
        "redirect_uris": c.redirect_uris.clone(),
        "created_at": ms(c.created_at),
        "last_used_at": c.last_used_at.map_or(0, marker),
    }
}

fn mcp_client_from(d: &Document) -> StoreResult<McpClient> {
    Ok(McpClient {
        id: get_str(d, "_id")?.to_owned(),
        name: get_str(d, "name")?.to_owned(),
        redirect_uris: get_strings(d, "redirect_uris")?,
        created_at: get_time(d, "created_at")?,
        last_used_at: marker_time(d, "last_used_at")?,
    })
}

fn mcp_grant_doc(g: &McpGrant) -> Document {
    doc! {
        "_id": g.id.as_str(),
        "owner_id": g.owner_id.as_str(),
        "api_key_id": g.api_key_id.as_str(),
        "client_id": g.client_id.as_str(),
        "scopes": g.scopes.clone(),
        "resource": g.resource.as_str(),
        "created_at": ms(g.created_at),
        "expires_at": ms(g.expires_at),
        "revoked_at": g.revoked_at.map_or(0, marker),
    }
}

fn mcp_grant_from(d: &Document) -> StoreResult<McpGrant> {
    Ok(McpGrant {
        id: get_str(d, "_id")?.to_owned(),
        owner_id: parse_str(d, "owner_id")?,
        api_key_id: parse_str(d, "api_key_id")?,
        client_id: get_str(d, "client_id")?.to_owned(),
        scopes: get_strings(d, "scopes")?,
        resource: get_str(d, "resource")?.to_owned(),
        created_at: get_time(d, "created_at")?,
        expires_at: get_time(d, "expires_at")?,
        revoked_at: marker_time(d, "revoked_at")?,
    })
}

fn mcp_token_doc(t: &McpToken) -> Document {
    doc! {
        "_id": t.hash.as_str(),
        "kind": t.kind.as_str(),
        "grant_id": t.grant_id.as_str(),
        "owner_id": t.owner_id.as_str(),
        "created_at": ms(t.created_at),
        "expires_at": ms(t.expires_at),
        "used_at": t.used_at.map_or(0, marker),
    }
}

fn mcp_token_from(d: &Document) -> StoreResult<McpToken> {
    Ok(McpToken {
        hash: get_str(d, "_id")?.to_owned(),
        kind: parse_str(d, "kind")?,
        grant_id: get_str(d, "grant_id")?.to_owned(),
        owner_id: parse_str(d, "owner_id")?,
        created_at: get_time(d, "created_at")?,
        expires_at: get_time(d, "expires_at")?,
        used_at: marker_time(d, "used_at")?,
    })
}

/// Grants whose tokens can no longer be used.
fn dead_mcp_grants(now: DateTime<Utc>) -> Document {
    doc! { "$or": [
        { "expires_at": { "$lte": ms(now) } },
        { "revoked_at": { "$gt": 0_i64 } },
    ] }
}

impl MongoStore {
    /// Inserts tokens of the grant `grant_id` one by one (a batch insert reports a
    /// duplicate differently from a single one).
    async fn insert_mcp_token_docs(&self, grant_id: &str, tokens: &[McpToken]) -> StoreResult<()> {
        if tokens.iter().any(|t| t.grant_id != grant_id) {
            return Err(StoreError::Backend("MCP token of another grant".into()));
        }
        let coll = self.coll(MCP_TOKENS);
        for t in tokens {
            coll.insert_one(mcp_token_doc(t))
                .await
                .map_err(|e| unique_violation(e, |_| "token"))?;
        }
        Ok(())
    }
}

#[async_trait]
impl McpAuthStore for MongoStore {
    async fn insert_mcp_client(&self, client: &McpClient) -> StoreResult<()> {
        self.coll(MCP_CLIENTS)
            .insert_one(mcp_client_doc(client))
            .await
            .map_err(|e| unique_violation(e, |_| "id"))?;
        Ok(())
    }

    async fn get_mcp_client(&self, id: &str) -> StoreResult<Option<McpClient>> {
        self.coll(MCP_CLIENTS)
            .find_one(doc! { "_id": id })
            .await?
            .as_ref()
            .map(mcp_client_from)
            .transpose()
    }

    async fn touch_mcp_client(&self, id: &str, now: DateTime<Utc>) -> StoreResult<()> {
        // Never moves back (replicas' clocks differ a little).
        self.coll(MCP_CLIENTS)
            .update_one(
                doc! { "_id": id },
                doc! { "$max": { "last_used_at": marker(now) } },
            )
            .await?;
        Ok(())
    }

    async fn insert_mcp_grant(&self, grant: &McpGrant, tokens: &[McpToken]) -> StoreResult<()> {
        if tokens.iter().any(|t| t.grant_id != grant.id) {
            return Err(StoreError::Backend("MCP token of another grant".into()));
        }
        let mut g = grant.clone();
        g.expires_at = tokens
            .iter()
            .map(|t| t.expires_at)
            .fold(g.expires_at, Ord::max);
        // The grant first: its `_id` decides whether this code was redeemed already, and a
        // crash before the tokens leaves a grant nobody holds a token of.
        self.coll(MCP_GRANTS)
            .insert_one(mcp_grant_doc(&g))
            .await
            .map_err(|e| unique_violation(e, |_| "id"))?;
        self.insert_mcp_token_docs(&g.id, tokens).await
    }

    async fn get_mcp_grant(&self, id: &str) -> StoreResult<Option<McpGrant>> {
        self.coll(MCP_GRANTS)
            .find_one(doc! { "_id": id })
            .await?
            .as_ref()
            .map(mcp_grant_from)
            .transpose()
    }

    async fn insert_mcp_tokens(&self, grant_id: &str, tokens: &[McpToken]) -> StoreResult<()> {
        if tokens.iter().any(|t| t.grant_id != grant_id) {
            return Err(StoreError::Backend("MCP token of another grant".into()));
        }
        let grants = self.coll(MCP_GRANTS);
        // The grant's expiry moves first, so no token ever outlives its grant.
        let exists = match tokens.iter().map(|t| ms(t.expires_at)).max() {
            Some(latest) => count(
                grants
                    .update_one(
                        doc! { "_id": grant_id },
                        doc! { "$max": { "expires_at": latest } },
                    )
                    .await?
                    .matched_count,
            ),
            None => count(
                grants
                    .count_documents(doc! { "_id": grant_id })
                    .limit(1)
                    .await?,
            ),
        };
        if !exists {
            return Err(StoreError::Backend("no such MCP grant".into()));
        }
        self.insert_mcp_token_docs(grant_id, tokens).await
    }

    async fn find_mcp_token(
        &self,
        hash: &str,
        kind: McpTokenKind,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(McpToken, McpGrant)>> {
        let Some(token) = self
            .coll(MCP_TOKENS)
            .find_one(doc! {
                "_id": hash,
                "kind": kind.as_str(),
                "used_at": 0_i64,
                "expires_at": { "$gt": ms(now) },
            })
            .await?
        else {
            return Ok(None);
        };
        let token = mcp_token_from(&token)?;
        let grant = self
            .coll(MCP_GRANTS)
            .find_one(doc! {
                "_id": token.grant_id.as_str(),
                "revoked_at": 0_i64,
                "expires_at": { "$gt": ms(now) },
            })
            .await?;
        Ok(match grant {
            Some(g) => Some((token, mcp_grant_from(&g)?)),
            None => None,
        })
    }

    async fn use_mcp_refresh_token(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<RefreshTokenUse> {
        let tokens = self.coll(MCP_TOKENS);
        let refresh = McpTokenKind::Refresh.as_str();
        let spent = tokens
            .find_one_and_update(
                doc! {
                    "_id": hash,
                    "kind": refresh,
                    "used_at": 0_i64,
                    "expires_at": { "$gt": ms(now) },
                },
                doc! { "$set": { "used_at": marker(now) } },
            )
            .await?;
        if let Some(t) = spent {
            return Ok(match self.get_mcp_grant(get_str(&t, "grant_id")?).await? {
                Some(g) if mcp_grant_is_live(&g, now) => RefreshTokenUse::Fresh(g),
                _ => RefreshTokenUse::Invalid,
            });
        }
        let replayed = tokens
            .find_one(doc! { "_id": hash, "kind": refresh, "used_at": { "$gt": 0_i64 } })
            .await?;
        let Some(t) = replayed else {
            return Ok(RefreshTokenUse::Invalid);
        };
        Ok(match self.get_mcp_grant(get_str(&t, "grant_id")?).await? {
            Some(g) => RefreshTokenUse::Replayed(g),
            None => RefreshTokenUse::Invalid,
        })
    }

    async fn revoke_mcp_grant(&self, id: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        let r = self
            .coll(MCP_GRANTS)
            .update_one(
                doc! { "_id": id, "revoked_at": 0_i64 },
                doc! { "$set": { "revoked_at": marker(now) } },
            )
            .await?;
        Ok(count(r.matched_count))
    }

    async fn revoke_mcp_grants_of_key(
        &self,
        owner: &OwnerId,
        key: &ApiKeyId,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let r = self
            .coll(MCP_GRANTS)
            .update_many(
                doc! {
                    "owner_id": owner.as_str(),
                    "api_key_id": key.as_str(),
                    "revoked_at": 0_i64,
                    "expires_at": { "$gt": ms(now) },
                },
                doc! { "$set": { "revoked_at": marker(now) } },
            )
            .await?;
        Ok(r.modified_count)
    }

    async fn purge_mcp(
        &self,
        now: DateTime<Utc>,
        never_used_before: DateTime<Utc>,
        idle_before: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let (grants, tokens) = (self.coll(MCP_GRANTS), self.coll(MCP_TOKENS));
        let mut gone = tokens
            .delete_many(doc! { "expires_at": { "$lte": ms(now) } })
            .await?
            .deleted_count;
        // Dead grants go in batches, each followed by the tokens of the grants it removed
        // (a revoked grant's tokens may not have expired yet).
        loop {
            let cursor = grants
                .find(dead_mcp_grants(now))
                .limit(MCP_PURGE_BATCH)
                .await?;
            let ids = collect(cursor, |d| Ok(get_str(d, "_id")?.to_owned())).await?;
            if ids.is_empty() {
                break;
            }
            let deleted = grants
                .delete_many(all_of(vec![
                    doc! { "_id": { "$in": ids.clone() } },
                    dead_mcp_grants(now),
                ]))
                .await?
                .deleted_count;
            gone += deleted;
            // A grant a refresh extended in between stays, and so do its tokens.
            let cursor = grants.find(doc! { "_id": { "$in": ids.clone() } }).await?;
            let kept: HashSet<String> = collect(cursor, |d| Ok(get_str(d, "_id")?.to_owned()))
                .await?
                .into_iter()
                .collect();
            let removed: Vec<String> = ids.iter().filter(|i| !kept.contains(*i)).cloned().collect();
            if !removed.is_empty() {
                gone += tokens
                    .delete_many(doc! { "grant_id": { "$in": removed } })
                    .await?
                    .deleted_count;
            }
            if deleted == 0 || ids.len() < usize::try_from(MCP_PURGE_BATCH).unwrap_or(usize::MAX) {
                break;
            }
        }
        gone += self
            .coll(MCP_CLIENTS)
            .delete_many(doc! { "$or": [
                { "last_used_at": 0_i64, "created_at": { "$lt": ms(never_used_before) } },
                { "last_used_at": { "$gt": 0_i64, "$lt": ms(idle_before) } },
            ] })
            .await?
            .deleted_count;
        Ok(gone)
    }
}

#[async_trait]
impl Store for MongoStore {
    async fn ping(&self) -> StoreResult<()> {
        self.db.run_command(doc! { "ping": 1 }).await?;
        Ok(())
    }

    fn backend_name(&self) -> &'static str {
        "mongodb"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_literals_escape_metacharacters() {
        assert_eq!(regex_literal("a.b*c_d%"), "a\\.b\\*c_d%");
        assert_eq!(regex_literal("(x|y)^$"), "\\(x\\|y\\)\\^\\$");
    }

    #[test]
    fn profile_conflicts_name_the_index_not_the_value() {
        assert_eq!(
            profile_conflict_field(
                "E11000 duplicate key error collection: db.profiles index: profiles_owner_external_id dup key: { owner_id: \"x\", external_id: \"e\" }"
            ),
            "externalId"
        );
        assert_eq!(
            profile_conflict_field(
                "E11000 duplicate key error collection: db.profiles index: profiles_owner_name dup key: { owner_id: \"x\", name: \"external_id\" }"
            ),
            "name"
        );
        assert_eq!(
            profile_conflict_field(
                "UNIQUE constraint failed: index 'idx_profiles_owner_id_external_id'"
            ),
            "externalId"
        );
    }
}

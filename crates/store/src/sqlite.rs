//! The embedded backend: one SQLite file in WAL mode. Blocking calls run on tokio's
//! blocking pool over a few pooled connections. Every write runs in a `BEGIN IMMEDIATE`
//! transaction, so a conditional update sees the latest committed state even when another
//! process (the CLI) writes the same file.

use crate::*;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

mod quota;

const POOL_SIZE: usize = 4;

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE owners (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT,
    created_at INTEGER NOT NULL
);
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    preview TEXT NOT NULL,
    profile_ids TEXT,
    permission TEXT NOT NULL,
    disabled_groups TEXT NOT NULL,
    expires_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX api_keys_owner ON api_keys(owner_id, created_at);
CREATE TABLE profiles (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    color TEXT,
    timezone TEXT,
    external_id TEXT,
    is_default INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (owner_id, name),
    UNIQUE (owner_id, external_id)
);
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL,
    profile_id TEXT NOT NULL,
    platform TEXT NOT NULL,
    platform_user_id TEXT NOT NULL,
    destination_id TEXT NOT NULL,
    username TEXT,
    display_name TEXT,
    profile_picture TEXT,
    profile_url TEXT,
    is_active INTEGER NOT NULL,
    needs_reconnection INTEGER NOT NULL,
    enabled INTEGER NOT NULL,
    followers_count INTEGER,
    followers_last_updated INTEGER,
    parent_account_id TEXT,
    metadata TEXT NOT NULL,
    tokens TEXT,
    token_expires_at INTEGER,
    scopes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    removed_at INTEGER,
    UNIQUE (profile_id, platform, platform_user_id, destination_id)
);
CREATE INDEX accounts_owner ON accounts(owner_id, id);
CREATE TABLE one_time (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    owner_id TEXT,
    payload TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    consumed_at INTEGER,
    PRIMARY KEY (kind, key)
);
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    run_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    lease_holder TEXT,
    lease_until INTEGER
);
CREATE INDEX jobs_due ON jobs(kind, run_at);
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until INTEGER NOT NULL
);
"#,
    r#"
CREATE TABLE idempotency (
    id TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    done INTEGER NOT NULL,
    status INTEGER,
    body TEXT,
    expires_at INTEGER NOT NULL
);
"#,
    r#"
ALTER TABLE accounts ADD COLUMN refresh_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN refresh_not_before INTEGER;
CREATE INDEX accounts_due ON accounts(token_expires_at) WHERE removed_at IS NULL AND tokens IS NOT NULL;
"#,
    r#"
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    secret TEXT,
    events TEXT NOT NULL,
    is_active INTEGER NOT NULL,
    custom_headers TEXT NOT NULL,
    disabled_groups TEXT NOT NULL,
    profile_ids TEXT NOT NULL,
    account_ids TEXT NOT NULL,
    last_fired_at INTEGER,
    failure_count INTEGER NOT NULL,
    failing_since INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX webhooks_owner ON webhooks(owner_id, id);
CREATE TABLE webhook_logs (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    webhook_name TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event TEXT NOT NULL,
    test INTEGER NOT NULL,
    url TEXT NOT NULL,
    status TEXT NOT NULL,
    status_code INTEGER,
    request_body TEXT NOT NULL,
    response_body TEXT,
    error_message TEXT,
    attempt_number INTEGER NOT NULL,
    response_time_ms INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX webhook_logs_owner ON webhook_logs(owner_id, created_at);
CREATE INDEX webhook_logs_created ON webhook_logs(created_at);
"#,
    r#"
CREATE TABLE mcp_clients (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE TABLE mcp_grants (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL,
    api_key_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    scopes TEXT NOT NULL,
    resource TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX mcp_grants_key ON mcp_grants(owner_id, api_key_id);
CREATE INDEX mcp_grants_expiry ON mcp_grants(expires_at);
CREATE TABLE mcp_tokens (
    hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    grant_id TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX mcp_tokens_grant ON mcp_tokens(grant_id);
CREATE INDEX mcp_tokens_expiry ON mcp_tokens(expires_at);
"#,
    quota::MIGRATION,
];

pub struct SqliteStore {
    path: PathBuf,
    idle: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<Semaphore>,
    observer: Arc<dyn crate::StoreObserver>,
}

fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let applied: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let applied = usize::try_from(applied).unwrap_or(0);
    if applied > MIGRATIONS.len() {
        return Err(StoreError::Backend(format!(
            "database schema version {applied} is newer than this binary supports ({})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
    }
    tx.commit()?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating when absent) the database file and brings its schema up to date.
    pub async fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        let path = path.as_ref().to_path_buf();
        let opened = tokio::task::spawn_blocking({
            let path = path.clone();
            move || -> StoreResult<Vec<Connection>> {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StoreError::Backend(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
                let mut first = open_connection(&path)?;
                migrate(&mut first)?;
                let mut conns = vec![first];
                for _ in 1..POOL_SIZE {
                    conns.push(open_connection(&path)?);
                }
                Ok(conns)
            }
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))??;
        Ok(Self {
            path,
            idle: Arc::new(Mutex::new(opened)),
            permits: Arc::new(Semaphore::new(POOL_SIZE)),
            observer: Arc::new(crate::NoObserver),
        })
    }

    /// The same store, reporting operation times and take-overs to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn crate::StoreObserver>) -> Self {
        self.observer = observer;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn run<R, F>(&self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<R> + Send + 'static,
    {
        let started = std::time::Instant::now();
        let out = self.run_unobserved(f).await;
        self.observer.operation("read", started.elapsed());
        out
    }

    async fn run_unobserved<R, F>(&self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<R> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let conn = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut conn = match conn {
            Some(c) => c,
            None => open_connection(&self.path)?,
        };
        let idle = self.idle.clone();
        tokio::task::spawn_blocking(move || {
            let out = f(&mut conn);
            idle.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
            out
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
    }

    /// Runs `f` inside a `BEGIN IMMEDIATE` transaction and commits on success.
    async fn write<R, F>(&self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> StoreResult<R> + Send + 'static,
    {
        let started = std::time::Instant::now();
        let out = self
            .run_unobserved(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let out = f(&tx)?;
                tx.commit()?;
                Ok(out)
            })
            .await;
        self.observer.operation("write", started.elapsed());
        out
    }
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn time(v: i64) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(v).ok_or_else(|| corrupt(format!("timestamp {v}")))
}

fn opt_time(v: Option<i64>) -> rusqlite::Result<Option<DateTime<Utc>>> {
    v.map(time).transpose()
}

fn corrupt(msg: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, msg.into())
}

fn parse_col<T: std::str::FromStr>(v: String) -> rusqlite::Result<T> {
    v.parse::<T>().map_err(|_| corrupt(format!("value {v:?}")))
}

fn json_col<T: serde::de::DeserializeOwned>(v: String) -> rusqlite::Result<T> {
    serde_json::from_str(&v).map_err(|e| corrupt(e.to_string()))
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// Maps a unique-constraint failure to a conflict naming the field.
fn unique_violation(e: rusqlite::Error, field_of: impl Fn(&str) -> &'static str) -> StoreError {
    if let rusqlite::Error::SqliteFailure(err, Some(msg)) = &e
        && err.code == rusqlite::ErrorCode::ConstraintViolation
        && msg.contains("UNIQUE")
    {
        return StoreError::Conflict {
            field: field_of(msg),
            existing_id: None,
        };
    }
    e.into()
}

const OWNER_COLS: &str = "id, name, email, created_at";

fn owner_row(r: &Row<'_>) -> rusqlite::Result<Owner> {
    Ok(Owner {
        id: parse_col(r.get(0)?)?,
        name: r.get(1)?,
        email: r.get(2)?,
        created_at: time(r.get(3)?)?,
    })
}

const KEY_COLS: &str = "id, owner_id, name, key_hash, preview, profile_ids, permission, disabled_groups, expires_at, created_at";

fn key_row(r: &Row<'_>) -> rusqlite::Result<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: parse_col(r.get(0)?)?,
        owner_id: parse_col(r.get(1)?)?,
        name: r.get(2)?,
        key_hash: r.get(3)?,
        preview: r.get(4)?,
        profile_ids: r.get::<_, Option<String>>(5)?.map(json_col).transpose()?,
        permission: json_col(format!("\"{}\"", r.get::<_, String>(6)?))?,
        disabled_resource_groups: json_col(r.get(7)?)?,
        expires_at: opt_time(r.get(8)?)?,
        created_at: time(r.get(9)?)?,
    })
}

const PROFILE_COLS: &str = "id, owner_id, name, description, color, timezone, external_id, is_default, created_at, updated_at";

fn profile_row(r: &Row<'_>) -> rusqlite::Result<Profile> {
    Ok(Profile {
        id: parse_col(r.get(0)?)?,
        owner_id: parse_col(r.get(1)?)?,
        name: r.get(2)?,
        description: r.get(3)?,
        color: r.get(4)?,
        timezone: r.get(5)?,
        external_id: r.get(6)?,
        is_default: r.get(7)?,
        created_at: time(r.get(8)?)?,
        updated_at: time(r.get(9)?)?,
    })
}

fn profile_conflict_field(msg: &str) -> &'static str {
    if msg.contains("external_id") {
        "externalId"
    } else {
        "name"
    }
}

const ACCOUNT_COLS: &str = "id, owner_id, profile_id, platform, platform_user_id, destination_id, \
    username, display_name, profile_picture, profile_url, is_active, needs_reconnection, enabled, \
    followers_count, followers_last_updated, parent_account_id, metadata, tokens, token_expires_at, \
    scopes, created_at, updated_at, refresh_failures";

fn account_row(r: &Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: parse_col(r.get(0)?)?,
        owner_id: parse_col(r.get(1)?)?,
        profile_id: parse_col(r.get(2)?)?,
        platform: parse_col(r.get(3)?)?,
        platform_user_id: r.get(4)?,
        destination_id: r.get(5)?,
        username: r.get(6)?,
        display_name: r.get(7)?,
        profile_picture: r.get(8)?,
        profile_url: r.get(9)?,
        is_active: r.get(10)?,
        needs_reconnection: r.get(11)?,
        enabled: r.get(12)?,
        followers_count: r.get(13)?,
        followers_last_updated: opt_time(r.get(14)?)?,
        parent_account_id: r.get::<_, Option<String>>(15)?.map(parse_col).transpose()?,
        metadata: json_col(r.get(16)?)?,
        tokens: r.get::<_, Option<String>>(17)?.map(Sealed::from_stored),
        token_expires_at: opt_time(r.get(18)?)?,
        scopes: json_col(r.get(19)?)?,
        created_at: time(r.get(20)?)?,
        updated_at: time(r.get(21)?)?,
        refresh_failures: u32::try_from(r.get::<_, i64>(22)?).unwrap_or(0),
    })
}

const JOB_COLS: &str = "id, kind, payload, run_at, attempts, lease_holder, lease_until";

fn job_row(r: &Row<'_>) -> rusqlite::Result<Job> {
    Ok(Job {
        id: r.get(0)?,
        kind: r.get(1)?,
        payload: json_col(r.get(2)?)?,
        run_at: time(r.get(3)?)?,
        attempts: r.get(4)?,
        lease_holder: r.get(5)?,
        lease_until: opt_time(r.get(6)?)?,
    })
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn like_pattern(s: &str) -> String {
    let mut out = String::from("%");
    for c in s.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The WHERE clause (without paging conditions) for an account query.
fn account_filter(owner: &OwnerId, q: &AccountQuery) -> (String, Vec<Value>) {
    let mut sql = String::from("owner_id = ? AND removed_at IS NULL");
    let mut args: Vec<Value> = vec![Value::Text(owner.to_string())];
    let mut in_list = |sql: &mut String, col: &str, items: Vec<String>| {
        sql.push_str(&format!(" AND {col} IN ("));
        let marks = vec!["?"; items.len()].join(",");
        sql.push_str(if items.is_empty() { "NULL" } else { &marks });
        sql.push(')');
        args.extend(items.into_iter().map(Value::Text));
    };
    if let Some(ids) = &q.profile_ids {
        in_list(
            &mut sql,
            "profile_id",
            ids.iter().map(|i| i.to_string()).collect(),
        );
    }
    if let Some(ps) = &q.platforms {
        in_list(
            &mut sql,
            "platform",
            ps.iter().map(|p| p.to_string()).collect(),
        );
    }
    match q.status {
        Some(AccountStatus::Connected) => sql.push_str(" AND needs_reconnection = 0"),
        Some(AccountStatus::Disconnected) => sql.push_str(" AND needs_reconnection = 1"),
        None => {}
    }
    if q.exclude_hidden {
        sql.push_str(" AND enabled = 1");
    }
    if let Some(s) = &q.search {
        let pattern = like_pattern(s);
        sql.push_str(
            " AND (lower(coalesce(username, '')) LIKE ? ESCAPE '\\' \
             OR lower(coalesce(display_name, '')) LIKE ? ESCAPE '\\' \
             OR lower(platform_user_id) LIKE ? ESCAPE '\\' OR id = ?)",
        );
        for _ in 0..3 {
            args.push(Value::Text(pattern.clone()));
        }
        args.push(Value::Text(s.to_lowercase()));
    }
    (sql, args)
}

fn sort_column(sort: AccountSort) -> &'static str {
    match sort {
        AccountSort::Id => "id",
        AccountSort::Username => "lower(coalesce(username, ''))",
        AccountSort::Platform => "platform",
        AccountSort::Profile => "profile_id",
        AccountSort::Status => "needs_reconnection",
        AccountSort::Connected => "created_at",
    }
}

fn changed(n: usize) -> bool {
    n > 0
}

#[async_trait]
impl OwnerStore for SqliteStore {
    async fn insert_owner(&self, owner: &Owner) -> StoreResult<()> {
        let o = owner.clone();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO owners (id, name, email, created_at) VALUES (?, ?, ?, ?)",
                params![o.id.as_str(), o.name, o.email, ms(o.created_at)],
            )
            .map_err(|e| unique_violation(e, |_| "id"))?;
            Ok(())
        })
        .await
    }

    async fn get_owner(&self, id: &OwnerId) -> StoreResult<Option<Owner>> {
        let id = id.to_string();
        self.run(move |c| {
            Ok(c.query_row(
                &format!("SELECT {OWNER_COLS} FROM owners WHERE id = ?"),
                [id],
                owner_row,
            )
            .optional()?)
        })
        .await
    }

    async fn first_owner(&self) -> StoreResult<Option<Owner>> {
        self.run(move |c| {
            Ok(c.query_row(
                &format!("SELECT {OWNER_COLS} FROM owners ORDER BY created_at, id LIMIT 1"),
                [],
                owner_row,
            )
            .optional()?)
        })
        .await
    }
}

fn insert_key(tx: &rusqlite::Transaction<'_>, k: &ApiKeyRecord) -> StoreResult<()> {
    tx.execute(
        &format!("INSERT INTO api_keys ({KEY_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
        params![
            k.id.as_str(),
            k.owner_id.as_str(),
            k.name,
            k.key_hash,
            k.preview,
            k.profile_ids.as_ref().map(to_json),
            k.permission.as_str(),
            to_json(&k.disabled_resource_groups),
            k.expires_at.map(ms),
            ms(k.created_at),
        ],
    )
    .map_err(|e| unique_violation(e, |_| "key"))?;
    Ok(())
}

#[async_trait]
impl ApiKeyStore for SqliteStore {
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> StoreResult<()> {
        let k = key.clone();
        self.write(move |tx| insert_key(tx, &k)).await
    }

    async fn insert_first_api_key(&self, key: &ApiKeyRecord) -> StoreResult<bool> {
        let k = key.clone();
        self.write(move |tx| {
            let n: i64 = tx.query_row("SELECT COUNT(*) FROM api_keys", [], |r| r.get(0))?;
            if n > 0 {
                return Ok(false);
            }
            insert_key(tx, &k)?;
            Ok(true)
        })
        .await
    }

    async fn find_api_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let h = key_hash.to_owned();
        self.run(move |c| {
            Ok(c.query_row(
                &format!("SELECT {KEY_COLS} FROM api_keys WHERE key_hash = ?"),
                [h],
                key_row,
            )
            .optional()?)
        })
        .await
    }

    async fn list_api_keys(&self, owner: &OwnerId) -> StoreResult<Vec<ApiKeyRecord>> {
        let o = owner.to_string();
        self.run(move |c| {
            let mut st = c.prepare(&format!(
                "SELECT {KEY_COLS} FROM api_keys WHERE owner_id = ? ORDER BY created_at, id"
            ))?;
            let rows = st.query_map([o], key_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn delete_api_key(&self, owner: &OwnerId, id: &ApiKeyId) -> StoreResult<bool> {
        let (o, i) = (owner.to_string(), id.to_string());
        self.write(move |tx| {
            Ok(changed(tx.execute(
                "DELETE FROM api_keys WHERE owner_id = ? AND id = ?",
                [o, i],
            )?))
        })
        .await
    }

    async fn count_api_keys(&self) -> StoreResult<u64> {
        self.run(|c| {
            let n: i64 = c.query_row("SELECT COUNT(*) FROM api_keys", [], |r| r.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }
}

#[async_trait]
impl ProfileStore for SqliteStore {
    async fn insert_profile(&self, profile: &Profile) -> StoreResult<()> {
        let p = profile.clone();
        self.write(move |tx| {
            if p.is_default {
                tx.execute(
                    "UPDATE profiles SET is_default = 0 WHERE owner_id = ?",
                    [p.owner_id.as_str()],
                )?;
            }
            tx.execute(
                &format!(
                    "INSERT INTO profiles ({PROFILE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                params![
                    p.id.as_str(),
                    p.owner_id.as_str(),
                    p.name,
                    p.description,
                    p.color,
                    p.timezone,
                    p.external_id,
                    p.is_default,
                    ms(p.created_at),
                    ms(p.updated_at)
                ],
            )
            .map_err(|e| unique_violation(e, profile_conflict_field))?;
            Ok(())
        })
        .await
    }

    async fn get_profile(&self, owner: &OwnerId, id: &ProfileId) -> StoreResult<Option<Profile>> {
        let (o, i) = (owner.to_string(), id.to_string());
        self.run(move |c| {
            Ok(c.query_row(
                &format!("SELECT {PROFILE_COLS} FROM profiles WHERE owner_id = ? AND id = ?"),
                [o, i],
                profile_row,
            )
            .optional()?)
        })
        .await
    }

    async fn list_profiles(
        &self,
        owner: &OwnerId,
        filter: &ProfileFilter,
        skip: u64,
        limit: Option<u64>,
    ) -> StoreResult<(Vec<Profile>, u64)> {
        let mut sql = String::from(" FROM profiles WHERE owner_id = ?");
        let mut args = vec![Value::Text(owner.to_string())];
        if let Some(name) = &filter.name {
            sql.push_str(" AND name = ?");
            args.push(Value::Text(name.clone()));
        }
        if let Some(ext) = &filter.external_id {
            sql.push_str(" AND external_id = ?");
            args.push(Value::Text(ext.clone()));
        }
        if let Some(only) = &filter.only {
            let marks = vec!["?"; only.len()].join(",");
            sql.push_str(&format!(
                " AND id IN ({})",
                if only.is_empty() { "NULL" } else { &marks }
            ));
            args.extend(only.iter().map(|i| Value::Text(i.to_string())));
        }
        let limit = limit
            .map(|l| i64::try_from(l).unwrap_or(i64::MAX))
            .unwrap_or(-1);
        let skip = i64::try_from(skip).unwrap_or(i64::MAX);
        self.run(move |c| {
            let total: i64 = c.query_row(
                &format!("SELECT COUNT(*){sql}"),
                rusqlite::params_from_iter(args.iter()),
                |r| r.get(0),
            )?;
            let mut page_args = args.clone();
            page_args.push(Value::Integer(limit));
            page_args.push(Value::Integer(skip));
            let mut st = c.prepare(&format!(
                "SELECT {PROFILE_COLS}{sql} ORDER BY is_default DESC, created_at, id LIMIT ? OFFSET ?"
            ))?;
            let rows = st.query_map(rusqlite::params_from_iter(page_args.iter()), profile_row)?;
            Ok((
                rows.collect::<Result<_, _>>()?,
                u64::try_from(total).unwrap_or(0),
            ))
        })
        .await
    }

    async fn update_profile(
        &self,
        owner: &OwnerId,
        id: &ProfileId,
        patch: &ProfilePatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Profile>> {
        let (o, i, p) = (owner.to_string(), id.to_string(), patch.clone());
        self.write(move |tx| {
            let mut sets = vec!["updated_at = ?".to_owned()];
            let mut args = vec![Value::Integer(ms(now))];
            let mut set = |col: &str, v: Value| {
                sets.push(format!("{col} = ?"));
                args.push(v);
            };
            let text = |v: Option<String>| v.map(Value::Text).unwrap_or(Value::Null);
            if let Some(v) = p.name {
                set("name", Value::Text(v));
            }
            if let Some(v) = p.description {
                set("description", text(v));
            }
            if let Some(v) = p.color {
                set("color", Value::Text(v));
            }
            if let Some(v) = p.timezone {
                set("timezone", text(v));
            }
            if let Some(v) = p.external_id {
                set("external_id", text(v));
            }
            if let Some(v) = p.is_default {
                set("is_default", Value::Integer(i64::from(v)));
            }
            if p.is_default == Some(true) {
                tx.execute(
                    "UPDATE profiles SET is_default = 0 WHERE owner_id = ? AND id != ?",
                    [&o, &i],
                )?;
            }
            args.push(Value::Text(o.clone()));
            args.push(Value::Text(i.clone()));
            let n = tx
                .execute(
                    &format!(
                        "UPDATE profiles SET {} WHERE owner_id = ? AND id = ?",
                        sets.join(", ")
                    ),
                    rusqlite::params_from_iter(args.iter()),
                )
                .map_err(|e| unique_violation(e, profile_conflict_field))?;
            if n == 0 {
                return Ok(None);
            }
            Ok(tx
                .query_row(
                    &format!("SELECT {PROFILE_COLS} FROM profiles WHERE owner_id = ? AND id = ?"),
                    [o, i],
                    profile_row,
                )
                .optional()?)
        })
        .await
    }

    async fn delete_profile(&self, owner: &OwnerId, id: &ProfileId) -> StoreResult<bool> {
        let (o, i) = (owner.to_string(), id.to_string());
        self.write(move |tx| {
            Ok(changed(tx.execute(
                "DELETE FROM profiles WHERE owner_id = ? AND id = ?",
                [o, i],
            )?))
        })
        .await
    }
}

/// Drops tombstones in `to` that would collide with live accounts moving there.
fn clear_tombstones_for_move(
    tx: &rusqlite::Transaction<'_>,
    moving: &str,
    to: &str,
) -> rusqlite::Result<usize> {
    tx.execute(
        &format!(
            "DELETE FROM accounts WHERE profile_id = ? AND removed_at IS NOT NULL AND EXISTS (
                SELECT 1 FROM accounts m WHERE {moving} AND m.removed_at IS NULL
                AND m.platform = accounts.platform AND m.platform_user_id = accounts.platform_user_id
                AND m.destination_id = accounts.destination_id)"
        ),
        [to],
    )
}

fn account_conflict(e: rusqlite::Error) -> StoreError {
    unique_violation(e, |_| "account")
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn upsert_account(
        &self,
        account: &AccountUpsert,
        event: Option<&AccountEvent>,
        now: DateTime<Utc>,
    ) -> StoreResult<Account> {
        let a = account.clone();
        let event = event.cloned();
        let new_id = AccountId::generate(now.timestamp());
        self.write(move |tx| {
            // The profile must belong to the same owner; ids are global, so check it here
            // rather than trust the caller.
            let owns: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM profiles WHERE owner_id = ? AND id = ?",
                    [a.owner_id.as_str(), a.profile_id.as_str()],
                    |r| r.get(0),
                )
                .optional()?;
            if owns.is_none() {
                return Err(StoreError::Conflict {
                    field: "profileId",
                    existing_id: None,
                });
            }
            let row = tx.query_row(
                &format!(
                    "INSERT INTO accounts ({ACCOUNT_COLS}, removed_at) VALUES
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1, 0, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?19, 0, NULL)
                     ON CONFLICT (profile_id, platform, platform_user_id, destination_id) DO UPDATE SET
                       username = excluded.username,
                       display_name = excluded.display_name,
                       profile_picture = excluded.profile_picture,
                       profile_url = excluded.profile_url,
                       needs_reconnection = 0,
                       is_active = CASE WHEN accounts.removed_at IS NULL THEN accounts.is_active ELSE 1 END,
                       enabled = excluded.enabled,
                       followers_count = coalesce(excluded.followers_count, accounts.followers_count),
                       followers_last_updated = coalesce(excluded.followers_last_updated, accounts.followers_last_updated),
                       parent_account_id = excluded.parent_account_id,
                       metadata = excluded.metadata,
                       tokens = excluded.tokens,
                       token_expires_at = excluded.token_expires_at,
                       scopes = excluded.scopes,
                       updated_at = excluded.updated_at,
                       refresh_failures = 0,
                       refresh_not_before = NULL,
                       removed_at = NULL
                     RETURNING {ACCOUNT_COLS}"
                ),
                params![
                    new_id.as_str(),
                    a.owner_id.as_str(),
                    a.profile_id.as_str(),
                    a.platform.as_str(),
                    a.platform_user_id,
                    a.destination_id,
                    a.username,
                    a.display_name,
                    a.profile_picture,
                    a.profile_url,
                    a.enabled,
                    a.followers_count,
                    a.followers_count.map(|_| ms(now)),
                    a.parent_account_id.as_ref().map(|p| p.to_string()),
                    to_json(&a.metadata),
                    a.tokens.as_ref().map(|t| t.as_stored().to_owned()),
                    a.token_expires_at.map(ms),
                    to_json(&a.scopes),
                    ms(now),
                ],
                account_row,
            )?;
            if let Some(e) = &event {
                queue_account_event(tx, e, &row, now)?;
            }
            Ok(row)
        })
        .await
    }

    async fn get_account(&self, owner: &OwnerId, id: &AccountId) -> StoreResult<Option<Account>> {
        let (o, i) = (owner.to_string(), id.to_string());
        self.run(move |c| {
            Ok(c.query_row(
                &format!(
                    "SELECT {ACCOUNT_COLS} FROM accounts WHERE owner_id = ? AND id = ? AND removed_at IS NULL"
                ),
                [o, i],
                account_row,
            )
            .optional()?)
        })
        .await
    }

    async fn list_accounts(
        &self,
        owner: &OwnerId,
        query: &AccountQuery,
    ) -> StoreResult<AccountPage> {
        let (filter, args) = account_filter(owner, query);
        let q = query.clone();
        self.run(move |c| {
            let total: i64 = c.query_row(
                &format!("SELECT COUNT(*) FROM accounts WHERE {filter}"),
                rusqlite::params_from_iter(args.iter()),
                |r| r.get(0),
            )?;
            let total = u64::try_from(total).unwrap_or(0);
            let dir = match q.order {
                Order::Asc => "ASC",
                Order::Desc => "DESC",
            };
            let mut page_args = args.clone();
            let (where_more, order, limit, skip) = match &q.page {
                PageRequest::All => (
                    String::new(),
                    format!("{} {dir}, id ASC", sort_column(q.sort)),
                    -1,
                    0,
                ),
                PageRequest::Offset { skip, limit } => (
                    String::new(),
                    format!("{} {dir}, id ASC", sort_column(q.sort)),
                    i64::try_from(*limit).unwrap_or(i64::MAX),
                    i64::try_from(*skip).unwrap_or(i64::MAX),
                ),
                PageRequest::Cursor { after, limit } => {
                    let cond = match after {
                        Some(a) => {
                            page_args.push(Value::Text(a.to_string()));
                            " AND id > ?".to_owned()
                        }
                        None => String::new(),
                    };
                    // One extra row tells whether there is a next page.
                    (
                        cond,
                        "id ASC".to_owned(),
                        i64::try_from(*limit).unwrap_or(i64::MAX - 1) + 1,
                        0,
                    )
                }
            };
            page_args.push(Value::Integer(limit));
            page_args.push(Value::Integer(skip));
            let mut st = c.prepare(&format!(
                "SELECT {ACCOUNT_COLS} FROM accounts WHERE {filter}{where_more} ORDER BY {order} LIMIT ? OFFSET ?"
            ))?;
            let mut accounts: Vec<Account> = st
                .query_map(rusqlite::params_from_iter(page_args.iter()), account_row)?
                .collect::<Result<_, _>>()?;
            let mut next_cursor = None;
            if let PageRequest::Cursor { limit, .. } = q.page
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
        })
        .await
    }

    async fn count_accounts_by_profile(
        &self,
        owner: &OwnerId,
    ) -> StoreResult<Vec<(ProfileId, u64)>> {
        let o = owner.to_string();
        self.run(move |c| {
            let mut st = c.prepare(
                "SELECT profile_id, COUNT(*) FROM accounts WHERE owner_id = ? AND removed_at IS NULL GROUP BY profile_id",
            )?;
            let rows = st.query_map([o], |r| {
                Ok((
                    parse_col::<ProfileId>(r.get(0)?)?,
                    u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                ))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn update_account(
        &self,
        owner: &OwnerId,
        id: &AccountId,
        patch: &AccountPatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Account>> {
        let (o, i, p) = (owner.to_string(), id.to_string(), patch.clone());
        self.write(move |tx| {
            Ok(tx
                .query_row(
                    &format!(
                        "UPDATE accounts SET username = coalesce(?, username),
                           display_name = coalesce(?, display_name),
                           is_active = coalesce(?, is_active), updated_at = ?
                         WHERE owner_id = ? AND id = ? AND removed_at IS NULL
                         RETURNING {ACCOUNT_COLS}"
                    ),
                    params![p.username, p.display_name, p.is_active, ms(now), o, i],
                    account_row,
                )
                .optional()?)
        })
        .await
    }

    async fn accounts_due_for_refresh(
        &self,
        due_before: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: u64,
    ) -> StoreResult<Vec<Account>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {ACCOUNT_COLS} FROM accounts
                 WHERE removed_at IS NULL AND tokens IS NOT NULL AND needs_reconnection = 0
                   AND token_expires_at IS NOT NULL AND token_expires_at <= ?1
                   AND (refresh_not_before IS NULL OR refresh_not_before <= ?2)
                 ORDER BY token_expires_at, id LIMIT ?3"
            ))?;
            let rows = stmt
                .query_map(params![ms(due_before), ms(now), limit], account_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await
    }

    async fn store_refreshed_tokens(
        &self,
        id: &AccountId,
        expected: &Sealed,
        new: &Sealed,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (i, e, n) = (
            id.to_string(),
            expected.as_stored().to_owned(),
            new.as_stored().to_owned(),
        );
        self.write(move |tx| {
            let changed = tx.execute(
                "UPDATE accounts SET tokens = ?1, token_expires_at = ?2, refresh_failures = 0,
                   refresh_not_before = NULL, updated_at = ?3
                 WHERE id = ?4 AND tokens = ?5 AND removed_at IS NULL",
                params![n, expires_at.map(ms), ms(now), i, e],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn defer_refresh(&self, id: &AccountId, retry_at: DateTime<Utc>) -> StoreResult<u32> {
        let i = id.to_string();
        self.write(move |tx| {
            let failures: Option<i64> = tx
                .query_row(
                    "UPDATE accounts SET refresh_failures = refresh_failures + 1,
                       refresh_not_before = ?1
                     WHERE id = ?2 RETURNING refresh_failures",
                    params![ms(retry_at), i],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(failures.and_then(|f| u32::try_from(f).ok()).unwrap_or(0))
        })
        .await
    }

    async fn mark_needs_reconnection(
        &self,
        id: &AccountId,
        event: Option<&AccountEvent>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Account>> {
        let i = id.to_string();
        let event = event.cloned();
        self.write(move |tx| {
            let changed = tx
                .query_row(
                    &format!(
                        "UPDATE accounts SET needs_reconnection = 1, updated_at = ?1
                         WHERE id = ?2 AND needs_reconnection = 0 AND removed_at IS NULL
                         RETURNING {ACCOUNT_COLS}"
                    ),
                    params![ms(now), i],
                    account_row,
                )
                .optional()?;
            if let (Some(a), Some(e)) = (&changed, &event) {
                queue_account_event(tx, e, a, now)?;
            }
            Ok(changed)
        })
        .await
    }

    async fn retarget_account(
        &self,
        owner: &OwnerId,
        id: &AccountId,
        change: &AccountRetarget,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Account>> {
        let (o, i, c) = (owner.to_string(), id.to_string(), change.clone());
        self.write(move |tx| {
            // A tombstone with the new identity must not block the change; a live account
            // must (the unique index refuses the update).
            tx.execute(
                "DELETE FROM accounts WHERE removed_at IS NOT NULL AND destination_id = ?1 AND EXISTS (
                    SELECT 1 FROM accounts m WHERE m.id = ?2 AND m.owner_id = ?3 AND m.removed_at IS NULL
                    AND m.profile_id = accounts.profile_id AND m.platform = accounts.platform
                    AND m.platform_user_id = accounts.platform_user_id)",
                params![c.destination_id, i, o],
            )?;
            tx.query_row(
                &format!(
                    "UPDATE accounts SET destination_id = ?, username = ?, display_name = ?,
                       profile_picture = ?, profile_url = ?, metadata = ?, tokens = ?,
                       token_expires_at = ?, updated_at = ?
                     WHERE owner_id = ? AND id = ? AND removed_at IS NULL RETURNING {ACCOUNT_COLS}"
                ),
                params![
                    c.destination_id,
                    c.username,
                    c.display_name,
                    c.profile_picture,
                    c.profile_url,
                    to_json(&c.metadata),
                    c.tokens.as_ref().map(|t| t.as_stored().to_owned()),
                    c.token_expires_at.map(ms),
                    ms(now),
                    o,
                    i
                ],
                account_row,
            )
            .optional()
            .map_err(account_conflict)
        })
        .await
    }

    async fn move_account(
        &self,
        owner: &OwnerId,
        id: &AccountId,
        to: &ProfileId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Account>> {
        let (o, i, t) = (owner.to_string(), id.to_string(), to.to_string());
        self.write(move |tx| {
            let owns: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM profiles WHERE owner_id = ? AND id = ?",
                    [&o, &t],
                    |r| r.get(0),
                )
                .optional()?;
            if owns.is_none() {
                return Ok(None);
            }
            clear_tombstones_for_move(tx, &format!("m.id = '{}'", i.replace('\'', "")), &t)?;
            tx.query_row(
                    &format!(
                        "UPDATE accounts SET profile_id = ?, updated_at = ?
                         WHERE owner_id = ? AND id = ? AND removed_at IS NULL RETURNING {ACCOUNT_COLS}"
                    ),
                    params![t, ms(now), o, i],
                    account_row,
                )
                .optional()
                .map_err(account_conflict)
        })
        .await
    }

    async fn move_profile_accounts(
        &self,
        owner: &OwnerId,
        from: &ProfileId,
        to: &ProfileId,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let (o, f, t) = (owner.to_string(), from.to_string(), to.to_string());
        self.write(move |tx| {
            clear_tombstones_for_move(
                tx,
                &format!("m.profile_id = '{}'", f.replace('\'', "")),
                &t,
            )?;
            let n = tx
                .execute(
                    "UPDATE accounts SET profile_id = ?, updated_at = ?
                     WHERE owner_id = ? AND profile_id = ? AND removed_at IS NULL",
                    params![t, ms(now), o, f],
                )
                .map_err(account_conflict)?;
            Ok(n as u64)
        })
        .await
    }

    async fn remove_account(
        &self,
        owner: &OwnerId,
        id: &AccountId,
        event: Option<&AccountEvent>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Account>> {
        let (o, i) = (owner.to_string(), id.to_string());
        let event = event.cloned();
        self.write(move |tx| {
            let removed = tx
                .query_row(
                    &format!(
                        "UPDATE accounts SET removed_at = ?1, updated_at = ?1, tokens = NULL,
                           token_expires_at = NULL
                         WHERE owner_id = ?2 AND id = ?3 AND removed_at IS NULL RETURNING {ACCOUNT_COLS}"
                    ),
                    params![ms(now), o, i],
                    account_row,
                )
                .optional()?;
            if let (Some(a), Some(e)) = (&removed, &event) {
                queue_account_event(tx, e, a, now)?;
            }
            Ok(removed)
        })
        .await
    }

    async fn accounts_with_tokens(&self) -> StoreResult<Vec<Account>> {
        self.run(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {ACCOUNT_COLS} FROM accounts WHERE tokens IS NOT NULL ORDER BY id"
            ))?;
            let rows = st.query_map([], account_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn replace_tokens(
        &self,
        id: &AccountId,
        expected: &Sealed,
        new: &Sealed,
    ) -> StoreResult<bool> {
        let (i, e, n) = (
            id.to_string(),
            expected.as_stored().to_owned(),
            new.as_stored().to_owned(),
        );
        self.write(move |tx| {
            Ok(changed(tx.execute(
                "UPDATE accounts SET tokens = ? WHERE id = ? AND tokens = ?",
                [n, i, e],
            )?))
        })
        .await
    }
}

#[async_trait]
impl OneTimeStore for SqliteStore {
    async fn put_one_time(&self, record: &OneTimeRecord) -> StoreResult<()> {
        let r = record.clone();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO one_time (kind, key, owner_id, payload, expires_at, created_at)
                 VALUES (?, ?, ?, ?, ?, ?)",
                params![
                    r.kind,
                    r.key,
                    r.owner_id.as_ref().map(|o| o.to_string()),
                    to_json(&r.payload),
                    ms(r.expires_at),
                    ms(r.created_at)
                ],
            )
            .map_err(|e| unique_violation(e, |_| "key"))?;
            Ok(())
        })
        .await
    }

    async fn consume_one_time(
        &self,
        kind: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<OneTimeRecord>> {
        let (k, key) = (kind.to_owned(), key.to_owned());
        self.write(move |tx| {
            Ok(tx
                .query_row(
                    "UPDATE one_time SET consumed_at = ?1
                     WHERE kind = ?2 AND key = ?3 AND consumed_at IS NULL AND expires_at > ?1
                     RETURNING kind, key, owner_id, payload, expires_at, created_at",
                    params![ms(now), k, key],
                    |r| {
                        Ok(OneTimeRecord {
                            kind: r.get(0)?,
                            key: r.get(1)?,
                            owner_id: r.get::<_, Option<String>>(2)?.map(parse_col).transpose()?,
                            payload: json_col(r.get(3)?)?,
                            expires_at: time(r.get(4)?)?,
                            created_at: time(r.get(5)?)?,
                        })
                    },
                )
                .optional()?)
        })
        .await
    }

    async fn get_one_time(
        &self,
        kind: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<OneTimeRecord>> {
        let (k, key) = (kind.to_owned(), key.to_owned());
        self.run(move |c| {
            Ok(c.query_row(
                "SELECT kind, key, owner_id, payload, expires_at, created_at FROM one_time
                 WHERE kind = ?2 AND key = ?3 AND consumed_at IS NULL AND expires_at > ?1",
                params![ms(now), k, key],
                |r| {
                    Ok(OneTimeRecord {
                        kind: r.get(0)?,
                        key: r.get(1)?,
                        owner_id: r.get::<_, Option<String>>(2)?.map(parse_col).transpose()?,
                        payload: json_col(r.get(3)?)?,
                        expires_at: time(r.get(4)?)?,
                        created_at: time(r.get(5)?)?,
                    })
                },
            )
            .optional()?)
        })
        .await
    }

    async fn purge_one_time(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.write(move |tx| {
            let n = tx.execute(
                "DELETE FROM one_time WHERE consumed_at IS NOT NULL OR expires_at <= ?1",
                params![ms(now)],
            )?;
            Ok(n as u64)
        })
        .await
    }
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn enqueue_job(
        &self,
        kind: &str,
        payload: &serde_json::Value,
        run_at: DateTime<Utc>,
    ) -> StoreResult<String> {
        let id = plugboard_core::new_object_id(run_at.timestamp());
        let (k, p, out) = (kind.to_owned(), to_json(payload), id.clone());
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO jobs (id, kind, payload, run_at, attempts) VALUES (?, ?, ?, ?, 0)",
                params![id, k, p, ms(run_at)],
            )?;
            Ok(())
        })
        .await?;
        Ok(out)
    }

    async fn claim_job(
        &self,
        kind: &str,
        holder: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> StoreResult<Option<Job>> {
        let (k, h) = (kind.to_owned(), holder.to_owned());
        let claimed = self
            .write(move |tx| {
                let candidate: Option<(String, Option<String>)> = tx
                    .query_row(
                        "SELECT id, lease_holder FROM jobs WHERE kind = ?1 AND run_at <= ?2
                         AND (lease_until IS NULL OR lease_until <= ?2)
                         ORDER BY run_at, id LIMIT 1",
                        params![k, ms(now)],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                let Some((id, previous)) = candidate else {
                    return Ok(None);
                };
                let job = tx.query_row(
                    &format!(
                        "UPDATE jobs SET lease_holder = ?1, lease_until = ?2, attempts = attempts + 1
                         WHERE id = ?3 RETURNING {JOB_COLS}"
                    ),
                    params![h, ms(now + lease), id],
                    job_row,
                )?;
                // A holder is left on a job only by one that never finished it.
                Ok(Some((job, previous.is_some())))
            })
            .await?;
        Ok(claimed.map(|(job, stolen)| {
            if stolen {
                self.observer.taken_over(&format!("job:{}", job.kind));
            }
            job
        }))
    }

    async fn count_jobs(&self, kinds: &[&str]) -> StoreResult<u64> {
        let kinds: Vec<String> = kinds.iter().map(|k| (*k).to_owned()).collect();
        self.run(move |conn| {
            let marks = vec!["?"; kinds.len()].join(", ");
            let n: i64 = conn.query_row(
                &format!("SELECT COUNT(*) FROM jobs WHERE kind IN ({marks})"),
                rusqlite::params_from_iter(kinds.iter()),
                |r| r.get(0),
            )?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }

    async fn complete_job(&self, id: &str, holder: &str) -> StoreResult<bool> {
        let (i, h) = (id.to_owned(), holder.to_owned());
        self.write(move |tx| {
            Ok(changed(tx.execute(
                "DELETE FROM jobs WHERE id = ? AND lease_holder = ?",
                [i, h],
            )?))
        })
        .await
    }

    async fn retry_job(&self, id: &str, holder: &str, run_at: DateTime<Utc>) -> StoreResult<bool> {
        let (i, h) = (id.to_owned(), holder.to_owned());
        self.write(move |tx| {
            Ok(changed(tx.execute(
                "UPDATE jobs SET lease_holder = NULL, lease_until = NULL, run_at = ?
                 WHERE id = ? AND lease_holder = ?",
                params![ms(run_at), i, h],
            )?))
        })
        .await
    }

    async fn enqueue_job_once(
        &self,
        id: &str,
        kind: &str,
        payload: &serde_json::Value,
        run_at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (i, k, p) = (id.to_owned(), kind.to_owned(), to_json(payload));
        self.write(move |tx| {
            Ok(changed(tx.execute(
                "INSERT OR IGNORE INTO jobs (id, kind, payload, run_at, attempts) VALUES (?, ?, ?, ?, 0)",
                params![i, k, p, ms(run_at)],
            )?))
        })
        .await
    }

    async fn complete_job_with_event(
        &self,
        id: &str,
        holder: &str,
        event: &QueuedEvent,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (i, h, e) = (id.to_owned(), holder.to_owned(), event.clone());
        self.write(move |tx| {
            if !changed(tx.execute("DELETE FROM jobs WHERE id = ? AND lease_holder = ?", [i, h])?) {
                return Ok(false);
            }
            queue_event(tx, &e, now)?;
            Ok(true)
        })
        .await
    }
}

/// Queues an event as its dispatch job, inside the caller's transaction.
fn queue_event(
    tx: &rusqlite::Transaction<'_>,
    event: &QueuedEvent,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    tx.execute(
        "INSERT OR IGNORE INTO jobs (id, kind, payload, run_at, attempts) VALUES (?, ?, ?, ?, 0)",
        params![
            outbox::dispatch_job_id(&event.event_id),
            outbox::DISPATCH_JOB,
            to_json(&event.job_payload()),
            ms(now)
        ],
    )?;
    Ok(())
}

fn queue_account_event(
    tx: &rusqlite::Transaction<'_>,
    event: &AccountEvent,
    account: &Account,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let external_id: Option<String> = tx
        .query_row(
            "SELECT external_id FROM profiles WHERE id = ?",
            [account.profile_id.as_str()],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    queue_event(tx, &event.queued(account, external_id.as_deref()), now)
}

#[async_trait]
impl LeaseStore for SqliteStore {
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: chrono::Duration,
    ) -> StoreResult<bool> {
        let (n, h) = (name.to_owned(), holder.to_owned());
        let (taken, stolen) = self
            .write(move |tx| {
                let before: Option<String> = tx
                    .query_row("SELECT holder FROM leases WHERE name = ?", [&n], |r| r.get(0))
                    .optional()?;
                let taken = changed(tx.execute(
                    "INSERT INTO leases (name, holder, until) VALUES (?1, ?2, ?3)
                     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
                     WHERE leases.holder = excluded.holder OR leases.until <= ?4",
                    params![n, h, ms(now + ttl), ms(now)],
                )?);
                Ok((taken, taken && before.is_some_and(|b| b != h)))
            })
            .await?;
        if stolen {
            self.observer.taken_over(crate::observer::lease_kind(name));
        }
        Ok(taken)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        let (n, h) = (name.to_owned(), holder.to_owned());
        self.write(move |tx| {
            tx.execute("DELETE FROM leases WHERE name = ? AND holder = ?", [n, h])?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn begin_idempotent(
        &self,
        owner: &OwnerId,
        scope: &str,
        key: &str,
        request_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<IdempotencyBegin> {
        let (id, hash) = (
            crate::idempotency_id(owner, scope, key),
            request_hash.to_owned(),
        );
        self.write(move |tx| {
            let row: Option<(String, bool, Option<i64>, Option<String>)> = tx
                .query_row(
                    "SELECT request_hash, done, status, body FROM idempotency WHERE id = ? AND expires_at > ?",
                    params![id, ms(now)],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            Ok(match row {
                None => {
                    tx.execute(
                        "INSERT OR REPLACE INTO idempotency (id, request_hash, done, expires_at) VALUES (?, ?, 0, ?)",
                        params![id, hash, ms(now + crate::IDEMPOTENCY_PROCESSING_LEASE)],
                    )?;
                    IdempotencyBegin::Started
                }
                Some((h, _, _, _)) if h != hash => IdempotencyBegin::Mismatch,
                Some((_, false, _, _)) => IdempotencyBegin::InProgress,
                Some((_, true, status, body)) => IdempotencyBegin::Completed {
                    status: status.and_then(|s| u16::try_from(s).ok()).unwrap_or(200),
                    body: body.map(json_col).transpose()?.unwrap_or_default(),
                },
            })
        })
        .await
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
        let (id, body) = (crate::idempotency_id(owner, scope, key), to_json(body));
        self.write(move |tx| {
            tx.execute(
                "UPDATE idempotency SET done = 1, status = ?, body = ?, expires_at = ? WHERE id = ? AND done = 0",
                params![status, body, ms(expires_at), id],
            )?;
            Ok(())
        })
        .await
    }

    async fn abandon_idempotent(&self, owner: &OwnerId, scope: &str, key: &str) -> StoreResult<()> {
        let id = crate::idempotency_id(owner, scope, key);
        self.write(move |tx| {
            tx.execute("DELETE FROM idempotency WHERE id = ? AND done = 0", [id])?;
            Ok(())
        })
        .await
    }
}

const WEBHOOK_COLS: &str = "id, owner_id, name, url, secret, events, is_active, custom_headers, \
    disabled_groups, profile_ids, account_ids, last_fired_at, failure_count, failing_since, \
    created_at, updated_at";

fn webhook_row(r: &Row<'_>) -> rusqlite::Result<Webhook> {
    Ok(Webhook {
        id: parse_col(r.get(0)?)?,
        owner_id: parse_col(r.get(1)?)?,
        name: r.get(2)?,
        url: r.get(3)?,
        secret: r.get::<_, Option<String>>(4)?.map(Sealed::from_stored),
        events: json_col(r.get(5)?)?,
        is_active: r.get(6)?,
        custom_headers: json_col(r.get(7)?)?,
        disabled_resource_groups: json_col(r.get(8)?)?,
        profile_ids: json_col(r.get(9)?)?,
        account_ids: json_col(r.get(10)?)?,
        last_fired_at: opt_time(r.get(11)?)?,
        failure_count: u32::try_from(r.get::<_, i64>(12)?).unwrap_or(0),
        failing_since: opt_time(r.get(13)?)?,
        created_at: time(r.get(14)?)?,
        updated_at: time(r.get(15)?)?,
    })
}

const LOG_COLS: &str = "id, owner_id, webhook_id, webhook_name, event_id, event, test, url, status, \
    status_code, request_body, response_body, error_message, attempt_number, response_time_ms, \
    created_at";

fn log_row(r: &Row<'_>) -> rusqlite::Result<WebhookLog> {
    Ok(WebhookLog {
        id: r.get(0)?,
        owner_id: parse_col(r.get(1)?)?,
        webhook_id: parse_col(r.get(2)?)?,
        webhook_name: r.get(3)?,
        event_id: r.get(4)?,
        event: r.get(5)?,
        test: r.get(6)?,
        url: r.get(7)?,
        status: r
            .get::<_, String>(8)?
            .parse()
            .map_err(|()| corrupt("delivery status".into()))?,
        status_code: r
            .get::<_, Option<i64>>(9)?
            .and_then(|c| u16::try_from(c).ok()),
        request_body: r.get(10)?,
        response_body: r.get(11)?,
        error_message: r.get(12)?,
        attempt_number: u32::try_from(r.get::<_, i64>(13)?).unwrap_or(0),
        response_time_ms: r
            .get::<_, Option<i64>>(14)?
            .and_then(|t| u64::try_from(t).ok()),
        created_at: time(r.get(15)?)?,
    })
}

fn log_filter(owner: &OwnerId, f: &WebhookLogFilter) -> (String, Vec<Value>) {
    let mut sql = String::from("owner_id = ?");
    let mut args = vec![Value::Text(owner.to_string())];
    let mut add = |clause: &str, v: String| {
        sql.push_str(clause);
        args.push(Value::Text(v));
    };
    if let Some(w) = &f.webhook_id {
        add(" AND webhook_id = ?", w.to_string());
    }
    if let Some(e) = &f.event_id {
        add(" AND event_id = ?", e.clone());
    }
    if let Some(e) = &f.event {
        add(" AND event = ?", e.clone());
    }
    if let Some(s) = f.status {
        add(" AND status = ?", s.as_str().to_owned());
    }
    (sql, args)
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn insert_webhook(&self, webhook: &Webhook, max_per_owner: u64) -> StoreResult<bool> {
        let w = webhook.clone();
        self.write(move |tx| {
            let count: i64 = tx.query_row(
                "SELECT count(*) FROM webhooks WHERE owner_id = ?",
                [w.owner_id.as_str()],
                |r| r.get(0),
            )?;
            if u64::try_from(count).unwrap_or(u64::MAX) >= max_per_owner {
                return Ok(false);
            }
            tx.execute(
                &format!(
                    "INSERT INTO webhooks ({WEBHOOK_COLS}) VALUES
                     (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                params![
                    w.id.as_str(),
                    w.owner_id.as_str(),
                    w.name,
                    w.url,
                    w.secret.as_ref().map(|s| s.as_stored().to_owned()),
                    to_json(&w.events),
                    w.is_active,
                    to_json(&w.custom_headers),
                    to_json(&w.disabled_resource_groups),
                    to_json(&w.profile_ids),
                    to_json(&w.account_ids),
                    w.last_fired_at.map(ms),
                    w.failure_count,
                    w.failing_since.map(ms),
                    ms(w.created_at),
                    ms(w.updated_at),
                ],
            )?;
            Ok(true)
        })
        .await
    }

    async fn get_webhook(&self, owner: &OwnerId, id: &WebhookId) -> StoreResult<Option<Webhook>> {
        let (o, i) = (owner.to_string(), id.to_string());
        self.run(move |c| {
            Ok(c.query_row(
                &format!("SELECT {WEBHOOK_COLS} FROM webhooks WHERE owner_id = ? AND id = ?"),
                [o, i],
                webhook_row,
            )
            .optional()?)
        })
        .await
    }

    async fn list_webhooks(&self, owner: &OwnerId) -> StoreResult<Vec<Webhook>> {
        let o = owner.to_string();
        self.run(move |c| {
            let mut st = c.prepare(&format!(
                "SELECT {WEBHOOK_COLS} FROM webhooks WHERE owner_id = ? ORDER BY created_at, id"
            ))?;
            let rows = st.query_map([o], webhook_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn update_webhook(
        &self,
        owner: &OwnerId,
        id: &WebhookId,
        patch: &WebhookPatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Webhook>> {
        let (o, i, p) = (owner.to_string(), id.to_string(), patch.clone());
        self.write(move |tx| {
            let mut sets = vec!["updated_at = ?".to_owned()];
            let mut args: Vec<Value> = vec![Value::Integer(ms(now))];
            let mut set = |col: &str, v: Value| {
                sets.push(format!("{col} = ?"));
                args.push(v);
            };
            if let Some(n) = &p.name {
                set("name", Value::Text(n.clone()));
            }
            if let Some(u) = &p.url {
                set("url", Value::Text(u.clone()));
            }
            if let Some(s) = &p.secret {
                set(
                    "secret",
                    s.as_ref()
                        .map_or(Value::Null, |s| Value::Text(s.as_stored().to_owned())),
                );
            }
            if let Some(e) = &p.events {
                set("events", Value::Text(to_json(e)));
            }
            if let Some(a) = p.is_active {
                set("is_active", Value::Integer(i64::from(a)));
                if a {
                    set("failure_count", Value::Integer(0));
                    set("failing_since", Value::Null);
                }
            }
            if let Some(h) = &p.custom_headers {
                set("custom_headers", Value::Text(to_json(h)));
            }
            if let Some(g) = &p.disabled_resource_groups {
                set("disabled_groups", Value::Text(to_json(g)));
            }
            if let Some(ids) = &p.profile_ids {
                set("profile_ids", Value::Text(to_json(ids)));
            }
            if let Some(ids) = &p.account_ids {
                set("account_ids", Value::Text(to_json(ids)));
            }
            args.push(Value::Text(o));
            args.push(Value::Text(i));
            Ok(tx
                .query_row(
                    &format!(
                        "UPDATE webhooks SET {} WHERE owner_id = ? AND id = ? RETURNING {WEBHOOK_COLS}",
                        sets.join(", ")
                    ),
                    rusqlite::params_from_iter(args),
                    webhook_row,
                )
                .optional()?)
        })
        .await
    }

    async fn delete_webhook(&self, owner: &OwnerId, id: &WebhookId) -> StoreResult<bool> {
        let (o, i) = (owner.to_string(), id.to_string());
        self.write(move |tx| {
            Ok(changed(tx.execute(
                "DELETE FROM webhooks WHERE owner_id = ? AND id = ?",
                [o, i],
            )?))
        })
        .await
    }

    async fn record_webhook_outcome(
        &self,
        owner: &OwnerId,
        id: &WebhookId,
        success: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Webhook>> {
        let (o, i) = (owner.to_string(), id.to_string());
        self.write(move |tx| {
            let sql = if success {
                "UPDATE webhooks SET last_fired_at = ?1, failure_count = 0, failing_since = NULL
                 WHERE owner_id = ?2 AND id = ?3"
            } else {
                "UPDATE webhooks SET failure_count = failure_count + 1,
                   failing_since = coalesce(failing_since, ?1)
                 WHERE owner_id = ?2 AND id = ?3"
            };
            Ok(tx
                .query_row(
                    &format!("{sql} RETURNING {WEBHOOK_COLS}"),
                    params![ms(now), o, i],
                    webhook_row,
                )
                .optional()?)
        })
        .await
    }

    async fn insert_webhook_log(&self, log: &WebhookLog) -> StoreResult<()> {
        let l = log.clone();
        self.write(move |tx| {
            tx.execute(
                &format!(
                    "INSERT INTO webhook_logs ({LOG_COLS}) VALUES
                     (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                params![
                    l.id,
                    l.owner_id.as_str(),
                    l.webhook_id.as_str(),
                    l.webhook_name,
                    l.event_id,
                    l.event,
                    l.test,
                    l.url,
                    l.status.as_str(),
                    l.status_code,
                    l.request_body,
                    l.response_body,
                    l.error_message,
                    l.attempt_number,
                    l.response_time_ms.and_then(|t| i64::try_from(t).ok()),
                    ms(l.created_at),
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn list_webhook_logs(
        &self,
        owner: &OwnerId,
        filter: &WebhookLogFilter,
        skip: u64,
        limit: u64,
    ) -> StoreResult<(Vec<WebhookLog>, u64)> {
        let (wh, args) = log_filter(owner, filter);
        self.run(move |c| {
            let total: i64 = c.query_row(
                &format!("SELECT count(*) FROM webhook_logs WHERE {wh}"),
                rusqlite::params_from_iter(args.iter()),
                |r| r.get(0),
            )?;
            let mut page_args = args.clone();
            page_args.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
            page_args.push(Value::Integer(i64::try_from(skip).unwrap_or(i64::MAX)));
            let mut st = c.prepare(&format!(
                "SELECT {LOG_COLS} FROM webhook_logs WHERE {wh}
                 ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
            ))?;
            let rows = st
                .query_map(rusqlite::params_from_iter(page_args), log_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((rows, u64::try_from(total).unwrap_or(0)))
        })
        .await
    }

    async fn purge_webhook_logs(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.write(move |tx| {
            let n = tx.execute(
                "DELETE FROM webhook_logs WHERE created_at < ?",
                [ms(before)],
            )?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }

    async fn relay_outbox(&self, _now: DateTime<Utc>) -> StoreResult<u64> {
        // Changes and their events commit in one transaction here; nothing is ever left
        // in between.
        Ok(0)
    }
}

const MCP_CLIENT_COLS: &str = "id, name, redirect_uris, created_at, last_used_at";

fn mcp_client_row(r: &Row<'_>) -> rusqlite::Result<McpClient> {
    Ok(McpClient {
        id: r.get(0)?,
        name: r.get(1)?,
        redirect_uris: json_col(r.get(2)?)?,
        created_at: time(r.get(3)?)?,
        last_used_at: opt_time(r.get(4)?)?,
    })
}

const MCP_GRANT_COLS: &str = "g.id, g.owner_id, g.api_key_id, g.client_id, g.scopes, g.resource, \
    g.created_at, g.expires_at, g.revoked_at";

/// Reads a grant from `MCP_GRANT_COLS` starting at column `at`.
fn mcp_grant_at(r: &Row<'_>, at: usize) -> rusqlite::Result<McpGrant> {
    Ok(McpGrant {
        id: r.get(at)?,
        owner_id: parse_col(r.get(at + 1)?)?,
        api_key_id: parse_col(r.get(at + 2)?)?,
        client_id: r.get(at + 3)?,
        scopes: json_col(r.get(at + 4)?)?,
        resource: r.get(at + 5)?,
        created_at: time(r.get(at + 6)?)?,
        expires_at: time(r.get(at + 7)?)?,
        revoked_at: opt_time(r.get(at + 8)?)?,
    })
}

const MCP_TOKEN_COLS: &str =
    "t.hash, t.kind, t.grant_id, t.owner_id, t.created_at, t.expires_at, t.used_at";
const MCP_TOKEN_WIDTH: usize = 7;

fn mcp_token_row(r: &Row<'_>) -> rusqlite::Result<McpToken> {
    Ok(McpToken {
        hash: r.get(0)?,
        kind: parse_col(r.get(1)?)?,
        grant_id: r.get(2)?,
        owner_id: parse_col(r.get(3)?)?,
        created_at: time(r.get(4)?)?,
        expires_at: time(r.get(5)?)?,
        used_at: opt_time(r.get(6)?)?,
    })
}

fn get_mcp_grant_in(c: &Connection, id: &str) -> StoreResult<Option<McpGrant>> {
    Ok(c.query_row(
        &format!("SELECT {MCP_GRANT_COLS} FROM mcp_grants g WHERE g.id = ?"),
        [id],
        |r| mcp_grant_at(r, 0),
    )
    .optional()?)
}

/// Inserts tokens of the grant `grant_id` (inside the caller's transaction).
fn insert_mcp_token_rows(
    tx: &rusqlite::Transaction<'_>,
    grant_id: &str,
    tokens: &[McpToken],
) -> StoreResult<()> {
    for t in tokens {
        if t.grant_id != grant_id {
            return Err(StoreError::Backend("MCP token of another grant".into()));
        }
        tx.execute(
            "INSERT INTO mcp_tokens (hash, kind, grant_id, owner_id, created_at, expires_at, used_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            params![
                t.hash,
                t.kind.as_str(),
                t.grant_id,
                t.owner_id.as_str(),
                ms(t.created_at),
                ms(t.expires_at),
                t.used_at.map(ms),
            ],
        )
        .map_err(|e| unique_violation(e, |_| "token"))?;
    }
    Ok(())
}

#[async_trait]
impl McpAuthStore for SqliteStore {
    async fn insert_mcp_client(&self, client: &McpClient) -> StoreResult<()> {
        let c = client.clone();
        self.write(move |tx| {
            tx.execute(
                &format!("INSERT INTO mcp_clients ({MCP_CLIENT_COLS}) VALUES (?, ?, ?, ?, ?)"),
                params![
                    c.id,
                    c.name,
                    to_json(&c.redirect_uris),
                    ms(c.created_at),
                    c.last_used_at.map(ms),
                ],
            )
            .map_err(|e| unique_violation(e, |_| "id"))?;
            Ok(())
        })
        .await
    }

    async fn get_mcp_client(&self, id: &str) -> StoreResult<Option<McpClient>> {
        let id = id.to_owned();
        self.run(move |c| {
            Ok(c.query_row(
                &format!("SELECT {MCP_CLIENT_COLS} FROM mcp_clients WHERE id = ?"),
                [id],
                mcp_client_row,
            )
            .optional()?)
        })
        .await
    }

    async fn touch_mcp_client(&self, id: &str, now: DateTime<Utc>) -> StoreResult<()> {
        let id = id.to_owned();
        self.write(move |tx| {
            // Never moves back (replicas' clocks differ a little).
            tx.execute(
                "UPDATE mcp_clients SET last_used_at = max(coalesce(last_used_at, ?1), ?1)
                 WHERE id = ?2",
                params![ms(now), id],
            )?;
            Ok(())
        })
        .await
    }

    async fn insert_mcp_grant(&self, grant: &McpGrant, tokens: &[McpToken]) -> StoreResult<()> {
        let (g, ts) = (grant.clone(), tokens.to_vec());
        self.write(move |tx| {
            let expires_at = ts.iter().map(|t| t.expires_at).fold(g.expires_at, Ord::max);
            tx.execute(
                "INSERT INTO mcp_grants (id, owner_id, api_key_id, client_id, scopes, resource,
                   created_at, expires_at, revoked_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                params![
                    g.id,
                    g.owner_id.as_str(),
                    g.api_key_id.as_str(),
                    g.client_id,
                    to_json(&g.scopes),
                    g.resource,
                    ms(g.created_at),
                    ms(expires_at),
                    g.revoked_at.map(ms),
                ],
            )
            .map_err(|e| unique_violation(e, |_| "id"))?;
            insert_mcp_token_rows(tx, &g.id, &ts)
        })
        .await
    }

    async fn get_mcp_grant(&self, id: &str) -> StoreResult<Option<McpGrant>> {
        let id = id.to_owned();
        self.run(move |c| get_mcp_grant_in(c, &id)).await
    }

    async fn insert_mcp_tokens(&self, grant_id: &str, tokens: &[McpToken]) -> StoreResult<()> {
        let (id, ts) = (grant_id.to_owned(), tokens.to_vec());
        self.write(move |tx| {
            let latest = ts
                .iter()
                .map(|t| ms(t.expires_at))
                .max()
                .unwrap_or(i64::MIN);
            let n = tx.execute(
                "UPDATE mcp_grants SET expires_at = max(expires_at, ?1) WHERE id = ?2",
                params![latest, id],
            )?;
            if n == 0 {
                return Err(StoreError::Backend("no such MCP grant".into()));
            }
            insert_mcp_token_rows(tx, &id, &ts)
        })
        .await
    }

    async fn find_mcp_token(
        &self,
        hash: &str,
        kind: McpTokenKind,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(McpToken, McpGrant)>> {
        let h = hash.to_owned();
        self.run(move |c| {
            Ok(c.query_row(
                &format!(
                    "SELECT {MCP_TOKEN_COLS}, {MCP_GRANT_COLS}
                     FROM mcp_tokens t JOIN mcp_grants g ON g.id = t.grant_id
                     WHERE t.hash = ?1 AND t.kind = ?2 AND t.used_at IS NULL AND t.expires_at > ?3
                       AND g.revoked_at IS NULL AND g.expires_at > ?3"
                ),
                params![h, kind.as_str(), ms(now)],
                |r| Ok((mcp_token_row(r)?, mcp_grant_at(r, MCP_TOKEN_WIDTH)?)),
            )
            .optional()?)
        })
        .await
    }

    async fn use_mcp_refresh_token(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<RefreshTokenUse> {
        let h = hash.to_owned();
        self.write(move |tx| {
            let refresh = McpTokenKind::Refresh.as_str();
            let spent: Option<String> = tx
                .query_row(
                    "UPDATE mcp_tokens SET used_at = ?1
                     WHERE hash = ?2 AND kind = ?3 AND used_at IS NULL AND expires_at > ?1
                     RETURNING grant_id",
                    params![ms(now), h, refresh],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(grant_id) = spent {
                return Ok(match get_mcp_grant_in(tx, &grant_id)? {
                    Some(g) if mcp_grant_is_live(&g, now) => RefreshTokenUse::Fresh(g),
                    _ => RefreshTokenUse::Invalid,
                });
            }
            let replayed: Option<String> = tx
                .query_row(
                    "SELECT grant_id FROM mcp_tokens
                     WHERE hash = ?1 AND kind = ?2 AND used_at IS NOT NULL",
                    params![h, refresh],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(match replayed {
                Some(grant_id) => match get_mcp_grant_in(tx, &grant_id)? {
                    Some(g) => RefreshTokenUse::Replayed(g),
                    None => RefreshTokenUse::Invalid,
                },
                None => RefreshTokenUse::Invalid,
            })
        })
        .await
    }

    async fn revoke_mcp_grant(&self, id: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        let id = id.to_owned();
        self.write(move |tx| {
            Ok(changed(tx.execute(
                "UPDATE mcp_grants SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL",
                params![ms(now), id],
            )?))
        })
        .await
    }

    async fn revoke_mcp_grants_of_key(
        &self,
        owner: &OwnerId,
        key: &ApiKeyId,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let (o, k) = (owner.to_string(), key.to_string());
        self.write(move |tx| {
            let n = tx.execute(
                "UPDATE mcp_grants SET revoked_at = ?1
                 WHERE owner_id = ?2 AND api_key_id = ?3 AND revoked_at IS NULL AND expires_at > ?1",
                params![ms(now), o, k],
            )?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }

    async fn purge_mcp(
        &self,
        now: DateTime<Utc>,
        never_used_before: DateTime<Utc>,
        idle_before: DateTime<Utc>,
    ) -> StoreResult<u64> {
        self.write(move |tx| {
            // The tokens of a dead grant go with it, expired or not.
            let tokens = tx.execute(
                "DELETE FROM mcp_tokens WHERE expires_at <= ?1 OR grant_id IN
                   (SELECT id FROM mcp_grants WHERE expires_at <= ?1 OR revoked_at IS NOT NULL)",
                params![ms(now)],
            )?;
            let grants = tx.execute(
                "DELETE FROM mcp_grants WHERE expires_at <= ?1 OR revoked_at IS NOT NULL",
                params![ms(now)],
            )?;
            let clients = tx.execute(
                "DELETE FROM mcp_clients
                 WHERE (last_used_at IS NULL AND created_at < ?1) OR last_used_at < ?2",
                params![ms(never_used_before), ms(idle_before)],
            )?;
            Ok(u64::try_from(tokens + grants + clients).unwrap_or(0))
        })
        .await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.run(|c| {
            c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?;
            Ok(())
        })
        .await
    }

    fn backend_name(&self) -> &'static str {
        "sqlite"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("A_b%c\\"), "%a\\_b\\%c\\\\%");
    }
}

//! The conformance suite against MongoDB, each case on a fresh database of the test server
//! (`plugboard_store::test_server`: a real MongoDB when `PLUGBOARD_TEST_MONGODB_URI` is set,
//! nx-27017 otherwise).

#![allow(clippy::unwrap_used, clippy::panic, reason = "test code")]

use mongodb::bson::{Bson, doc};
use plugboard_store::conformance::StoreRef;
use plugboard_store::mongo::MongoStore;
use std::sync::Arc;

async fn connect(name: &str) -> MongoStore {
    let uri = plugboard_store::test_server::mongodb_uri().await;
    MongoStore::connect(&uri, name)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {uri} (database {name}): {e}"))
}

async fn fresh_store() -> StoreRef {
    Arc::new(connect(&plugboard_store::test_server::fresh_database_name()).await)
}

plugboard_store::conformance_tests!(fresh_store);

fn owner() -> plugboard_store::Owner {
    plugboard_store::Owner {
        id: plugboard_core::OwnerId::generate(1_800_000_000),
        name: "o".into(),
        email: None,
        created_at: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
    }
}

#[tokio::test]
async fn reconnecting_a_database_keeps_its_rows() {
    use plugboard_store::OwnerStore;
    let name = plugboard_store::test_server::fresh_database_name();
    let owner = owner();
    {
        let store = connect(&name).await;
        store.insert_owner(&owner).await.unwrap();
    }
    // Connecting again creates the same indexes again, which must be a no-op.
    let store = connect(&name).await;
    assert_eq!(store.first_owner().await.unwrap(), Some(owner));
}

#[tokio::test]
async fn stored_documents_use_string_ids_and_integer_milliseconds_without_nulls() {
    use plugboard_store::OwnerStore;
    let store = connect(&plugboard_store::test_server::fresh_database_name()).await;
    let owner = owner();
    store.insert_owner(&owner).await.unwrap();
    let raw = store
        .database()
        .collection::<mongodb::bson::Document>("owners")
        .find_one(doc! { "_id": owner.id.as_str() })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(raw.get("_id"), Some(&Bson::String(owner.id.to_string())));
    assert_eq!(
        raw.get("created_at"),
        Some(&Bson::Int64(owner.created_at.timestamp_millis()))
    );
    assert!(!raw.contains_key("email"), "absent fields are left out");
}

#[tokio::test]
async fn the_raw_account_document_holds_no_plaintext_token() {
    use plugboard_core::{Keyring, Platform, ProfileId};
    use plugboard_store::{
        Account, AccountStore, AccountUpsert, OwnerStore, Profile, ProfileStore,
    };
    let store = connect(&plugboard_store::test_server::fresh_database_name()).await;
    let owner = owner();
    store.insert_owner(&owner).await.unwrap();
    let at = owner.created_at;
    let profile = Profile {
        id: ProfileId::generate(at.timestamp()),
        owner_id: owner.id.clone(),
        name: "p".into(),
        description: None,
        color: None,
        timezone: None,
        external_id: None,
        is_default: true,
        created_at: at,
        updated_at: at,
    };
    store.insert_profile(&profile).await.unwrap();
    let keyring = Keyring::new(&[9; 32], &[]);
    let context = Account::tokens_context(&owner.id, Platform::Linkedin, "li-9", "");
    let sealed = keyring.seal(&context, b"AQX-PLAINTEXT-LINKEDIN-TOKEN");
    let account = store
        .upsert_account(
            &AccountUpsert {
                owner_id: owner.id.clone(),
                profile_id: profile.id.clone(),
                platform: Platform::Linkedin,
                platform_user_id: "li-9".into(),
                destination_id: String::new(),
                username: Some("someone".into()),
                display_name: None,
                profile_picture: None,
                profile_url: None,
                followers_count: None,
                parent_account_id: None,
                enabled: true,
                metadata: Default::default(),
                tokens: Some(sealed.clone()),
                token_expires_at: None,
                scopes: vec![],
            },
            None,
            at,
        )
        .await
        .unwrap();
    let raw = store
        .database()
        .collection::<mongodb::bson::Document>("accounts")
        .find_one(doc! { "_id": account.id.as_str() })
        .await
        .unwrap()
        .unwrap();
    let text = format!("{raw:?}");
    assert!(
        text.contains("someone"),
        "sanity: this is the account document"
    );
    assert!(
        !text.contains("PLAINTEXT"),
        "token stored in plaintext: {text}"
    );
    assert!(
        text.contains(sealed.as_stored()),
        "the sealed value is what is stored"
    );
    assert_eq!(
        keyring.open(&context, &sealed).unwrap().expose(),
        b"AQX-PLAINTEXT-LINKEDIN-TOKEN"
    );
}

/// A crash between an account change and the move of its event into a job leaves the
/// event in the account's outbox slot; the relay pass moves it exactly once, and the next
/// change of that account moves it before queueing its own.
#[tokio::test]
async fn an_event_stranded_in_the_account_outbox_is_relayed_exactly_once() {
    use plugboard_core::{Platform, ProfileId};
    use plugboard_store::outbox::{DISPATCH_JOB, dispatch_job_id};
    use plugboard_store::{
        AccountEvent, AccountStore, AccountUpsert, JobStore, OwnerStore, Profile, ProfileStore,
        QueuedEvent, WebhookStore,
    };
    let store = connect(&plugboard_store::test_server::fresh_database_name()).await;
    let owner = owner();
    store.insert_owner(&owner).await.unwrap();
    let at = owner.created_at;
    let profile = Profile {
        id: ProfileId::generate(at.timestamp()),
        owner_id: owner.id.clone(),
        name: "p".into(),
        description: None,
        color: None,
        timezone: None,
        external_id: Some("ext-1".into()),
        is_default: true,
        created_at: at,
        updated_at: at,
    };
    store.insert_profile(&profile).await.unwrap();
    let up = AccountUpsert {
        owner_id: owner.id.clone(),
        profile_id: profile.id.clone(),
        platform: Platform::Pinterest,
        platform_user_id: "pin-1".into(),
        destination_id: String::new(),
        username: Some("pinner".into()),
        display_name: None,
        profile_picture: None,
        profile_url: None,
        followers_count: None,
        parent_account_id: None,
        enabled: true,
        metadata: Default::default(),
        tokens: None,
        token_expires_at: None,
        scopes: vec![],
    };
    let account = store.upsert_account(&up, None, at).await.unwrap();
    // What a crash right after the change's update leaves behind.
    let stranded = AccountEvent::connected(at);
    store
        .database()
        .collection::<mongodb::bson::Document>("accounts")
        .update_one(
            doc! { "_id": account.id.as_str() },
            doc! { "$set": { "outbox": serde_json::to_string(&stranded).unwrap() } },
        )
        .await
        .unwrap();

    // The next change of the account moves the stranded event first, then its own.
    let removal = AccountEvent::disconnected(at, true, "Disconnected by the user");
    store
        .remove_account(&owner.id, &account.id, Some(&removal), at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.relay_outbox(at).await.unwrap(), 0);
    // Relaying a slot that was already moved (a crash after the job insert, before the
    // slot was emptied) does not queue it twice.
    store
        .database()
        .collection::<mongodb::bson::Document>("accounts")
        .update_one(
            doc! { "_id": account.id.as_str() },
            doc! { "$set": { "outbox": serde_json::to_string(&stranded).unwrap() } },
        )
        .await
        .unwrap();
    assert_eq!(store.relay_outbox(at).await.unwrap(), 1);
    assert_eq!(store.relay_outbox(at).await.unwrap(), 0);

    let mut events = Vec::new();
    while let Some(job) = store
        .claim_job(DISPATCH_JOB, "t", at, chrono::Duration::minutes(1))
        .await
        .unwrap()
    {
        let e: QueuedEvent = serde_json::from_value(job.payload).unwrap();
        assert_eq!(job.id, dispatch_job_id(&e.event_id));
        events.push(e);
    }
    let mut ids: Vec<String> = events.iter().map(|e| e.event_id.clone()).collect();
    ids.sort();
    let mut expected = vec![stranded.id.clone(), removal.id.clone()];
    expected.sort();
    assert_eq!(ids, expected);
    let connected = events.iter().find(|e| e.event_id == stranded.id).unwrap();
    let body: serde_json::Value = serde_json::from_str(&connected.body).unwrap();
    assert_eq!(body["account"]["accountId"], account.id.as_str());
    assert_eq!(body["profiles"][0]["externalId"], "ext-1");
}

/// MCP tokens are keyed by their hash; "not yet" (spent, revoked, used) is the `0`
/// sentinel the filters match, never a null or a missing field.
#[tokio::test]
async fn mcp_documents_are_keyed_by_hash_and_mark_not_yet_with_zero() {
    use plugboard_store::{
        McpAuthStore, McpGrant, McpToken, McpTokenKind, OwnerStore, RefreshTokenUse,
    };
    let store = connect(&plugboard_store::test_server::fresh_database_name()).await;
    let owner = owner();
    store.insert_owner(&owner).await.unwrap();
    let at = owner.created_at;
    let grant = McpGrant {
        id: "grant-1".into(),
        owner_id: owner.id.clone(),
        api_key_id: plugboard_core::ApiKeyId::generate(at.timestamp()),
        client_id: "client-1".into(),
        scopes: vec!["posts:read".into()],
        resource: "https://plugboard.example/_mcp".into(),
        created_at: at,
        expires_at: at + chrono::Duration::days(30),
        revoked_at: None,
    };
    let refresh = McpToken {
        hash: "ab".repeat(32),
        kind: McpTokenKind::Refresh,
        grant_id: grant.id.clone(),
        owner_id: owner.id.clone(),
        created_at: at,
        expires_at: at + chrono::Duration::days(30),
        used_at: None,
    };
    store
        .insert_mcp_grant(&grant, std::slice::from_ref(&refresh))
        .await
        .unwrap();
    let raw = |coll: &'static str, id: String| {
        let db = store.database().clone();
        async move {
            db.collection::<mongodb::bson::Document>(coll)
                .find_one(doc! { "_id": id.as_str() })
                .await
                .unwrap()
                .unwrap()
        }
    };
    let int = |v: Option<&Bson>| match v {
        Some(Bson::Int64(n)) => *n,
        Some(Bson::Int32(n)) => i64::from(*n),
        other => panic!("expected an integer, found {other:?}"),
    };
    let token = raw("mcp_tokens", refresh.hash.clone()).await;
    assert_eq!(token.get("_id"), Some(&Bson::String(refresh.hash.clone())));
    assert_eq!(int(token.get("used_at")), 0);
    assert_eq!(
        int(token.get("expires_at")),
        refresh.expires_at.timestamp_millis()
    );
    assert!(!format!("{token:?}").contains("Null"));
    assert_eq!(
        int(raw("mcp_grants", grant.id.clone()).await.get("revoked_at")),
        0
    );

    let spent_at = at + chrono::Duration::hours(1);
    assert_eq!(
        store
            .use_mcp_refresh_token(&refresh.hash, spent_at)
            .await
            .unwrap(),
        RefreshTokenUse::Fresh(grant.clone())
    );
    assert_eq!(
        int(raw("mcp_tokens", refresh.hash.clone()).await.get("used_at")),
        spent_at.timestamp_millis()
    );
}

//! One behaviour suite for every backend. A backend's test file calls
//! [`conformance_tests!`] with an async function that returns a fresh, empty store; each
//! case becomes its own test named after the behaviour it checks.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a failed step should fail the test loudly"
)]

use crate::*;
use chrono::Duration;
use plugboard_core::Platform;
use std::collections::HashSet;
use std::sync::Arc;

mod quota;
pub use quota::*;

pub type StoreRef = Arc<dyn Store>;

/// Generates one `#[tokio::test]` per conformance case for a backend.
#[macro_export]
macro_rules! conformance_tests {
    ($make:path) => {
        $crate::conformance_tests!(@cases $make;
            account_identity_is_unique_per_profile_and_reconnect_keeps_the_id,
            concurrent_writers_of_one_identity_leave_exactly_one_account,
            removed_account_is_hidden_and_reconnecting_revives_it_with_the_same_id,
            exactly_one_of_fifty_racing_consumers_wins_a_one_time_record,
            expired_one_time_record_cannot_be_consumed,
            reading_a_one_time_record_does_not_take_it_and_purge_drops_dead_ones,
            two_claimers_never_hold_the_same_job,
            expired_job_lease_can_be_reclaimed_and_completion_needs_the_lease,
            named_lease_has_one_holder_until_it_expires,
            account_offset_pagination_and_filters,
            account_cursor_pagination_walks_every_account_once,
            account_search_is_case_insensitive_and_matches_ids,
            one_owner_never_sees_another_owners_rows,
            profile_names_and_external_ids_are_unique_per_owner,
            profile_listing_puts_default_first_and_pages,
            profile_update_applies_patch_and_moves_default_flag,
            moving_accounts_between_profiles,
            retargeting_an_account_keeps_its_id_and_refuses_a_taken_identity,
            api_keys_are_found_by_hash_and_deleted_per_owner,
            first_api_key_is_inserted_only_into_an_empty_store,
            token_replacement_is_compare_and_swap,
            accounts_come_due_for_refresh_back_off_and_are_marked_for_reconnection,
            idempotency_key_is_taken_by_exactly_one_concurrent_request,
            completed_idempotency_key_replays_and_refuses_other_requests,
            account_changes_queue_their_events_in_the_same_step,
            a_disconnection_is_queued_once_however_often_it_is_reported,
            a_job_enqueued_once_per_id_and_completion_with_event_needs_the_lease,
            webhook_subscriptions_are_scoped_patched_and_limited,
            webhook_outcomes_track_the_failure_streak,
            webhook_logs_filter_page_newest_first_and_purge,
            mcp_clients_are_stored_read_back_and_touched,
            mcp_tokens_are_found_by_hash_and_kind_until_they_expire,
            an_authorization_code_is_redeemed_into_at_most_one_grant,
            exactly_one_of_twenty_racing_refreshes_spends_a_refresh_token,
            a_spent_refresh_token_is_dead_and_only_live_refresh_tokens_can_be_spent,
            revoking_a_grant_kills_every_token_of_it,
            revoking_the_grants_of_a_key_touches_only_that_keys_live_grants,
            refreshing_a_grant_adds_tokens_and_extends_its_expiry,
            purging_mcp_records_drops_dead_ones_and_keeps_live_ones,
            usage_adds_up_per_platform_and_day_across_concurrent_writers,
            usage_keeps_the_highest_percentages_the_latest_block_and_the_last_rate_limit,
            a_quota_warning_is_taken_once_per_platform_and_day_with_its_event,
        );
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::conformance::$case($make().await).await;
            }
        )*
    };
}

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
}

async fn owner(store: &StoreRef, name: &str) -> OwnerId {
    let o = Owner {
        id: OwnerId::generate(t0().timestamp()),
        name: name.into(),
        email: Some(format!("{name}@example.test")),
        created_at: t0(),
    };
    store.insert_owner(&o).await.unwrap();
    o.id
}

fn new_profile(owner: &OwnerId, name: &str, at: DateTime<Utc>) -> Profile {
    Profile {
        id: ProfileId::generate(at.timestamp()),
        owner_id: owner.clone(),
        name: name.into(),
        description: None,
        color: Some("#ffeda0".into()),
        timezone: None,
        external_id: None,
        is_default: false,
        created_at: at,
        updated_at: at,
    }
}

async fn profile(store: &StoreRef, owner: &OwnerId, name: &str) -> ProfileId {
    let p = new_profile(owner, name, t0());
    store.insert_profile(&p).await.unwrap();
    p.id
}

fn identity(owner: &OwnerId, profile: &ProfileId, platform: Platform, uid: &str) -> AccountUpsert {
    AccountUpsert {
        owner_id: owner.clone(),
        profile_id: profile.clone(),
        platform,
        platform_user_id: uid.into(),
        destination_id: String::new(),
        username: Some(format!("user_{uid}")),
        display_name: Some(format!("User {uid}")),
        profile_picture: None,
        profile_url: None,
        followers_count: None,
        parent_account_id: None,
        enabled: true,
        metadata: Default::default(),
        tokens: None,
        token_expires_at: None,
        scopes: vec!["read".into()],
    }
}

pub async fn account_identity_is_unique_per_profile_and_reconnect_keeps_the_id(store: StoreRef) {
    let o = owner(&store, "acme").await;
    let p1 = profile(&store, &o, "one").await;
    let p2 = profile(&store, &o, "two").await;
    let first = store
        .upsert_account(&identity(&o, &p1, Platform::Twitter, "42"), None, t0())
        .await
        .unwrap();
    let mut again = identity(&o, &p1, Platform::Twitter, "42");
    again.username = Some("renamed".into());
    again.tokens = Some(Sealed::from_stored("v1.k.new".into()));
    let second = store
        .upsert_account(&again, None, t0() + Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(first.id, second.id, "reconnect must keep the account id");
    assert_eq!(second.username.as_deref(), Some("renamed"));
    assert_eq!(second.tokens, again.tokens);
    assert_eq!(second.created_at, first.created_at);
    assert_eq!(second.updated_at, t0() + Duration::minutes(1));

    // Same platform user in another profile, another platform, or another destination:
    // distinct accounts.
    let other_profile = store
        .upsert_account(&identity(&o, &p2, Platform::Twitter, "42"), None, t0())
        .await
        .unwrap();
    let other_platform = store
        .upsert_account(&identity(&o, &p1, Platform::Threads, "42"), None, t0())
        .await
        .unwrap();
    let mut page = identity(&o, &p1, Platform::Twitter, "42");
    page.destination_id = "page-1".into();
    let other_destination = store.upsert_account(&page, None, t0()).await.unwrap();
    let ids: HashSet<_> = [
        &first.id,
        &other_profile.id,
        &other_platform.id,
        &other_destination.id,
    ]
    .into_iter()
    .collect();
    assert_eq!(ids.len(), 4);
    let all = store
        .list_accounts(&o, &AccountQuery::default())
        .await
        .unwrap();
    assert_eq!(all.accounts.len(), 4);
    assert_eq!(all.total, 4);
}

pub async fn concurrent_writers_of_one_identity_leave_exactly_one_account(store: StoreRef) {
    let o = owner(&store, "acme").await;
    let p = profile(&store, &o, "main").await;
    let writers = (0..20).map(|i| {
        let store = store.clone();
        let mut up = identity(&o, &p, Platform::Linkedin, "urn:li:person:7");
        up.display_name = Some(format!("writer {i}"));
        tokio::spawn(async move { store.upsert_account(&up, None, t0()).await })
    });
    let results = futures::future::join_all(writers).await;
    let ids: HashSet<_> = results
        .into_iter()
        .map(|r| r.unwrap().unwrap().id)
        .collect();
    assert_eq!(ids.len(), 1, "every writer must see the same account id");
    let listed = store
        .list_accounts(&o, &AccountQuery::default())
        .await
        .unwrap();
    assert_eq!(listed.accounts.len(), 1);
}

pub async fn removed_account_is_hidden_and_reconnecting_revives_it_with_the_same_id(
    store: StoreRef,
) {
    let o = owner(&store, "acme").await;
    let p = profile(&store, &o, "main").await;
    let mut up = identity(&o, &p, Platform::Youtube, "UC1");
    up.tokens = Some(Sealed::from_stored("v1.k.tok".into()));
    let acc = store.upsert_account(&up, None, t0()).await.unwrap();
    let removed = store.remove_account(&o, &acc.id, None, t0()).await.unwrap();
    assert_eq!(removed.map(|a| a.id), Some(acc.id.clone()));
    assert_eq!(store.get_account(&o, &acc.id).await.unwrap(), None);
    assert_eq!(
        store.remove_account(&o, &acc.id, None, t0()).await.unwrap(),
        None,
        "a second removal finds nothing"
    );
    let listed = store
        .list_accounts(&o, &AccountQuery::default())
        .await
        .unwrap();
    assert!(listed.accounts.is_empty());
    assert!(
        store.accounts_with_tokens().await.unwrap().is_empty(),
        "removal drops the tokens"
    );
    let back = store.upsert_account(&up, None, t0()).await.unwrap();
    assert_eq!(back.id, acc.id);
    assert!(back.is_active);
    assert_eq!(
        store.get_account(&o, &acc.id).await.unwrap().map(|a| a.id),
        Some(acc.id)
    );
}

pub async fn exactly_one_of_fifty_racing_consumers_wins_a_one_time_record(store: StoreRef) {
    let o = owner(&store, "acme").await;
    store
        .put_one_time(&OneTimeRecord {
            kind: "connect_state".into(),
            key: "hash-abc".into(),
            owner_id: Some(o.clone()),
            payload: serde_json::json!({"platform": "twitter"}),
            expires_at: t0() + Duration::minutes(15),
            created_at: t0(),
        })
        .await
        .unwrap();
    let racers = (0..50).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .consume_one_time("connect_state", "hash-abc", t0() + Duration::minutes(1))
                .await
        })
    });
    let winners: Vec<OneTimeRecord> = futures::future::join_all(racers)
        .await
        .into_iter()
        .filter_map(|r| r.unwrap().unwrap())
        .collect();
    assert_eq!(winners.len(), 1);
    assert_eq!(winners[0].owner_id.as_ref(), Some(&o));
    assert_eq!(
        winners[0].payload,
        serde_json::json!({"platform": "twitter"})
    );
}

pub async fn expired_one_time_record_cannot_be_consumed(store: StoreRef) {
    store
        .put_one_time(&OneTimeRecord {
            kind: "k".into(),
            key: "x".into(),
            owner_id: None,
            payload: serde_json::json!(1),
            expires_at: t0(),
            created_at: t0() - Duration::minutes(15),
        })
        .await
        .unwrap();
    assert_eq!(store.consume_one_time("k", "x", t0()).await.unwrap(), None);
    assert_eq!(
        store
            .consume_one_time("other", "x", t0() - Duration::minutes(1))
            .await
            .unwrap(),
        None,
        "kind is part of the key"
    );
    assert!(
        store
            .consume_one_time("k", "x", t0() - Duration::minutes(1))
            .await
            .unwrap()
            .is_some()
    );
}

pub async fn reading_a_one_time_record_does_not_take_it_and_purge_drops_dead_ones(store: StoreRef) {
    let record = |key: &str, expires_at| OneTimeRecord {
        kind: "pending".into(),
        key: key.into(),
        owner_id: None,
        payload: serde_json::json!({"key": key}),
        expires_at,
        created_at: t0(),
    };
    for r in [
        record("live", t0() + Duration::hours(1)),
        record("taken", t0() + Duration::hours(1)),
        record("dead", t0() + Duration::minutes(1)),
    ] {
        store.put_one_time(&r).await.unwrap();
    }
    let now = t0() + Duration::minutes(5);
    for _ in 0..3 {
        let read = store.get_one_time("pending", "live", now).await.unwrap();
        assert_eq!(
            read.map(|r| r.payload),
            Some(serde_json::json!({"key": "live"}))
        );
    }
    assert!(
        store
            .consume_one_time("pending", "live", now)
            .await
            .unwrap()
            .is_some(),
        "reads did not take it"
    );
    assert!(
        store
            .consume_one_time("pending", "taken", now)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store.get_one_time("pending", "taken", now).await.unwrap(),
        None,
        "a taken record is gone for readers"
    );
    assert_eq!(
        store.get_one_time("pending", "dead", now).await.unwrap(),
        None,
        "an expired record is gone for readers"
    );
    assert_eq!(
        store.get_one_time("other", "live", now).await.unwrap(),
        None,
        "kind is part of the key"
    );
    store
        .put_one_time(&record("fresh", t0() + Duration::hours(1)))
        .await
        .unwrap();
    assert_eq!(
        store.purge_one_time(now).await.unwrap(),
        3,
        "two taken and one expired"
    );
    assert!(
        store
            .get_one_time("pending", "fresh", now)
            .await
            .unwrap()
            .is_some()
    );
}

pub async fn retargeting_an_account_keeps_its_id_and_refuses_a_taken_identity(store: StoreRef) {
    let o = owner(&store, "acme").await;
    let p = profile(&store, &o, "Main").await;
    let page = |dest: &str| AccountUpsert {
        destination_id: dest.into(),
        ..identity(&o, &p, Platform::Facebook, "user-1")
    };
    let a = store
        .upsert_account(&page("page-a"), None, t0())
        .await
        .unwrap();
    let b = store
        .upsert_account(&page("page-b"), None, t0())
        .await
        .unwrap();
    let change = |dest: &str| AccountRetarget {
        destination_id: dest.into(),
        username: Some("new_page".into()),
        display_name: Some("New Page".into()),
        profile_picture: None,
        profile_url: Some("https://www.facebook.com/page-c".into()),
        metadata: serde_json::json!({"selectedPageId": dest})
            .as_object()
            .unwrap()
            .clone(),
        tokens: Some(Sealed::from_stored("v1.k.c2VhbGVk".into())),
        token_expires_at: None,
    };
    let moved = store
        .retarget_account(&o, &a.id, &change("page-c"), t0() + Duration::minutes(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved.id, a.id);
    assert_eq!(moved.destination_id, "page-c");
    assert_eq!(moved.display_name.as_deref(), Some("New Page"));
    assert_eq!(moved.profile_picture, None, "cleared");
    assert_eq!(moved.metadata["selectedPageId"], "page-c");
    assert_eq!(
        moved.tokens.as_ref().map(Sealed::as_stored),
        Some("v1.k.c2VhbGVk")
    );
    assert!(
        matches!(
            store
                .retarget_account(&o, &a.id, &change("page-b"), t0())
                .await,
            Err(StoreError::Conflict { .. })
        ),
        "page-b is another live account"
    );
    store.remove_account(&o, &b.id, None, t0()).await.unwrap();
    let again = store
        .retarget_account(&o, &a.id, &change("page-b"), t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (again.id, again.destination_id.as_str()),
        (a.id.clone(), "page-b"),
        "a tombstone does not block"
    );
    let stranger = owner(&store, "other").await;
    assert_eq!(
        store
            .retarget_account(&stranger, &a.id, &change("x"), t0())
            .await
            .unwrap(),
        None
    );
}

pub async fn accounts_come_due_for_refresh_back_off_and_are_marked_for_reconnection(
    store: StoreRef,
) {
    let o = owner(&store, "acme").await;
    let p = profile(&store, &o, "Main").await;
    let with_expiry = |uid: &str, minutes: i64| AccountUpsert {
        tokens: Some(Sealed::from_stored(format!("v1.k.{uid}"))),
        token_expires_at: Some(t0() + Duration::minutes(minutes)),
        ..identity(&o, &p, Platform::Twitter, uid)
    };
    let soon = store
        .upsert_account(&with_expiry("soon", 5), None, t0())
        .await
        .unwrap();
    let sooner = store
        .upsert_account(&with_expiry("sooner", 1), None, t0())
        .await
        .unwrap();
    store
        .upsert_account(&with_expiry("later", 600), None, t0())
        .await
        .unwrap();
    store
        .upsert_account(
            &identity(&o, &p, Platform::Twitter, "no-expiry"),
            None,
            t0(),
        )
        .await
        .unwrap();
    let due = |at| {
        let store = store.clone();
        async move {
            store
                .accounts_due_for_refresh(at + Duration::minutes(10), at, 10)
                .await
                .unwrap()
                .into_iter()
                .map(|a| a.platform_user_id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        due(t0()).await,
        vec!["sooner", "soon"],
        "soonest first, only tokens that expire"
    );

    // A transient failure backs the account off until its retry time.
    assert_eq!(
        store
            .defer_refresh(&soon.id, t0() + Duration::minutes(2))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .defer_refresh(&soon.id, t0() + Duration::minutes(3))
            .await
            .unwrap(),
        2
    );
    assert_eq!(due(t0()).await, vec!["sooner"]);
    assert_eq!(
        due(t0() + Duration::minutes(3)).await,
        vec!["sooner", "soon"]
    );

    // Stored refreshed tokens: compare-and-swap on the old ones, failures cleared.
    let old = soon.tokens.clone().unwrap();
    let new = Sealed::from_stored("v1.k.new".into());
    let later = Some(t0() + Duration::hours(2));
    assert!(
        store
            .store_refreshed_tokens(&soon.id, &old, &new, later, t0())
            .await
            .unwrap()
    );
    assert!(
        !store
            .store_refreshed_tokens(
                &soon.id,
                &old,
                &Sealed::from_stored("v1.k.other".into()),
                later,
                t0()
            )
            .await
            .unwrap(),
        "a second refresh with the old tokens loses"
    );
    let a = store.get_account(&o, &soon.id).await.unwrap().unwrap();
    assert_eq!(a.tokens.as_ref().map(Sealed::as_stored), Some("v1.k.new"));
    assert_eq!(a.token_expires_at, later);
    assert_eq!(
        store.defer_refresh(&soon.id, t0()).await.unwrap(),
        1,
        "the count restarted"
    );

    // A dead grant: marked once, no longer due, cleared by a reconnect.
    assert!(
        store
            .mark_needs_reconnection(&sooner.id, None, t0())
            .await
            .unwrap()
            .is_some_and(|a| a.needs_reconnection)
    );
    assert!(
        store
            .mark_needs_reconnection(&sooner.id, None, t0())
            .await
            .unwrap()
            .is_none(),
        "only the first call changes it"
    );
    assert!(!due(t0()).await.contains(&"sooner".to_owned()));
    let back = store
        .upsert_account(&with_expiry("sooner", 1), None, t0())
        .await
        .unwrap();
    assert_eq!(back.id, sooner.id);
    assert!(!back.needs_reconnection);
    assert!(due(t0()).await.contains(&"sooner".to_owned()));
}

pub async fn two_claimers_never_hold_the_same_job(store: StoreRef) {
    for i in 0..10 {
        store
            .enqueue_job("refresh", &serde_json::json!({"n": i}), t0())
            .await
            .unwrap();
    }
    store
        .enqueue_job(
            "refresh",
            &serde_json::json!({"n": "later"}),
            t0() + Duration::hours(1),
        )
        .await
        .unwrap();
    let claimers = (0..30).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .claim_job(
                    "refresh",
                    &format!("worker-{i}"),
                    t0(),
                    Duration::minutes(5),
                )
                .await
        })
    });
    let claimed: Vec<Job> = futures::future::join_all(claimers)
        .await
        .into_iter()
        .filter_map(|r| r.unwrap().unwrap())
        .collect();
    assert_eq!(claimed.len(), 10, "ten due jobs, each claimed once");
    let ids: HashSet<_> = claimed.iter().map(|j| j.id.clone()).collect();
    assert_eq!(ids.len(), 10);
    assert!(claimed.iter().all(|j| j.attempts == 1));
    assert!(
        claimed
            .iter()
            .all(|j| j.lease_until == Some(t0() + Duration::minutes(5)))
    );
}

pub async fn expired_job_lease_can_be_reclaimed_and_completion_needs_the_lease(store: StoreRef) {
    let id = store
        .enqueue_job("webhook", &serde_json::json!({}), t0())
        .await
        .unwrap();
    assert_eq!(store.count_jobs(&["webhook"]).await.unwrap(), 1);
    assert_eq!(store.count_jobs(&["webhook", "other"]).await.unwrap(), 1);
    assert_eq!(store.count_jobs(&["other"]).await.unwrap(), 0);
    let a = store
        .claim_job("webhook", "a", t0(), Duration::minutes(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.id, id);
    assert!(
        store
            .claim_job(
                "webhook",
                "b",
                t0() + Duration::seconds(30),
                Duration::minutes(1)
            )
            .await
            .unwrap()
            .is_none(),
        "a live lease blocks others"
    );
    let b = store
        .claim_job(
            "webhook",
            "b",
            t0() + Duration::minutes(2),
            Duration::minutes(1),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.id, id);
    assert_eq!(b.attempts, 2);
    assert!(
        !store.complete_job(&id, "a").await.unwrap(),
        "a lost the lease"
    );
    assert!(
        store
            .retry_job(&id, "b", t0() + Duration::minutes(10))
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_job(
                "webhook",
                "c",
                t0() + Duration::minutes(5),
                Duration::minutes(1)
            )
            .await
            .unwrap()
            .is_none(),
        "retried job is not due yet"
    );
    let c = store
        .claim_job(
            "webhook",
            "c",
            t0() + Duration::minutes(10),
            Duration::minutes(1),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(store.complete_job(&c.id, "c").await.unwrap());
    assert!(
        store
            .claim_job(
                "webhook",
                "d",
                t0() + Duration::hours(1),
                Duration::minutes(1)
            )
            .await
            .unwrap()
            .is_none(),
        "a completed job is gone"
    );
    assert_eq!(store.count_jobs(&["webhook"]).await.unwrap(), 0);
}

pub async fn named_lease_has_one_holder_until_it_expires(store: StoreRef) {
    let ttl = Duration::seconds(30);
    let racers = (0..10).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .acquire_lease("telegram-poller", &format!("r{i}"), t0(), ttl)
                .await
        })
    });
    let won = futures::future::join_all(racers)
        .await
        .into_iter()
        .filter(|r| matches!(r, Ok(Ok(true))))
        .count();
    assert_eq!(won, 1);
    assert!(store.acquire_lease("l", "a", t0(), ttl).await.unwrap());
    assert!(
        store
            .acquire_lease("l", "a", t0() + Duration::seconds(10), ttl)
            .await
            .unwrap(),
        "holder renews"
    );
    assert!(
        !store
            .acquire_lease("l", "b", t0() + Duration::seconds(20), ttl)
            .await
            .unwrap()
    );
    assert!(
        store
            .acquire_lease("l", "b", t0() + Duration::seconds(41), ttl)
            .await
            .unwrap(),
        "expired lease is taken over"
    );
    store.release_lease("l", "a").await.unwrap();
    assert!(
        !store
            .acquire_lease("l", "a", t0() + Duration::seconds(42), ttl)
            .await
            .unwrap(),
        "release by a non-holder does nothing"
    );
    store.release_lease("l", "b").await.unwrap();
    assert!(
        store
            .acquire_lease("l", "a", t0() + Duration::seconds(43), ttl)
            .await
            .unwrap()
    );
}

async fn seed_accounts(store: &StoreRef, o: &OwnerId, p: &ProfileId, n: usize) -> Vec<Account> {
    let mut out = Vec::new();
    for i in 0..n {
        let platform = if i % 2 == 0 {
            Platform::Twitter
        } else {
            Platform::Facebook
        };
        let mut up = identity(o, p, platform, &format!("u{i:02}"));
        up.enabled = i % 5 != 4;
        // Distinct creation seconds so ids (and therefore default order) are known.
        out.push(
            store
                .upsert_account(&up, None, t0() + Duration::seconds(i as i64))
                .await
                .unwrap(),
        );
    }
    out
}

pub async fn account_offset_pagination_and_filters(store: StoreRef) {
    let o = owner(&store, "acme").await;
    let p = profile(&store, &o, "main").await;
    let q = profile(&store, &o, "other").await;
    let seeded = seed_accounts(&store, &o, &p, 12).await;
    store
        .upsert_account(
            &identity(&o, &q, Platform::Bluesky, "did:plc:x"),
            None,
            t0(),
        )
        .await
        .unwrap();

    let page = store
        .list_accounts(
            &o,
            &AccountQuery {
                profile_ids: Some(vec![p.clone()]),
                page: PageRequest::Offset { skip: 5, limit: 5 },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.total, 12);
    let got: Vec<_> = page.accounts.iter().map(|a| a.id.clone()).collect();
    let want: Vec<_> = seeded[5..10].iter().map(|a| a.id.clone()).collect();
    assert_eq!(got, want, "offset paging follows creation order");

    let twitter = store
        .list_accounts(
            &o,
            &AccountQuery {
                platforms: Some(vec![Platform::Twitter]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(twitter.total, 6);
    assert!(
        twitter
            .accounts
            .iter()
            .all(|a| a.platform == Platform::Twitter)
    );

    let visible = store
        .list_accounts(
            &o,
            &AccountQuery {
                exclude_hidden: true,
                profile_ids: Some(vec![p.clone()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(visible.total, 10, "two of twelve are hidden");

    let by_name_desc = store
        .list_accounts(
            &o,
            &AccountQuery {
                profile_ids: Some(vec![p.clone()]),
                sort: AccountSort::Username,
                order: Order::Desc,
                page: PageRequest::Offset { skip: 0, limit: 2 },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let names: Vec<_> = by_name_desc
        .accounts
        .iter()
        .map(|a| a.username.clone().unwrap_or_default())
        .collect();
    assert_eq!(names, ["user_u11", "user_u10"]);

    let none = store
        .list_accounts(
            &o,
            &AccountQuery {
                status: Some(AccountStatus::Disconnected),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(none.total, 0);
    let empty_set = store
        .list_accounts(
            &o,
            &AccountQuery {
                profile_ids: Some(vec![]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(empty_set.total, 0, "an empty allow-list allows nothing");

    let counts = store.count_accounts_by_profile(&o).await.unwrap();
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort();
    let mut want = vec![(p.clone(), 12), (q.clone(), 1)];
    want.sort();
    assert_eq!(counts, want);
}

pub async fn account_cursor_pagination_walks_every_account_once(store: StoreRef) {
    let o = owner(&store, "acme").await;
    let p = profile(&store, &o, "main").await;
    let seeded = seed_accounts(&store, &o, &p, 7).await;
    let mut seen = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = store
            .list_accounts(
                &o,
                &AccountQuery {
                    page: PageRequest::Cursor {
                        after: after.clone(),
                        limit: 3,
                    },
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        pages += 1;
        assert!(page.accounts.len() <= 3);
        seen.extend(page.accounts.iter().map(|a| a.id.clone()));
        match page.next_cursor {
            Some(c) => after = Some(c),
            None => break,
        }
        assert!(pages < 10, "cursor paging must end");
    }
    assert_eq!(pages, 3);
    let mut want: Vec<_> = seeded.iter().map(|a| a.id.clone()).collect();
    want.sort();
    assert_eq!(seen, want);
}

pub async fn account_search_is_case_insensitive_and_matches_ids(store: StoreRef) {
    let o = owner(&store, "acme").await;
    let p = profile(&store, &o, "main").await;
    let mut up = identity(&o, &p, Platform::Instagram, "17841");
    up.username = Some("Acme.Official".into());
    up.display_name = Some("ACME 100% Real".into());
    let acc = store.upsert_account(&up, None, t0()).await.unwrap();
    seed_accounts(&store, &o, &p, 3).await;
    for (term, want, why) in [
        ("acme.off", 1, "substring of username, any case"),
        ("100%", 1, "literal percent sign"),
        ("real", 1, "display name"),
        ("1784", 1, "platform user id"),
        ("a.o", 0, "dot is literal, not a wildcard"),
        ("user_", 3, "underscore is literal"),
        ("nobody", 0, "no match"),
    ] {
        let got = store
            .list_accounts(
                &o,
                &AccountQuery {
                    search: Some(term.into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(got.total, want, "{why}: {term:?}");
    }
    let by_id = store
        .list_accounts(
            &o,
            &AccountQuery {
                search: Some(acc.id.to_string()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        by_id
            .accounts
            .iter()
            .map(|a| a.id.clone())
            .collect::<Vec<_>>(),
        [acc.id]
    );
}

pub async fn one_owner_never_sees_another_owners_rows(store: StoreRef) {
    let a = owner(&store, "a").await;
    let b = owner(&store, "b").await;
    let pa = profile(&store, &a, "shared-name").await;
    let pb = profile(&store, &b, "shared-name").await;
    let acc = store
        .upsert_account(&identity(&a, &pa, Platform::Reddit, "t2_x"), None, t0())
        .await
        .unwrap();
    assert_eq!(store.get_profile(&b, &pa).await.unwrap(), None);
    assert_eq!(store.get_account(&b, &acc.id).await.unwrap(), None);
    assert!(
        store
            .list_accounts(&b, &AccountQuery::default())
            .await
            .unwrap()
            .accounts
            .is_empty()
    );
    let (profiles, total) = store
        .list_profiles(&b, &ProfileFilter::default(), 0, None)
        .await
        .unwrap();
    assert_eq!((profiles.len(), total), (1, 1));
    assert_eq!(profiles[0].id, pb);
    assert_eq!(
        store
            .update_profile(
                &b,
                &pa,
                &ProfilePatch {
                    name: Some("x".into()),
                    ..Default::default()
                },
                t0()
            )
            .await
            .unwrap(),
        None
    );
    assert!(!store.delete_profile(&b, &pa).await.unwrap());
    assert_eq!(
        store
            .update_account(
                &b,
                &acc.id,
                &AccountPatch {
                    is_active: Some(false),
                    ..Default::default()
                },
                t0()
            )
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.move_account(&b, &acc.id, &pb, t0()).await.unwrap(),
        None
    );
    assert_eq!(
        store.move_account(&a, &acc.id, &pb, t0()).await.unwrap(),
        None,
        "cannot move into another owner's profile"
    );
    assert_eq!(
        store.remove_account(&b, &acc.id, None, t0()).await.unwrap(),
        None
    );
    assert!(
        store
            .upsert_account(&identity(&b, &pa, Platform::Reddit, "t2_y"), None, t0())
            .await
            .is_err(),
        "cannot connect into another owner's profile"
    );
    assert!(
        store
            .get_account(&a, &acc.id)
            .await
            .unwrap()
            .unwrap()
            .is_active
    );
    assert!(store.get_profile(&a, &pa).await.unwrap().is_some());
}

pub async fn profile_names_and_external_ids_are_unique_per_owner(store: StoreRef) {
    let o = owner(&store, "acme").await;
    let other = owner(&store, "other").await;
    let mut p = new_profile(&o, "Brand", t0());
    p.external_id = Some("ext-1".into());
    store.insert_profile(&p).await.unwrap();
    let dup_name = new_profile(&o, "Brand", t0());
    assert!(matches!(
        store.insert_profile(&dup_name).await,
        Err(StoreError::Conflict { field: "name", .. })
    ));
    let mut dup_ext = new_profile(&o, "Brand 2", t0());
    dup_ext.external_id = Some("ext-1".into());
    assert!(matches!(
        store.insert_profile(&dup_ext).await,
        Err(StoreError::Conflict {
            field: "externalId",
            ..
        })
    ));
    // Profiles without an external id do not collide with each other.
    store
        .insert_profile(&new_profile(&o, "A", t0()))
        .await
        .unwrap();
    store
        .insert_profile(&new_profile(&o, "B", t0()))
        .await
        .unwrap();
    // Another owner may reuse both.
    let mut theirs = new_profile(&other, "Brand", t0());
    theirs.external_id = Some("ext-1".into());
    store.insert_profile(&theirs).await.unwrap();
    let b = store
        .list_profiles(
            &o,
            &ProfileFilter {
                name: Some("B".into()),
                ..Default::default()
            },
            0,
            None,
        )
        .await
        .unwrap()
        .0;
    assert!(matches!(
        store
            .update_profile(
                &o,
                &b[0].id,
                &ProfilePatch {
                    name: Some("Brand".into()),
                    ..Default::default()
                },
                t0()
            )
            .await,
        Err(StoreError::Conflict { field: "name", .. })
    ));
    let (found, _) = store
        .list_profiles(
            &o,
            &ProfileFilter {
                external_id: Some("ext-1".into()),
                ..Default::default()
            },
            0,
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        found.iter().map(|p| p.id.clone()).collect::<Vec<_>>(),
        [p.id]
    );
}

pub async fn profile_listing_puts_default_first_and_pages(store: StoreRef) {
    let o = owner(&store, "acme").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut p = new_profile(&o, &format!("p{i}"), t0() + Duration::seconds(i));
        p.is_default = i == 3;
        store.insert_profile(&p).await.unwrap();
        ids.push(p.id);
    }
    let (all, total) = store
        .list_profiles(&o, &ProfileFilter::default(), 0, None)
        .await
        .unwrap();
    assert_eq!(total, 5);
    let order: Vec<_> = all.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(order, ["p3", "p0", "p1", "p2", "p4"]);
    let (page, total) = store
        .list_profiles(&o, &ProfileFilter::default(), 1, Some(2))
        .await
        .unwrap();
    assert_eq!(total, 5);
    assert_eq!(
        page.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["p0", "p1"]
    );
    let (only, total) = store
        .list_profiles(
            &o,
            &ProfileFilter {
                only: Some(vec![ids[4].clone(), ids[0].clone()]),
                ..Default::default()
            },
            0,
            None,
        )
        .await
        .unwrap();
    assert_eq!(total, 2);
    assert_eq!(
        only.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["p0", "p4"]
    );
}

pub async fn profile_update_applies_patch_and_moves_default_flag(store: StoreRef) {
    let o = owner(&store, "acme").await;
    let mut first = new_profile(&o, "first", t0());
    first.is_default = true;
    first.description = Some("d".into());
    first.timezone = Some("Europe/Paris".into());
    store.insert_profile(&first).await.unwrap();
    let second = new_profile(&o, "second", t0());
    store.insert_profile(&second).await.unwrap();
    let later = t0() + Duration::minutes(3);
    let updated = store
        .update_profile(
            &o,
            &second.id,
            &ProfilePatch {
                name: Some("renamed".into()),
                description: Some(Some("new".into())),
                is_default: Some(true),
                ..Default::default()
            },
            later,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.name, "renamed");
    assert_eq!(updated.description.as_deref(), Some("new"));
    assert!(updated.is_default);
    assert_eq!(updated.updated_at, later);
    assert_eq!(updated.color, second.color, "untouched fields stay");
    let first_now = store.get_profile(&o, &first.id).await.unwrap().unwrap();
    assert!(!first_now.is_default, "only one default profile");
    let cleared = store
        .update_profile(
            &o,
            &first.id,
            &ProfilePatch {
                description: Some(None),
                timezone: Some(None),
                ..Default::default()
            },
            later,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((cleared.description, cleared.timezone), (None, None));
    assert!(store.delete_profile(&o, &first.id).await.unwrap());
    assert!(!store.delete_profile(&o, &first.id).await.unwrap());
    assert_eq!(store.get_profile(&o, &first.id).await.unwrap(), None);
}

pub async fn moving_accounts_between_profiles(store: StoreRef) {
    let o = owner(&store, "acme").await;
    let from = profile(&store, &o, "from").await;
    let to = profile(&store, &o, "to").await;
    let a = store
        .upsert_account(&identity(&o, &from, Platform::Tiktok, "1"), None, t0())
        .await
        .unwrap();
    store
        .upsert_account(&identity(&o, &from, Platform::Tiktok, "2"), None, t0())
        .await
        .unwrap();
    // A tombstone of the same identity in the target does not block the move.
    let ghost = store
        .upsert_account(&identity(&o, &to, Platform::Tiktok, "1"), None, t0())
        .await
        .unwrap();
    store
        .remove_account(&o, &ghost.id, None, t0())
        .await
        .unwrap();
    let moved = store
        .move_account(&o, &a.id, &to, t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (moved.id.clone(), moved.profile_id.clone()),
        (a.id.clone(), to.clone())
    );
    // A live account of the same identity in the target does.
    let clash = store
        .upsert_account(&identity(&o, &from, Platform::Tiktok, "1"), None, t0())
        .await
        .unwrap();
    assert!(matches!(
        store.move_account(&o, &clash.id, &to, t0()).await,
        Err(StoreError::Conflict { .. })
    ));
    store
        .remove_account(&o, &clash.id, None, t0())
        .await
        .unwrap();
    let n = store
        .move_profile_accounts(&o, &from, &to, t0())
        .await
        .unwrap();
    assert_eq!(n, 1);
    let in_to = store
        .list_accounts(
            &o,
            &AccountQuery {
                profile_ids: Some(vec![to.clone()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(in_to.total, 2);
}

fn key(owner: &OwnerId, name: &str, hash: &str) -> ApiKeyRecord {
    ApiKeyRecord {
        id: ApiKeyId::generate(t0().timestamp()),
        owner_id: owner.clone(),
        name: name.into(),
        key_hash: hash.into(),
        preview: "sk_1234...abcd".into(),
        profile_ids: None,
        permission: Permission::ReadWrite,
        disabled_resource_groups: vec![],
        expires_at: None,
        created_at: t0(),
    }
}

pub async fn api_keys_are_found_by_hash_and_deleted_per_owner(store: StoreRef) {
    let a = owner(&store, "a").await;
    let b = owner(&store, "b").await;
    let pa = profile(&store, &a, "p").await;
    let mut k = key(&a, "ci", "hash-1");
    k.profile_ids = Some(vec![pa]);
    k.permission = Permission::Read;
    k.disabled_resource_groups = vec!["webhooks".into()];
    k.expires_at = Some(t0() + Duration::days(30));
    store.insert_api_key(&k).await.unwrap();
    assert!(matches!(
        store.insert_api_key(&key(&a, "dup", "hash-1")).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        store.find_api_key_by_hash("hash-1").await.unwrap(),
        Some(k.clone())
    );
    assert_eq!(store.find_api_key_by_hash("nope").await.unwrap(), None);
    assert_eq!(store.list_api_keys(&a).await.unwrap(), vec![k.clone()]);
    assert!(store.list_api_keys(&b).await.unwrap().is_empty());
    assert!(
        !store.delete_api_key(&b, &k.id).await.unwrap(),
        "another owner cannot revoke it"
    );
    assert!(store.delete_api_key(&a, &k.id).await.unwrap());
    assert_eq!(store.find_api_key_by_hash("hash-1").await.unwrap(), None);
}

pub async fn first_api_key_is_inserted_only_into_an_empty_store(store: StoreRef) {
    let a = owner(&store, "a").await;
    assert_eq!(store.count_api_keys().await.unwrap(), 0);
    assert!(
        store
            .insert_first_api_key(&key(&a, "boot", "h1"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .insert_first_api_key(&key(&a, "boot2", "h2"))
            .await
            .unwrap()
    );
    assert_eq!(store.count_api_keys().await.unwrap(), 1);
    assert_eq!(store.first_owner().await.unwrap().map(|o| o.id), Some(a));
}

pub async fn token_replacement_is_compare_and_swap(store: StoreRef) {
    let o = owner(&store, "acme").await;
    let p = profile(&store, &o, "main").await;
    let mut up = identity(&o, &p, Platform::Pinterest, "pin");
    up.tokens = Some(Sealed::from_stored("v1.old.x".into()));
    let acc = store.upsert_account(&up, None, t0()).await.unwrap();
    let old = Sealed::from_stored("v1.old.x".into());
    let new = Sealed::from_stored("v1.new.y".into());
    assert!(store.replace_tokens(&acc.id, &old, &new).await.unwrap());
    assert!(
        !store.replace_tokens(&acc.id, &old, &new).await.unwrap(),
        "stale expectation loses"
    );
    let with = store.accounts_with_tokens().await.unwrap();
    assert_eq!(with.len(), 1);
    assert_eq!(with[0].tokens, Some(new));
}

pub async fn idempotency_key_is_taken_by_exactly_one_concurrent_request(store: StoreRef) {
    let o = owner(&store, "acme").await;
    let racers = (0..20).map(|_| {
        let store = store.clone();
        let o = o.clone();
        tokio::spawn(async move {
            store
                .begin_idempotent(&o, "createProfile", "k1", "h1", t0())
                .await
        })
    });
    let results: Vec<IdempotencyBegin> = futures::future::join_all(racers)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    let started = results
        .iter()
        .filter(|r| **r == IdempotencyBegin::Started)
        .count();
    assert_eq!(started, 1);
    assert!(
        results
            .iter()
            .all(|r| matches!(r, IdempotencyBegin::Started | IdempotencyBegin::InProgress))
    );
    // A request that died holding the key does not block it past the processing lease.
    let later = t0() + IDEMPOTENCY_PROCESSING_LEASE + Duration::seconds(1);
    assert_eq!(
        store
            .begin_idempotent(&o, "createProfile", "k1", "h1", later)
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
}

pub async fn completed_idempotency_key_replays_and_refuses_other_requests(store: StoreRef) {
    let o = owner(&store, "acme").await;
    let other = owner(&store, "other").await;
    let scope = "createProfile";
    assert_eq!(
        store
            .begin_idempotent(&o, scope, "k", "h", t0())
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
    let body = serde_json::json!({"profile": {"_id": "p1"}});
    store
        .finish_idempotent(&o, scope, "k", 201, &body, t0() + Duration::hours(24))
        .await
        .unwrap();
    let t1 = t0() + Duration::minutes(5);
    assert_eq!(
        store
            .begin_idempotent(&o, scope, "k", "h", t1)
            .await
            .unwrap(),
        IdempotencyBegin::Completed {
            status: 201,
            body: body.clone()
        }
    );
    assert_eq!(
        store
            .begin_idempotent(&o, scope, "k", "different", t1)
            .await
            .unwrap(),
        IdempotencyBegin::Mismatch
    );
    assert_eq!(
        store
            .begin_idempotent(&other, scope, "k", "different", t1)
            .await
            .unwrap(),
        IdempotencyBegin::Started,
        "keys are per owner"
    );
    store.abandon_idempotent(&o, scope, "k").await.unwrap();
    assert!(
        matches!(
            store
                .begin_idempotent(&o, scope, "k", "h", t1)
                .await
                .unwrap(),
            IdempotencyBegin::Completed { .. }
        ),
        "a finished record is not abandoned"
    );
    assert_eq!(
        store
            .begin_idempotent(&o, scope, "k", "h", t0() + Duration::hours(25))
            .await
            .unwrap(),
        IdempotencyBegin::Started,
        "records expire"
    );
    store.abandon_idempotent(&o, scope, "k").await.unwrap();
    assert_eq!(
        store
            .begin_idempotent(&o, scope, "k", "h2", t0() + Duration::hours(25))
            .await
            .unwrap(),
        IdempotencyBegin::Started,
        "an abandoned request frees the key"
    );
}

/// Claims every queued dispatch job and returns their events, oldest first.
async fn drain_events(store: &StoreRef) -> Vec<QueuedEvent> {
    let mut out = Vec::new();
    while let Some(job) = store
        .claim_job(
            outbox::DISPATCH_JOB,
            "drain",
            t0() + Duration::days(1),
            Duration::minutes(1),
        )
        .await
        .unwrap()
    {
        assert_eq!(
            job.id,
            outbox::dispatch_job_id(job.payload["eventId"].as_str().unwrap())
        );
        out.push(serde_json::from_value(job.payload.clone()).unwrap());
        assert!(store.complete_job(&job.id, "drain").await.unwrap());
    }
    out
}

fn body(e: &QueuedEvent) -> serde_json::Value {
    serde_json::from_str(&e.body).unwrap()
}

pub async fn account_changes_queue_their_events_in_the_same_step(store: StoreRef) {
    let o = owner(&store, "acme").await;
    let mut p = new_profile(&o, "brand", t0());
    p.external_id = Some("crm-1".into());
    store.insert_profile(&p).await.unwrap();
    let up = identity(&o, &p.id, Platform::Twitter, "42");

    // Without an event nothing is queued.
    let quiet = store.upsert_account(&up, None, t0()).await.unwrap();
    assert!(drain_events(&store).await.is_empty());

    let connected = AccountEvent::connected(t0());
    let acc = store
        .upsert_account(&up, Some(&connected), t0())
        .await
        .unwrap();
    assert_eq!(acc.id, quiet.id);
    let removal = AccountEvent::disconnected(t0(), true, "Disconnected by the user");
    let removed = store
        .remove_account(&o, &acc.id, Some(&removal), t0())
        .await
        .unwrap()
        .unwrap();
    // A reconnect revives it, and says so.
    let back_event = AccountEvent::connected(t0());
    let back = store
        .upsert_account(&up, Some(&back_event), t0())
        .await
        .unwrap();
    assert_eq!(back.id, acc.id);
    // A fresh identity is connected by insertion.
    let fresh_event = AccountEvent::connected(t0());
    let fresh = store
        .upsert_account(
            &identity(&o, &p.id, Platform::Threads, "7"),
            Some(&fresh_event),
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(
        store.relay_outbox(t0()).await.unwrap(),
        0,
        "nothing left in between"
    );

    let events = drain_events(&store).await;
    let mut ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    ids.sort();
    let mut expected = vec![
        connected.id.as_str(),
        removal.id.as_str(),
        back_event.id.as_str(),
        fresh_event.id.as_str(),
    ];
    expected.sort();
    assert_eq!(ids, expected);
    let by_id = |id: &str| events.iter().find(|e| e.event_id == id).unwrap();

    let c = by_id(&connected.id);
    assert_eq!(c.event, "account.connected");
    assert_eq!(c.owner_id, o);
    assert_eq!(c.account_id.as_ref(), Some(&acc.id));
    assert_eq!(c.profile_id.as_ref(), Some(&p.id));
    let b = body(c);
    assert_eq!(b["id"], connected.id.as_str());
    assert_eq!(b["account"]["accountId"], acc.id.as_str());
    assert_eq!(b["account"]["platform"], "twitter");
    assert_eq!(b["account"]["username"], "user_42");
    assert_eq!(b["profiles"][0]["externalId"], "crm-1");

    let r = body(by_id(&removal.id));
    assert_eq!(r["event"], "account.disconnected");
    assert_eq!(r["account"]["accountId"], removed.id.as_str());
    assert_eq!(r["account"]["disconnectionType"], "intentional");
    assert_eq!(r["account"]["reason"], "Disconnected by the user");

    assert_eq!(
        body(by_id(&fresh_event.id))["account"]["accountId"],
        fresh.id.as_str()
    );

    // Removing what is not there queues nothing.
    let nothing = AccountEvent::disconnected(t0(), true, "x");
    let ghost = AccountId::generate(t0().timestamp());
    assert_eq!(
        store
            .remove_account(&o, &ghost, Some(&nothing), t0())
            .await
            .unwrap(),
        None
    );
    assert!(drain_events(&store).await.is_empty());
}

pub async fn a_disconnection_is_queued_once_however_often_it_is_reported(store: StoreRef) {
    let o = owner(&store, "acme").await;
    let p = profile(&store, &o, "brand").await;
    let acc = store
        .upsert_account(&identity(&o, &p, Platform::Reddit, "t2_a"), None, t0())
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (store, id) = (store.clone(), acc.id.clone());
        tasks.push(tokio::spawn(async move {
            let e = AccountEvent::disconnected(t0(), false, "Token revoked (invalid_grant)");
            store
                .mark_needs_reconnection(&id, Some(&e), t0())
                .await
                .unwrap()
        }));
    }
    let mut changed = 0;
    for t in tasks {
        if t.await.unwrap().is_some() {
            changed += 1;
        }
    }
    assert_eq!(changed, 1);
    let events = drain_events(&store).await;
    assert_eq!(events.len(), 1);
    let b = body(&events[0]);
    assert_eq!(b["account"]["disconnectionType"], "unintentional");
    assert_eq!(b["account"]["reason"], "Token revoked (invalid_grant)");
    // Reconnecting clears the flag, so the next death is told again.
    store
        .upsert_account(&identity(&o, &p, Platform::Reddit, "t2_a"), None, t0())
        .await
        .unwrap();
    let again = AccountEvent::disconnected(t0(), false, "Token expired");
    assert!(
        store
            .mark_needs_reconnection(&acc.id, Some(&again), t0())
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(drain_events(&store).await.len(), 1);
}

pub async fn a_job_enqueued_once_per_id_and_completion_with_event_needs_the_lease(store: StoreRef) {
    let payload = serde_json::json!({"n": 1});
    assert!(
        store
            .enqueue_job_once("deliver:e1:w1", "deliver", &payload, t0())
            .await
            .unwrap()
    );
    assert!(
        !store
            .enqueue_job_once(
                "deliver:e1:w1",
                "deliver",
                &serde_json::json!({"n": 2}),
                t0()
            )
            .await
            .unwrap()
    );
    let job = store
        .claim_job("deliver", "w", t0(), Duration::minutes(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.payload, payload, "the first enqueue wins");
    assert!(store.complete_job(&job.id, "w").await.unwrap());

    let o = owner(&store, "acme").await;
    let p = profile(&store, &o, "brand").await;
    store
        .enqueue_job("sync", &serde_json::json!({}), t0())
        .await
        .unwrap();
    let sync = store
        .claim_job("sync", "a", t0(), Duration::minutes(1))
        .await
        .unwrap()
        .unwrap();
    let event = QueuedEvent::new(
        &sync.id,
        "account.ads.initial_sync_completed",
        t0(),
        &o,
        Some(&p),
        None,
        None,
        [("sync", serde_json::json!({"status": "success"}))],
    );
    assert!(
        !store
            .complete_job_with_event(&sync.id, "intruder", &event, t0())
            .await
            .unwrap()
    );
    assert!(drain_events(&store).await.is_empty(), "no lease, no event");
    assert!(
        store
            .complete_job_with_event(&sync.id, "a", &event, t0())
            .await
            .unwrap()
    );
    let events = drain_events(&store).await;
    assert_eq!(events, vec![event]);
    assert!(
        store
            .claim_job("sync", "a", t0() + Duration::hours(1), Duration::minutes(1))
            .await
            .unwrap()
            .is_none()
    );
}

fn new_webhook(owner: &OwnerId, name: &str, at: DateTime<Utc>) -> Webhook {
    Webhook {
        id: WebhookId::generate(at.timestamp()),
        owner_id: owner.clone(),
        name: name.into(),
        url: format!("https://hooks.example/{name}"),
        secret: Some(Sealed::from_stored("v1.k.c2VjcmV0".into())),
        events: vec!["account.connected".into()],
        is_active: true,
        custom_headers: [("X-Team".to_owned(), "growth".to_owned())].into(),
        disabled_resource_groups: vec![],
        profile_ids: vec![],
        account_ids: vec![],
        last_fired_at: None,
        failure_count: 0,
        failing_since: None,
        created_at: at,
        updated_at: at,
    }
}

pub async fn webhook_subscriptions_are_scoped_patched_and_limited(store: StoreRef) {
    let a = owner(&store, "a").await;
    let b = owner(&store, "b").await;
    let first = new_webhook(&a, "first", t0());
    assert!(store.insert_webhook(&first, 2).await.unwrap());
    let second = new_webhook(&a, "second", t0() + Duration::seconds(1));
    assert!(store.insert_webhook(&second, 2).await.unwrap());
    assert!(
        !store
            .insert_webhook(&new_webhook(&a, "third", t0()), 2)
            .await
            .unwrap(),
        "the owner's quota is full"
    );
    assert!(
        store
            .insert_webhook(&new_webhook(&b, "theirs", t0()), 2)
            .await
            .unwrap()
    );

    assert_eq!(
        store.get_webhook(&a, &first.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.get_webhook(&b, &first.id).await.unwrap(), None);
    let listed = store.list_webhooks(&a).await.unwrap();
    assert_eq!(
        listed.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(),
        ["first", "second"]
    );

    let p = profile(&store, &a, "brand").await;
    let patch = WebhookPatch {
        url: Some("https://hooks.example/moved".into()),
        secret: Some(None),
        events: Some(vec![
            "account.connected".into(),
            "account.disconnected".into(),
        ]),
        is_active: Some(false),
        custom_headers: Some(Default::default()),
        disabled_resource_groups: Some(vec!["ads".into()]),
        profile_ids: Some(vec![p.clone()]),
        ..Default::default()
    };
    let later = t0() + Duration::minutes(5);
    assert_eq!(
        store
            .update_webhook(&b, &first.id, &patch, later)
            .await
            .unwrap(),
        None
    );
    let patched = store
        .update_webhook(&a, &first.id, &patch, later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(patched.name, "first", "unpatched fields stay");
    assert_eq!(patched.url, "https://hooks.example/moved");
    assert_eq!(patched.secret, None);
    assert_eq!(patched.events.len(), 2);
    assert!(!patched.is_active);
    assert!(patched.custom_headers.is_empty());
    assert_eq!(patched.disabled_resource_groups, ["ads"]);
    assert_eq!(patched.profile_ids, [p]);
    assert_eq!(patched.updated_at, later);
    assert_eq!(
        store.get_webhook(&a, &first.id).await.unwrap(),
        Some(patched)
    );

    assert!(!store.delete_webhook(&b, &first.id).await.unwrap());
    assert!(store.delete_webhook(&a, &first.id).await.unwrap());
    assert!(!store.delete_webhook(&a, &first.id).await.unwrap());
    assert!(
        store
            .insert_webhook(&new_webhook(&a, "third", t0()), 2)
            .await
            .unwrap()
    );
}

pub async fn webhook_outcomes_track_the_failure_streak(store: StoreRef) {
    let o = owner(&store, "o").await;
    let w = new_webhook(&o, "w", t0());
    store.insert_webhook(&w, 50).await.unwrap();
    for i in 0..3 {
        let after = store
            .record_webhook_outcome(&o, &w.id, false, t0() + Duration::hours(i))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(after.failure_count, u32::try_from(i + 1).unwrap());
        assert_eq!(
            after.failing_since,
            Some(t0()),
            "the streak started at the first failure"
        );
    }
    let ok_at = t0() + Duration::hours(5);
    let ok = store
        .record_webhook_outcome(&o, &w.id, true, ok_at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (ok.failure_count, ok.failing_since, ok.last_fired_at),
        (0, None, Some(ok_at))
    );

    store
        .record_webhook_outcome(&o, &w.id, false, ok_at)
        .await
        .unwrap();
    let off = WebhookPatch {
        is_active: Some(false),
        ..Default::default()
    };
    let off = store
        .update_webhook(&o, &w.id, &off, ok_at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(off.failure_count, 1, "disabling keeps the streak");
    let on = WebhookPatch {
        is_active: Some(true),
        ..Default::default()
    };
    let on = store
        .update_webhook(&o, &w.id, &on, ok_at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (on.failure_count, on.failing_since),
        (0, None),
        "re-enabling starts afresh"
    );

    let stranger = owner(&store, "s").await;
    assert_eq!(
        store
            .record_webhook_outcome(&stranger, &w.id, true, ok_at)
            .await
            .unwrap(),
        None
    );
}

pub async fn webhook_logs_filter_page_newest_first_and_purge(store: StoreRef) {
    let o = owner(&store, "o").await;
    let other = owner(&store, "x").await;
    let w1 = WebhookId::generate(t0().timestamp());
    let w2 = WebhookId::generate(t0().timestamp());
    let log = |owner: &OwnerId, w: &WebhookId, event_id: &str, ok: bool, minute: i64| WebhookLog {
        id: plugboard_core::new_object_id(t0().timestamp()),
        owner_id: owner.clone(),
        webhook_id: w.clone(),
        webhook_name: "hook".into(),
        event_id: event_id.into(),
        event: "account.connected".into(),
        test: false,
        url: "https://hooks.example/x".into(),
        status: if ok {
            DeliveryStatus::Success
        } else {
            DeliveryStatus::Failed
        },
        status_code: Some(if ok { 200 } else { 503 }),
        request_body: format!(r#"{{"id":"{event_id}","n":{minute}}}"#),
        response_body: Some("ok".into()),
        error_message: (!ok).then(|| "HTTP 503".into()),
        attempt_number: 1,
        response_time_ms: Some(12),
        created_at: t0() + Duration::minutes(minute),
    };
    for (i, (w, e, ok)) in [
        (&w1, "e1", false),
        (&w1, "e1", true),
        (&w2, "e2", true),
        (&w1, "e3", false),
    ]
    .into_iter()
    .enumerate()
    {
        store
            .insert_webhook_log(&log(&o, w, e, ok, i as i64))
            .await
            .unwrap();
    }
    store
        .insert_webhook_log(&log(&other, &w1, "e1", true, 9))
        .await
        .unwrap();

    let all = WebhookLogFilter::default();
    let (page, total) = store.list_webhook_logs(&o, &all, 0, 2).await.unwrap();
    assert_eq!(total, 4);
    let minutes: Vec<i64> = page
        .iter()
        .map(|l| (l.created_at - t0()).num_minutes())
        .collect();
    assert_eq!(minutes, [3, 2], "newest first");
    let (rest, _) = store.list_webhook_logs(&o, &all, 2, 10).await.unwrap();
    assert_eq!(rest.len(), 2);
    assert_eq!(rest[1].request_body, r#"{"id":"e1","n":0}"#);
    assert_eq!(
        rest[1],
        log(&o, &w1, "e1", false, 0).clone_with_id(&rest[1].id)
    );

    let failed = WebhookLogFilter {
        status: Some(DeliveryStatus::Failed),
        ..Default::default()
    };
    assert_eq!(
        store.list_webhook_logs(&o, &failed, 0, 10).await.unwrap().1,
        2
    );
    let of_e1 = WebhookLogFilter {
        webhook_id: Some(w1.clone()),
        event_id: Some("e1".into()),
        ..Default::default()
    };
    assert_eq!(
        store.list_webhook_logs(&o, &of_e1, 0, 10).await.unwrap().1,
        2
    );
    let other_event = WebhookLogFilter {
        event: Some("account.disconnected".into()),
        ..Default::default()
    };
    assert_eq!(
        store
            .list_webhook_logs(&o, &other_event, 0, 10)
            .await
            .unwrap()
            .1,
        0
    );

    assert_eq!(
        store
            .purge_webhook_logs(t0() + Duration::minutes(2))
            .await
            .unwrap(),
        2
    );
    assert_eq!(store.list_webhook_logs(&o, &all, 0, 10).await.unwrap().1, 2);
    assert_eq!(
        store
            .list_webhook_logs(&other, &all, 0, 10)
            .await
            .unwrap()
            .1,
        1
    );
}

trait CloneWithId {
    fn clone_with_id(&self, id: &str) -> Self;
}

impl CloneWithId for WebhookLog {
    fn clone_with_id(&self, id: &str) -> Self {
        WebhookLog {
            id: id.to_owned(),
            ..self.clone()
        }
    }
}

fn mcp_client(id: &str, created_at: DateTime<Utc>) -> McpClient {
    McpClient {
        id: id.into(),
        name: format!("Client {id}"),
        redirect_uris: vec![
            "http://127.0.0.1:33418/callback".into(),
            "https://claude.example/oauth/callback".into(),
        ],
        created_at,
        last_used_at: None,
    }
}

fn mcp_grant(id: &str, owner: &OwnerId, key: &ApiKeyId, expires_at: DateTime<Utc>) -> McpGrant {
    McpGrant {
        id: id.into(),
        owner_id: owner.clone(),
        api_key_id: key.clone(),
        client_id: "client-1".into(),
        scopes: vec!["posts:read".into(), "posts:write".into()],
        resource: "https://plugboard.example/_mcp".into(),
        created_at: t0(),
        expires_at,
        revoked_at: None,
    }
}

fn mcp_token(
    grant: &McpGrant,
    hash: &str,
    kind: McpTokenKind,
    expires_at: DateTime<Utc>,
) -> McpToken {
    McpToken {
        hash: hash.into(),
        kind,
        grant_id: grant.id.clone(),
        owner_id: grant.owner_id.clone(),
        created_at: t0(),
        expires_at,
        used_at: None,
    }
}

/// A grant expiring in 30 days with an access token (`<id>-access`, one hour) and a
/// refresh token (`<id>-refresh`, 30 days).
async fn issue_mcp_grant(store: &StoreRef, id: &str, owner: &OwnerId, key: &ApiKeyId) -> McpGrant {
    let grant = mcp_grant(id, owner, key, t0() + Duration::days(30));
    let tokens = [
        mcp_token(
            &grant,
            &format!("{id}-access"),
            McpTokenKind::Access,
            t0() + Duration::hours(1),
        ),
        mcp_token(
            &grant,
            &format!("{id}-refresh"),
            McpTokenKind::Refresh,
            t0() + Duration::days(30),
        ),
    ];
    store.insert_mcp_grant(&grant, &tokens).await.unwrap();
    grant
}

fn mcp_key() -> ApiKeyId {
    ApiKeyId::generate(t0().timestamp())
}

pub async fn mcp_clients_are_stored_read_back_and_touched(store: StoreRef) {
    let client = mcp_client("client-1", t0());
    store.insert_mcp_client(&client).await.unwrap();
    assert_eq!(
        store.get_mcp_client("client-1").await.unwrap(),
        Some(client.clone())
    );
    assert_eq!(store.get_mcp_client("client-2").await.unwrap(), None);
    assert!(
        matches!(
            store.insert_mcp_client(&mcp_client("client-1", t0())).await,
            Err(StoreError::Conflict { .. })
        ),
        "a client id is registered once"
    );

    store
        .touch_mcp_client("client-1", t0() + Duration::hours(2))
        .await
        .unwrap();
    assert_eq!(
        store.get_mcp_client("client-1").await.unwrap(),
        Some(McpClient {
            last_used_at: Some(t0() + Duration::hours(2)),
            ..client
        })
    );
    store.touch_mcp_client("client-2", t0()).await.unwrap();
    assert_eq!(
        store.get_mcp_client("client-2").await.unwrap(),
        None,
        "touching an unknown client creates nothing"
    );
}

pub async fn mcp_tokens_are_found_by_hash_and_kind_until_they_expire(store: StoreRef) {
    let o = owner(&store, "acme").await;
    let k = mcp_key();
    let grant = issue_mcp_grant(&store, "grant-1", &o, &k).await;
    assert_eq!(
        store.get_mcp_grant("grant-1").await.unwrap(),
        Some(grant.clone())
    );
    assert_eq!(store.get_mcp_grant("grant-2").await.unwrap(), None);

    let now = t0() + Duration::minutes(5);
    let (access, of) = store
        .find_mcp_token("grant-1-access", McpTokenKind::Access, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        access,
        mcp_token(
            &grant,
            "grant-1-access",
            McpTokenKind::Access,
            t0() + Duration::hours(1)
        )
    );
    assert_eq!(of, grant);
    let (refresh, of) = store
        .find_mcp_token("grant-1-refresh", McpTokenKind::Refresh, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refresh.kind, McpTokenKind::Refresh);
    assert_eq!(refresh.expires_at, t0() + Duration::days(30));
    assert_eq!(of, grant);

    for (hash, kind, at, why) in [
        (
            "grant-1-access",
            McpTokenKind::Refresh,
            now,
            "an access token is not a refresh token",
        ),
        (
            "grant-1-refresh",
            McpTokenKind::Access,
            now,
            "a refresh token is not an access token",
        ),
        ("unknown", McpTokenKind::Access, now, "unknown hash"),
        (
            "grant-1-access",
            McpTokenKind::Access,
            t0() + Duration::hours(1),
            "an access token is dead at its expiry",
        ),
        (
            "grant-1-refresh",
            McpTokenKind::Refresh,
            t0() + Duration::days(31),
            "a refresh token is dead after its expiry",
        ),
    ] {
        assert_eq!(
            store.find_mcp_token(hash, kind, at).await.unwrap(),
            None,
            "{why}"
        );
    }
    assert!(
        store
            .find_mcp_token(
                "grant-1-refresh",
                McpTokenKind::Refresh,
                t0() + Duration::hours(2)
            )
            .await
            .unwrap()
            .is_some(),
        "the refresh token outlives the access token"
    );
}

pub async fn an_authorization_code_is_redeemed_into_at_most_one_grant(store: StoreRef) {
    let o = owner(&store, "acme").await;
    let k = mcp_key();
    let first = issue_mcp_grant(&store, "grant-1", &o, &k).await;
    let mut again = mcp_grant("grant-1", &o, &k, t0() + Duration::days(60));
    again.scopes = vec!["everything".into()];
    let token = mcp_token(
        &again,
        "second-access",
        McpTokenKind::Access,
        t0() + Duration::hours(1),
    );
    assert!(matches!(
        store.insert_mcp_grant(&again, &[token]).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        store.get_mcp_grant("grant-1").await.unwrap(),
        Some(first),
        "the first grant is unchanged"
    );
    assert_eq!(
        store
            .find_mcp_token("second-access", McpTokenKind::Access, t0())
            .await
            .unwrap(),
        None,
        "the refused redemption issued no token"
    );
}

pub async fn exactly_one_of_twenty_racing_refreshes_spends_a_refresh_token(store: StoreRef) {
    let o = owner(&store, "acme").await;
    let grant = issue_mcp_grant(&store, "grant-1", &o, &mcp_key()).await;
    let now = t0() + Duration::hours(3);
    let racers = (0..20).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.use_mcp_refresh_token("grant-1-refresh", now).await })
    });
    let outcomes: Vec<RefreshTokenUse> = futures::future::join_all(racers)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    let fresh = outcomes
        .iter()
        .filter(|u| **u == RefreshTokenUse::Fresh(grant.clone()))
        .count();
    let replayed = outcomes
        .iter()
        .filter(|u| **u == RefreshTokenUse::Replayed(grant.clone()))
        .count();
    assert_eq!(
        (fresh, replayed),
        (1, 19),
        "one winner, every other caller sees a replay: {outcomes:?}"
    );
    assert_eq!(
        store
            .use_mcp_refresh_token("grant-1-refresh", now + Duration::days(1))
            .await
            .unwrap(),
        RefreshTokenUse::Replayed(grant),
        "a later presentation is a replay too"
    );
}

pub async fn a_spent_refresh_token_is_dead_and_only_live_refresh_tokens_can_be_spent(
    store: StoreRef,
) {
    let o = owner(&store, "acme").await;
    let grant = issue_mcp_grant(&store, "grant-1", &o, &mcp_key()).await;
    let now = t0() + Duration::minutes(1);
    for (hash, at, why) in [
        ("unknown", now, "unknown hash"),
        ("grant-1-access", now, "an access token cannot be spent"),
        (
            "grant-1-refresh",
            t0() + Duration::days(30),
            "an expired refresh token cannot be spent",
        ),
    ] {
        assert_eq!(
            store.use_mcp_refresh_token(hash, at).await.unwrap(),
            RefreshTokenUse::Invalid,
            "{why}"
        );
    }
    assert_eq!(
        store
            .use_mcp_refresh_token("grant-1-refresh", now)
            .await
            .unwrap(),
        RefreshTokenUse::Fresh(grant.clone()),
        "the failed attempts did not spend it"
    );
    assert_eq!(
        store
            .find_mcp_token("grant-1-refresh", McpTokenKind::Refresh, now)
            .await
            .unwrap(),
        None,
        "a spent refresh token is not found"
    );
    assert_eq!(
        store
            .find_mcp_token("grant-1-access", McpTokenKind::Access, now)
            .await
            .unwrap()
            .map(|(_, g)| g),
        Some(grant),
        "spending the refresh token leaves the access token alone"
    );
}

pub async fn revoking_a_grant_kills_every_token_of_it(store: StoreRef) {
    let o = owner(&store, "acme").await;
    let k = mcp_key();
    let doomed = issue_mcp_grant(&store, "grant-1", &o, &k).await;
    let other = issue_mcp_grant(&store, "grant-2", &o, &k).await;
    let now = t0() + Duration::minutes(10);
    assert!(store.revoke_mcp_grant("grant-1", now).await.unwrap());
    assert!(
        !store.revoke_mcp_grant("grant-1", now).await.unwrap(),
        "revoked already"
    );
    assert!(
        !store.revoke_mcp_grant("grant-9", now).await.unwrap(),
        "no such grant"
    );
    assert_eq!(
        store.get_mcp_grant("grant-1").await.unwrap(),
        Some(McpGrant {
            revoked_at: Some(now),
            ..doomed
        })
    );
    for (hash, kind) in [
        ("grant-1-access", McpTokenKind::Access),
        ("grant-1-refresh", McpTokenKind::Refresh),
    ] {
        assert_eq!(
            store.find_mcp_token(hash, kind, now).await.unwrap(),
            None,
            "{hash} died with its grant"
        );
    }
    assert_eq!(
        store
            .use_mcp_refresh_token("grant-1-refresh", now)
            .await
            .unwrap(),
        RefreshTokenUse::Invalid,
        "an unspent refresh token of a revoked grant is invalid"
    );
    assert_eq!(
        store
            .find_mcp_token("grant-2-access", McpTokenKind::Access, now)
            .await
            .unwrap()
            .map(|(_, g)| g),
        Some(other.clone()),
        "another grant of the same key lives on"
    );
    assert_eq!(
        store
            .use_mcp_refresh_token("grant-2-refresh", now)
            .await
            .unwrap(),
        RefreshTokenUse::Fresh(other)
    );
}

pub async fn revoking_the_grants_of_a_key_touches_only_that_keys_live_grants(store: StoreRef) {
    let a = owner(&store, "a").await;
    let b = owner(&store, "b").await;
    let (k1, k2) = (mcp_key(), mcp_key());
    issue_mcp_grant(&store, "a-k1-1", &a, &k1).await;
    issue_mcp_grant(&store, "a-k1-2", &a, &k1).await;
    issue_mcp_grant(&store, "a-k1-revoked", &a, &k1).await;
    store.revoke_mcp_grant("a-k1-revoked", t0()).await.unwrap();
    let expired = mcp_grant("a-k1-expired", &a, &k1, t0() + Duration::minutes(30));
    store.insert_mcp_grant(&expired, &[]).await.unwrap();
    issue_mcp_grant(&store, "a-k2", &a, &k2).await;
    // Another owner's grant under the same key id (ids never collide in practice; the
    // owner is part of the filter all the same).
    issue_mcp_grant(&store, "b-k1", &b, &k1).await;

    let now = t0() + Duration::hours(2);
    assert_eq!(
        store.revoke_mcp_grants_of_key(&a, &k1, now).await.unwrap(),
        2,
        "the two live grants of the key"
    );
    assert_eq!(
        store.revoke_mcp_grants_of_key(&a, &k1, now).await.unwrap(),
        0
    );
    for (id, revoked_at) in [
        ("a-k1-1", Some(now)),
        ("a-k1-2", Some(now)),
        ("a-k1-revoked", Some(t0())),
        ("a-k1-expired", None),
        ("a-k2", None),
        ("b-k1", None),
    ] {
        assert_eq!(
            store.get_mcp_grant(id).await.unwrap().unwrap().revoked_at,
            revoked_at,
            "grant {id}"
        );
    }
    for (hash, found) in [
        ("a-k1-1-refresh", false),
        ("a-k2-refresh", true),
        ("b-k1-refresh", true),
    ] {
        assert_eq!(
            store
                .find_mcp_token(hash, McpTokenKind::Refresh, now)
                .await
                .unwrap()
                .is_some(),
            found,
            "{hash}"
        );
    }
}

pub async fn refreshing_a_grant_adds_tokens_and_extends_its_expiry(store: StoreRef) {
    let o = owner(&store, "acme").await;
    let grant = issue_mcp_grant(&store, "grant-1", &o, &mcp_key()).await;
    let later = t0() + Duration::days(20);
    let new = [
        McpToken {
            created_at: later,
            ..mcp_token(
                &grant,
                "next-access",
                McpTokenKind::Access,
                later + Duration::hours(1),
            )
        },
        McpToken {
            created_at: later,
            ..mcp_token(
                &grant,
                "next-refresh",
                McpTokenKind::Refresh,
                later + Duration::days(30),
            )
        },
    ];
    store.insert_mcp_tokens("grant-1", &new).await.unwrap();
    assert_eq!(
        store
            .get_mcp_grant("grant-1")
            .await
            .unwrap()
            .unwrap()
            .expires_at,
        later + Duration::days(30)
    );
    // A token expiring sooner never shortens the grant.
    let short = mcp_token(
        &grant,
        "short-access",
        McpTokenKind::Access,
        later + Duration::minutes(5),
    );
    store.insert_mcp_tokens("grant-1", &[short]).await.unwrap();
    assert_eq!(
        store
            .get_mcp_grant("grant-1")
            .await
            .unwrap()
            .unwrap()
            .expires_at,
        later + Duration::days(30)
    );

    let past_first = t0() + Duration::days(40);
    assert_eq!(
        store
            .find_mcp_token("grant-1-refresh", McpTokenKind::Refresh, past_first)
            .await
            .unwrap(),
        None
    );
    let (token, of) = store
        .find_mcp_token("next-refresh", McpTokenKind::Refresh, past_first)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token, new[1]);
    assert_eq!(of.expires_at, later + Duration::days(30));
    assert_eq!(
        store
            .use_mcp_refresh_token("next-refresh", past_first)
            .await
            .unwrap(),
        RefreshTokenUse::Fresh(of),
        "the grant lives as long as its latest token"
    );

    let stray = mcp_token(
        &mcp_grant("grant-9", &o, &mcp_key(), later),
        "stray",
        McpTokenKind::Access,
        later,
    );
    assert!(
        store.insert_mcp_tokens("grant-9", &[stray]).await.is_err(),
        "tokens need an existing grant"
    );
    assert_eq!(
        store
            .find_mcp_token("stray", McpTokenKind::Access, t0())
            .await
            .unwrap(),
        None
    );
}

pub async fn purging_mcp_records_drops_dead_ones_and_keeps_live_ones(store: StoreRef) {
    let o = owner(&store, "acme").await;
    let k = mcp_key();
    let now = t0() + Duration::days(2);
    let never_used_before = now - Duration::days(1);
    let idle_before = now - Duration::days(30);

    let clients = [
        ("never-used-old", now - Duration::days(3), None, false),
        ("never-used-new", now - Duration::hours(1), None, true),
        (
            "idle",
            now - Duration::days(90),
            Some(now - Duration::days(31)),
            false,
        ),
        (
            "active",
            now - Duration::days(90),
            Some(now - Duration::days(29)),
            true,
        ),
    ];
    for (id, created_at, last_used_at, _) in &clients {
        store
            .insert_mcp_client(&mcp_client(id, *created_at))
            .await
            .unwrap();
        if let Some(at) = last_used_at {
            store.touch_mcp_client(id, *at).await.unwrap();
        }
    }

    // Live: its access token (one hour from t0) expired, its refresh token did not.
    issue_mcp_grant(&store, "live", &o, &k).await;
    let expired = mcp_grant("expired", &o, &k, t0() + Duration::days(1));
    store
        .insert_mcp_grant(
            &expired,
            &[
                mcp_token(
                    &expired,
                    "expired-access",
                    McpTokenKind::Access,
                    t0() + Duration::hours(1),
                ),
                mcp_token(
                    &expired,
                    "expired-refresh",
                    McpTokenKind::Refresh,
                    t0() + Duration::days(1),
                ),
            ],
        )
        .await
        .unwrap();
    // Revoked: both tokens unexpired, and they go with it.
    issue_mcp_grant(&store, "revoked", &o, &k).await;
    store.revoke_mcp_grant("revoked", t0()).await.unwrap();

    // Tokens: live-access, expired-access, expired-refresh, revoked-access,
    // revoked-refresh; grants: expired, revoked; clients: never-used-old, idle.
    assert_eq!(
        store
            .purge_mcp(now, never_used_before, idle_before)
            .await
            .unwrap(),
        9
    );
    assert_eq!(
        store
            .purge_mcp(now, never_used_before, idle_before)
            .await
            .unwrap(),
        0,
        "nothing left to purge"
    );

    for (id, _, _, kept) in &clients {
        assert_eq!(
            store.get_mcp_client(id).await.unwrap().is_some(),
            *kept,
            "client {id}"
        );
    }
    for (id, kept) in [("live", true), ("expired", false), ("revoked", false)] {
        assert_eq!(
            store.get_mcp_grant(id).await.unwrap().is_some(),
            kept,
            "grant {id}"
        );
    }
    assert!(
        store
            .find_mcp_token("live-refresh", McpTokenKind::Refresh, now)
            .await
            .unwrap()
            .is_some(),
        "the live grant keeps its live refresh token"
    );
    assert_eq!(
        store
            .use_mcp_refresh_token("revoked-refresh", t0())
            .await
            .unwrap(),
        RefreshTokenUse::Invalid,
        "the revoked grant's tokens are gone"
    );
}

//! Conformance cases of [`crate::QuotaStore`].

use super::{StoreRef, drain_events, owner, t0};
use crate::*;
use chrono::{Duration, NaiveDate};
use plugboard_core::Platform;

fn day() -> NaiveDate {
    t0().date_naive()
}

fn youtube(units: u64) -> UsageIncrement {
    UsageIncrement {
        units,
        ..UsageIncrement::call(Platform::Youtube, t0())
    }
}

pub async fn usage_adds_up_per_platform_and_day_across_concurrent_writers(store: StoreRef) {
    let writers = (0..40).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.add_platform_usage(&youtube(2)).await })
    });
    for r in futures::future::join_all(writers).await {
        r.unwrap().unwrap();
    }
    for _ in 0..3 {
        store
            .add_platform_usage(&UsageIncrement::call(Platform::Twitter, t0()))
            .await
            .unwrap();
    }
    let tomorrow = t0() + Duration::days(1);
    let next_day = store
        .add_platform_usage(&UsageIncrement {
            units: 5,
            ..UsageIncrement::call(Platform::Youtube, tomorrow)
        })
        .await
        .unwrap();
    assert_eq!(
        (next_day.calls, next_day.units),
        (1, 5),
        "a new day starts at zero"
    );

    let today = store.platform_usage(day(), day()).await.unwrap();
    let seen: Vec<_> = today
        .iter()
        .map(|u| (u.platform, u.calls, u.units))
        .collect();
    assert_eq!(
        seen,
        [(Platform::Twitter, 3, 0), (Platform::Youtube, 40, 80)],
        "every concurrent increment counts once, listed by platform"
    );
    assert_eq!(today[1].last_call_at, Some(t0()));
    assert_eq!(today[1].day, day());
    let both = store
        .platform_usage(day(), tomorrow.date_naive())
        .await
        .unwrap();
    assert_eq!(both.len(), 3);
    assert_eq!(both[2].day, tomorrow.date_naive());
    assert!(
        store
            .platform_usage(day() - Duration::days(3), day() - Duration::days(1))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn usage_keeps_the_highest_percentages_the_latest_block_and_the_last_rate_limit(
    store: StoreRef,
) {
    let meta = |app: Option<(u32, u32, u32)>, business: Option<(u32, u32, u32)>| {
        let pct = |(c, cpu, t)| MetaPercentages {
            call_count: c,
            total_cputime: cpu,
            total_time: t,
        };
        UsageIncrement {
            app_usage: app.map(pct),
            business_usage: business.map(pct),
            ..UsageIncrement::call(Platform::Facebook, t0())
        }
    };
    let first = store
        .add_platform_usage(&meta(Some((10, 5, 1)), None))
        .await
        .unwrap();
    assert_eq!(first.business_usage, None, "not reported, not zero");
    store
        .add_platform_usage(&meta(Some((3, 40, 2)), Some((90, 1, 1))))
        .await
        .unwrap();
    let after = store.add_platform_usage(&meta(None, None)).await.unwrap();
    assert_eq!(after.calls, 3);
    assert_eq!(
        after.app_usage,
        Some(MetaPercentages {
            call_count: 10,
            total_cputime: 40,
            total_time: 2
        })
    );
    assert_eq!(after.business_usage.map(|b| b.highest()), Some(90));

    let block = |until: Option<DateTime<Utc>>| UsageIncrement {
        quota_errors: u64::from(until.is_some()),
        blocked_until: until,
        ..UsageIncrement::call(Platform::Twitter, t0())
    };
    let later = t0() + Duration::hours(2);
    store.add_platform_usage(&block(Some(later))).await.unwrap();
    store
        .add_platform_usage(&block(Some(t0() + Duration::minutes(30))))
        .await
        .unwrap();
    let blocked = store.add_platform_usage(&block(None)).await.unwrap();
    assert_eq!(
        blocked.blocked_until,
        Some(later),
        "the latest block stands"
    );
    assert_eq!(blocked.quota_errors, 2);

    let rate = |remaining: u64, at: DateTime<Utc>| UsageIncrement {
        rate_limit: Some(RateLimitSeen {
            limit: Some(75),
            remaining: Some(remaining),
            reset_at: Some(at + Duration::minutes(15)),
            seen_at: at,
        }),
        ..UsageIncrement::call(Platform::Reddit, at)
    };
    store.add_platform_usage(&rate(70, t0())).await.unwrap();
    let seen = store
        .add_platform_usage(&rate(12, t0() + Duration::minutes(1)))
        .await
        .unwrap();
    let quiet = store
        .add_platform_usage(&UsageIncrement::call(Platform::Reddit, t0()))
        .await
        .unwrap();
    assert_eq!(
        quiet.rate_limit, seen.rate_limit,
        "a call without headers keeps it"
    );
    let r = quiet.rate_limit.unwrap();
    assert_eq!(
        (r.limit, r.remaining, r.seen_at),
        (Some(75), Some(12), t0() + Duration::minutes(1))
    );
    assert_eq!(r.reset_at, Some(t0() + Duration::minutes(16)));
}

pub async fn a_quota_warning_is_taken_once_per_platform_and_day_with_its_event(store: StoreRef) {
    let o = owner(&store, "operator").await;
    let event = |id: &str| {
        QueuedEvent::new(
            id,
            "platform.quota.warning",
            t0(),
            &o,
            None,
            None,
            None,
            [("quota", serde_json::json!({"platform": "youtube"}))],
        )
    };
    store.add_platform_usage(&youtube(1)).await.unwrap();
    let racers = (0..10).map(|i| {
        let store = store.clone();
        let e = event(&format!("{i:024x}"));
        tokio::spawn(async move {
            store
                .claim_quota_warning(Platform::Youtube, day(), Some(&e), t0())
                .await
        })
    });
    let won = futures::future::join_all(racers)
        .await
        .into_iter()
        .filter(|r| matches!(r, Ok(Ok(true))))
        .count();
    assert_eq!(won, 1, "one warning per platform and day");
    let queued = drain_events(&store).await;
    assert_eq!(queued.len(), 1, "only the winner's event is queued");
    assert_eq!(queued[0].event, "platform.quota.warning");
    assert_eq!(queued[0].owner_id, o);
    assert_eq!(
        store.relay_outbox(t0()).await.unwrap(),
        0,
        "nothing left behind"
    );

    let after = store.add_platform_usage(&youtube(1)).await.unwrap();
    assert_eq!(after.warned_at, Some(t0()), "later calls keep the claim");
    assert_eq!(after.calls, 2);
    // Another platform, another day: their own warnings; a day with no calls yet too.
    let tomorrow = day() + Duration::days(1);
    assert!(
        store
            .claim_quota_warning(Platform::Youtube, tomorrow, None, t0())
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_quota_warning(
                Platform::Facebook,
                day(),
                Some(&event(&"f".repeat(24))),
                t0()
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_quota_warning(Platform::Youtube, tomorrow, None, t0())
            .await
            .unwrap()
    );
    assert_eq!(drain_events(&store).await.len(), 1);
    let fresh = store.platform_usage(tomorrow, tomorrow).await.unwrap();
    assert_eq!(fresh.len(), 1);
    assert_eq!((fresh[0].calls, fresh[0].warned_at), (0, Some(t0())));
}

use super::*;
use plugboard_core::{OwnerId, Platform};
use plugboard_platforms::UsageSnapshot;
use plugboard_platforms::usage::QuotaHit;
use plugboard_store::Owner;
use plugboard_store::outbox::DISPATCH_JOB;
use plugboard_store::sqlite::SqliteStore;
use std::collections::BTreeMap;

fn at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2027-03-10T15:30:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn call(platform: Platform, units: u64) -> PlatformCall {
    PlatformCall {
        platform,
        endpoint: "channels.list".into(),
        oauth: false,
        units,
        status: 200,
        usage: UsageSnapshot::default(),
        quota_exceeded: None,
        at: at(),
    }
}

fn settings(limits: &[(Platform, u64)]) -> QuotaSettings {
    QuotaSettings {
        daily_limits: limits.iter().copied().collect::<BTreeMap<_, _>>(),
    }
}

#[test]
fn a_quota_error_blocks_until_the_reset_it_named_or_the_end_of_the_day() {
    let s = settings(&[]);
    let mut c = call(Platform::Twitter, 0);
    c.quota_exceeded = Some(QuotaHit {
        reset_at: Some(at() + TimeDelta::minutes(15)),
    });
    let inc = increment(&s, &c);
    assert_eq!(inc.blocked_until, Some(at() + TimeDelta::minutes(15)));
    assert_eq!((inc.calls, inc.quota_errors), (1, 1));
    c.quota_exceeded = Some(QuotaHit { reset_at: None });
    assert_eq!(
        increment(&s, &c).blocked_until,
        Some(end_of_day(at().date_naive()))
    );
    assert_eq!(
        increment(&s, &call(Platform::Twitter, 0)).blocked_until,
        None
    );
}

#[test]
fn meta_usage_at_the_limit_waits_out_metas_hour_or_the_time_it_names() {
    let s = settings(&[(Platform::Facebook, 90)]);
    let mut c = call(Platform::Facebook, 0);
    c.usage.app = Some(MetaUsage {
        call_count: 89,
        total_cputime: 1,
        total_time: 1,
    });
    assert_eq!(increment(&s, &c).blocked_until, None);
    c.usage.app = Some(MetaUsage {
        call_count: 91,
        total_cputime: 1,
        total_time: 1,
    });
    assert_eq!(
        increment(&s, &c).blocked_until,
        Some(at() + TimeDelta::hours(1))
    );
    c.usage.regain_access_at = Some(at() + TimeDelta::minutes(7));
    let inc = increment(&s, &c);
    assert_eq!(inc.blocked_until, Some(at() + TimeDelta::minutes(7)));
    assert_eq!(inc.app_usage.map(|u| u.call_count), Some(91));
}

async fn store() -> (Arc<dyn Store>, tempfile::TempDir, OwnerId) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(dir.path().join("plugboard.db"))
            .await
            .unwrap(),
    );
    let owner = Owner {
        id: OwnerId::generate(at().timestamp()),
        name: "operator".into(),
        email: None,
        created_at: at(),
    };
    store.insert_owner(&owner).await.unwrap();
    (store, dir, owner.id)
}

#[tokio::test]
async fn crossing_eighty_percent_warns_once_with_an_event_for_the_first_owner() {
    let (store, _dir, owner) = store().await;
    let recorder = QuotaRecorder::new(
        store.clone(),
        Arc::new(settings(&[(Platform::Youtube, 10)])),
    );
    for _ in 0..7 {
        recorder.record(&call(Platform::Youtube, 1)).await;
    }
    let none = store
        .claim_job(DISPATCH_JOB, "t", at(), TimeDelta::minutes(1))
        .await
        .unwrap();
    assert!(none.is_none(), "70% is not yet a warning");
    for _ in 0..3 {
        recorder.record(&call(Platform::Youtube, 1)).await;
    }
    let job = store
        .claim_job(DISPATCH_JOB, "t", at(), TimeDelta::minutes(1))
        .await
        .unwrap()
        .expect("the warning is queued");
    let event: QueuedEvent = serde_json::from_value(job.payload).unwrap();
    assert_eq!(event.event, WARNING_EVENT);
    assert_eq!(event.owner_id, owner);
    let body: serde_json::Value = serde_json::from_str(&event.body).unwrap();
    assert_eq!(body["quota"]["platform"], "youtube");
    assert_eq!(body["quota"]["measure"], "units");
    assert_eq!(body["quota"]["used"], 8, "sent when it crossed, at 8 of 10");
    assert_eq!(body["quota"]["limit"], 10);
    assert_eq!(body["quota"]["percentUsed"], 80.0);
    assert_eq!(body["quota"]["resetsAt"], "2027-03-11T00:00:00.000Z");
    store.complete_job(&job.id, "t").await.unwrap();
    let again = store
        .claim_job(DISPATCH_JOB, "t", at(), TimeDelta::minutes(1))
        .await
        .unwrap();
    assert!(again.is_none(), "one warning per platform and day");
    let day = store
        .platform_usage(at().date_naive(), at().date_naive())
        .await
        .unwrap();
    assert_eq!((day[0].calls, day[0].units), (10, 10));
    assert!(day[0].warned_at.is_some());
}

use super::*;
use chrono::TimeDelta;
use plugboard_store::MetaPercentages;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2027-03-10T15:30:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn row(platform: Platform, day: NaiveDate) -> PlatformUsage {
    PlatformUsage::empty(platform, day)
}

#[test]
fn the_default_limits_are_youtubes_units_and_metas_hundred_percent() {
    let s = QuotaSettings::default();
    assert_eq!(s.limit(Platform::Youtube), Some(10_000));
    assert_eq!(s.limit(Platform::Facebook), Some(100));
    assert_eq!(
        s.limit(Platform::Metaads),
        Some(100),
        "ads accounts spend the Facebook app's"
    );
    assert_eq!(s.limit(Platform::Twitter), None);
}

#[test]
fn the_day_ends_at_midnight_utc() {
    assert_eq!(
        end_of_day(now().date_naive()).to_rfc3339(),
        "2027-03-11T00:00:00+00:00"
    );
}

#[test]
fn a_platform_at_its_limit_is_exhausted_until_the_end_of_the_utc_day() {
    let settings = QuotaSettings {
        daily_limits: [(Platform::Youtube, 50), (Platform::Reddit, 3)].into(),
    };
    let today = now().date_naive();
    let mut yt = row(Platform::Youtube, today);
    yt.calls = 12;
    yt.units = 49;
    let s = standing(&settings, Platform::Youtube, &[yt.clone()], now());
    assert_eq!((s.used, s.limit, s.block.clone()), (49, Some(50), None));
    assert_eq!(s.percent_used, Some(98.0));
    yt.units = 50;
    let s = standing(&settings, Platform::Youtube, &[yt], now());
    assert_eq!(
        s.block,
        Some(QuotaBlock {
            platform: Platform::Youtube,
            reason: Exhaustion::LimitReached {
                used: 50,
                limit: 50
            },
            reset_at: end_of_day(today),
        })
    );
    let msg = s.block.unwrap().message();
    assert!(
        msg.contains("youtube") && msg.contains("50 of 50 units"),
        "{msg}"
    );
    assert!(msg.contains("2027-03-11T00:00:00Z"), "{msg}");

    // Reddit counts calls; yesterday's calls are yesterday's.
    let mut old = row(Platform::Reddit, today.pred_opt().unwrap());
    old.calls = 99;
    let mut r = row(Platform::Reddit, today);
    r.calls = 2;
    let s = standing(&settings, Platform::Reddit, &[old, r], now());
    assert_eq!((s.used, s.block), (2, None));
}

#[test]
fn a_platforms_refusal_holds_until_its_reset_even_into_the_next_day() {
    let settings = QuotaSettings {
        daily_limits: BTreeMap::new(),
    };
    let today = now().date_naive();
    // Refused yesterday until a reset in today's UTC day (YouTube's midnight Pacific):
    // passed at 15:30, it blocks nothing; one still ahead holds.
    let mut yesterday = row(Platform::Youtube, today.pred_opt().unwrap());
    yesterday.blocked_until = Some(now() - TimeDelta::hours(7));
    let s = standing(&settings, Platform::Youtube, &[yesterday.clone()], now());
    assert_eq!(s.block, None, "the reset passed");
    yesterday.blocked_until = Some(now() + TimeDelta::minutes(5));
    let s = standing(&settings, Platform::Youtube, &[yesterday], now());
    assert_eq!(
        s.block.map(|b| (b.reason, b.reset_at)),
        Some((Exhaustion::PlatformRefused, now() + TimeDelta::minutes(5)))
    );
    assert_eq!(s.usage.calls, 0, "today's counts start empty");
}

#[test]
fn meta_percentages_show_the_day_high_but_block_only_through_the_recorded_wait() {
    let settings = QuotaSettings::default();
    let mut fb = row(Platform::Facebook, now().date_naive());
    fb.app_usage = Some(MetaPercentages {
        call_count: 100,
        total_cputime: 3,
        total_time: 9,
    });
    fb.business_usage = Some(MetaPercentages {
        call_count: 20,
        total_cputime: 1,
        total_time: 1,
    });
    let s = standing(&settings, Platform::Facebook, &[fb.clone()], now());
    assert_eq!((s.used, s.percent_used), (100, Some(100.0)));
    assert_eq!(s.block, None, "the hour Meta counts over has passed");
    fb.blocked_until = Some(now() + TimeDelta::minutes(40));
    let s = standing(&settings, Platform::Facebook, &[fb], now());
    assert_eq!(s.block.map(|b| b.reason), Some(Exhaustion::PlatformRefused));
}

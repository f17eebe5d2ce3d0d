use super::*;
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::json;

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_750_000_000, 0).unwrap()
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

#[test]
fn meta_app_usage_is_read_as_percentages() {
    let s = UsageSnapshot::from_headers(
        Family::Meta,
        &headers(&[(
            "X-App-Usage",
            r#"{"call_count":28,"total_time":25,"total_cputime":7.6}"#,
        )]),
        now(),
    );
    assert_eq!(
        s.app,
        Some(MetaUsage {
            call_count: 28,
            total_cputime: 8,
            total_time: 25
        })
    );
    assert_eq!(s.meta_highest(), Some(28));
    assert_eq!(s.business, None);
}

#[test]
fn business_use_case_usage_keeps_the_highest_of_every_object_and_the_longest_wait() {
    let raw = json!({
        "112233": [
            {"type": "pages", "call_count": 40, "total_cputime": 12, "total_time": 10, "estimated_time_to_regain_access": 0},
            {"type": "instagram", "call_count": 5, "total_cputime": 91, "total_time": 3, "estimated_time_to_regain_access": 7}
        ],
        "445566": [
            {"type": "pages", "call_count": 60, "total_cputime": 1, "total_time": 70, "estimated_time_to_regain_access": 19}
        ]
    })
    .to_string();
    let s = UsageSnapshot::from_headers(
        Family::Meta,
        &headers(&[("x-business-use-case-usage", &raw)]),
        now(),
    );
    assert_eq!(
        s.business,
        Some(MetaUsage {
            call_count: 60,
            total_cputime: 91,
            total_time: 70
        })
    );
    assert_eq!(s.regain_access_at, Some(now() + TimeDelta::minutes(19)));
    assert_eq!(s.meta_highest(), Some(91));
}

#[test]
fn usage_headers_that_do_not_parse_are_ignored() {
    for (name, value) in [
        ("x-app-usage", "not json"),
        ("x-app-usage", "[1,2]"),
        ("x-app-usage", r#"{"call_count":"many"}"#),
        ("x-business-use-case-usage", r#"{"1":"pages"}"#),
        ("x-rate-limit-remaining", "-3"),
        ("x-rate-limit-reset", "soon"),
    ] {
        for family in [Family::Meta, Family::X] {
            let s = UsageSnapshot::from_headers(family, &headers(&[(name, value)]), now());
            assert_eq!(s, UsageSnapshot::default(), "{name}: {value}");
        }
    }
}

#[test]
fn x_rate_limit_headers_give_limit_remaining_and_the_unix_reset() {
    let s = UsageSnapshot::from_headers(
        Family::X,
        &headers(&[
            ("x-rate-limit-limit", "900"),
            ("x-rate-limit-remaining", "847"),
            ("x-rate-limit-reset", "1750000900"),
        ]),
        now(),
    );
    assert_eq!(
        s.rate_limit,
        Some(RateLimit {
            limit: Some(900),
            remaining: Some(847),
            reset_at: DateTime::from_timestamp(1_750_000_900, 0),
        })
    );
    // Meta's headers mean nothing on X, and X's nothing on Meta.
    let meta = UsageSnapshot::from_headers(
        Family::Meta,
        &headers(&[("x-rate-limit-remaining", "847")]),
        now(),
    );
    assert_eq!(meta.rate_limit, None);
}

#[test]
fn reddit_rate_limit_headers_are_floats_and_the_reset_is_seconds_from_now() {
    let s = UsageSnapshot::from_headers(
        Family::Reddit,
        &headers(&[
            ("X-Ratelimit-Used", "12"),
            ("X-Ratelimit-Remaining", "588.0"),
            ("X-Ratelimit-Reset", "341"),
        ]),
        now(),
    );
    assert_eq!(
        s.rate_limit,
        Some(RateLimit {
            limit: Some(600),
            remaining: Some(588),
            reset_at: Some(now() + TimeDelta::seconds(341)),
        })
    );
}

#[test]
fn retry_after_seconds_are_read_for_every_family() {
    let s = UsageSnapshot::from_headers(Family::Other, &headers(&[("Retry-After", "120")]), now());
    assert_eq!(s.retry_at, Some(now() + TimeDelta::seconds(120)));
}

/// What a classified answer is: a quota error until a time, or something else.
fn quota(family: Family, status: u16, body: Value, usage: &UsageSnapshot) -> Option<Option<i64>> {
    match quota_error(family, status, &body, usage, now(), || "d".into()) {
        Some(ConnectorError::QuotaExceeded { reset_at, .. }) => {
            Some(reset_at.map(|t| (t - now()).num_seconds()))
        }
        Some(other) => panic!("{other:?}"),
        None => None,
    }
}

/// What a case describes, the family, the answer, its headers, and what it should be.
type Case<'a> = (
    &'static str,
    Family,
    u16,
    Value,
    &'a UsageSnapshot,
    Option<Option<i64>>,
);

#[test]
fn each_platforms_real_quota_error_is_recognized_with_its_reset() {
    let none = UsageSnapshot::default();
    let x_headers = UsageSnapshot {
        rate_limit: Some(RateLimit {
            limit: Some(75),
            remaining: Some(0),
            reset_at: Some(now() + TimeDelta::seconds(600)),
        }),
        ..Default::default()
    };
    let youtube = json!({"error": {"code": 403, "message": "The request cannot be completed because you have exceeded your quota.",
        "errors": [{"message": "The request cannot be completed because you have exceeded your quota.", "domain": "youtube.quota", "reason": "quotaExceeded"}]}});
    let daily = json!({"error": {"code": 403, "message": "Daily Limit Exceeded.",
        "errors": [{"domain": "usageLimits", "reason": "dailyLimitExceeded", "message": "Daily Limit Exceeded."}]}});
    let meta = |code: i64| json!({"error": {"message": "(#4) Application request limit reached", "type": "OAuthException", "is_transient": true, "code": code, "fbtrace_id": "A1"}});
    let buc = UsageSnapshot {
        regain_access_at: Some(now() + TimeDelta::minutes(19)),
        ..Default::default()
    };
    let until_end_of_day = 86_400 - now().timestamp() % 86_400;
    let until_pacific_midnight = (next_pacific_midnight(now()) - now()).num_seconds();
    let cases: Vec<Case<'_>> = vec![
        (
            "YouTube quotaExceeded",
            Family::Google,
            403,
            youtube,
            &none,
            Some(Some(until_pacific_midnight)),
        ),
        (
            "YouTube dailyLimitExceeded",
            Family::Google,
            403,
            daily,
            &none,
            Some(Some(until_pacific_midnight)),
        ),
        (
            "a Google permission error is not a quota error",
            Family::Google,
            403,
            json!({"error": {"code": 403, "status": "PERMISSION_DENIED", "errors": [{"reason": "insufficientPermissions"}]}}),
            &none,
            None,
        ),
        (
            "Meta app limit, HTTP 400",
            Family::Meta,
            400,
            meta(4),
            &none,
            Some(Some(3600)),
        ),
        (
            "Meta user limit, HTTP 403",
            Family::Meta,
            403,
            meta(17),
            &none,
            Some(Some(3600)),
        ),
        (
            "Meta Page limit",
            Family::Meta,
            400,
            meta(32),
            &none,
            Some(Some(3600)),
        ),
        (
            "Meta custom limit",
            Family::Meta,
            400,
            meta(613),
            &none,
            Some(Some(3600)),
        ),
        (
            "Meta's wait in X-Business-Use-Case-Usage is the reset",
            Family::Meta,
            400,
            meta(4),
            &buc,
            Some(Some(19 * 60)),
        ),
        (
            "a WABA's own rate limit is not the app's quota",
            Family::Meta,
            400,
            meta(80_007),
            &none,
            None,
        ),
        (
            "Meta token error is not a quota error",
            Family::Meta,
            400,
            meta(190),
            &none,
            None,
        ),
        (
            "X 429 with its reset header",
            Family::X,
            429,
            json!({"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}),
            &x_headers,
            Some(Some(600)),
        ),
        (
            "X's monthly cap names no reset: the end of the UTC day stands",
            Family::X,
            429,
            json!({"title": "UsageCapExceeded", "detail": "Usage cap exceeded: Monthly product cap", "period": "Monthly"}),
            &none,
            Some(Some(until_end_of_day)),
        ),
        (
            "Reddit 429",
            Family::Reddit,
            429,
            json!({"message": "Too Many Requests", "error": 429}),
            &x_headers,
            Some(Some(600)),
        ),
        (
            "an X 503 is an outage, not quota",
            Family::X,
            503,
            Value::Null,
            &none,
            None,
        ),
        (
            "a 429 elsewhere stays a transient platform error",
            Family::Other,
            429,
            json!({"code": 429}),
            &none,
            None,
        ),
    ];
    for (what, family, status, body, usage, want) in cases {
        assert_eq!(quota(family, status, body, usage), want, "{what}");
    }
}

#[test]
fn google_quotas_reset_at_midnight_pacific_in_winter_and_summer() {
    // 2025-01-15 12:00 UTC is 04:00 PST: the reset is 2025-01-16 08:00 UTC.
    let winter = DateTime::parse_from_rfc3339("2025-01-15T12:00:00Z").unwrap();
    assert_eq!(
        next_pacific_midnight(winter.with_timezone(&Utc)).to_rfc3339(),
        "2025-01-16T08:00:00+00:00"
    );
    // 2025-07-01 06:30 UTC is 23:30 PDT on June 30: the reset is 07:00 UTC the same day.
    let summer = DateTime::parse_from_rfc3339("2025-07-01T06:30:00Z").unwrap();
    assert_eq!(
        next_pacific_midnight(summer.with_timezone(&Utc)).to_rfc3339(),
        "2025-07-01T07:00:00+00:00"
    );
}

#[test]
fn youtube_counts_channels_list_as_one_unit_and_any_other_data_call_as_at_least_one() {
    let t = crate::youtube::DATA_API_COSTS;
    assert_eq!(
        t.cost("GET", "/youtube/v3/channels"),
        Some(("channels.list", 1))
    );
    assert_eq!(t.cost("GET", "/youtube/v3/videos"), None);
    assert_eq!(t.other_units, 1);
}

#[test]
fn measures_and_default_limits_per_platform() {
    assert_eq!(quota_measure(Platform::Youtube), QuotaMeasure::Units);
    assert_eq!(default_daily_limit(Platform::Youtube), Some(10_000));
    for p in [
        Platform::Facebook,
        Platform::Instagram,
        Platform::Threads,
        Platform::Whatsapp,
    ] {
        assert_eq!(quota_measure(p), QuotaMeasure::Percent, "{p}");
        assert_eq!(default_daily_limit(p), Some(100), "{p}");
    }
    for p in [Platform::Twitter, Platform::Reddit, Platform::Linkedin] {
        assert_eq!(quota_measure(p), QuotaMeasure::Calls, "{p}");
        assert_eq!(default_daily_limit(p), None, "{p}");
    }
    assert!(!is_counted(Platform::Bluesky) && !is_counted(Platform::Telegram));
}

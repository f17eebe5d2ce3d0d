//! Rate-limit headers on the fakes' answers, and the `quota` fault knob that makes a fake
//! answer with its platform's real quota error (docs/sandbox.md "Quota").
//!
//! Shapes, from the platforms' documentation: Meta's `X-App-Usage`
//! (`{"call_count","total_cputime","total_time"}` in percent) and error code 4
//! "Application request limit reached" with HTTP 400; X's `x-rate-limit-limit`,
//! `-remaining`, `-reset` (Unix time) and 429 "Too Many Requests"; Reddit's
//! `X-Ratelimit-Used`, `-Remaining`, `-Reset` (seconds) and 429; YouTube's 403 with
//! `errors[].reason` `quotaExceeded` (its token endpoint is not the Data API and never
//! answers it); LinkedIn's, TikTok's, Pinterest's and Snapchat's 429s in their error shapes.

use actix_web::HttpRequest;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::errors::{google_error, json_response, linkedin_error, log_id, pinterest_error};
use crate::params::Params;
use crate::state::{Faults, now, with_state};
use crate::table::{ApiErrors, Fake};

/// X's app limit for the endpoints the fake serves, per 15-minute window.
const X_LIMIT: u64 = 900;
const X_WINDOW: Duration = Duration::minutes(15);
/// platforms.md §9: about 60 requests a minute per OAuth client, over 10-minute windows.
const REDDIT_LIMIT: u64 = 600;
const REDDIT_WINDOW: Duration = Duration::minutes(10);
/// Meta reports this little usage when no knob says otherwise.
const QUIET_PERCENT: u32 = 2;

/// The app a request comes from, for its knobs: the owner of its Bearer (or Meta query)
/// token, its HTTP Basic client id, or its `client_id`/`client_key` parameter.
pub(crate) fn client_of(req: &HttpRequest, fake: &Fake, body: &[u8]) -> Option<String> {
    let params = Params::parse(req.query_string().as_bytes()).merged(Params::parse(body));
    let auth = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '));
    let token = match auth {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => Some(t.trim().to_owned()),
        _ => params
            .get("access_token")
            .or_else(|| params.get("fb_exchange_token"))
            .map(str::to_owned),
    };
    if let Some(t) = token
        && let Some(id) = with_state(|s| s.access.get(&t).map(|g| g.client_id.clone()))
    {
        return Some(id);
    }
    if let Some((scheme, encoded)) = auth
        && scheme.eq_ignore_ascii_case("basic")
        && let Some(decoded) = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
        && let Some((id, _)) = decoded.split_once(':')
    {
        return Some(id.to_owned());
    }
    params
        .get(fake.client_id_param)
        .or_else(|| params.get("client_id"))
        .map(str::to_owned)
}

/// The knobs of the app behind a request.
pub(crate) fn knobs(req: &HttpRequest, fake: &'static Fake, body: &[u8]) -> Faults {
    let client = client_of(req, fake, body);
    with_state(|s| s.faults(fake.slug, client.as_deref()))
}

/// The platform's quota error when the `quota` knob is set; `api` is whether the endpoint
/// is the platform's API (identity, listings) rather than its OAuth side.
pub(crate) fn refusal(fake: &Fake, faults: &Faults, api: bool) -> Option<HttpResponse> {
    faults.quota?;
    let now = now();
    let mut resp = match fake.api_errors {
        // A Data API quota: oauth2.googleapis.com answers as usual.
        ApiErrors::Google if !api => return None,
        ApiErrors::Google if fake.slug == "youtube" => {
            let message = "The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>.";
            json_response(
                StatusCode::FORBIDDEN,
                &json!({"error": {"code": 403, "message": message, "errors": [
                    {"message": message, "domain": "youtube.quota", "reason": "quotaExceeded"}
                ]}}),
            )
        }
        ApiErrors::Google => google_error(
            StatusCode::TOO_MANY_REQUESTS,
            "RESOURCE_EXHAUSTED",
            "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute'.",
            None,
        ),
        ApiErrors::Graph => json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": {
                "message": "(#4) Application request limit reached",
                "type": "OAuthException",
                "is_transient": true,
                "code": 4,
                "fbtrace_id": log_id(),
            }}),
        ),
        ApiErrors::X => json_response(
            StatusCode::TOO_MANY_REQUESTS,
            &json!({"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}),
        ),
        ApiErrors::Reddit => json_response(
            StatusCode::TOO_MANY_REQUESTS,
            &json!({"message": "Too Many Requests", "error": 429}),
        ),
        ApiErrors::Linkedin => linkedin_error(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_REQUESTS",
            Some(101),
            "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
        ),
        ApiErrors::Tiktok => json_response(
            StatusCode::TOO_MANY_REQUESTS,
            &json!({"data": {}, "error": {"code": "rate_limit_exceeded", "message": "API rate limit exceeded, please retry later.", "log_id": log_id()}}),
        ),
        ApiErrors::Pinterest => pinterest_error(
            StatusCode::TOO_MANY_REQUESTS,
            8,
            "Organization has exceeded the rate limit. Please try again later.",
        ),
        ApiErrors::Snapchat => crate::errors::snapchat_error(
            StatusCode::TOO_MANY_REQUESTS,
            "E1008",
            "Rate limit exceeded",
        ),
    };
    exhausted_headers(fake, &mut resp, now);
    Some(resp)
}

fn put(resp: &mut HttpResponse, name: &'static str, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().insert(HeaderName::from_static(name), v);
    }
}

fn meta_usage(percent: u32) -> String {
    json!({
        "call_count": percent,
        "total_cputime": percent / 2,
        "total_time": percent / 2,
    })
    .to_string()
}

/// The current window of a rate-limited fake: calls in it so far (this one included) and
/// when it ends.
fn window(fake: &Fake, length: Duration, now: DateTime<Utc>) -> (u64, DateTime<Utc>) {
    with_state(|s| s.count_call(fake.slug, length, now))
}

/// The headers of an exhausted app.
fn exhausted_headers(fake: &Fake, resp: &mut HttpResponse, now: DateTime<Utc>) {
    match fake.api_errors {
        ApiErrors::Graph => put(resp, "x-app-usage", meta_usage(100)),
        ApiErrors::X => {
            let (_, end) = window(fake, X_WINDOW, now);
            put(resp, "x-rate-limit-limit", X_LIMIT.to_string());
            put(resp, "x-rate-limit-remaining", "0".into());
            put(resp, "x-rate-limit-reset", end.timestamp().to_string());
        }
        ApiErrors::Reddit => {
            let (_, end) = window(fake, REDDIT_WINDOW, now);
            put(resp, "x-ratelimit-used", REDDIT_LIMIT.to_string());
            put(resp, "x-ratelimit-remaining", "0.0".into());
            put(
                resp,
                "x-ratelimit-reset",
                (end - now).num_seconds().to_string(),
            );
        }
        _ => {}
    }
}

/// The usage headers of a normal answer: Meta's percentages (the `usagePercent` knob, or
/// a little), X's and Reddit's windows counted over every call the fake served.
pub(crate) fn usage_headers(fake: &Fake, faults: &Faults, resp: &mut HttpResponse) {
    let now = now();
    let share = |limit: u64, used: u64| match faults.usage_percent {
        Some(p) => limit * u64::from(p.min(100)) / 100,
        None => used.min(limit),
    };
    match fake.api_errors {
        ApiErrors::Graph => {
            let percent = faults.usage_percent.unwrap_or(QUIET_PERCENT).min(100);
            put(resp, "x-app-usage", meta_usage(percent));
            let business: Value = json!({
                "1000000000000001": [{
                    "type": fake.slug,
                    "call_count": percent,
                    "total_cputime": percent / 2,
                    "total_time": percent / 2,
                    "estimated_time_to_regain_access": 0,
                }]
            });
            put(resp, "x-business-use-case-usage", business.to_string());
        }
        ApiErrors::X => {
            let (calls, end) = window(fake, X_WINDOW, now);
            let used = share(X_LIMIT, calls);
            put(resp, "x-rate-limit-limit", X_LIMIT.to_string());
            put(resp, "x-rate-limit-remaining", (X_LIMIT - used).to_string());
            put(resp, "x-rate-limit-reset", end.timestamp().to_string());
        }
        ApiErrors::Reddit => {
            let (calls, end) = window(fake, REDDIT_WINDOW, now);
            let used = share(REDDIT_LIMIT, calls);
            put(resp, "x-ratelimit-used", used.to_string());
            put(
                resp,
                "x-ratelimit-remaining",
                format!("{}.0", REDDIT_LIMIT - used),
            );
            put(
                resp,
                "x-ratelimit-reset",
                (end - now).num_seconds().to_string(),
            );
        }
        _ => {}
    }
}

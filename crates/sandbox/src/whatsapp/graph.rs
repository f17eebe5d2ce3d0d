//! The reads of a WABA (platforms.md §12 "Identity / selection"): the WABA node, its phone
//! numbers and one phone number, plus what every Graph endpoint of this fake shares: the
//! token check, access to a WABA and Graph's errors, `{error:{message, type, code,
//! error_subcode?, fbtrace_id}}` with HTTP 400 as the rest of the Graph fakes answer.

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, WWW_AUTHENTICATE};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::login::{self, User};
use super::world::{Knob, Knobs, Node, Number, Waba, app_id, with_world};
use crate::errors::{graph_error_of_type, json_response};
use crate::params::Params;
use crate::state::{DestinationsFault, IdentityFault};

const WABA_TYPE: &str = "WhatsAppBusinessAccount";
const NUMBER_TYPE: &str = "WhatsAppBusinessPhoneNumber";

/// What Graph returns without `fields`.
const WABA_DEFAULT: &[&str] = &["id", "name", "timezone_id", "message_template_namespace"];
const NUMBER_DEFAULT: &[&str] = &[
    "id",
    "verified_name",
    "code_verification_status",
    "display_phone_number",
    "quality_rating",
    "platform_type",
    "throughput",
];

/// A Graph edge's page size when `limit` is not given, and the most it hands out.
const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 100;

/// A Graph error, rendered into a response at the end: an `HttpResponse` is too big to
/// travel in every `Err`.
pub(super) struct Refusal {
    status: StatusCode,
    body: Value,
    /// A dead token: Graph also names its scheme in `WWW-Authenticate`.
    invalid_token: bool,
}

impl Refusal {
    fn render(self) -> HttpResponse {
        let mut resp = json_response(self.status, &self.body);
        if self.invalid_token {
            resp.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("OAuth \"Facebook Platform\" \"invalid_token\""),
            );
        }
        resp
    }
}

pub(super) type Reply = Result<HttpResponse, Refusal>;

pub(super) fn graph(status: StatusCode, body: &Value) -> HttpResponse {
    json_response(status, body)
}

pub(super) fn refusal(status: StatusCode, body: Value) -> Refusal {
    Refusal {
        status,
        body,
        invalid_token: false,
    }
}

fn error(message: &str, kind: &str, code: u32, subcode: Option<u32>) -> Refusal {
    refusal(
        StatusCode::BAD_REQUEST,
        graph_error_of_type(message, kind, code, subcode),
    )
}

pub(super) fn invalid_parameter(message: &str) -> Refusal {
    error(&format!("(#100) {message}"), "OAuthException", 100, None)
}

/// The WhatsApp APIs add `error_data:{messaging_product, details}` to Graph's error.
pub(super) fn whatsapp_error(
    status: StatusCode,
    message: &str,
    code: u32,
    details: &str,
) -> Refusal {
    let mut body = graph_error_of_type(message, "OAuthException", code, None);
    if let Some(err) = body.get_mut("error").and_then(Value::as_object_mut) {
        err.insert(
            "error_data".into(),
            json!({"messaging_product": "whatsapp", "details": details}),
        );
    }
    refusal(status, body)
}

fn does_not_exist(id: &str, method: &str) -> Refusal {
    error(
        &format!(
            "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
        ),
        "GraphMethodException",
        100,
        Some(33),
    )
}

/// platforms.md §12: code 200 is a system user without access to the asset.
fn permissions_error() -> Refusal {
    error("(#200) Permissions error", "OAuthException", 200, None)
}

pub(super) fn unexpected() -> Refusal {
    refusal(
        StatusCode::INTERNAL_SERVER_ERROR,
        graph_error_of_type(
            "An unexpected error has occurred. Please retry your request later.",
            "OAuthException",
            2,
            None,
        ),
    )
}

pub(super) fn throttled() -> Refusal {
    error(
        "(#80007) There have been too many calls to this WhatsApp Business account. Wait a bit and try again.",
        "OAuthException",
        80007,
        None,
    )
}

/// Graph refuses a dead token with HTTP 400 and code 190.
fn invalid_token(message: &str, subcode: Option<u32>) -> Refusal {
    Refusal {
        invalid_token: true,
        ..error(message, "OAuthException", 190, subcode)
    }
}

/// Graph versions look like `v24.0`; anything else in that segment is an unknown path.
pub(super) fn is_version(segment: &str) -> bool {
    segment
        .strip_prefix('v')
        .and_then(|v| v.split_once('.'))
        .is_some_and(|(major, minor)| {
            [major, minor]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// A request that carried a live token of this fake: a system user's, or a user token of
/// the Meta login.
pub(super) struct Caller {
    /// The WABA the token reaches; none for a login that did not grant
    /// `whatsapp_business_management`.
    pub waba_id: Option<String>,
    pub query: Params,
    /// A Meta login's user token: its grant and the generic fault knobs of its app.
    pub user: Option<User>,
}

impl Caller {
    fn reaches(&self, waba_id: &str) -> bool {
        self.waba_id.as_deref() == Some(waba_id)
    }

    /// The knobs of `waba_id`; a login's `destinations` knob (`/sandbox/_faults`) stands
    /// for its listings when the WABA has no `listings` knob of its own.
    fn knobs(&self, waba_id: &str) -> Knobs {
        let mut knobs = with_world(|w| w.knobs(waba_id));
        if knobs.listings.is_none() {
            knobs.listings = match self.user.as_ref().and_then(|u| u.faults.destinations) {
                Some(DestinationsFault::Fail) => Some(Knob::Fail),
                Some(DestinationsFault::Empty) => Some(Knob::Empty),
                None => None,
            };
        }
        knobs
    }
}

/// The token from `Authorization: Bearer` or `?access_token=` (Graph accepts both). A
/// login's user token meets the generic `identity` knobs, which stand for Graph failing
/// or refusing every call of the app.
pub(super) fn authenticate(req: &HttpRequest, version: &str) -> Result<Caller, Refusal> {
    if !is_version(version) {
        return Err(unknown_path(req));
    }
    let query = Params::parse(req.query_string().as_bytes());
    let Some(token) = login::bearer(req, &query) else {
        return Err(error(
            "An access token is required to request this resource.",
            "OAuthException",
            104,
            None,
        ));
    };
    let cannot_parse = || {
        invalid_token(
            "Invalid OAuth access token - Cannot parse access token",
            None,
        )
    };
    match with_world(|w| w.token(&token)) {
        None => {
            let user = login::user(&token).ok_or_else(cannot_parse)?;
            match user.faults.identity {
                Some(IdentityFault::Fail) => Err(unexpected()),
                Some(IdentityFault::Unauthorized) => Err(cannot_parse()),
                None => Ok(Caller {
                    waba_id: user.waba_id(),
                    query,
                    user: Some(user),
                }),
            }
        }
        Some(grant) if grant.revoked => Err(invalid_token(
            &format!(
                "Error validating access token: The user has not authorized application {}.",
                app_id()
            ),
            Some(458),
        )),
        Some(grant) => Ok(Caller {
            waba_id: Some(grant.waba_id),
            query,
            user: None,
        }),
    }
}

/// The WABA `id` names, if the caller's token reaches it: unknown ids are Graph's "does not
/// exist", another WABA is a permissions error.
pub(super) fn caller_waba(
    caller: &Caller,
    id: &str,
    method: &str,
) -> Result<(Waba, Knobs), Refusal> {
    match with_world(|w| w.node(id)) {
        Some(Node::Waba(waba)) if caller.reaches(&waba.id) => {
            let knobs = caller.knobs(&waba.id);
            Ok((waba, knobs))
        }
        Some(Node::Waba(_)) => Err(permissions_error()),
        _ => Err(does_not_exist(id, method)),
    }
}

pub(super) fn caller_number(
    caller: &Caller,
    id: &str,
    method: &str,
) -> Result<(Number, Knobs), Refusal> {
    match with_world(|w| w.node(id)) {
        Some(Node::Number { waba_id, number }) if caller.reaches(&waba_id) => {
            Ok((number, caller.knobs(&waba_id)))
        }
        Some(Node::Number { .. }) => Err(permissions_error()),
        _ => Err(does_not_exist(id, method)),
    }
}

fn listing_knob(knobs: &Knobs) -> Result<(), Refusal> {
    match knobs.listings {
        Some(Knob::Fail) => Err(unexpected()),
        Some(Knob::Throttled) => Err(throttled()),
        _ => Ok(()),
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn waba_json(waba: &Waba) -> Map<String, Value> {
    object(json!({
        "id": waba.id,
        "name": waba.name,
        "currency": "USD",
        "timezone_id": "1",
        "message_template_namespace": waba.namespace,
        "account_review_status": "APPROVED",
        "business_verification_status": "verified",
    }))
}

fn number_json(n: &Number) -> Map<String, Value> {
    object(json!({
        "id": n.id,
        "display_phone_number": n.display,
        "verified_name": n.verified_name,
        "quality_rating": "GREEN",
        "code_verification_status": "VERIFIED",
        "name_status": "APPROVED",
        "new_name_status": "NONE",
        "messaging_limit_tier": "TIER_1K",
        "platform_type": if n.registered { "CLOUD_API" } else { "NOT_APPLICABLE" },
        "throughput": {"level": "STANDARD"},
        "status": if n.registered { "CONNECTED" } else { "PENDING" },
        "account_mode": "LIVE",
        "is_official_business_account": false,
        "is_pin_enabled": n.pin.is_some(),
    }))
}

/// The top-level names of a Graph `fields` list: `a,b{c,d},e.limit(5)` → `a, b, e`.
pub(super) fn field_names(raw: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in raw.chars().chain(std::iter::once(',')) {
        match c {
            '{' | '(' => {
                depth += 1;
                current.push(c);
            }
            '}' | ')' => {
                depth = depth.saturating_sub(1);
                current.push(c);
            }
            ',' if depth == 0 => {
                let name: String = current
                    .trim()
                    .chars()
                    .take_while(|c| !matches!(c, '{' | '(' | '.'))
                    .collect();
                if !name.is_empty() {
                    names.push(name);
                }
                current.clear();
            }
            _ => current.push(c),
        }
    }
    names
}

/// The node's fields that `fields` asks for (its defaults without it), `id` always;
/// Graph refuses a field the node type does not have.
fn selected(
    full: &Map<String, Value>,
    query: &Params,
    defaults: &[&str],
    node_type: &str,
) -> Result<Value, Refusal> {
    let wanted: Vec<String> = match query.get("fields") {
        Some(raw) => field_names(raw),
        None => defaults.iter().map(|s| (*s).to_owned()).collect(),
    };
    if let Some(unknown) = wanted.iter().find(|f| !full.contains_key(f.as_str())) {
        return Err(invalid_parameter(&format!(
            "Tried accessing nonexisting field ({unknown}) on node type ({node_type})"
        )));
    }
    Ok(Value::Object(
        full.iter()
            .filter(|(k, _)| k.as_str() == "id" || wanted.iter().any(|w| w == *k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    ))
}

fn select(full: &Map<String, Value>, query: &Params, defaults: &[&str], node_type: &str) -> Reply {
    let body = selected(full, query, defaults, node_type)?;
    Ok(graph(StatusCode::OK, &body))
}

pub(super) fn answer(reply: Reply) -> HttpResponse {
    reply.unwrap_or_else(Refusal::render)
}

/// `GET /{version}/{id}`: a WABA, one of its phone numbers, or `me` (the system user).
/// With a Meta login's token, `me` is the Facebook user, answered by the generic identity
/// endpoint of the login row.
pub(super) async fn node(req: HttpRequest, path: web::Path<(String, String)>) -> HttpResponse {
    let (version, id) = path.into_inner();
    if id == "me" && login::bears_user_token(&req) {
        return login::oauth(&req, &format!("/{version}/me"), &[]).await;
    }
    answer(node_reply(&req, &version, &id))
}

fn node_reply(req: &HttpRequest, version: &str, id: &str) -> Reply {
    let caller = authenticate(req, version)?;
    if id == "me" {
        let system_user = caller
            .waba_id
            .as_deref()
            .and_then(|id| with_world(|w| w.waba(id).map(|w| w.system_user_id.clone())))
            .unwrap_or_default();
        let me = object(json!({"id": system_user, "name": "Sandbox system user"}));
        return select(&me, &caller.query, &["id", "name"], "User");
    }
    match with_world(|w| w.node(id)) {
        Some(Node::Waba(_)) => {
            let (waba, knobs) = caller_waba(&caller, id, "get")?;
            listing_knob(&knobs)?;
            select(&waba_json(&waba), &caller.query, WABA_DEFAULT, WABA_TYPE)
        }
        Some(Node::Number { .. }) => {
            let (number, knobs) = caller_number(&caller, id, "get")?;
            listing_knob(&knobs)?;
            if knobs.listings == Some(Knob::Empty) {
                return Err(does_not_exist(id, "get"));
            }
            select(
                &number_json(&number),
                &caller.query,
                NUMBER_DEFAULT,
                NUMBER_TYPE,
            )
        }
        None => Err(does_not_exist(id, "get")),
    }
}

fn cursor(index: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("sbx-wa-cursor:{index}"))
}

fn parse_cursor(raw: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("sbx-wa-cursor:")?
        .parse()
        .ok()
}

/// This request's URL with `after` set and `before` dropped: a page's `next`. Like Graph's,
/// it keeps an `access_token` given in the query.
fn next_url(req: &HttpRequest, query: &Params, after: &str) -> String {
    let info = req.connection_info();
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in query
        .pairs()
        .filter(|(k, _)| !matches!(*k, "after" | "before"))
    {
        q.append_pair(k, v);
    }
    q.append_pair("after", after);
    format!(
        "{}://{}{}?{}",
        info.scheme(),
        info.host(),
        req.path(),
        q.finish()
    )
}

/// `GET /{version}/{waba-id}/phone_numbers`: `{data:[…], paging:{cursors, next?}}`, no
/// `paging` when empty.
pub(super) async fn phone_numbers(
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (version, id) = path.into_inner();
    answer(phone_numbers_reply(&req, &version, &id))
}

fn phone_numbers_reply(req: &HttpRequest, version: &str, id: &str) -> Reply {
    let caller = authenticate(req, version)?;
    let (waba, knobs) = caller_waba(&caller, id, "get")?;
    listing_knob(&knobs)?;
    let numbers = if knobs.listings == Some(Knob::Empty) {
        Vec::new()
    } else {
        waba.numbers
    };
    let q = &caller.query;
    let limit = match q.get("limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => raw
            .parse::<usize>()
            .map_err(|_| invalid_parameter("Param limit must be an integer"))?
            .clamp(1, MAX_LIMIT),
    };
    let total = numbers.len();
    let start = match (q.get("after"), q.get("before")) {
        (Some(after), _) => {
            parse_cursor(after).ok_or_else(|| invalid_parameter("The after cursor is not valid"))?
                + 1
        }
        (None, Some(before)) => parse_cursor(before)
            .ok_or_else(|| invalid_parameter("The before cursor is not valid"))?
            .saturating_sub(limit),
        (None, None) => 0,
    }
    .min(total);
    let end = start.saturating_add(limit).min(total);
    let data = numbers[start..end]
        .iter()
        .map(|n| selected(&number_json(n), q, NUMBER_DEFAULT, NUMBER_TYPE))
        .collect::<Result<Vec<Value>, _>>()?;
    let mut body = json!({ "data": data });
    if end > start
        && let Some(obj) = body.as_object_mut()
    {
        let mut paging = json!({"cursors": {"before": cursor(start), "after": cursor(end - 1)}});
        if end < total
            && let Some(p) = paging.as_object_mut()
        {
            p.insert("next".into(), json!(next_url(req, q, &cursor(end - 1))));
        }
        obj.insert("paging".into(), paging);
    }
    Ok(graph(StatusCode::OK, &body))
}

pub(super) fn unknown_path(req: &HttpRequest) -> Refusal {
    error(
        &format!("Unknown path components: {}", req.path()),
        "OAuthException",
        2500,
        None,
    )
}

/// Every other path: the Meta login's (dialog, token endpoint) go to the generic OAuth
/// machinery, admin paths get the sandbox's JSON 404, Graph paths Graph's error.
pub(super) async fn unknown(req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let tail = req.match_info().get("tail").unwrap_or_default();
    let path = format!("/{tail}");
    if login::serves(&req, &path) {
        return login::oauth(&req, &path, &body).await;
    }
    if tail.starts_with('_') || tail.is_empty() {
        return json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": format!("the Plugboard sandbox has no WhatsApp admin endpoint {} {}", req.method(), req.path())}),
        );
    }
    unknown_path(&req).render()
}

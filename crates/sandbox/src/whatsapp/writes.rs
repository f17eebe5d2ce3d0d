//! The writes of connecting a number: the app's webhook subscription to the WABA
//! (`subscribed_apps`) and Cloud API registration (`register`), platforms.md §12 steps 5–6.

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::graph::{
    Refusal, Reply, answer, authenticate, caller_number, caller_waba, graph, invalid_parameter,
    throttled, unexpected, whatsapp_error,
};
use super::world::{APP_NAME, Knob, Subscription, Waba, app_id, with_world};
use crate::params::Params;

/// The parameters of a POST: the body (JSON or a form, Graph takes both) then the query.
fn post_params(req: &HttpRequest, body: &[u8]) -> Result<Params, Refusal> {
    let query = Params::parse(req.query_string().as_bytes());
    let is_json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    let from_body = if is_json && !body.is_empty() {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
            return Err(invalid_parameter("Invalid JSON for postbody"));
        };
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &map {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            s.append_pair(k, &v);
        }
        Params::parse(s.finish().as_bytes())
    } else {
        Params::parse(body)
    };
    Ok(from_body.merged(query))
}

fn write_knob(knob: Option<Knob>, throttled_answer: fn() -> Refusal) -> Result<(), Refusal> {
    match knob {
        Some(Knob::Fail) => Err(unexpected()),
        Some(Knob::Throttled) => Err(throttled_answer()),
        _ => Ok(()),
    }
}

fn subscription_json(waba: &Waba) -> Value {
    let data: Vec<Value> = waba
        .subscription
        .iter()
        .map(|s| {
            let mut entry = json!({"whatsapp_business_api_data": {
                "id": app_id(),
                "link": format!("https://www.facebook.com/games/?app_id={}", app_id()),
                "name": APP_NAME,
            }});
            if let (Some(uri), Some(obj)) = (&s.override_callback_uri, entry.as_object_mut()) {
                obj.insert("override_callback_uri".into(), json!(uri));
            }
            entry
        })
        .collect();
    json!({ "data": data })
}

/// `GET /{version}/{waba-id}/subscribed_apps`: the apps subscribed to the WABA's webhooks.
pub(super) async fn subscriptions(
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (version, id) = path.into_inner();
    answer(subscriptions_reply(&req, &version, &id))
}

fn subscriptions_reply(req: &HttpRequest, version: &str, id: &str) -> Reply {
    let caller = authenticate(req, version)?;
    let (waba, _) = caller_waba(&caller, id, "get")?;
    Ok(graph(StatusCode::OK, &subscription_json(&waba)))
}

/// `POST /{version}/{waba-id}/subscribed_apps` (optionally `override_callback_uri` with
/// `verify_token`) → `{success:true}`.
pub(super) async fn subscribe(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (version, id) = path.into_inner();
    answer(subscribe_reply(&req, &version, &id, &body))
}

fn subscribe_reply(req: &HttpRequest, version: &str, id: &str, body: &[u8]) -> Reply {
    let caller = authenticate(req, version)?;
    let (_, knobs) = caller_waba(&caller, id, "post")?;
    let params = post_params(req, body)?;
    write_knob(knobs.subscribe, throttled)?;
    let uri = params.get("override_callback_uri");
    if let Some(uri) = uri {
        let usable = url::Url::parse(uri)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !usable {
            return Err(invalid_parameter(
                "Param override_callback_uri must be a valid URL",
            ));
        }
        if params.get("verify_token").is_none() {
            return Err(invalid_parameter(
                "The parameter verify_token is required with override_callback_uri",
            ));
        }
    }
    let uri = uri.map(str::to_owned);
    with_world(|w| {
        if let Some(waba) = w.waba_mut(id) {
            waba.subscription = Some(Subscription {
                override_callback_uri: uri,
            });
        }
    });
    Ok(graph(StatusCode::OK, &json!({"success": true})))
}

/// `DELETE /{version}/{waba-id}/subscribed_apps` → `{success:true}`.
pub(super) async fn unsubscribe(
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (version, id) = path.into_inner();
    answer(unsubscribe_reply(&req, &version, &id))
}

fn unsubscribe_reply(req: &HttpRequest, version: &str, id: &str) -> Reply {
    let caller = authenticate(req, version)?;
    let (_, knobs) = caller_waba(&caller, id, "delete")?;
    write_knob(knobs.subscribe, throttled)?;
    with_world(|w| {
        if let Some(waba) = w.waba_mut(id) {
            waba.subscription = None;
        }
    });
    Ok(graph(StatusCode::OK, &json!({"success": true})))
}

fn register_throttled() -> Refusal {
    whatsapp_error(
        StatusCode::BAD_REQUEST,
        "(#133016) Registration or Deregistration failed because there were too many attempts for this phone number in a short period of time",
        133016,
        "Too many registration attempts; try again later",
    )
}

/// `POST /{version}/{phone-number-id}/register` `{messaging_product:"whatsapp", pin}`: the
/// first registration of a number without two-step verification sets the PIN; after that
/// (or when the number was created with a PIN) another PIN is `133005`.
pub(super) async fn register(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (version, id) = path.into_inner();
    answer(register_reply(&req, &version, &id, &body))
}

fn register_reply(req: &HttpRequest, version: &str, id: &str, body: &[u8]) -> Reply {
    let caller = authenticate(req, version)?;
    let (number, knobs) = caller_number(&caller, id, "post")?;
    let params = post_params(req, body)?;
    match params.get("messaging_product") {
        None => {
            return Err(invalid_parameter(
                "The parameter messaging_product is required.",
            ));
        }
        Some(p) if !p.eq_ignore_ascii_case("whatsapp") => {
            return Err(invalid_parameter(&format!(
                "Param messaging_product must be one of {{WHATSAPP}} - got \"{p}\"."
            )));
        }
        Some(_) => {}
    }
    let Some(pin) = params.get("pin") else {
        return Err(invalid_parameter("The parameter pin is required."));
    };
    if pin.len() != 6 || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(whatsapp_error(
            StatusCode::BAD_REQUEST,
            "(#100) Invalid parameter",
            100,
            "The two-step verification PIN must be exactly 6 digits",
        ));
    }
    match knobs.register {
        Some(Knob::Fail) => {
            return Err(whatsapp_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "(#133004) Server temporarily unavailable",
                133004,
                "The registration server is temporarily unavailable; try again later",
            ));
        }
        Some(Knob::Throttled) => return Err(register_throttled()),
        _ => {}
    }
    if number.pin.as_deref().is_some_and(|set| set != pin) {
        return Err(whatsapp_error(
            StatusCode::BAD_REQUEST,
            "(#133005) Two step verification PIN Mismatch",
            133005,
            "The PIN does not match this number's two-step verification PIN",
        ));
    }
    let pin = pin.to_owned();
    with_world(|w| {
        if let Some(n) = w.number_mut(id) {
            n.pin = Some(pin);
            n.registered = true;
        }
    });
    Ok(graph(StatusCode::OK, &json!({"success": true})))
}

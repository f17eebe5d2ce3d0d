//! The JSON admin API that scripts the fake world (docs/sandbox/whatsapp.md): create WABAs
//! with numbers and a system-user token, issue more tokens, revoke them, inspect a WABA and
//! set fault knobs.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::world::{Knob, Knobs, MAX_PHONE_NUMBERS, Waba, with_world};
use crate::errors::json_response;

/// Two numbers unless told otherwise: enough to play "pick one" and "not in this WABA".
const DEFAULT_PHONE_NUMBERS: u8 = 2;

fn bad_request(message: impl Into<String>) -> HttpResponse {
    json_response(StatusCode::BAD_REQUEST, &json!({"error": message.into()}))
}

fn not_found(waba_id: &str) -> HttpResponse {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({"error": format!("the WhatsApp sandbox has no WABA {waba_id:?}")}),
    )
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, String> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))
}

fn is_pin(pin: &str) -> bool {
    pin.len() == 6 && pin.bytes().all(|b| b.is_ascii_digit())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateWaba {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    phone_numbers: Option<u8>,
    /// Two-step verification PIN of every number of the WABA.
    #[serde(default)]
    pin: Option<String>,
}

fn numbers_json(waba: &Waba) -> Vec<Value> {
    waba.numbers
        .iter()
        .map(|n| {
            json!({
                "id": n.id,
                "displayPhoneNumber": n.display,
                "verifiedName": n.verified_name,
            })
        })
        .collect()
}

/// `POST /sandbox/whatsapp/_wabas {name?, phoneNumbers?, pin?}` → 201 `{wabaId, name,
/// accessToken, phoneNumbers:[{id, displayPhoneNumber, verifiedName}]}`.
pub(super) async fn create_waba(body: web::Bytes) -> HttpResponse {
    let req: CreateWaba = match parse(&body) {
        Ok(r) => r,
        Err(message) => return bad_request(message),
    };
    let name = req.name.map(|n| n.trim().to_owned());
    if name
        .as_deref()
        .is_some_and(|n| n.is_empty() || n.chars().count() > 100)
    {
        return bad_request("name must have 1 to 100 characters");
    }
    let count = req.phone_numbers.unwrap_or(DEFAULT_PHONE_NUMBERS);
    if count > MAX_PHONE_NUMBERS {
        return bad_request(format!(
            "phoneNumbers must be a whole number from 0 to {MAX_PHONE_NUMBERS}"
        ));
    }
    if req.pin.as_deref().is_some_and(|p| !is_pin(p)) {
        return bad_request("pin must be exactly 6 digits");
    }
    let (waba, token) = with_world(|w| w.create_waba(name, count, req.pin));
    json_response(
        StatusCode::CREATED,
        &json!({
            "wabaId": waba.id,
            "name": waba.name,
            "accessToken": token,
            "phoneNumbers": numbers_json(&waba),
        }),
    )
}

/// `GET /sandbox/whatsapp/_wabas/{wabaId}`: what the fake knows, for assertions.
pub(super) async fn show_waba(path: web::Path<String>) -> HttpResponse {
    let id = path.into_inner();
    let Some(waba) = with_world(|w| w.waba(&id).cloned()) else {
        return not_found(&id);
    };
    let numbers: Vec<Value> = waba
        .numbers
        .iter()
        .map(|n| {
            json!({
                "id": n.id,
                "displayPhoneNumber": n.display,
                "verifiedName": n.verified_name,
                "registered": n.registered,
                "pinEnabled": n.pin.is_some(),
            })
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({
            "wabaId": waba.id,
            "name": waba.name,
            "subscribed": waba.subscription.is_some(),
            "overrideCallbackUri": waba.subscription.and_then(|s| s.override_callback_uri),
            "phoneNumbers": numbers,
        }),
    )
}

/// `POST /sandbox/whatsapp/_wabas/{wabaId}/tokens` → 201 `{accessToken}`: another
/// system-user token for the same WABA.
pub(super) async fn issue_token(path: web::Path<String>) -> HttpResponse {
    let id = path.into_inner();
    match with_world(|w| w.issue_token(&id)) {
        Some(token) => json_response(StatusCode::CREATED, &json!({"accessToken": token})),
        None => not_found(&id),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Revoke {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    waba_id: Option<String>,
}

/// `POST /sandbox/whatsapp/_revoke {accessToken}` or `{wabaId}` (the business removes the
/// app: every token of the WABA) → `{revoked: n}`.
pub(super) async fn revoke(body: web::Bytes) -> HttpResponse {
    let req: Revoke = match parse(&body) {
        Ok(r) => r,
        Err(message) => return bad_request(message),
    };
    if req.access_token.is_some() == req.waba_id.is_some() {
        return bad_request("give exactly one of accessToken and wabaId");
    }
    let revoked = with_world(|w| w.revoke(req.access_token.as_deref(), req.waba_id.as_deref()));
    json_response(StatusCode::OK, &json!({"revoked": revoked}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SetKnobs {
    /// Limits the knobs to one WABA, so parallel tests do not see each other's faults.
    #[serde(default)]
    waba_id: Option<String>,
    #[serde(default)]
    listings: Option<Knob>,
    #[serde(default)]
    subscribe: Option<Knob>,
    #[serde(default)]
    register: Option<Knob>,
}

fn knobs_json(waba_id: Option<&str>, knobs: &Knobs) -> Value {
    let mut v = serde_json::to_value(knobs).unwrap_or_else(|_| json!({}));
    if let (Some(id), Some(obj)) = (waba_id, v.as_object_mut()) {
        obj.insert("wabaId".into(), json!(id));
    }
    v
}

/// `POST /sandbox/whatsapp/_faults {wabaId?, listings?, subscribe?, register?}`: replaces
/// the knobs of one WABA (or of every WABA); a body with only `wabaId` (or nothing) clears
/// them.
pub(super) async fn set_faults(body: web::Bytes) -> HttpResponse {
    let req: SetKnobs = match parse(&body) {
        Ok(r) => r,
        Err(message) => return bad_request(message),
    };
    let knobs = Knobs {
        listings: req.listings,
        subscribe: req.subscribe,
        register: req.register,
    };
    if [knobs.subscribe, knobs.register].contains(&Some(Knob::Empty)) {
        return bad_request("\"empty\" is a knob of listings only");
    }
    if let Some(id) = &req.waba_id
        && with_world(|w| w.waba(id).is_none())
    {
        return not_found(id);
    }
    let out = knobs_json(req.waba_id.as_deref(), &knobs);
    with_world(|w| w.set_knobs(req.waba_id, knobs));
    json_response(StatusCode::OK, &out)
}

/// `GET /sandbox/whatsapp/_faults`: every knob set.
pub(super) async fn list_faults() -> HttpResponse {
    let all: Vec<Value> = with_world(|w| w.all_knobs())
        .iter()
        .map(|(id, k)| knobs_json(id.as_deref(), k))
        .collect();
    json_response(StatusCode::OK, &json!({ "faults": all }))
}

//! `debug_token`: what Meta knows about a token, and where Embedded Signup integrations
//! without session logging, and the Meta login, find the shared WABA ids (platforms.md
//! §12).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Duration;
use serde_json::{Value, json};

use super::graph::{
    Refusal, Reply, answer, authenticate, graph, invalid_parameter, is_version, refusal,
    unexpected, unknown_path,
};
use super::login::{self, MANAGEMENT, MESSAGING, User};
use super::world::{APP_NAME, app_id, with_world};
use crate::errors::graph_error_of_type;
use crate::identity::user_id;
use crate::params::Params;
use crate::state::{DestinationsFault, IdentityFault, now};
use crate::table::WHATSAPP_LOGIN;

/// The permissions an Embedded Signup system-user token carries (platforms.md §12).
const SCOPES: &[&str] = &[
    "whatsapp_business_management",
    "whatsapp_business_messaging",
];

/// `GET /{version}/debug_token?input_token=…`: what Meta knows about a token. A live one
/// lists its WABA in `granular_scopes[].target_ids` (platforms.md §12, how shared WABA ids
/// are found without session logging).
pub(super) async fn debug_token(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let version = path.into_inner();
    answer(debug_token_reply(&req, &version))
}

fn debug_token_reply(req: &HttpRequest, version: &str) -> Reply {
    if !is_version(version) {
        return Err(unknown_path(req));
    }
    let query = Params::parse(req.query_string().as_bytes());
    // Meta documents the app token `{app-id}|{app-secret}` here (platforms.md §3 "Debug");
    // this fake also takes any of its own live tokens, as it always has.
    match login::bearer(req, &query)
        .as_deref()
        .and_then(login::app_token)
    {
        Some(Ok(())) => {}
        Some(Err(())) => return Err(bad_app_secret()),
        None => {
            authenticate(req, version)?;
        }
    }
    let Some(input) = query.get("input_token") else {
        return Err(invalid_parameter("The parameter input_token is required"));
    };
    let found = with_world(|w| {
        let grant = w.token(input)?;
        let system_user = w.waba(&grant.waba_id)?.system_user_id.clone();
        Some((grant, system_user))
    });
    let data = match found {
        None => match login::user(input) {
            Some(user) => user_data(&user)?,
            None => invalid_input(),
        },
        Some((grant, user_id)) if grant.revoked => json!({
            "app_id": app_id(),
            "type": "SYSTEM_USER",
            "application": APP_NAME,
            "data_access_expires_at": 0,
            "error": {
                "code": 190,
                "message": format!("Error validating access token: The user has not authorized application {}.", app_id()),
                "subcode": 458,
            },
            "expires_at": 0,
            "is_valid": false,
            "scopes": [],
            "user_id": user_id,
        }),
        Some((grant, user_id)) => {
            let mut scopes: Vec<&str> = SCOPES.to_vec();
            scopes.push("public_profile");
            let granular: Vec<Value> = SCOPES
                .iter()
                .map(|s| json!({"scope": s, "target_ids": [grant.waba_id]}))
                .collect();
            json!({
                "app_id": app_id(),
                "type": "SYSTEM_USER",
                "application": APP_NAME,
                "data_access_expires_at": 0,
                "expires_at": 0,
                "is_valid": true,
                "issued_at": grant.issued_at,
                "scopes": scopes,
                "granular_scopes": granular,
                "user_id": user_id,
            })
        }
    };
    Ok(graph(StatusCode::OK, &json!({ "data": data })))
}

fn invalid_input() -> Value {
    json!({
        "error": {"code": 190, "message": "Invalid OAuth access token."},
        "is_valid": false,
        "scopes": [],
    })
}

/// Graph's answer to an app token whose secret is not the app's.
fn bad_app_secret() -> Refusal {
    refusal(
        StatusCode::BAD_REQUEST,
        graph_error_of_type("Error validating client secret.", "OAuthException", 1, None),
    )
}

/// A Meta login's user token: `type: USER`, the app it was issued to, the scopes granted,
/// and the fake user's WABA as the target of each WhatsApp permission granted. The generic
/// knobs of the app apply: `identity` refuses or fails the token here too, `destinations:
/// fail` fails the call (it is the first read of the listing).
fn user_data(user: &User) -> Result<Value, Refusal> {
    match (user.faults.identity, user.faults.destinations) {
        (Some(IdentityFault::Fail), _) | (_, Some(DestinationsFault::Fail)) => {
            return Err(unexpected());
        }
        (Some(IdentityFault::Unauthorized), _) => return Ok(invalid_input()),
        _ => {}
    }
    let grant = &user.grant;
    let waba = user.waba_id();
    let granular: Vec<Value> = [MANAGEMENT, MESSAGING]
        .iter()
        .filter(|s| grant.scopes.iter().any(|g| g == *s))
        .filter_map(|s| {
            waba.as_ref()
                .map(|w| json!({"scope": s, "target_ids": [w]}))
        })
        .collect();
    // Data access lasts 90 days from the login (platforms.md §3 "Lifetimes").
    let data_access = (now() + Duration::days(90)).timestamp();
    Ok(json!({
        "app_id": grant.client_id,
        "type": "USER",
        "application": APP_NAME,
        "data_access_expires_at": data_access,
        "expires_at": grant.expires_at.timestamp(),
        "is_valid": true,
        "scopes": grant.scopes,
        "granular_scopes": granular,
        "user_id": user_id(&WHATSAPP_LOGIN, &grant.username, ""),
    }))
}

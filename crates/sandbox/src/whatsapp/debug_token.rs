//! `debug_token`: what Meta knows about a token, and where Embedded Signup integrations
//! without session logging find the shared WABA ids (platforms.md §12).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::graph::{Reply, answer, authenticate, graph, invalid_parameter};
use super::world::{APP_NAME, app_id, with_world};

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
    let caller = authenticate(req, version)?;
    let Some(input) = caller.query.get("input_token") else {
        return Err(invalid_parameter("The parameter input_token is required"));
    };
    let found = with_world(|w| {
        let grant = w.token(input)?;
        let system_user = w.waba(&grant.waba_id)?.system_user_id.clone();
        Some((grant, system_user))
    });
    let data = match found {
        None => json!({
            "error": {"code": 190, "message": "Invalid OAuth access token."},
            "is_valid": false,
            "scopes": [],
        }),
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

use crate::AppState;
use crate::dto::{Message, ProfileBody};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Auth, parse_id};
use crate::query::QueryMap;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use plugboard_core::ProfileId;
use plugboard_service::idempotency::{IdempotencyKey, Replay};
use plugboard_service::profiles::{
    NewProfile, validate_color, validate_description, validate_external_id, validate_name,
    validate_timezone,
};
use plugboard_store::{ProfileFilter, ProfilePatch};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct ProfileList {
    profiles: Vec<ProfileBody>,
    /// Present when `limit` or `skip` was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    skip: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct ProfileEnvelope {
    profile: ProfileBody,
}

#[derive(Serialize, ToSchema)]
pub struct ProfileChanged {
    message: &'static str,
    profile: ProfileBody,
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateProfile {
    name: Option<String>,
    description: Option<String>,
    color: Option<String>,
    /// IANA time zone, e.g. `Europe/Paris`.
    timezone: Option<String>,
    /// Your own identifier for this profile (1-255 characters), unique per user.
    external_id: Option<String>,
}

/// Distinguishes a field sent as `null` (clear it) from a field left out (keep it).
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateProfile {
    name: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    description: Option<Option<String>>,
    color: Option<String>,
    /// `null` resets to UTC.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    timezone: Option<Option<String>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    external_id: Option<Option<String>>,
    /// `true` makes this the default profile.
    is_default: Option<bool>,
}

impl TryFrom<CreateProfile> for NewProfile {
    type Error = ApiError;
    fn try_from(b: CreateProfile) -> Result<Self, ApiError> {
        let name = b
            .name
            .ok_or_else(|| ApiError::bad_request("validation_error", "name", "name is required"))?;
        Ok(NewProfile {
            name: validate_name(&name)?,
            description: b
                .description
                .as_deref()
                .map(validate_description)
                .transpose()?,
            color: b.color.as_deref().map(validate_color).transpose()?,
            timezone: b.timezone.as_deref().map(validate_timezone).transpose()?,
            external_id: b
                .external_id
                .as_deref()
                .map(validate_external_id)
                .transpose()?,
        })
    }
}

impl TryFrom<UpdateProfile> for ProfilePatch {
    type Error = ApiError;
    fn try_from(b: UpdateProfile) -> Result<Self, ApiError> {
        fn inner(
            v: Option<Option<String>>,
            f: fn(&str) -> plugboard_service::ServiceResult<String>,
        ) -> Result<Option<Option<String>>, ApiError> {
            Ok(match v {
                None => None,
                Some(None) => Some(None),
                Some(Some(s)) => Some(Some(f(&s)?)),
            })
        }
        Ok(ProfilePatch {
            name: b.name.as_deref().map(validate_name).transpose()?,
            description: inner(b.description, validate_description)?,
            color: b.color.as_deref().map(validate_color).transpose()?,
            timezone: inner(b.timezone, validate_timezone)?,
            external_id: inner(b.external_id, validate_external_id)?,
            is_default: b.is_default,
        })
    }
}

/// List profiles: the default first, then by creation.
#[utoipa::path(
    tag = "Profiles",
    operation_id = "listProfiles",
    params(
        ("includeOverLimit" = Option<bool>, Query, description = "Accepted for compatibility; self-hosted installations have no plan limits"),
        ("name" = Option<String>, Query, description = "Exact name"),
        ("externalId" = Option<String>, Query, description = "Exact external id"),
        ("limit" = Option<u64>, Query, description = "Page size, 1-1000"),
        ("skip" = Option<u64>, Query, description = "Profiles to skip"),
    ),
    responses((status = 200, body = ProfileList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearerAuth" = []))
)]
#[get("/profiles")]
pub async fn list(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = QueryMap::from_request(&req);
    q.bool("includeOverLimit")?;
    let limit = q.int("limit", 1, 1000)?;
    let skip = q.int("skip", 0, u64::from(u32::MAX))?;
    let filter = ProfileFilter {
        name: q.str("name").map(str::to_owned),
        external_id: q.str("externalId").map(str::to_owned),
        only: None,
    };
    let paged = limit.is_some() || skip.is_some();
    let list = state
        .services
        .list_profiles(&caller, filter, skip.unwrap_or(0), limit)
        .await?;
    Ok(HttpResponse::Ok().json(ProfileList {
        profiles: list.profiles.iter().map(ProfileBody::from).collect(),
        total: paged.then_some(list.total),
        skip: paged.then_some(skip.unwrap_or(0)),
        limit: if paged { limit } else { None },
    }))
}

/// Create a profile. With an `Idempotency-Key` header, a retry with the same key and body
/// replays the first 201 (same `_id`) for 24 hours; the same key with another body is 422.
#[utoipa::path(
    tag = "Profiles",
    operation_id = "createProfile",
    params(("Idempotency-Key" = Option<String>, Header, description = "1-255 characters; makes retries safe")),
    request_body = CreateProfile,
    responses((status = 201, body = ProfileChanged), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearerAuth" = []))
)]
#[post("/profiles")]
pub async fn create(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    req: HttpRequest,
    body: web::Json<CreateProfile>,
) -> Result<HttpResponse, ApiError> {
    const OPERATION: &str = "createProfile";
    let body = body.into_inner();
    let key = match req.headers().get("idempotency-key") {
        None => None,
        Some(v) => Some(IdempotencyKey::parse(v.to_str().unwrap_or("\u{0}"))?),
    };
    let services = &state.services;
    if let Some(key) = &key {
        let fingerprint = serde_json::to_value(&body).unwrap_or_default();
        if let Replay::Stored { status, body } = services
            .begin_idempotent(&caller, OPERATION, key, &fingerprint)
            .await?
        {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED);
            return Ok(HttpResponse::build(status).json(body));
        }
    }
    let created = match NewProfile::try_from(body) {
        Ok(new) => services
            .create_profile(&caller, new)
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match (created, &key) {
        (Ok(profile), key) => {
            let answer = serde_json::to_value(ProfileChanged {
                message: "Profile created successfully",
                profile: ProfileBody::new(&profile, Some(0)),
            })
            .unwrap_or_default();
            if let Some(key) = key {
                services
                    .finish_idempotent(&caller, OPERATION, key, 201, &answer)
                    .await?;
            }
            Ok(HttpResponse::Created().json(answer))
        }
        (Err(e), Some(key)) => {
            services.abandon_idempotent(&caller, OPERATION, key).await;
            Err(e)
        }
        (Err(e), None) => Err(e),
    }
}

/// Get a profile.
#[utoipa::path(
    tag = "Profiles",
    operation_id = "getProfile",
    params(("profileId" = String, Path)),
    responses((status = 200, body = ProfileEnvelope), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearerAuth" = []))
)]
#[get("/profiles/{profileId}")]
pub async fn get(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ProfileId = parse_id(&path, "profileId")?;
    let view = state.services.get_profile(&caller, &id).await?;
    Ok(HttpResponse::Ok().json(ProfileEnvelope {
        profile: ProfileBody::from(&view),
    }))
}

/// Update a profile.
#[utoipa::path(
    tag = "Profiles",
    operation_id = "updateProfile",
    params(("profileId" = String, Path)),
    request_body = UpdateProfile,
    responses((status = 200, body = ProfileChanged), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearerAuth" = []))
)]
#[put("/profiles/{profileId}")]
pub async fn update(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    path: web::Path<String>,
    body: web::Json<UpdateProfile>,
) -> Result<HttpResponse, ApiError> {
    let id: ProfileId = parse_id(&path, "profileId")?;
    let patch = ProfilePatch::try_from(body.into_inner())?;
    let profile = state.services.update_profile(&caller, &id, patch).await?;
    Ok(HttpResponse::Ok().json(ProfileChanged {
        message: "Profile updated successfully",
        profile: ProfileBody::new(&profile, None),
    }))
}

/// Delete a profile. Refused (400) while it has active connected accounts; its other
/// accounts move to another profile.
#[utoipa::path(
    tag = "Profiles",
    operation_id = "deleteProfile",
    params(("profileId" = String, Path)),
    responses((status = 200, body = Message), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearerAuth" = []))
)]
#[delete("/profiles/{profileId}")]
pub async fn delete(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ProfileId = parse_id(&path, "profileId")?;
    state.services.delete_profile(&caller, &id).await?;
    Ok(HttpResponse::Ok().json(Message {
        message: "Profile deleted successfully",
    }))
}

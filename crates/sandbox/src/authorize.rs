//! The consent screen (RFC 6749 §4.1.1–4.1.2): validates the authorization request the way
//! the real platform does, shows a plain form that works without JavaScript, and answers
//! Approve or Deny with a redirect.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use chrono::Duration;
use url::Url;

use crate::html::{error_page, escape, page};
use crate::identity::{DEFAULT_USERNAME, valid_username};
use crate::params::Params;
use crate::state::{CODE_LIFETIME_SECONDS, Challenge, CodeGrant, now, with_state};
use crate::table::{Fake, MAX_DESTINATIONS, PkceRule, RefreshIssued, scope_known};

/// A request that passed every check; `raw` is what the form carries back.
struct AuthRequest {
    raw: Params,
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    scopes: Vec<String>,
    challenge: Option<Challenge>,
    issue_refresh: bool,
}

enum AuthError {
    /// The redirect URI cannot be trusted: show a page, never redirect (RFC 6749 §4.1.2.1).
    Page(String),
    /// The client and redirect are known: report back to the app.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: String,
    },
}

fn validate(fake: &Fake, raw: Params) -> Result<AuthRequest, AuthError> {
    let id_param = fake.client_id_param;
    if raw.repeated() == Some(id_param) || raw.repeated() == Some("redirect_uri") {
        return Err(AuthError::Page(format!(
            "{id_param} or redirect_uri is repeated."
        )));
    }
    let Some(client_id) = raw.get(id_param).map(str::to_owned) else {
        return Err(AuthError::Page(format!("Missing {id_param}.")));
    };
    let Some(client) = with_state(|s| s.client(fake.slug, &client_id)) else {
        return Err(AuthError::Page(format!(
            "Unknown {id_param} {client_id:?}: no such app is registered with this fake platform."
        )));
    };
    let Some(redirect_uri) = raw.get("redirect_uri").map(str::to_owned) else {
        return Err(AuthError::Page("Missing redirect_uri.".into()));
    };
    let usable = Url::parse(&redirect_uri).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.host().is_some() && u.fragment().is_none()
    });
    let registered =
        client.redirect_uris.is_empty() || client.redirect_uris.contains(&redirect_uri);
    if !usable || !registered {
        return Err(AuthError::Page(format!(
            "The redirect_uri {redirect_uri:?} is not registered for this app."
        )));
    }
    let state = raw.get("state").map(str::to_owned);
    let refuse = |error: &'static str, description: String| AuthError::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        error,
        description,
    };
    if let Some(param) = raw.repeated() {
        return Err(refuse("invalid_request", format!("{param} is repeated")));
    }
    match raw.get("response_type") {
        Some("code") => {}
        None => return Err(refuse("invalid_request", "Missing response_type".into())),
        Some(other) => {
            return Err(refuse(
                "unsupported_response_type",
                format!("response_type {other:?} is not supported"),
            ));
        }
    }
    if fake.state_required && state.is_none() {
        return Err(refuse("invalid_request", "Missing state".into()));
    }
    for (param, allowed) in fake.required_params {
        if !raw.get(param).is_some_and(|v| allowed.contains(&v)) {
            return Err(refuse(
                "invalid_request",
                format!("{param} must be one of {}", allowed.join(", ")),
            ));
        }
    }
    let scopes: Vec<String> = raw
        .get("scope")
        .map(|s| {
            s.split(fake.scope_split)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if scopes.is_empty() && fake.scope_required {
        return Err(refuse("invalid_scope", "Missing scope".into()));
    }
    if let Some(unknown) = scopes.iter().find(|s| !scope_known(fake, s)) {
        return Err(refuse(
            "invalid_scope",
            format!("Unknown scope {unknown:?}"),
        ));
    }
    let challenge = challenge(fake, &raw).map_err(|d| refuse("invalid_request", d))?;
    let issue_refresh = match fake.refresh_issued {
        RefreshIssued::Always => true,
        RefreshIssued::Never => false,
        RefreshIssued::WithScope(s) => scopes.iter().any(|g| g == s),
        RefreshIssued::WithParam(k, v) => raw.get(k) == Some(v),
    };
    Ok(AuthRequest {
        raw,
        client_id,
        redirect_uri,
        state,
        scopes,
        challenge,
        issue_refresh,
    })
}

/// The RFC 7636 §4.3 parameters, checked by the platform's rule.
fn challenge(fake: &Fake, raw: &Params) -> Result<Option<Challenge>, String> {
    let sent = raw.get("code_challenge");
    let method = raw.get("code_challenge_method");
    match fake.pkce {
        PkceRule::Ignored => return Ok(None),
        PkceRule::Rejected if sent.is_some() || method.is_some() => {
            return Err("PKCE is not enabled for this application".into());
        }
        PkceRule::Rejected => return Ok(None),
        PkceRule::Required if sent.is_none() => {
            return Err("Missing code_challenge: this platform requires PKCE".into());
        }
        PkceRule::Required | PkceRule::Optional => {}
    }
    let Some(challenge) = sent else {
        return if method.is_some() {
            Err("code_challenge_method without code_challenge".into())
        } else {
            Ok(None)
        };
    };
    // §4.2: the S256 challenge is 43 base64url characters; a plain one is a verifier.
    let charset_ok = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'))
    };
    match method.unwrap_or("plain") {
        "S256" if challenge.len() == 43 && charset_ok(challenge) => {
            Ok(Some(Challenge::S256(challenge.to_owned())))
        }
        "plain" if (43..=128).contains(&challenge.len()) && charset_ok(challenge) => {
            Ok(Some(Challenge::Plain(challenge.to_owned())))
        }
        "S256" | "plain" => Err("Malformed code_challenge".into()),
        other => Err(format!("Unsupported code_challenge_method {other:?}")),
    }
}

fn redirect(
    fake: &Fake,
    redirect_uri: &str,
    pairs: &[(&str, &str)],
    state: Option<&str>,
) -> HttpResponse {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return error_page(fake.name, "The redirect_uri is not a URL.");
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
        if let Some(state) = state {
            q.append_pair("state", state);
        }
    }
    url.set_fragment(fake.redirect_fragment);
    HttpResponse::Found()
        .insert_header(("Location", url.as_str()))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

fn refuse(fake: &Fake, err: AuthError) -> HttpResponse {
    match err {
        AuthError::Page(message) => error_page(fake.name, &message),
        AuthError::Redirect {
            redirect_uri,
            state,
            error,
            description,
        } => redirect(
            fake,
            &redirect_uri,
            &[("error", error), ("error_description", &description)],
            state.as_deref(),
        ),
    }
}

/// What the user typed into the form, shown again when it is refused.
struct Answers<'a> {
    username: &'a str,
    destinations: &'a str,
}

/// The form's `destinations` number: the platform's default when absent (scripts that post
/// only a username), `None` when it is not a whole number from 0 to the maximum.
fn destinations_answer(fake: &Fake, raw: Option<&str>) -> Option<u8> {
    let Some(d) = &fake.destinations else {
        return Some(0);
    };
    match raw.map(str::trim) {
        None | Some("") => Some(d.default_count),
        Some(v) => v.parse::<u8>().ok().filter(|n| *n <= MAX_DESTINATIONS),
    }
}

fn default_destinations(fake: &Fake) -> String {
    fake.destinations
        .as_ref()
        .map(|d| d.default_count.to_string())
        .unwrap_or_default()
}

/// The number field of platforms that have listings; empty elsewhere.
fn destinations_field(fake: &Fake, value: &str) -> String {
    let Some(d) = &fake.destinations else {
        return String::new();
    };
    format!(
        "<p><label for=\"destinations\">How many {noun}</label><br>\
<input id=\"destinations\" name=\"destinations\" type=\"number\" min=\"0\" max=\"{MAX_DESTINATIONS}\" value=\"{value}\" required>\
<br><small>What the fake user has to pick from after the login (0 to {MAX_DESTINATIONS}); \
the same name and number always give the same ones.</small></p>",
        noun = escape(d.noun),
        value = escape(value),
    )
}

fn consent_form(
    req: &HttpRequest,
    fake: &Fake,
    ar: &AuthRequest,
    answers: &Answers<'_>,
    problem: Option<&str>,
) -> HttpResponse {
    let scopes: String = if ar.scopes.is_empty() {
        "<li>(the platform's default)</li>".into()
    } else {
        ar.scopes
            .iter()
            .map(|s| format!("<li><code>{}</code></li>", escape(s)))
            .collect()
    };
    let problem_html = problem
        .map(|p| format!("<p class=\"error\">{}</p>", escape(p)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Plugboard sandbox — {name} (fake)</h1>\
<p>The app <code>{client}</code> asks to connect your fake {name} account with these scopes:</p>\
<ul>{scopes}</ul><p>After you answer you go back to <code>{redirect}</code>.</p>{problem_html}\
<form method=\"post\" action=\"{action}\">\
<input type=\"hidden\" name=\"_request\" value=\"{request}\">\
<p><label for=\"username\">Fake user name</label><br>\
<input id=\"username\" name=\"username\" value=\"{username}\" maxlength=\"30\" pattern=\"[A-Za-z0-9_.\\-]+\" required>\
<br><small>The same name always gives the same {name} user id.</small></p>{destinations}\
<p><button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\
<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></p></form>",
        name = escape(fake.name),
        client = escape(&ar.client_id),
        redirect = escape(&ar.redirect_uri),
        action = escape(req.path()),
        request = escape(&ar.raw.encode()),
        username = escape(answers.username),
        destinations = destinations_field(fake, answers.destinations),
    );
    let status = if problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    page(status, &format!("{} (fake) consent", fake.name), &body)
}

pub(crate) fn show(req: &HttpRequest, fake: &'static Fake) -> HttpResponse {
    match validate(fake, Params::parse(req.query_string().as_bytes())) {
        Ok(ar) => {
            let default = default_destinations(fake);
            let answers = Answers {
                username: DEFAULT_USERNAME,
                destinations: &default,
            };
            consent_form(req, fake, &ar, &answers, None)
        }
        Err(e) => refuse(fake, e),
    }
}

/// The form's POST. Everything is validated again: the hidden field is user input too.
pub(crate) fn decide(req: &HttpRequest, fake: &'static Fake, body: &[u8]) -> HttpResponse {
    let form = Params::parse(body);
    let Some(request) = form.get("_request") else {
        return error_page(fake.name, "The consent form was not submitted whole.");
    };
    let ar = match validate(fake, Params::parse(request.as_bytes())) {
        Ok(ar) => ar,
        Err(e) => return refuse(fake, e),
    };
    match form.get("decision") {
        Some("deny") => redirect(fake, &ar.redirect_uri, fake.denial, ar.state.as_deref()),
        Some("approve") => {
            let username = form.get("username").unwrap_or("").trim();
            let raw_destinations = form.get("destinations");
            let shown = raw_destinations
                .map(|d| d.trim().to_owned())
                .unwrap_or_else(|| default_destinations(fake));
            let answers = Answers {
                username,
                destinations: &shown,
            };
            if !valid_username(username) {
                return consent_form(
                    req,
                    fake,
                    &ar,
                    &answers,
                    Some("A fake user name is 1 to 30 letters, digits, '_', '.' or '-'."),
                );
            }
            let Some(destinations) = destinations_answer(fake, raw_destinations) else {
                let problem = format!(
                    "The number of destinations is a whole number from 0 to {MAX_DESTINATIONS}."
                );
                return consent_form(req, fake, &ar, &answers, Some(&problem));
            };
            let code = with_state(|s| {
                s.insert_code(CodeGrant {
                    platform: fake.slug,
                    client_id: ar.client_id.clone(),
                    redirect_uri: ar.redirect_uri.clone(),
                    username: username.to_owned(),
                    scopes: ar.scopes.clone(),
                    challenge: ar.challenge.clone(),
                    issue_refresh: ar.issue_refresh,
                    destinations,
                    expires_at: now() + Duration::seconds(CODE_LIFETIME_SECONDS),
                })
            });
            redirect(
                fake,
                &ar.redirect_uri,
                &[("code", &code)],
                ar.state.as_deref(),
            )
        }
        _ => error_page(fake.name, "Choose Approve or Deny."),
    }
}

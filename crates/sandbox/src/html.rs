//! Server-rendered pages. Every one says it is the sandbox, so nobody mistakes a fake
//! consent screen for a real one.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;

pub(crate) fn escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5}\
.banner{background:#fff3cd;border:1px solid #e0c36c;padding:.5rem 1rem;border-radius:4px}\
code{background:#f3f3f3;padding:0 .2rem}button{font-size:1rem;padding:.4rem 1.2rem;margin-right:.5rem}\
.error{color:#a00}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}";

/// A whole page; `body` is already-escaped HTML.
pub(crate) fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} · Plugboard sandbox</title><style>{STYLE}</style></head><body>\
<p class=\"banner\">This is the <strong>Plugboard sandbox</strong>: a fake platform for development \
and tests. No real network is contacted and nothing here is a real account.</p>{body}</body></html>",
        title = escape(title),
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:",
        ))
        .insert_header(("Cache-Control", "no-store"))
        .body(html)
}

/// The page a real provider shows when it cannot trust the redirect URI (bad client or
/// redirect), so it must not redirect (RFC 6749 §4.1.2.1).
pub(crate) fn error_page(platform_name: &str, message: &str) -> HttpResponse {
    page(
        StatusCode::BAD_REQUEST,
        &format!("{platform_name} error"),
        &format!(
            "<h1>Plugboard sandbox — {name} (fake): error</h1><p class=\"error\">{msg}</p>\
<p>The real {name} shows a similar page when the app or its redirect URI is not valid.</p>",
            name = escape(platform_name),
            msg = escape(message),
        ),
    )
}

//! The framework's ceiling: actix-web (the workspace's version, so Plugboard's) with the
//! same number of workers and one handler at `GET /v1/connect/{platform}` that answers a
//! connect-URL-shaped JSON body without authentication, store or middleware.

use actix_web::{App, HttpResponse, HttpServer, web};
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConnectUrl {
    auth_url: String,
    state: String,
}

async fn connect(platform: web::Path<String>) -> HttpResponse {
    // A fresh state per answer, as the real handler makes one, so the body is not a
    // constant the framework could cache.
    let state = crate::servers::random_hex(24);
    HttpResponse::Ok().json(ConnectUrl {
        auth_url: format!(
            "http://127.0.0.1/sandbox/{platform}/i/oauth2/authorize?response_type=code&client_id=plugboard-sandbox&redirect_uri=http%3A%2F%2F127.0.0.1%2Fconnect%2F{platform}%2Fcallback&scope=tweet.read%20users.read%20offline.access&state={state}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
        ),
        state,
    })
}

async fn ready() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// Serves until killed.
pub fn serve(listen: &str, workers: usize) -> std::io::Result<()> {
    let listener = std::net::TcpListener::bind(listen)?;
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(|| {
            App::new()
                .route("/v1/connect/{platform}", web::get().to(connect))
                .route("/readyz", web::get().to(ready))
        })
        .workers(workers)
        .listen(listener)?
        .run()
        .await
    })
}

//! The official Zernio Python SDK against the webhook routes and the Meta ads connect
//! start: `tests/python/sdk_webhooks.py` manages a subscription, fires tests to a receiver
//! of its own and verifies their signatures, reads the logs, redelivers, and deletes.

use crate::helpers::*;
use crate::python_sdk::ensure_sdk;
use serde_json::json;
use std::path::Path;

#[tokio::test]
async fn python_sdk_manages_tests_and_redelivers_webhooks_unchanged() {
    let python = tokio::task::spawn_blocking(ensure_sdk)
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    let app = spawn_app_with(|c| c.webhooks_allow_private = true).await;
    let profile = app.default_profile().await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/sdk_webhooks.py");
    let summary = crate::python_sdk::run_sdk_script(
        &app,
        &python,
        &script,
        &json!({"defaultProfile": profile.to_string()}),
        "webhooks",
    )
    .await;
    assert!(summary["checks"].as_u64().unwrap() >= 25, "{summary}");
    assert_eq!(summary["deliveries"], 3, "{summary}");
    // What the script did is what the server holds: its webhook is gone, its attempts
    // logged.
    let owner = app.owner().await;
    assert!(
        app.services
            .store
            .list_webhooks(&owner)
            .await
            .unwrap()
            .is_empty()
    );
    let logs = app.get("/v1/webhooks/logs").await;
    assert_eq!(logs.body["pagination"]["total"], 3, "{}", logs.text);
    let id = summary["webhookId"].as_str().unwrap();
    assert!(
        logs.body["logs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["webhookId"] == id)
    );
}

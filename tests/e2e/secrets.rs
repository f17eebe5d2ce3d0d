use crate::helpers::*;
use plugboard_core::Platform;

#[tokio::test]
async fn the_raw_sqlite_file_holds_no_plaintext_token_or_api_key() {
    let app = spawn_app().await;
    let p = app.default_profile().await;
    let created = app.create_key(serde_json::json!({"name": "second"})).await;
    app.seed_account(&p, Platform::Youtube, "UC-secret", "ya29.PLAINTEXT-ACCESS")
        .await;
    // Read every byte the store wrote: the database and its write-ahead log.
    let mut raw = Vec::new();
    for entry in std::fs::read_dir(&app.data_dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("plugboard.db")
        {
            raw.extend(std::fs::read(&path).unwrap());
        }
    }
    let raw = String::from_utf8_lossy(&raw);
    assert!(
        raw.contains("UC-secret"),
        "sanity: the account row is in the file"
    );
    for secret in [
        "ya29.PLAINTEXT-ACCESS",
        "PLAINTEXT-ACCESS-refresh",
        app.key.as_str(),
        created.as_str(),
    ] {
        assert!(
            !raw.contains(secret),
            "{secret} must not be stored in plaintext"
        );
    }
    // And the sealed value opens with the keyring.
    let acc = app
        .services
        .store
        .accounts_with_tokens()
        .await
        .unwrap()
        .remove(0);
    let tokens: serde_json::Value = app
        .services
        .keyring
        .open_json(&acc.own_tokens_context(), acc.tokens.as_ref().unwrap())
        .unwrap();
    assert_eq!(tokens["accessToken"], "ya29.PLAINTEXT-ACCESS");
}

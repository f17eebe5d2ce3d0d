//! The conformance suite against the embedded SQLite backend, each case on a fresh file.

#![allow(clippy::unwrap_used, reason = "test code")]

use plugboard_store::conformance::StoreRef;
use plugboard_store::sqlite::SqliteStore;
use std::sync::Arc;

async fn fresh_store() -> StoreRef {
    // The directory must outlive the store; leaking it keeps the file for the test's life
    // and the OS temp cleaner removes it later.
    let dir = tempfile::tempdir().unwrap().keep();
    Arc::new(SqliteStore::open(dir.join("plugboard.db")).await.unwrap())
}

plugboard_store::conformance_tests!(fresh_store);

#[tokio::test]
async fn reopening_a_database_keeps_its_rows_and_schema() {
    use plugboard_store::{Owner, OwnerStore};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/plugboard.db");
    let owner = Owner {
        id: plugboard_core::OwnerId::generate(1),
        name: "o".into(),
        email: None,
        created_at: chrono::DateTime::from_timestamp(1, 0).unwrap(),
    };
    {
        let store = SqliteStore::open(&path).await.unwrap();
        store.insert_owner(&owner).await.unwrap();
    }
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.first_owner().await.unwrap(), Some(owner));
}

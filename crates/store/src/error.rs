use thiserror::Error;

/// What went wrong in the store, in the store's terms. The HTTP layer decides statuses.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A uniqueness rule was hit; `field` names it (`name`, `externalId`, …).
    #[error("{field} already in use")]
    Conflict {
        field: &'static str,
        existing_id: Option<String>,
    },
    /// The backend failed (I/O, connection, driver). The message is for logs only.
    #[error("storage backend error: {0}")]
    Backend(String),
    /// A stored row could not be read back into its type.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

impl From<mongodb::error::Error> for StoreError {
    fn from(e: mongodb::error::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

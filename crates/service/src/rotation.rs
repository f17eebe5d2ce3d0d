//! Re-sealing secrets under the current encryption key after a rotation.

use crate::{ServiceResult, Services};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct RotationReport {
    pub resealed: u64,
    pub already_current: u64,
    /// Changed concurrently (e.g. refreshed) while rotating; they were sealed with the
    /// current key by whoever wrote them.
    pub skipped: u64,
}

impl Services {
    /// Re-encrypts every stored secret with the keyring's current key. Old keys must still
    /// be in the keyring; run until `resealed` is 0 before dropping them.
    pub async fn reseal_all(&self) -> ServiceResult<RotationReport> {
        let mut report = RotationReport::default();
        for account in self.store.accounts_with_tokens().await? {
            let Some(sealed) = &account.tokens else {
                continue;
            };
            let context = account.own_tokens_context();
            match self.keyring.reseal(&context, sealed).map_err(|e| {
                crate::ServiceError::Internal(format!("account {}: {e}", account.id))
            })? {
                None => report.already_current += 1,
                Some(new) => {
                    if self.store.replace_tokens(&account.id, sealed, &new).await? {
                        report.resealed += 1;
                    } else {
                        report.skipped += 1;
                    }
                }
            }
        }
        Ok(report)
    }
}

//! Event names and resource groups as Zernio defines them (shared/api-scope.md §10), and the
//! sample bodies `POST /v1/webhooks/test` sends.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

/// Every event a subscription may list. Plugboard emits the `account.*` ones and its own
/// `platform.quota.warning` (docs/quota.md); the others are accepted so subscriptions
/// written for Zernio carry over unchanged.
pub const EVENTS: &[&str] = &[
    "post.scheduled",
    "post.published",
    "post.failed",
    "post.partial",
    "post.cancelled",
    "post.recycled",
    "post.platform.published",
    "post.platform.failed",
    "post.platform.deleted",
    "post.tiktok.url_resolved",
    "post.external.created",
    "post.external.updated",
    "post.external.deleted",
    "account.connected",
    "account.disconnected",
    "account.ads.initial_sync_completed",
    "account.ads.sync_failed",
    "account.ads.sync_recovered",
    crate::quota::WARNING_EVENT,
    "analytics.synced",
    "message.received",
    "conversation.started",
    "conversation.control_changed",
    "call.received",
    "call.ended",
    "call.failed",
    "call.permission_request",
    "message.sent",
    "message.edited",
    "message.deleted",
    "message.delivered",
    "message.read",
    "message.played",
    "message.failed",
    "reaction.received",
    "referral.received",
    "comment.received",
    "review.new",
    "review.updated",
    "lead.received",
    "ad.status_changed",
    "ad.review.approved",
    "ad.review.rejected",
    "ad.delivery_issue",
    "campaign.budget.depleted",
    "ad_account.status_changed",
    "ad.video.processed",
    "ad_rule.triggered",
    "whatsapp.template.status_updated",
    "whatsapp.template.category_updated",
    "whatsapp.account.name_status_updated",
    "whatsapp.account.quality_updated",
    "whatsapp.account.status_updated",
    "whatsapp.account.alert_received",
    "whatsapp.contact.identity_changed",
    "whatsapp.automatic_event",
    "whatsapp.number.activated",
    "whatsapp.number.declined",
    "whatsapp.number.action_required",
    "whatsapp.number.verification_required",
    "whatsapp.number.suspended",
    "whatsapp.number.reactivated",
    "whatsapp.number.released",
    "whatsapp.number.kyc_submitted",
    "phone_number.stock_available",
    "verification.approved",
    "verification.failed",
    "api.changelog.published",
    "sms.registration.action_required",
    "sms.registration.status_updated",
    "branded_calling.identity.status_updated",
    "branded_calling.identity.action_required",
    "branded_calling.number.status_updated",
    "rcs.agent.status_updated",
    "commerce.product.created",
    "commerce.product.updated",
    "commerce.product.deleted",
    "commerce.order.created",
    "commerce.order.updated",
    "commerce.order.refunded",
    "contact.tag_added",
    "contact.tag_removed",
    "contact.field_changed",
    "sequence.enrolled",
    "sequence.exited",
    "workflow.run.started",
    "workflow.run.completed",
    "workflow.run.failed",
    "support.run.completed",
    "support.run.failed",
];

/// The event a plain test fire sends.
pub const TEST_EVENT: &str = "webhook.test";

pub use crate::api_keys::RESOURCE_GROUPS;

pub fn is_event(name: &str) -> bool {
    EVENTS.contains(&name)
}

/// The resource group an event belongs to: a subscription with the group disabled does not
/// receive it.
pub fn group_of(event: &str) -> &'static str {
    let first = event.split('.').next().unwrap_or_default();
    match first {
        "account" => "accounts",
        // Quota decides whether accounts can be connected and refreshed.
        "platform" => "accounts",
        "webhook" => "webhooks",
        "whatsapp" if event.starts_with("whatsapp.template.") => "accounts",
        "post" => "publishing",
        "comment" | "review" => "engagement",
        "message" | "conversation" | "reaction" | "referral" | "whatsapp" => "messages",
        "contact" | "sequence" | "workflow" | "support" => "contacts",
        "analytics" => "analytics",
        "lead" | "ad" | "campaign" | "ad_account" | "ad_rule" => "ads",
        "call" | "phone_number" | "sms" | "branded_calling" | "rcs" | "verification" => "telephony",
        _ => "billing",
    }
}

/// Placeholder ids in sample payloads: 24 hex digits that no real object has.
const SAMPLE_ACCOUNT: &str = "000000000000000000000001";
const SAMPLE_PROFILE: &str = "000000000000000000000002";

/// The body of a test fire: the plain `webhook.test` message, or a sample of `event` marked
/// `test: true` with placeholder ids.
pub fn test_body(event_id: &str, event: Option<&str>, at: DateTime<Utc>) -> Value {
    let timestamp = at.to_rfc3339_opts(SecondsFormat::Millis, true);
    let Some(event) = event else {
        return json!({
            "id": event_id,
            "event": TEST_EVENT,
            "message": "This is a test webhook from Plugboard",
            "timestamp": timestamp,
        });
    };
    let mut body = json!({
        "id": event_id,
        "event": event,
        "timestamp": timestamp,
        "test": true,
    });
    let account = json!({
        "accountId": SAMPLE_ACCOUNT,
        "profileId": SAMPLE_PROFILE,
        "platform": "twitter",
        "username": "sample_user",
        "displayName": "Sample User",
    });
    match event {
        "account.connected" => body["account"] = account,
        "account.disconnected" => {
            body["account"] = account;
            body["account"]["disconnectionType"] = json!("unintentional");
            body["account"]["reason"] = json!("Token expired");
        }
        "account.ads.initial_sync_completed" => {
            body["account"] = json!({
                "accountId": SAMPLE_ACCOUNT,
                "profileId": SAMPLE_PROFILE,
                "platform": "metaads",
                "username": "Sample Page",
                "platformAdAccountIds": ["act_1000000000"],
            });
            body["sync"] = json!({"status": "success", "totalAds": 0, "synced": 0, "failed": 0});
        }
        crate::quota::WARNING_EVENT => {
            body["quota"] = json!({
                "platform": "youtube", "day": at.format("%Y-%m-%d").to_string(),
                "measure": "units", "used": 8000, "limit": 10000, "percentUsed": 80.0,
                "calls": 8000, "units": 8000,
                "resetsAt": crate::quota::end_of_day(at.date_naive())
                    .to_rfc3339_opts(SecondsFormat::Millis, true),
            });
        }
        _ => {}
    }
    // The quota warning is about the installation's platform apps, not a profile.
    if event != crate::quota::WARNING_EVENT {
        body["profiles"] = json!([{ "id": SAMPLE_PROFILE, "externalId": null }]);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_events_belong_to_the_accounts_group_and_tests_to_webhooks() {
        assert_eq!(group_of("account.connected"), "accounts");
        assert_eq!(group_of("account.ads.initial_sync_completed"), "accounts");
        assert_eq!(group_of("platform.quota.warning"), "accounts");
        assert_eq!(group_of("whatsapp.template.status_updated"), "accounts");
        assert_eq!(group_of("webhook.test"), "webhooks");
        assert_eq!(group_of("post.published"), "publishing");
        for e in EVENTS {
            assert!(RESOURCE_GROUPS.contains(&group_of(e)), "{e}");
        }
    }

    #[test]
    fn sample_disconnection_is_marked_as_a_test_with_the_required_fields() {
        let b = test_body("e1", Some("account.disconnected"), Utc::now());
        assert_eq!(b["test"], true);
        assert_eq!(b["event"], "account.disconnected");
        for k in [
            "accountId",
            "profileId",
            "platform",
            "username",
            "disconnectionType",
            "reason",
        ] {
            assert!(b["account"].get(k).is_some(), "{k}");
        }
        let plain = test_body("e2", None, Utc::now());
        assert_eq!(plain["event"], "webhook.test");
        assert!(plain.get("test").is_none());
    }
}

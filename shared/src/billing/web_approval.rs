//! The links and codes of a web approval, as the agent that asked for it is answered: the same
//! for a plan change and a mandate request.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::approval::{APPROVAL_TTL_SECS, POLL_INTERVAL_SECS};
use crate::store::ApprovalRecord;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum WebApproveRequiredStatus {
    WebApproveRequired,
}

/// Nothing changed yet. The human opens `approval_url`, checks `binding_code` and approves with
/// their own key; the agent polls `polling_url` every `interval` seconds until `expires_in` runs
/// out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct WebApproval {
    pub status: WebApproveRequiredStatus,
    pub approval_id: String,
    /// For the human: the page that shows what is asked, where they approve or deny.
    pub approval_url: String,
    /// For the agent: `GET /billing/approvals/{id}`.
    pub polling_url: String,
    pub expires_in: i64,
    pub interval: i64,
    /// A few characters the page shows too: the agent tells its human, who checks they match.
    pub binding_code: String,
    /// The sentence the human approves.
    pub message: String,
}

impl WebApproval {
    /// The approval `id` just stored as `record`, its links under the API's public `base_url`.
    pub fn of(base_url: &str, id: String, record: &ApprovalRecord) -> Self {
        let base = base_url.trim_end_matches('/');
        Self {
            status: WebApproveRequiredStatus::WebApproveRequired,
            approval_url: format!("{base}/approve/{id}"),
            polling_url: format!("{base}/billing/approvals/{id}"),
            approval_id: id,
            expires_in: APPROVAL_TTL_SECS,
            interval: POLL_INTERVAL_SECS,
            binding_code: record.binding_code.clone(),
            message: record.message.clone(),
        }
    }
}

//! The answers of `POST /billing/upgrade`, `POST /billing/downgrade` and the web approvals, as
//! types: the use case builds them, and the OpenAPI document describes them from the same types.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::App;
use crate::billing::mandate_request::MandateAsked;
use crate::billing::mandates::{MandateUncovered, MandateUsed, MandateView};
use crate::billing::web_approval::WebApproval;
use crate::domain::approval::PublicStatus;
use crate::domain::change::{AppliedStatus, Change, PlanConfig};
use crate::domain::org::Org;
use crate::domain::summary::{BillingSummary, billing_summary};
use crate::stripe::CheckoutLink;

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CheckoutRequiredStatus {
    CheckoutRequired,
}

/// The org has no live subscription: a Checkout Session for the plan asked for (the same
/// rules as `POST /billing/checkout`).
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckoutRequired {
    pub status: CheckoutRequiredStatus,
    pub checkout_url: String,
    pub session_id: String,
}

impl CheckoutRequired {
    pub fn of(link: CheckoutLink) -> Self {
        Self { status: CheckoutRequiredStatus::CheckoutRequired, checkout_url: link.url, session_id: link.session_id }
    }
}

/// A plan change done (or found done), with the org's billing after it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Applied {
    pub status: AppliedStatus,
    /// `change-scheduled`, `downgrade-scheduled` and `already-scheduled`: when the new
    /// configuration (or Free) starts (epoch seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_at: Option<i64>,
    pub billing: Box<BillingSummary>,
    /// An AGENT's change made inside its mandate: which one, and what remains of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mandate: Option<MandateUsed>,
}

impl Applied {
    /// The answer `status` with the org's billing as it is now.
    pub fn of(app: &App, status: AppliedStatus, org: &Org, now: i64) -> Self {
        let billing = billing_summary(org, &app.config.catalog, now, app.config.past_due_grace_secs);
        Self { status, effective_at: None, billing: Box::new(billing), mandate: None }
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DesignPartnerStatus {
    #[default]
    DesignPartner,
}

/// The org is a design partner: it has Scale at no cost, nothing changes and Stripe is not called.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct DesignPartner {
    pub status: DesignPartnerStatus,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmationRequiredStatus {
    ConfirmationRequired,
}

/// The change a confirm token executes, with Stripe's preview of what it costs.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentChange {
    pub from: PlanConfig,
    pub to: PlanConfig,
    /// Charged when the change executes (smallest currency unit, prorated), discount applied
    /// and tax included.
    pub amount_due_now: i64,
    /// The tax included in `amount_due_now`.
    pub tax_due_now: i64,
    /// What a discount took off before `amount_due_now`.
    pub discount_due_now: i64,
    /// Charged per interval afterwards.
    pub recurring_amount: u64,
    pub currency: String,
    /// When the change takes effect (epoch seconds); `null` for a resume.
    pub effective_at: Option<i64>,
    /// During a free trial: when it ends and the first charge comes (epoch seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trial_ends_at: Option<i64>,
}

impl ConsentChange {
    /// The change as the agent and its human see it, in the catalog's `currency`.
    pub fn of(change: &Change, currency: &str) -> Self {
        Self {
            from: change.from.clone(),
            to: change.to.clone(),
            amount_due_now: change.amount_due_now,
            tax_due_now: change.tax_due_now,
            discount_due_now: change.discount_due_now,
            recurring_amount: change.recurring_amount,
            currency: currency.to_string(),
            effective_at: change.effective_at,
            trial_ends_at: change.trial_ends_at,
        }
    }
}

/// For an AGENT key: nothing changed. Show `message` to the human and, on yes, repeat the same
/// call with `confirm_token` within `expires_in` seconds.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfirmationRequired {
    pub status: ConfirmationRequiredStatus,
    pub confirm_token: String,
    pub expires_in: i64,
    pub message: String,
    pub change: ConsentChange,
    #[serde(flatten)]
    pub uncovered: MandateUncovered,
}

/// For an AGENT key with `mode: web`: nothing changed; a human of the org approves or denies on
/// the page.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebApproveRequired {
    #[serde(flatten)]
    pub approval: WebApproval,
    pub change: ConsentChange,
    #[serde(flatten)]
    pub uncovered: MandateUncovered,
}

/// `GET /billing/approvals/{id}`: what the agent polls and the approval page shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalView {
    pub approval_id: String,
    pub status: PublicStatus,
    /// `upgrade`, `downgrade` or `mandate`.
    pub action: String,
    pub org_id: String,
    pub org_name: String,
    /// The AGENT principal that asked.
    pub requested_by: String,
    pub binding_code: String,
    pub message: String,
    /// The plan change asked for (`null` for a mandate request).
    pub change: Option<ConsentChange>,
    /// A mandate request's envelope, in numbers and in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mandate: Option<MandateAsked>,
    /// Epoch seconds.
    pub expires_at: i64,
    pub expires_in: i64,
    /// Seconds between polls (raised by `slow_down`).
    pub interval: i64,
    /// The HUMAN who approved or denied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// Once decided and executed: the change's answer (as upgrade or downgrade gives it), or the
    /// error envelope's `error` and `message` of a change that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionStatus {
    Approved,
    Denied,
}

/// `POST /billing/approvals/{id}/approve` and `.../deny`: the decision taken.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalDecided {
    pub status: DecisionStatus,
    pub approval_id: String,
    /// `approved`: the executed change's answer (as upgrade or downgrade gives it), or the
    /// mandate granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Approved>,
}

/// What an approval's approving did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Approved {
    Change(Box<Applied>),
    Mandate(Box<MandateView>),
}

/// The answer of `POST /billing/upgrade`, by `status`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum UpgradeAnswer {
    CheckoutRequired(CheckoutRequired),
    Applied(Applied),
    DesignPartner(DesignPartner),
    ConfirmationRequired(ConfirmationRequired),
    WebApproveRequired(WebApproveRequired),
}

/// The answer of `POST /billing/trial/end`, by `status`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum TrialEndAnswer {
    Applied(Applied),
    ConfirmationRequired(ConfirmationRequired),
    WebApproveRequired(WebApproveRequired),
}

/// The answer of `POST /billing/downgrade`, by `status`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum DowngradeAnswer {
    Applied(Applied),
    DesignPartner(DesignPartner),
    ConfirmationRequired(ConfirmationRequired),
    WebApproveRequired(WebApproveRequired),
}

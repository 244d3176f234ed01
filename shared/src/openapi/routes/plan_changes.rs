//! The plan changes: upgrade, downgrade and their consent (confirm tokens, web approvals).

// The builders and the types the document names.
use crate::billing::mandates::MandateUncovered;
use crate::billing::plan_change::answer::TrialEndAnswer;
use crate::billing::plan_change::trial::{EndTrialBody, ExtendTrialBody};
use crate::domain::change::AppliedStatus;
use crate::domain::mandate::Uncovered;
use crate::openapi::*;
use crate::stripe::CheckoutLink;

pub(in crate::openapi) fn operations() -> Vec<Operation> {
    use ErrorKind::*;
    vec![
        Operation {
            method: HttpMethod::Post,
            path: "/billing/upgrade",
            id: "upgradePlan",
            tag: "plan changes",
            summary: "Change to a paid plan",
            description: "A HUMAN or ADMIN key executes the change; an AGENT key gets `confirmation_required` (nothing changes) \
                and repeats the same body with `confirm_token` once its human agreed to `message`. The answer's `status` says \
                what happened: `checkout-required`, `already-on-plan`, `resumed`, `switched`, `change-scheduled`, \
                `design-partner`, `confirmation_required` or `web-approve-required` (`mode: web`). A `promotion_code` is \
                checked against the plan moved to first (400 `invalid_promotion_code`) and bound into the confirm token; \
                a change made now shows its discount in `change.discount_due_now` and charges it.",
            keyless: false,
            parameters: Vec::new(),
            body: body(
                "UpgradeBody",
                false,
                vec![
                    (
                        "scale-2-servers",
                        UpgradeBody {
                            plan: Some("scale".into()),
                            interval: Some(Interval::Month),
                            quantity: Some(2),
                            ..UpgradeBody::default()
                        },
                    ),
                    (
                        "confirm",
                        UpgradeBody {
                            plan: Some("scale".into()),
                            interval: Some(Interval::Month),
                            quantity: Some(2),
                            confirm_token: Some(confirmation(true).confirm_token),
                            ..UpgradeBody::default()
                        },
                    ),
                    ("web-approval", UpgradeBody { plan: Some("pro".into()), mode: Some(ConsentMode::Web), ..UpgradeBody::default() }),
                ],
            ),
            ok: with_approval_links(ok("UpgradeAnswer", "What happened, by `status`.", upgrade_answers())),
            created: false,
            errors: kinds(&[
                &KEYED,
                &BODY,
                &[
                    InvalidConfirmToken,
                    InvalidPromotionCode,
                    PaymentFailed,
                    NotFound,
                    ChangeInProgress,
                    SubscriptionExists,
                    CheckoutInProgress,
                    Conflict,
                    StripeError,
                    ServiceUnavailable,
                ],
            ]),
            others: Vec::new(),
            samples: vec![ApiError::field("plan", "is free: use POST /billing/downgrade")],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/billing/downgrade",
            id: "downgradePlan",
            tag: "plan changes",
            summary: "Move to Free at the period end",
            description: "Cancels the subscription at the period end (a scheduled paid change is released first). Idempotent: \
                `already-scheduled`, `already-free`. Consent works as for upgrade: an AGENT key gets `confirmation_required` \
                first.",
            keyless: false,
            parameters: Vec::new(),
            body: body(
                "DowngradeBody",
                false,
                vec![
                    ("now", DowngradeBody::default()),
                    ("confirm", DowngradeBody { confirm_token: Some(confirmation(false).confirm_token), ..DowngradeBody::default() }),
                ],
            ),
            ok: with_approval_links(ok("DowngradeAnswer", "What happened, by `status`.", downgrade_answers())),
            created: false,
            errors: kinds(&[&KEYED, &BODY, &[InvalidConfirmToken, NotFound, ChangeInProgress, Conflict, StripeError, ServiceUnavailable]]),
            others: Vec::new(),
            samples: vec![ApiError::field("mode", "unknown variant `email`, expected `chat` or `web`")],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/billing/trial/end",
            id: "endTrial",
            tag: "plan changes",
            summary: "End the free trial now (start paying)",
            description: "Stripe's `trial_end=now`: the first period starts and its invoice (discount and tax included) is charged \
                at once; a declined card is 402 `payment_failed` and the trial goes on. A HUMAN or ADMIN key executes it; an \
                AGENT key gets `confirmation_required` (or `web-approve-required` with `mode: web`) whose `change.amount_due_now` \
                is what will be charged, unless its mandate covers it. An org not in a trial is 409 `not_trialing`.",
            keyless: false,
            parameters: Vec::new(),
            body: body(
                "EndTrialBody",
                false,
                vec![
                    ("now", EndTrialBody::default()),
                    ("confirm", EndTrialBody { confirm_token: Some(confirmation(false).confirm_token), ..EndTrialBody::default() }),
                ],
            ),
            ok: with_approval_links(ok("TrialEndAnswer", "What happened, by `status`.", trial_end_answers())),
            created: false,
            errors: kinds(&[
                &KEYED,
                &BODY,
                &[InvalidConfirmToken, PaymentFailed, NotFound, NotTrialing, ChangeInProgress, Conflict, StripeError, ServiceUnavailable],
            ]),
            others: Vec::new(),
            samples: vec![],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/billing/trial/extend",
            id: "extendTrial",
            tag: "plan changes",
            summary: "Give the free trial more days (ADMIN)",
            description: "Moves the trial's end `days` (1 to 30) later; nothing is charged. ADMIN keys only. Each call adds its \
                days: a call repeated after the first succeeded extends again (two identical calls made on the same trial end \
                move it once). An org not in a trial is 409 `not_trialing`.",
            keyless: false,
            parameters: Vec::new(),
            body: body("ExtendTrialBody", true, vec![("a-week", ExtendTrialBody { days: 7 })]),
            ok: ok(
                "Applied",
                "The trial's new end is the billing's `trial_ends_at`.",
                vec![("extended", applied(AppliedStatus::TrialExtended, None))],
            ),
            created: false,
            errors: kinds(&[&KEYED, &BODY, &[Forbidden, NotFound, NotTrialing, StripeError, ServiceUnavailable]]),
            others: Vec::new(),
            samples: vec![ApiError::field("days", "must be 1 to 30"), ApiError::forbidden("Only an ADMIN key extends a trial.")],
        },
        Operation {
            method: HttpMethod::Get,
            path: "/billing/approvals/{id}",
            id: "getApproval",
            tag: "plan changes",
            summary: "A web approval's status (poll it)",
            description: "Any key of the org. The agent that asked polls every `interval` seconds (RFC 8628): `pending` until a \
                human decides on the approval page, then `approved` (with `result`), `denied`, `expired` or `failed`. An AGENT \
                polling sooner gets 429 `slow_down` with `Retry-After`, and the interval grows by 5 s for good. An approved change \
                whose outcome at Stripe is not recorded yet (its function stopped) is completed by this read; while Stripe cannot \
                confirm it, 409 `change_in_progress` with `Retry-After`.",
            keyless: false,
            parameters: vec![id_in_path()],
            body: None,
            ok: ok("ApprovalView", "The approval.", approval_views()),
            created: false,
            errors: kinds(&[&KEYED, &[ValidationFailed, NotFound, SlowDown, ChangeInProgress, ServiceUnavailable]]),
            others: Vec::new(),
            samples: vec![
                ApiError::field("verbose", "is not a parameter of this route"),
                ApiError::not_found("No approval with this id in your org."),
            ],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/billing/approvals/{id}/approve",
            id: "approveChange",
            tag: "plan changes",
            summary: "Approve an agent's plan change (a human)",
            description: "A HUMAN or ADMIN key of the org executes the bound change, once, as themselves; an AGENT key is 403. \
                Approving an approval that was decided, expired or made void by another change is 409 `approval_not_pending` \
                with `details.status`; a declined card is 402 and the approval `failed`.",
            keyless: false,
            parameters: vec![id_in_path()],
            body: body("DecisionBody", false, vec![("empty", json!({}))]),
            ok: ok(
                "ApprovalDecided",
                "Approved: the change ran.",
                vec![(
                    "approved",
                    ApprovalDecided { status: DecisionStatus::Approved, approval_id: APPROVAL_ID.into(), result: Some(switched()) },
                )],
            ),
            created: false,
            errors: kinds(&[
                &KEYED,
                &BODY,
                &[Forbidden, NotFound, ApprovalNotPending, ChangeInProgress, PaymentFailed, Conflict, StripeError, ServiceUnavailable],
            ]),
            others: Vec::new(),
            samples: vec![
                ApiError::field("note", "unknown field `note`, there are none"),
                ApiError::forbidden("An agent key cannot approve or deny: a human of the org decides, with their own key."),
                ApiError::not_found("No approval with this id in your org."),
            ],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/billing/approvals/{id}/deny",
            id: "denyChange",
            tag: "plan changes",
            summary: "Deny an agent's plan change (a human)",
            description: "A HUMAN or ADMIN key of the org refuses; nothing changes and the agent's poll says `denied`. An AGENT \
                key is 403; an approval no longer pending is 409 `approval_not_pending`.",
            keyless: false,
            parameters: vec![id_in_path()],
            body: body("DecisionBody", false, vec![("empty", json!({}))]),
            ok: ok(
                "ApprovalDecided",
                "Denied: nothing changed.",
                vec![("denied", ApprovalDecided { status: DecisionStatus::Denied, approval_id: APPROVAL_ID.into(), result: None })],
            ),
            created: false,
            errors: kinds(&[&KEYED, &BODY, &[Forbidden, NotFound, ApprovalNotPending, ChangeInProgress, ServiceUnavailable]]),
            others: Vec::new(),
            samples: vec![
                ApiError::field("note", "unknown field `note`, there are none"),
                ApiError::forbidden("An agent key cannot approve or deny: a human of the org decides, with their own key."),
                ApiError::not_found("No approval with this id in your org."),
            ],
        },
        Operation {
            method: HttpMethod::Get,
            path: "/approve/{id}",
            id: "approvalPage",
            tag: "plan changes",
            summary: "The approval page (HTML, for the human)",
            description: "A self-contained HTML page under a strict Content-Security-Policy. The link authorizes nothing: the page \
                asks for the human's key, keeps it in `sessionStorage`, and calls the approval routes with it.",
            keyless: true,
            parameters: vec![id_in_path()],
            body: None,
            ok: ResponseBuilder::new()
                .description("The page.")
                .content(
                    "text/html",
                    ContentBuilder::new()
                        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                        .examples_from_iter([("page", ExampleBuilder::new().value(Some(json!("<!doctype html>..."))).build())])
                        .build(),
                )
                .build(),
            created: false,
            errors: vec![NotFound],
            others: Vec::new(),
            samples: vec![ApiError::not_found("No approval has this id: approval links end in `ap_` and 32 hex digits.")],
        },
    ]
}

fn applied(status: AppliedStatus, effective_at: Option<i64>) -> Applied {
    Applied { status, effective_at, billing: Box::new(examples::summary()), mandate: None }
}

fn upgrade_answers() -> Vec<(&'static str, UpgradeAnswer)> {
    let applied = |status, effective_at| UpgradeAnswer::Applied(applied(status, effective_at));
    let link = CheckoutLink { session_id: examples::SESSION_ID.into(), url: examples::checkout().url };
    vec![
        ("checkout-required", UpgradeAnswer::CheckoutRequired(CheckoutRequired::of(link))),
        ("already-on-plan", applied(AppliedStatus::AlreadyOnPlan, None)),
        ("resumed", applied(AppliedStatus::Resumed, None)),
        ("switched", applied(AppliedStatus::Switched, None)),
        ("change-scheduled", applied(AppliedStatus::ChangeScheduled, examples::summary().current_period_end)),
        ("design-partner", UpgradeAnswer::DesignPartner(DesignPartner::default())),
        ("confirmation_required", UpgradeAnswer::ConfirmationRequired(confirmation(true))),
        ("web-approve-required", UpgradeAnswer::WebApproveRequired(web_approval())),
    ]
}

fn downgrade_answers() -> Vec<(&'static str, DowngradeAnswer)> {
    let end = examples::summary().current_period_end;
    let applied = |status, effective_at| DowngradeAnswer::Applied(applied(status, effective_at));
    vec![
        ("downgrade-scheduled", applied(AppliedStatus::DowngradeScheduled, end)),
        ("already-scheduled", applied(AppliedStatus::AlreadyScheduled, end)),
        ("already-free", applied(AppliedStatus::AlreadyFree, None)),
        ("design-partner", DowngradeAnswer::DesignPartner(DesignPartner::default())),
        ("confirmation_required", DowngradeAnswer::ConfirmationRequired(confirmation(false))),
        ("web-approve-required", DowngradeAnswer::WebApproveRequired(web_approval())),
    ]
}

fn trial_end_answers() -> Vec<(&'static str, TrialEndAnswer)> {
    vec![
        ("trial-ended", TrialEndAnswer::Applied(applied(AppliedStatus::TrialEnded, None))),
        ("confirmation_required", TrialEndAnswer::ConfirmationRequired(confirmation(true))),
    ]
}

fn confirmation(upgrade: bool) -> ConfirmationRequired {
    let pro = PlanConfig { plan: "pro".into(), interval: Some(Interval::Month), quantity: 1 };
    let (to, message, due, recurring, effective_at) = match upgrade {
        true => (
            PlanConfig { plan: "scale".into(), interval: Some(Interval::Month), quantity: 2 },
            "Switch Acme from Pro (monthly) to Scale ×2 servers (monthly) now: $61.42 is charged today (prorated), then $98.00 per month.",
            6142,
            9800,
            Some(examples::NOW),
        ),
        false => (
            PlanConfig { plan: "free".into(), interval: None, quantity: 1 },
            "Move Acme from Pro (monthly) to Free at the end of the current period: the subscription ends then and nothing more is charged.",
            0,
            0,
            examples::summary().current_period_end,
        ),
    };
    ConfirmationRequired {
        status: ConfirmationRequiredStatus::ConfirmationRequired,
        confirm_token: "ct_3f9a0c2b7d1e4f5a6b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e".into(),
        expires_in: 60,
        message: message.into(),
        change: ConsentChange {
            from: pro,
            to,
            amount_due_now: due,
            tax_due_now: 0,
            discount_due_now: 0,
            recurring_amount: recurring,
            currency: "usd".into(),
            effective_at,
            trial_ends_at: None,
        },
        uncovered: MandateUncovered::of(Uncovered("no_mandate")),
    }
}

const APPROVAL_ID: &str = "ap_7c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f";
const APPROVAL_ID_PATTERN: &str = "^ap_[0-9a-f]{32}$";

fn web_approval() -> WebApproveRequired {
    let confirmation = confirmation(true);
    WebApproveRequired {
        approval: examples::web_approval(APPROVAL_ID, confirmation.message),
        change: confirmation.change,
        uncovered: MandateUncovered::of(Uncovered("max_charge_per_month")),
    }
}

fn switched() -> Approved {
    Approved::Change(Box::new(applied(AppliedStatus::Switched, None)))
}

fn approval_views() -> Vec<(&'static str, ApprovalView)> {
    let view = |status, decided_by: Option<&str>, result: Option<Value>| ApprovalView {
        approval_id: APPROVAL_ID.into(),
        status,
        action: "upgrade".into(),
        org_id: "acme".into(),
        org_name: "Acme".into(),
        requested_by: "assistant".into(),
        binding_code: "K7P-Q3M".into(),
        message: confirmation(true).message,
        change: Some(confirmation(true).change),
        mandate: None,
        expires_at: examples::NOW + 600,
        expires_in: 540,
        interval: 5,
        decided_by: decided_by.map(str::to_string),
        result,
    };
    vec![
        ("pending", view(PublicStatus::Pending, None, None)),
        ("approved", view(PublicStatus::Approved, Some("owner"), Some(json!(switched())))),
        ("denied", view(PublicStatus::Denied, Some("owner"), None)),
    ]
}

fn id_in_path() -> Parameter {
    let description = "The `approval_id` of a `web-approve-required` answer; another org's is 404.";
    parameter("id", ParameterIn::Path, true, description, string(APPROVAL_ID_PATTERN, APPROVAL_ID.len()), json!(APPROVAL_ID))
}

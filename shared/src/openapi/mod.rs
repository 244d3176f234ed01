//! The API's OpenAPI 3.1 document (`GET /openapi.json`, committed as `openapi.json`), built from
//! the request and response types (their `ToSchema` derives), `ErrorKind::ALL` and one table of
//! operations: what each route takes, answers and can refuse. The functions crate's tests hold
//! the table to template.yaml's routes; this module's hold the committed file to this code and
//! the request schemas to the body types.

mod examples;
pub mod mcp;
pub mod plan_changes;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::{RequestBody, RequestBodyBuilder};
use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ComponentsBuilder, Content, ContentBuilder, InfoBuilder, LicenseBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr, Required,
    Response, ResponseBuilder,
};

use crate::billing::activity::ActivityPageView;
use crate::billing::agents::AgentList;
use crate::billing::brake::{ResumeBody, Resumed};
use crate::billing::checkout::{CheckoutSession, SubscriptionCheckoutBody};
use crate::billing::checkout_sync::CheckoutSync;
use crate::billing::credits::{CreditsPage, SpendBody, Spent};
use crate::billing::credits_checkout::{CreditsCheckoutBody, CreditsCheckoutSession};
use crate::billing::idempotency::MAX_KEY_LEN;
use crate::billing::limit_signals::{IncreaseBody, IncreaseRecorded, SignalReport, bad_since};
use crate::billing::limits::LimitsView;
use crate::billing::mandate_request::{MandateRequestBody, MandateRequested};
use crate::billing::mandates::{GrantBody, MandateList, MandateView};
use crate::billing::plan_change::approval::DecisionBody;
use crate::billing::portal::{PortalBody, PortalSession};
use crate::billing::settings::{Settings, SettingsChange};
use crate::billing::top_up::TopUp;
use crate::billing::usage::{CountBody, Released, Reserved};
use crate::billing::webhook_sync::WebhookReceipt;
use crate::domain::calendar::{INSTANT_FORMS, MAX_EPOCH_DIGITS};
use crate::domain::catalog::{Interval, Resource};
use crate::domain::entitlements::{LimitStatus, PlanLimitReached};
use crate::domain::invalid::FieldProblem;
use crate::domain::signals::SignalKind;
use crate::domain::summary::{BillingSummary, CatalogView, catalog_view};
use crate::error::{ApiError, ErrorEnvelope, ErrorKind};
use crate::http::REPLAYED_HEADER;
use crate::stripe::InvoicePage;
use examples::value;
use mcp::{JsonRpcRequest, JsonRpcResponse};
use plan_changes::{
    ApprovalDecided, ApprovalStatus, ApprovalView, CheckoutRequired, CheckoutRequiredStatus, ConfirmationRequired,
    ConfirmationRequiredStatus, ConsentChange, ConsentMode, DecisionStatus, DesignPartner, DesignPartnerStatus, DowngradeAnswer,
    DowngradeApplied, DowngradeBody, DowngradeStatus, PlanConfig, UpgradeAnswer, UpgradeApplied, UpgradeBody, UpgradeStatus,
    WebApproveRequired, WebApproveRequiredStatus,
};

/// `next_cursor` of `GET /billing/activity`.
const CURSOR_PATTERN: &str = "^act_[0-9a-f]{24}-[0-9]{1,12}$";

/// The security scheme every route uses unless it says `security: []`.
pub const BEARER: &str = "apiKey";
const JSON: &str = "application/json";

/// The document as served and committed: pretty JSON, one newline at the end.
pub fn document_json() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        // utoipa 5.5 writes a Link's `operationId` as `operation_id`; only a key can match the
        // quoted form (quotes inside JSON strings are escaped).
        let mut text = document().to_pretty_json().expect("the document serializes").replace("\"operation_id\": ", "\"operationId\": ");
        text.push('\n');
        text
    })
}

pub fn document() -> OpenApi {
    let mut paths = Paths::new();
    let mut tags = BTreeSet::new();
    for op in operations() {
        tags.insert(op.tag);
        paths.add_path_operation(op.path, vec![op.method.clone()], op.build());
    }
    let info = InfoBuilder::new()
        .title("Stripe billing API")
        .version(env!("CARGO_PKG_VERSION"))
        .license(Some(LicenseBuilder::new().name("MIT").identifier(Some("MIT")).build()))
        .description(Some(DESCRIPTION))
        .build();
    let bearer = Http::builder().scheme(HttpAuthScheme::Bearer).bearer_format("bk_<key id>_<secret>").description(Some(
        "An API key of the org (`billing-admin issue-key`): HUMAN, AGENT or ADMIN. A missing, unknown or revoked key is 401.",
    ));
    OpenApiBuilder::new()
        .info(info)
        .paths(paths)
        .components(Some(
            ComponentsBuilder::new().schemas_from_iter(schemas()).security_scheme(BEARER, SecurityScheme::Http(bearer.build())).build(),
        ))
        .security(Some([SecurityRequirement::new(BEARER, Vec::<String>::new())]))
        .tags(Some(tags.into_iter().map(|name| TagBuilder::new().name(name).build())))
        .build()
}

const DESCRIPTION: &str = "Billing on top of Stripe for a multi-tenant SaaS: plans, Checkout, the Customer Portal, invoices, \
usage caps with atomic reservations, credits, limit-increase signals and plan changes that an AI agent makes only with its \
human's consent.\n\nEvery route but the Stripe webhook, the approval page and this document needs `Authorization: Bearer <key>`. Every 4xx and \
5xx answer is one envelope (`ErrorEnvelope`): branch on `error`, show `message`, act on `details`. A path of this document \
called with another method answers 405 `method_not_allowed` with an `Allow` header; a path it does not have, 404 `not_found`.";

/// Every named schema: the types the operations reference and those they reference in turn
/// (the MCP tools' schemas are made of them too).
pub(crate) fn schemas() -> BTreeMap<String, RefOr<Schema>> {
    let mut all = Vec::new();
    fn add<T: ToSchema>(all: &mut Vec<(String, RefOr<Schema>)>) {
        all.push((T::name().into_owned(), T::schema()));
        T::schemas(all);
    }
    add::<ErrorEnvelope>(&mut all);
    add::<FieldProblem>(&mut all);
    add::<PlanLimitReached>(&mut all);
    add::<BillingSummary>(&mut all);
    add::<CatalogView>(&mut all);
    add::<SubscriptionCheckoutBody>(&mut all);
    add::<CheckoutSession>(&mut all);
    add::<CreditsCheckoutBody>(&mut all);
    add::<CreditsCheckoutSession>(&mut all);
    add::<CreditsCheckoutAnswer>(&mut all);
    add::<PortalBody>(&mut all);
    add::<PortalSession>(&mut all);
    add::<UpgradeBody>(&mut all);
    add::<UpgradeAnswer>(&mut all);
    add::<DowngradeBody>(&mut all);
    add::<DowngradeAnswer>(&mut all);
    add::<ApprovalView>(&mut all);
    add::<ApprovalDecided>(&mut all);
    add::<DecisionBody>(&mut all);
    add::<InvoicePage>(&mut all);
    add::<WebhookReceipt>(&mut all);
    add::<StripeEvent>(&mut all);
    add::<CheckoutSync>(&mut all);
    add::<LimitsView>(&mut all);
    add::<LimitStatus>(&mut all);
    add::<CountBody>(&mut all);
    add::<Reserved>(&mut all);
    add::<Released>(&mut all);
    add::<SpendBody>(&mut all);
    add::<Spent>(&mut all);
    add::<CreditsPage>(&mut all);
    add::<ActivityPageView>(&mut all);
    add::<IncreaseBody>(&mut all);
    add::<IncreaseRecorded>(&mut all);
    add::<SignalReport>(&mut all);
    add::<Settings>(&mut all);
    add::<SettingsChange>(&mut all);
    add::<ResumeBody>(&mut all);
    add::<Resumed>(&mut all);
    add::<GrantBody>(&mut all);
    add::<MandateView>(&mut all);
    add::<MandateList>(&mut all);
    add::<AgentList>(&mut all);
    add::<MandateRequestBody>(&mut all);
    add::<MandateRequested>(&mut all);
    add::<JsonRpcRequest>(&mut all);
    add::<JsonRpcResponse>(&mut all);
    all.into_iter().collect()
}

/// The answer of `POST /billing/credits/checkout`: a Checkout to send the human to, or, with
/// `"payment": "card_on_file"`, the bundles bought with the card on file.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum CreditsCheckoutAnswer {
    Checkout(CreditsCheckoutSession),
    TopUp(TopUp),
}

/// A Stripe event as delivered (only what the API reads; Stripe sends more).
#[derive(Debug, Serialize, ToSchema)]
pub struct StripeEvent {
    /// `evt_...`: each is applied at most once.
    pub id: String,
    /// e.g. `checkout.session.completed`, `customer.subscription.updated`, `invoice.paid`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Epoch seconds.
    pub created: i64,
    pub data: StripeEventData,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StripeEventData {
    /// The Stripe object the event is about.
    #[schema(value_type = Object)]
    pub object: Value,
}

/// One operation: a route of template.yaml, what it takes, answers and can refuse.
struct Operation {
    method: HttpMethod,
    path: &'static str,
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
    description: &'static str,
    /// No bearer key (`security: []`).
    keyless: bool,
    parameters: Vec<Parameter>,
    body: Option<RequestBody>,
    ok: Response,
    /// `ok` is 201 Created (a new resource), not 200.
    created: bool,
    /// Every error it can answer, grouped by status in the document.
    errors: Vec<ErrorKind>,
    /// The example of a kind where the generic one would mislead.
    samples: Vec<ApiError>,
    /// Answers that are not the error envelope (`POST /mcp`'s JSON-RPC errors), by status.
    others: Vec<(u16, Response)>,
}

impl Operation {
    fn build(self) -> utoipa::openapi::path::Operation {
        let mut by_status: BTreeMap<u16, Vec<ApiError>> = BTreeMap::new();
        for kind in self.errors {
            let sample = self.samples.iter().find(|s| s.kind == kind).cloned().unwrap_or_else(|| examples::error(kind));
            by_status.entry(kind.status()).or_default().push(sample);
        }
        let mut op = OperationBuilder::new()
            .operation_id(Some(self.id))
            .tag(self.tag)
            .summary(Some(self.summary))
            .description(Some(self.description))
            .parameters(Some(self.parameters))
            .request_body(self.body)
            .response(if self.created { "201" } else { "200" }, self.ok);
        for (status, samples) in by_status {
            op = op.response(status.to_string(), error_response(&samples));
        }
        for (status, response) in self.others {
            op = op.response(status.to_string(), response);
        }
        if self.keyless {
            op = op.securities(Some(Vec::<SecurityRequirement>::new()));
        }
        op.build()
    }
}

/// One status's answer: the envelope, the error types it can carry, an example of each.
fn error_response(samples: &[ApiError]) -> Response {
    let codes: Vec<String> = samples.iter().map(|s| format!("`{}`", s.kind.code())).collect();
    let content = samples.iter().fold(ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorEnvelope"))), |content, sample| {
        let example = ExampleBuilder::new().summary(sample.message.clone()).value(Some(sample.envelope(examples::REQUEST_ID)));
        content.examples_from_iter([(sample.kind.code(), example.build())])
    });
    ResponseBuilder::new().description(codes.join(", ")).content(JSON, content.build()).build()
}

fn json_content<T: Serialize>(schema: RefOr<Schema>, examples: Vec<(&str, T)>) -> Content {
    let examples =
        examples.into_iter().map(|(name, example)| (name.to_string(), ExampleBuilder::new().value(Some(value(example))).build()));
    ContentBuilder::new().schema(Some(schema)).examples_from_iter(examples).build()
}

fn ok<T: Serialize>(schema: &str, description: &str, examples: Vec<(&str, T)>) -> Response {
    ResponseBuilder::new().description(description).content(JSON, json_content(Ref::from_schema_name(schema).into(), examples)).build()
}

fn body<T: Serialize>(schema: &str, required: bool, examples: Vec<(&str, T)>) -> Option<RequestBody> {
    let (required, description) = match required {
        true => (Required::True, "JSON; unknown fields are refused."),
        false => (Required::False, "JSON; unknown fields are refused. May be empty (the same as `{}`)."),
    };
    Some(
        RequestBodyBuilder::new()
            .description(Some(description))
            .required(Some(required))
            .content(JSON, json_content(Ref::from_schema_name(schema).into(), examples))
            .build(),
    )
}

fn integer(minimum: u64, maximum: Option<u64>) -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(minimum as f64)).maximum(maximum.map(|m| m as f64)).into()
}

fn string(pattern: &str, max_length: usize) -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(pattern)).min_length(Some(1)).max_length(Some(max_length)).into()
}

fn parameter(name: &str, location: ParameterIn, required: bool, description: &str, schema: RefOr<Schema>, example: Value) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(location)
        .required(if required { Required::True } else { Required::False })
        .description(Some(description))
        .schema(Some(schema))
        .example(Some(example))
        .build()
}

fn resource_in_path() -> Parameter {
    let description = "A gated resource; another name is 404 listing the valid ones.";
    parameter("resource", ParameterIn::Path, true, description, Ref::from_schema_name("Resource").into(), json!("agents"))
}

/// Release takes every resource but `api_calls`, a per-period count that is never given back.
fn releasable_resource_in_path() -> Parameter {
    let description = "A gated resource but `api_calls` (400); another name is 404 listing the valid ones.";
    let names: Vec<&str> = Resource::ALL.into_iter().filter(|r| *r != Resource::ApiCalls).map(Resource::as_str).collect();
    let schema = ObjectBuilder::new().schema_type(Type::String).enum_values(Some(names));
    parameter("resource", ParameterIn::Path, true, description, schema.into(), json!("agents"))
}

/// `kind` of the signal report: one kind, no null.
fn signal_kind_in_query() -> Parameter {
    let schema = ObjectBuilder::new().schema_type(Type::String).enum_values(Some(SignalKind::names()));
    parameter("kind", ParameterIn::Query, false, "Only this kind (a resource or `other`).", schema.into(), json!("rows"))
}

/// `since` of the signal report, the three forms `domain::calendar::parse_instant` reads. A
/// regular expression cannot say which months have a 31st: 2025-02-30T00:00:00Z matches and is 400.
fn since_in_query() -> Parameter {
    let date_time = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z$";
    let schema = AnyOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))))
        .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some(date_time)))
        .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some(format!("^[0-9]{{1,{MAX_EPOCH_DIGITS}}}$"))));
    let description = format!("Only signals from then on: {INSTANT_FORMS}.");
    parameter("since", ParameterIn::Query, false, &description, schema.into(), json!("2025-12-01"))
}

/// The top-up's key: its retries answer the first answer again, but without the replay header.
fn card_on_file_key() -> Parameter {
    let description = "Optional, with `\"payment\": \"card_on_file\"`: the same key of the same org within 24 hours answers the \
        first answer again and charges once; the same key with another quantity is 422.";
    let schema = string(r"^[!-+\--~]+$", MAX_KEY_LEN);
    parameter("Idempotency-Key", ParameterIn::Header, false, description, schema, json!("9f3a2c1e-top-up-2"))
}

fn idempotency_key() -> Parameter {
    let description = "Optional: the same key of the same org within 24 hours answers the first answer again (with \
        `Idempotent-Replayed: true`) and counts once; the same key with another request is 422.";
    let schema = string(r"^[!-+\--~]+$", MAX_KEY_LEN);
    parameter("Idempotency-Key", ParameterIn::Header, false, description, schema, json!("9f3a2c1e-reserve-agent-7"))
}

fn page_parameters(cursor: &str, pattern: &str, example: &str) -> Vec<Parameter> {
    vec![
        parameter("limit", ParameterIn::Query, false, "Page size.", integer(1, Some(100)), json!(10)),
        parameter("starting_after", ParameterIn::Query, false, cursor, string(pattern, 255), json!(example)),
    ]
}

/// Links from an answer's field to the operations that take it (OpenAPI links: clients and
/// Schemathesis' stateful phase follow them). `to` is `(operation id, its parameter)`.
fn with_links(mut response: Response, field: &str, to: &[(&str, &str)]) -> Response {
    for (operation, parameter) in to {
        let link = LinkBuilder::new()
            .operation_id(*operation)
            .parameter(*parameter, format!("$response.body#/{field}"))
            .description(format!("`{field}` of this answer, when it has one."))
            .build();
        response.links.insert(format!("{operation}By{}", field.replace('_', "")), link.into());
    }
    response
}

fn with_approval_links(response: Response) -> Response {
    with_links(response, "approval_id", &[("getApproval", "id"), ("approveChange", "id"), ("denyChange", "id"), ("approvalPage", "id")])
}

/// Answers replayed for an `Idempotency-Key` say so.
fn with_replayed_header(response: Response) -> Response {
    let header = HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["true"])))
        .description(Some("Present when this is the first answer of the `Idempotency-Key` again."))
        .build();
    let mut response = response;
    response.headers.insert(REPLAYED_HEADER.to_string(), header);
    response
}

/// What every keyed route can answer before its own work: no key, the authorizer's store down,
/// an AGENT key the brake paused, a bug.
const KEYED: [ErrorKind; 4] = [ErrorKind::Unauthorized, ErrorKind::StorageUnavailable, ErrorKind::AgentPaused, ErrorKind::Internal];
/// A JSON body: unparsable, of the wrong shape, too big, not JSON.
const BODY: [ErrorKind; 4] =
    [ErrorKind::MalformedJson, ErrorKind::ValidationFailed, ErrorKind::PayloadTooLarge, ErrorKind::UnsupportedMediaType];

fn kinds(groups: &[&[ErrorKind]]) -> Vec<ErrorKind> {
    let mut all: Vec<ErrorKind> = Vec::new();
    for kind in groups.iter().flat_map(|g| g.iter()) {
        if !all.contains(kind) {
            all.push(*kind);
        }
    }
    all
}

fn upgrade_answers() -> Vec<(&'static str, UpgradeAnswer)> {
    let applied =
        |status, effective_at| UpgradeAnswer::Applied(UpgradeApplied { status, effective_at, billing: examples::summary(), mandate: None });
    vec![
        (
            "checkout-required",
            UpgradeAnswer::CheckoutRequired(CheckoutRequired {
                status: CheckoutRequiredStatus::CheckoutRequired,
                checkout_url: examples::checkout().url,
                session_id: examples::SESSION_ID.into(),
            }),
        ),
        ("already-on-plan", applied(UpgradeStatus::AlreadyOnPlan, None)),
        ("resumed", applied(UpgradeStatus::Resumed, None)),
        ("switched", applied(UpgradeStatus::Switched, None)),
        ("change-scheduled", applied(UpgradeStatus::ChangeScheduled, examples::summary().current_period_end)),
        ("design-partner", UpgradeAnswer::DesignPartner(DesignPartner { status: DesignPartnerStatus::DesignPartner })),
        ("confirmation_required", UpgradeAnswer::ConfirmationRequired(confirmation(true))),
        ("web-approve-required", UpgradeAnswer::WebApproveRequired(web_approval())),
    ]
}

fn downgrade_answers() -> Vec<(&'static str, DowngradeAnswer)> {
    let end = examples::summary().current_period_end;
    let applied = |status, effective_at| {
        DowngradeAnswer::Applied(DowngradeApplied { status, effective_at, billing: examples::summary(), mandate: None })
    };
    vec![
        ("downgrade-scheduled", applied(DowngradeStatus::DowngradeScheduled, end)),
        ("already-scheduled", applied(DowngradeStatus::AlreadyScheduled, end)),
        ("already-free", applied(DowngradeStatus::AlreadyFree, None)),
        ("design-partner", DowngradeAnswer::DesignPartner(DesignPartner { status: DesignPartnerStatus::DesignPartner })),
        ("confirmation_required", DowngradeAnswer::ConfirmationRequired(confirmation(false))),
        ("web-approve-required", DowngradeAnswer::WebApproveRequired(web_approval())),
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
        change: ConsentChange { from: pro, to, amount_due_now: due, recurring_amount: recurring, currency: "usd".into(), effective_at },
        mandate_limit: "no_mandate".into(),
        ask_for_mandate: crate::billing::mandates::ask_for_mandate(),
    }
}

const APPROVAL_ID: &str = "ap_7c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f";
const APPROVAL_ID_PATTERN: &str = "^ap_[0-9a-f]{32}$";

fn web_approval() -> WebApproveRequired {
    let confirmation = confirmation(true);
    WebApproveRequired {
        status: WebApproveRequiredStatus::WebApproveRequired,
        approval_id: APPROVAL_ID.into(),
        approval_url: format!("https://billing.example.com/approve/{APPROVAL_ID}"),
        polling_url: format!("https://billing.example.com/billing/approvals/{APPROVAL_ID}"),
        expires_in: 600,
        interval: 5,
        binding_code: "K7P-Q3M".into(),
        message: confirmation.message,
        change: confirmation.change,
        mandate_limit: "max_charge_per_month".into(),
        ask_for_mandate: confirmation.ask_for_mandate,
    }
}

fn switched() -> Value {
    json!({ "status": "switched", "billing": value(examples::summary()) })
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
        ("pending", view(ApprovalStatus::Pending, None, None)),
        ("approved", view(ApprovalStatus::Approved, Some("owner"), Some(switched()))),
        ("denied", view(ApprovalStatus::Denied, Some("owner"), None)),
    ]
}

fn key_id_in_path() -> Parameter {
    let description = "The id of an AGENT key of the org (what `billing-admin issue-key` prints); another org's is 404.";
    parameter("key_id", ParameterIn::Path, true, description, string("^[0-9a-f]{16}$", 16), json!(examples::KEY_ID))
}

fn mandate_id_in_path() -> Parameter {
    let description = "The `mandate_id` of a mandate of the org; another org's is 404.";
    parameter("mandate_id", ParameterIn::Path, true, description, string("^md_[0-9a-f]{32}$", 35), json!(examples::MANDATE_ID))
}

fn id_in_path() -> Parameter {
    let description = "The `approval_id` of a `web-approve-required` answer; another org's is 404.";
    parameter("id", ParameterIn::Path, true, description, string(APPROVAL_ID_PATTERN, APPROVAL_ID.len()), json!(APPROVAL_ID))
}

fn webhook_event() -> StripeEvent {
    StripeEvent {
        id: "evt_1Qc3Vd4Bf5Gh".into(),
        event_type: "checkout.session.completed".into(),
        created: examples::NOW,
        data: StripeEventData {
            object: json!({
                "id": examples::SESSION_ID,
                "object": "checkout.session",
                "mode": "subscription",
                "status": "complete",
                "payment_status": "paid",
                "customer": "cus_Q1w2E3r4T5y6",
                "subscription": "sub_1Qa2Ws3Ed4Rf",
                "client_reference_id": "org_acme",
            }),
        },
    }
}

/// A JSON-RPC error answer of `POST /mcp`.
fn jsonrpc_error(description: &str, code: i64, message: &str) -> Response {
    let example = json!({ "jsonrpc": "2.0", "error": { "code": code, "message": message } });
    ResponseBuilder::new()
        .description(description)
        .content(JSON, json_content(Ref::from_schema_name("JsonRpcResponse").into(), vec![("error", example)]))
        .build()
}

/// Every route of template.yaml but `$default`, in the template's order.
fn operations() -> Vec<Operation> {
    use ErrorKind::*;
    vec![
        Operation {
            method: HttpMethod::Get,
            path: "/billing",
            id: "getBillingSummary",
            tag: "billing",
            summary: "The org's billing summary",
            description: "Plan, effective plan (the one whose caps apply now), status, price, interval, quantity, period end, \
                scheduled change, card, credits, and `active` vs `cap` of every gated resource. One DynamoDB read.",
            keyless: false,
            parameters: Vec::new(),
            body: None,
            ok: ok("BillingSummary", "The summary.", vec![("pro", examples::summary())]),
            created: false,
            errors: kinds(&[&KEYED, &[ValidationFailed, NotFound]]),
            others: Vec::new(),
            samples: vec![ApiError::field("plan", "is not a parameter of this route")],
        },
        Operation {
            method: HttpMethod::Get,
            path: "/billing/plans",
            id: "listPlans",
            tag: "billing",
            summary: "The plan catalog",
            description: "Plans with monthly and annual amounts, caps (`null` is unlimited) and per-unit pricing, and the \
                credit bundle. Stripe price ids are never shown: prices are resolved server side.",
            keyless: false,
            parameters: Vec::new(),
            body: None,
            ok: ok("CatalogView", "The catalog.", vec![("built-in", catalog_view(&examples::catalog()))]),
            created: false,
            errors: kinds(&[&KEYED, &[ValidationFailed]]),
            others: Vec::new(),
            samples: vec![ApiError::field("plan", "is not a parameter of this route")],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/billing/checkout",
            id: "createCheckout",
            tag: "checkout",
            summary: "Stripe Checkout for a subscription",
            description: "A Checkout Session for a paid plan; the price comes from the catalog. The same request within a \
                minute, or while its session is open, gets the same session. 409 when the org has a live subscription \
                (change it with upgrade or downgrade), another open checkout, or is a design partner.",
            keyless: false,
            parameters: Vec::new(),
            body: body(
                "SubscriptionCheckoutBody",
                true,
                vec![
                    ("pro-monthly", json!({ "plan": "pro", "interval": "month" })),
                    ("scale-3-servers", json!({ "plan": "scale", "interval": "year", "quantity": 3, "success_url": "https://app.example.com/billing/done", "cancel_url": "https://app.example.com/billing" })),
                ],
            ),
            ok: with_links(
                ok("CheckoutSession", "Send the human to `url`.", vec![("session", examples::checkout())]),
                "session_id",
                &[("syncCheckout", "session_id")],
            ),
            created: false,
            errors: kinds(&[&KEYED, &BODY, &[NotFound, SubscriptionExists, CheckoutInProgress, Conflict, StripeError, ServiceUnavailable]]),
            others: Vec::new(),
            samples: vec![ApiError::field("plan", "`gold` is not a plan of the catalog")],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/billing/credits/checkout",
            id: "createCreditsCheckout",
            tag: "credits",
            summary: "Credit bundles: through Stripe Checkout, or at once with the card on file",
            description: "A one-time Checkout for 1 to `credits.max_bundles` bundles of the catalog. The credits land on the org \
                when Stripe confirms the payment (webhook or `GET /billing/checkout/{session_id}`).\n\nWith `\"payment\": \
                \"card_on_file\"` a HUMAN or ADMIN key buys them at once: the org's saved card is charged the catalog's price \
                (an off-session payment) and the answer is `TopUp`, the credits granted. A card that is declined or wants its \
                holder to authenticate, or no card on file, is 402 `payment_failed` with `details.reason` \
                (`card_declined`, `authentication_required`, `no_card_on_file`) and a Checkout for the same bundles in \
                `details.checkout_url`; nothing is granted. An AGENT key buys so only inside its mandate \
                (`credit_bundles_per_month`, and `max_charge_per_month` if set; the answer's `mandate` says what remains), \
                otherwise 402 `mandate_limit_reached`. Send an `Idempotency-Key` to retry safely: the same key answers the \
                first answer again and never charges (or draws from a mandate) twice.",
            keyless: false,
            parameters: vec![card_on_file_key()],
            body: body(
                "CreditsCheckoutBody",
                true,
                vec![("three-bundles", json!({ "quantity": 3 })), ("card-on-file", json!({ "quantity": 2, "payment": "card_on_file" }))],
            ),
            ok: with_links(
                ok(
                    "CreditsCheckoutAnswer",
                    "`checkout`: send the human to `checkout_url`. `card_on_file`: paid, the credits granted.",
                    vec![
                        ("session", value(examples::credits_checkout())),
                        ("card-on-file", value(examples::top_up())),
                    ],
                ),
                "session_id",
                &[("syncCheckout", "session_id")],
            ),
            created: false,
            errors: kinds(&[
                &KEYED,
                &BODY,
                &[NotFound, Conflict, PaymentFailed, MandateLimitReached, IdempotencyKeyReused, StripeError, ServiceUnavailable],
            ]),
            others: Vec::new(),
            samples: vec![
                ApiError::field("quantity", "must be 1 to 10 bundles"),
                examples::top_up_failed(),
            ],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/billing/portal",
            id: "createPortalSession",
            tag: "billing",
            summary: "A Stripe Customer Portal session",
            description: "Where a human manages the card, invoices and cancellation. An AGENT key gets the link to hand to its \
                human, unless the deployment turns that off (403). 409 `no_stripe_customer` before the first checkout.",
            keyless: false,
            parameters: Vec::new(),
            body: body("PortalBody", false, vec![("default-return", json!({})), ("return-url", json!({ "return_url": "https://app.example.com/settings/billing" }))]),
            ok: ok("PortalSession", "Send the human to `url`.", vec![("session", examples::portal())]),
            created: false,
            errors: kinds(&[&KEYED, &BODY, &[Forbidden, NotFound, NoStripeCustomer, StripeError, ServiceUnavailable]]),
            others: Vec::new(),
            samples: vec![ApiError::field("return_url", "must be on an allowed origin (https://app.example.com)")],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/billing/upgrade",
            id: "upgradePlan",
            tag: "plan changes",
            summary: "Change to a paid plan",
            description: "A HUMAN or ADMIN key executes the change; an AGENT key gets `confirmation_required` (nothing changes) \
                and repeats the same body with `confirm_token` once its human agreed to `message`. The answer's `status` says \
                what happened: `checkout-required`, `already-on-plan`, `resumed`, `switched`, `change-scheduled`, \
                `design-partner`, `confirmation_required` or `web-approve-required` (`mode: web`).",
            keyless: false,
            parameters: Vec::new(),
            body: body(
                "UpgradeBody",
                false,
                vec![
                    ("scale-2-servers", UpgradeBody { plan: Some("scale".into()), interval: Some(Interval::Month), quantity: Some(2), ..UpgradeBody::default() }),
                    ("confirm", UpgradeBody { plan: Some("scale".into()), interval: Some(Interval::Month), quantity: Some(2), confirm_token: Some(confirmation(true).confirm_token), ..UpgradeBody::default() }),
                    ("web-approval", UpgradeBody { plan: Some("pro".into()), mode: Some(ConsentMode::Web), ..UpgradeBody::default() }),
                ],
            ),
            ok: with_approval_links(ok("UpgradeAnswer", "What happened, by `status`.", upgrade_answers())),
            created: false,
            errors: kinds(&[&KEYED, &BODY, &[InvalidConfirmToken, PaymentFailed, NotFound, ChangeInProgress, SubscriptionExists, CheckoutInProgress, Conflict, StripeError, ServiceUnavailable]]),
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
            samples: vec![ApiError::field("verbose", "is not a parameter of this route"), ApiError::not_found("No approval with this id in your org.")],
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
            ok: ok("ApprovalDecided", "Approved: the change ran.", vec![("approved", ApprovalDecided { status: DecisionStatus::Approved, approval_id: APPROVAL_ID.into(), result: Some(switched()) })]),
            created: false,
            errors: kinds(&[&KEYED, &BODY, &[Forbidden, NotFound, ApprovalNotPending, ChangeInProgress, PaymentFailed, Conflict, StripeError, ServiceUnavailable]]),
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
            ok: ok("ApprovalDecided", "Denied: nothing changed.", vec![("denied", ApprovalDecided { status: DecisionStatus::Denied, approval_id: APPROVAL_ID.into(), result: None })]),
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
        Operation {
            method: HttpMethod::Get,
            path: "/billing/invoices",
            id: "listInvoices",
            tag: "billing",
            summary: "The org's invoice history",
            description: "Newest first, paged as Stripe pages it. An org without a Stripe customer has none.",
            keyless: false,
            parameters: page_parameters("An invoice id (`in_...`) of a previous page: the page after it.", "^in_[A-Za-z0-9_]+$", "in_1Qb2Wc3Ed4Rf"),
            body: None,
            ok: ok("InvoicePage", "A page of invoices.", vec![("page", examples::invoices())]),
            created: false,
            errors: kinds(&[&KEYED, &[ValidationFailed, NotFound, StripeError, ServiceUnavailable]]),
            others: Vec::new(),
            samples: vec![ApiError::field("limit", "must be a whole number from 1 to 100"), ApiError::not_found("`starting_after`: this org has no invoice `in_1Qb2Wc3Ed4Rf`.")],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/stripe/webhook",
            id: "receiveStripeEvent",
            tag: "webhooks",
            summary: "Stripe event deliveries",
            description: "For Stripe only: no bearer key, the `Stripe-Signature` (HMAC-SHA256 of the raw body, 300 s tolerance) \
                is the authentication. Each event id is applied at most once, never over newer state. 200 once the effect is \
                durable or the event needs nothing; 5xx makes Stripe deliver it again.",
            keyless: true,
            parameters: vec![parameter(
                "Stripe-Signature",
                ParameterIn::Header,
                true,
                "Stripe's signature of the raw body: `t=<timestamp>,v1=<hex HMAC>`.",
                ObjectBuilder::new().schema_type(Type::String).into(),
                json!("t=1767225600,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd"),
            )],
            body: Some(
                RequestBodyBuilder::new()
                    .description(Some("The event exactly as Stripe sent it."))
                    .required(Some(Required::True))
                    .content(JSON, json_content(Ref::from_schema_name("StripeEvent").into(), vec![("checkout-completed", webhook_event())]))
                    .build(),
            ),
            ok: ok("WebhookReceipt", "Received; Stripe stops retrying.", vec![("applied", examples::webhook_receipt())]),
            created: false,
            errors: kinds(&[&[InvalidSignature, MalformedJson, ValidationFailed, Conflict, StripeError, ServiceUnavailable, StorageUnavailable, Internal]]),
            others: Vec::new(),
            samples: vec![
                ApiError::field("event", "must have id, type and created"),
                ApiError::new(MalformedJson, "The event is not valid JSON: EOF while parsing an object at line 1 column 1."),
            ],
        },
        Operation {
            method: HttpMethod::Get,
            path: "/billing/checkout/{session_id}",
            id: "syncCheckout",
            tag: "checkout",
            summary: "Apply a completed Checkout at once",
            description: "The success page's call: reads the session from Stripe and, when it is complete and paid, applies it \
                now (the webhook finds it done). Idempotent.",
            keyless: false,
            parameters: vec![parameter(
                "session_id",
                ParameterIn::Path,
                true,
                "A Checkout Session of this org (`cs_...`).",
                string("^cs_[A-Za-z0-9_]+$", 255),
                json!(examples::SESSION_ID),
            )],
            body: None,
            ok: ok("CheckoutSync", "The session's state and the org's billing after the sync.", vec![("paid", examples::checkout_sync())]),
            created: false,
            errors: kinds(&[&KEYED, &[ValidationFailed, NotFound, Conflict, StripeError, ServiceUnavailable]]),
            others: Vec::new(),
            samples: vec![ApiError::field("session_id", "must be a Checkout Session id (cs_...)"), examples::not_found_session()],
        },
        Operation {
            method: HttpMethod::Get,
            path: "/billing/limits",
            id: "listLimits",
            tag: "usage",
            summary: "Caps vs usage of every resource",
            description: "Under the effective plan, with `can_create` (one more fits) and `over_cap`. One DynamoDB read.",
            keyless: false,
            parameters: Vec::new(),
            body: None,
            ok: ok("LimitsView", "Every resource's limit.", vec![("pro", examples::limits())]),
            created: false,
            errors: kinds(&[&KEYED, &[ValidationFailed, NotFound]]),
            others: Vec::new(),
            samples: vec![ApiError::field("resource", "is not a parameter of this route")],
        },
        Operation {
            method: HttpMethod::Get,
            path: "/billing/limits/{resource}",
            id: "getLimit",
            tag: "usage",
            summary: "\"Can I create one more?\"",
            description: "One resource's cap vs usage. One DynamoDB read.",
            keyless: false,
            parameters: vec![resource_in_path()],
            body: None,
            ok: ok("LimitStatus", "The resource's limit.", vec![("agents", examples::resource_limit())]),
            created: false,
            errors: kinds(&[&KEYED, &[ValidationFailed, NotFound]]),
            others: Vec::new(),
            samples: vec![ApiError::field("verbose", "is not a parameter of this route"), examples::not_found_resource()],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/billing/usage/{resource}/reserve",
            id: "reserveUsage",
            tag: "usage",
            summary: "Count usage within the cap",
            description: "Atomic: one conditional write against the effective cap, so concurrent reservations never pass it. \
                Past the cap: 402 `plan_limit_reached` with the next step in `details` (an upgrade, or a limit increase).",
            keyless: false,
            parameters: vec![resource_in_path(), idempotency_key()],
            body: body("CountBody", false, vec![("one", json!({})), ("five", json!({ "count": 5 }))]),
            ok: with_replayed_header(ok("Reserved", "Counted.", vec![("one-agent", examples::reserved())])),
            created: false,
            errors: kinds(&[&KEYED, &BODY, &[ErrorKind::PlanLimitReached, NotFound, Conflict, IdempotencyKeyReused]]),
            others: Vec::new(),
            samples: vec![ApiError::field("count", "must be a whole number from 1 to 1000"), examples::not_found_resource()],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/billing/usage/{resource}/release",
            id: "releaseUsage",
            tag: "usage",
            summary: "Free counted usage",
            description: "Never below 0: at most what is held is released. Not for `api_calls` (a per-period count).",
            keyless: false,
            parameters: vec![releasable_resource_in_path(), idempotency_key()],
            body: body("CountBody", false, vec![("one", json!({})), ("five", json!({ "count": 5 }))]),
            ok: with_replayed_header(ok("Released", "Freed.", vec![("one-agent", examples::released())])),
            created: false,
            errors: kinds(&[&KEYED, &BODY, &[NotFound, Conflict, IdempotencyKeyReused]]),
            others: Vec::new(),
            samples: vec![
                ApiError::field("resource", "`api_calls` counts calls per billing period; they are not released"),
                examples::not_found_resource(),
            ],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/billing/credits/spend",
            id: "spendCredits",
            tag: "credits",
            summary: "Spend bought credits",
            description: "Atomic and never below zero (402 `insufficient_credits` with the balance); each spend is a ledger \
                entry with the balance after it. An AGENT key whose active mandate has `credits_spend_per_day` spends within \
                it: the answer's `mandate` says what remains today, and a spend past it is 402 `mandate_limit_reached` \
                (`details.mandate_limit`).",
            keyless: false,
            parameters: vec![idempotency_key()],
            body: body("SpendBody", true, vec![("report", json!({ "amount": 50, "reason": "report generation" }))]),
            ok: with_replayed_header(ok("Spent", "Spent.", vec![("spent", examples::spent())])),
            created: false,
            errors: kinds(&[&KEYED, &BODY, &[InsufficientCredits, MandateLimitReached, NotFound, Conflict, IdempotencyKeyReused]]),
            others: Vec::new(),
            samples: vec![ApiError::field("amount", "must be a whole number from 1 to 1000000000")],
        },
        Operation {
            method: HttpMethod::Get,
            path: "/billing/credits",
            id: "listCredits",
            tag: "credits",
            summary: "The credits balance and ledger",
            description: "Grants (paid credits Checkouts) and spends, newest first, each with the balance after it.",
            keyless: false,
            parameters: page_parameters("A ledger entry id (`led_...`) of a previous page: the page after it.", "^led_[0-9]{1,19}$", "led_37"),
            body: None,
            ok: ok("CreditsPage", "The balance and a page of the ledger.", vec![("page", examples::credits_page())]),
            created: false,
            errors: kinds(&[&KEYED, &[ValidationFailed, NotFound]]),
            others: Vec::new(),
            samples: vec![ApiError::field("starting_after", "must be a ledger entry id (led_...) from a previous page")],
        },
        Operation {
            method: HttpMethod::Get,
            path: "/billing/activity",
            id: "listActivity",
            tag: "activity",
            summary: "The org's activity history",
            description: "Every billing action, newest first: who did it (API key id, kind, name; `stripe` or `operator` \
                when no key did), what with, under which consent (the confirm token's hash, the approval and who \
                approved), the Stripe ids, amount and outcome, and the request id. HUMAN and ADMIN keys see the whole \
                org and may name one key in `actor`; an AGENT key sees its own actions only (another key's `actor`: \
                403). Records are kept for the deployment's `ActivityRetentionDays`. One DynamoDB Query per page.",
            keyless: false,
            parameters: {
                let mut parameters =
                    page_parameters("The `next_cursor` of a previous page: the page after it.", CURSOR_PATTERN, "act_0648a1c2d3e4f5a6b7c8d9df-1767222000");
                parameters.push(parameter(
                    "actor",
                    ParameterIn::Query,
                    false,
                    "Only this API key's actions (its key id).",
                    string("^[A-Za-z0-9_]{1,64}$", 64),
                    json!("8f14e45fceea167a"),
                ));
                parameters
            },
            body: None,
            ok: ok("ActivityPageView", "A page of the history.", vec![("page", examples::activity_page())]),
            created: false,
            errors: kinds(&[&KEYED, &[ValidationFailed, Forbidden]]),
            others: Vec::new(),
            samples: vec![
                ApiError::field("starting_after", "must be the next_cursor of a previous page"),
                ApiError::forbidden("An AGENT key sees its own activity only: leave out `actor` or name this key's id."),
            ],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/billing/request-limit-increase",
            id: "requestLimitIncrease",
            tag: "usage",
            summary: "Ask for more than the plan gives",
            description: "Recorded and counted per org and kind (no ticket, no email); `reason` is cut to 500 characters. \
                Requests of one principal and kind within a minute are counted on the first.",
            keyless: false,
            parameters: Vec::new(),
            body: body(
                "IncreaseBody",
                false,
                vec![("rows", json!({ "kind": "rows", "desiredValue": 2_000_000, "reason": "nightly import of the CRM" })), ("empty", json!({}))],
            ),
            ok: ok("IncreaseRecorded", "Recorded.", vec![("recorded", examples::increase_recorded())]),
            created: false,
            errors: kinds(&[&KEYED, &BODY, &[NotFound, Conflict]]),
            others: Vec::new(),
            samples: vec![ApiError::field("kind", "`gold` is not a kind: use one of agents, members, workspaces, rows, api_calls, webhooks, servers, other")],
        },
        Operation {
            method: HttpMethod::Get,
            path: "/admin/limit-signals",
            id: "listLimitSignals",
            tag: "admin",
            summary: "Limit-increase signals per kind and org",
            description: "ADMIN keys only (any other is 403): every kind's requests, the orgs asking most first, each with its \
                plan and cap now.",
            keyless: false,
            parameters: vec![signal_kind_in_query(), since_in_query()],
            body: None,
            ok: ok("SignalReport", "The report.", vec![("rows", examples::signal_report())]),
            created: false,
            errors: kinds(&[&KEYED, &[ValidationFailed, Forbidden]]),
            others: Vec::new(),
            samples: vec![ApiError::validation(vec![bad_since()]), examples::forbidden_admin()],
        },
        Operation {
            method: HttpMethod::Get,
            path: "/billing/settings",
            id: "getSettings",
            tag: "agents",
            summary: "The org's settings",
            description: "The brake for the org's AGENT keys: a key refused (402, 409, 422, 429) more than \
                `max_refusals_per_minute` times within one minute is paused for `pause_minutes`, every request of it \
                answering 429 `agent_paused` with `Retry-After` meanwhile. Automatic top-up (`null` when off): a spend \
                that takes the credits balance under `below` buys `bundles` with the card on file, shortly after (the \
                spend never waits), at most `max_per_month` times a month, inside the mandate of the AGENT key \
                `agent_key_id`. Any key of the org reads them.",
            keyless: false,
            parameters: Vec::new(),
            body: None,
            ok: ok("Settings", "The settings (defaults where the org set none).", vec![("defaults", examples::settings())]),
            created: false,
            errors: kinds(&[&KEYED, &[ValidationFailed]]),
            others: Vec::new(),
            samples: vec![ApiError::field("verbose", "is not a parameter of this route")],
        },
        Operation {
            method: HttpMethod::Patch,
            path: "/billing/settings",
            id: "changeSettings",
            tag: "agents",
            summary: "Change the org's settings (a human)",
            description: "A HUMAN or ADMIN key sets the settings it names; the others stay. `auto_top_up` is given whole \
                (it replaces the org's) or `null` (off); its `agent_key_id` must be an AGENT key of the org that is not \
                revoked. Every value is checked before any is written: one out of bounds is 400 and nothing changes. An \
                AGENT key is 403.",
            keyless: false,
            parameters: Vec::new(),
            body: body(
                "SettingsChange",
                false,
                vec![
                    ("looser", json!({ "agent_brake": { "max_refusals_per_minute": 50, "pause_minutes": 2 } })),
                    ("threshold", json!({ "agent_brake": { "max_refusals_per_minute": 30 } })),
                    ("auto-top-up", json!({ "auto_top_up": { "below": 100, "bundles": 1, "max_per_month": 3, "agent_key_id": examples::KEY_ID } })),
                    ("auto-top-up-off", json!({ "auto_top_up": null })),
                ],
            ),
            ok: ok("Settings", "The settings after the change.", vec![("changed", examples::settings())]),
            created: false,
            errors: kinds(&[&KEYED, &BODY, &[Forbidden]]),
            others: Vec::new(),
            samples: vec![
                ApiError::field("agent_brake.pause_minutes", "must be from 1 to 1440, not 0"),
                ApiError::field("auto_top_up.agent_key_id", "must be the key id of one of the org's AGENT keys that is not revoked"),
                ApiError::forbidden("An agent key cannot change the org's settings: a human of the org does, with their own key."),
            ],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/billing/agents/{key_id}/resume",
            id: "resumeAgent",
            tag: "agents",
            summary: "Lift an agent key's pause (a human)",
            description: "A HUMAN or ADMIN key of the org lifts the brake's pause of one of its AGENT keys now and starts \
                its minute's count of refusals over. Idempotent: a key that is not paused answers `not_paused`. Another \
                org's key, or a key that is not an AGENT's, is 404; an AGENT key is 403.",
            keyless: false,
            parameters: vec![key_id_in_path()],
            body: body("ResumeBody", false, vec![("empty", json!({}))]),
            ok: ok("Resumed", "Resumed, or not paused.", vec![("resumed", examples::resumed())]),
            created: false,
            errors: kinds(&[&KEYED, &BODY, &[Forbidden, NotFound, Conflict]]),
            others: Vec::new(),
            samples: vec![
                ApiError::field("note", "unknown field `note`, there are none"),
                ApiError::forbidden("An agent key cannot resume an agent: a human of the org does, with their own key."),
                ApiError::not_found(format!("No agent key {} in this org.", examples::KEY_ID)),
            ],
        },
        Operation {
            method: HttpMethod::Get,
            path: "/billing/agents",
            id: "listAgents",
            tag: "agents",
            summary: "The org's agent keys (a human)",
            description: "A HUMAN or ADMIN key lists the org's live AGENT keys: each with its active `mandate` (or `null`), \
                what it drew from it (`spent_today` credits, `charged_this_month` in minor units) and `paused_until` while \
                the brake pauses it. An AGENT key is 403.",
            keyless: false,
            parameters: Vec::new(),
            body: None,
            ok: ok("AgentList", "The agent keys, by key id.", vec![("one", examples::agent_list())]),
            created: false,
            errors: kinds(&[&KEYED, &[ValidationFailed, Forbidden]]),
            others: Vec::new(),
            samples: vec![
                ApiError::field("verbose", "is not a parameter of this route"),
                ApiError::forbidden("An agent key cannot list the org's agents: a human of the org does, with their own key."),
            ],
        },
        Operation {
            method: HttpMethod::Get,
            path: "/billing/mandates",
            id: "listMandates",
            tag: "agents",
            summary: "The org's mandates",
            description: "Every mandate of the org, newest first, with `used` this month and today and what `remaining` of \
                each bounded limit; an AGENT key sees only its own. A mandate is standing consent a human gave one AGENT \
                key: inside its envelope the agent's plan changes execute without a confirmation each time, and its spends \
                are counted against `credits_spend_per_day`.",
            keyless: false,
            parameters: Vec::new(),
            body: None,
            ok: ok("MandateList", "The mandates.", vec![("one", examples::mandate_list())]),
            created: false,
            errors: kinds(&[&KEYED, &[ValidationFailed]]),
            others: Vec::new(),
            samples: vec![ApiError::field("verbose", "is not a parameter of this route")],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/billing/mandates",
            id: "grantMandate",
            tag: "agents",
            summary: "Grant an agent key a mandate (a human)",
            description: "A HUMAN or ADMIN key gives one AGENT key of the org standing consent within `limits`, until \
                `expires_at` (at most 90 days ahead). Every limit is optional: `max_plan` (and `max_quantity`, default 1) \
                covers plan changes up to that plan, `credit_bundles_per_month` covers buying credits, `credits_spend_per_day` \
                bounds its spends; `max_charge_per_month` (minor units) bounds what its actions charge in a calendar month. \
                A key holding an active mandate is 409 `mandate_exists` (revoke it first); an AGENT key is 403.",
            keyless: false,
            parameters: Vec::new(),
            body: body(
                "GrantBody",
                true,
                vec![(
                    "pro-and-credits",
                    json!({ "agent_key_id": examples::KEY_ID, "limits": { "max_plan": "pro", "max_charge_per_month": 5000, "credit_bundles_per_month": 2, "credits_spend_per_day": 500 }, "expires_at": "2027-03-01" }),
                )],
            ),
            ok: ok("MandateView", "The new mandate.", vec![("granted", examples::mandate())]),
            created: true,
            errors: kinds(&[&KEYED, &BODY, &[Forbidden, MandateExists]]),
            others: Vec::new(),
            samples: vec![
                ApiError::field("expires_at", "must be at most 90 days ahead"),
                ApiError::forbidden("An agent key cannot grant a mandate: a human of the org does, with their own key. An agent asks with POST /billing/mandates/request."),
            ],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/billing/mandates/request",
            id: "requestMandate",
            tag: "agents",
            summary: "Ask the human for a mandate (an agent)",
            description: "An AGENT key asks for standing consent within `limits` until `expires_at` (at most 90 days ahead), \
                with a `reason` for its human. Nothing is granted yet: the answer is a web approval. The human opens \
                `approval_url`, sees the envelope in words and numbers, checks `binding_code`, and approves (the mandate is \
                granted as that human, replacing the key's current one) or denies it; the agent polls `polling_url` \
                (`GET /billing/approvals/{id}`), whose `result` is then the mandate. A HUMAN or ADMIN key is 403: it grants \
                with `POST /billing/mandates`.",
            keyless: false,
            parameters: Vec::new(),
            body: body(
                "MandateRequestBody",
                true,
                vec![(
                    "pro-and-credits",
                    json!({ "limits": { "max_plan": "pro", "max_charge_per_month": 5000, "credits_spend_per_day": 500 }, "expires_at": "2027-03-01", "reason": "nightly imports need Pro's row cap" }),
                )],
            ),
            ok: ok("MandateRequested", "Asked: a human decides on the page.", vec![("asked", examples::mandate_requested())]),
            created: false,
            errors: kinds(&[&KEYED, &BODY, &[Forbidden, NotFound]]),
            others: Vec::new(),
            samples: vec![
                ApiError::field("expires_at", "must be at most 90 days ahead"),
                ApiError::forbidden("Only an agent key asks for a mandate: a human grants one directly with POST /billing/mandates."),
            ],
        },
        Operation {
            method: HttpMethod::Delete,
            path: "/billing/mandates/{mandate_id}",
            id: "revokeMandate",
            tag: "agents",
            summary: "Revoke a mandate (a human)",
            description: "A HUMAN or ADMIN key revokes a mandate of the org at once: the agent's next action is outside it. \
                Revoking a revoked mandate answers it as it is. Another org's mandate is 404; an AGENT key is 403.",
            keyless: false,
            parameters: vec![mandate_id_in_path()],
            body: None,
            ok: ok("MandateView", "The mandate, revoked.", vec![("revoked", examples::revoked_mandate())]),
            created: false,
            errors: kinds(&[&KEYED, &[ValidationFailed, Forbidden, NotFound, MethodNotAllowed]]),
            others: Vec::new(),
            samples: vec![
                ApiError::field("verbose", "is not a parameter of this route"),
                ApiError::not_found("No mandate with this id in your org."),
                // API Gateway routes DELETE /billing/mandates/request here: that path is POST's.
                ApiError::new(MethodNotAllowed, "DELETE is not a method of /billing/mandates/request: use POST.")
                    .with_details(json!({ "allow": ["POST"] })),
            ],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/mcp",
            id: "mcp",
            tag: "mcp",
            summary: "The operations as MCP tools, for AI agents",
            description: "A Model Context Protocol server (Streamable HTTP transport, stateless: no sessions, every answer plain \
                JSON) with the tools get_billing, list_plans, get_limits, reserve_usage, release_usage, upgrade_plan, \
                downgrade_plan, check_approval, open_billing_portal, list_invoices, request_limit_increase, spend_credits, list_activity, request_mandate and get_mandate, \
                each the use case of its REST route, acting as the key's principal (an AGENT's plan changes need its \
                human's consent, as over REST). Send `Accept: application/json, text/event-stream`. A tool's refusal is a \
                `tools/call` result with `isError: true` and the REST error envelope as `structuredContent` (a plan cap's \
                `details` name `upgrade.mcpTool` and `increase.mcpTool`); a message that is not JSON-RPC gets a JSON-RPC \
                error. GET and DELETE answer 405: there are no sessions or server-sent streams.",
            keyless: false,
            parameters: Vec::new(),
            body: body(
                "JsonRpcRequest",
                true,
                vec![
                    ("initialize", json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": { "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "my-agent", "version": "1.0" } } })),
                    ("tools-list", json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" })),
                    ("reserve-an-agent", json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": { "name": "reserve_usage", "arguments": { "resource": "agents", "idempotency_key": "create-agent-7" } } })),
                ],
            ),
            ok: ok(
                "JsonRpcResponse",
                "The JSON-RPC response.",
                vec![
                    ("reserved", json!({ "jsonrpc": "2.0", "id": 3, "result": { "content": [{ "type": "text", "text": value(examples::reserved()).to_string() }], "structuredContent": value(examples::reserved()), "isError": false } })),
                    ("plan-limit-reached", json!({ "jsonrpc": "2.0", "id": 3, "result": { "content": [{ "type": "text", "text": examples::error(ErrorKind::PlanLimitReached).message }], "structuredContent": examples::error(ErrorKind::PlanLimitReached).envelope(examples::REQUEST_ID), "isError": true } })),
                ],
            ),
            created: false,
            errors: kinds(&[&KEYED]),
            others: vec![
                (202, ResponseBuilder::new().description("A notification (e.g. `notifications/initialized`), accepted; no body.").build()),
                (400, jsonrpc_error("The body is not a JSON-RPC message.", -32700, "The body is not JSON: expected value at line 1 column 1")),
                (406, jsonrpc_error("`Accept` lacks `application/json` or `text/event-stream`.", -32600, "Not Acceptable: Client must accept both application/json and text/event-stream")),
                (413, jsonrpc_error("The body is larger than 16 KiB.", -32600, "Payload Too Large: request body exceeds 16384 bytes")),
                (415, jsonrpc_error("The body is not `Content-Type: application/json`.", -32600, "Unsupported Media Type: Content-Type must be application/json")),
            ],
            samples: Vec::new(),
        },
        Operation {
            method: HttpMethod::Get,
            path: "/openapi.json",
            id: "getOpenApiDocument",
            tag: "document",
            summary: "This document",
            description: "The OpenAPI 3.1 description of every route, generated from the code. No key needed.",
            keyless: true,
            parameters: Vec::new(),
            body: None,
            ok: ResponseBuilder::new()
                .description("The document.")
                .content(
                    JSON,
                    ContentBuilder::new()
                        .schema(Some(ObjectBuilder::new().schema_type(Type::Object)))
                        .examples_from_iter([("head", ExampleBuilder::new().value(Some(json!({ "openapi": "3.1.0", "info": { "title": "Stripe billing API", "version": env!("CARGO_PKG_VERSION") } }))).build())])
                        .build(),
                )
                .build(),
            created: false,
            errors: Vec::new(),
            others: Vec::new(),
            samples: Vec::new(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::plan_change;
    use crate::http::json_body;

    fn request(body: &Value) -> lambda_http::Request {
        let body = lambda_http::Body::Text(body.to_string());
        lambda_http::http::Request::builder().header("content-type", JSON).body(body).unwrap()
    }

    /// Parses `body` as the route does, and as plain serde (whose refusals name the known fields).
    fn accept<T: serde::de::DeserializeOwned>(body: &Value) -> Result<(), String> {
        serde_json::from_value::<T>(body.clone()).map_err(|err| err.to_string())?;
        json_body::<T>(&request(body)).map(drop).map_err(|err| format!("{}: {:?}", err.message, err.details))
    }

    /// Parses `body` with the type its route parses it with.
    fn parse(schema: &str, body: &Value) -> Result<(), String> {
        match schema {
            "SubscriptionCheckoutBody" => accept::<SubscriptionCheckoutBody>(body),
            "CreditsCheckoutBody" => accept::<CreditsCheckoutBody>(body),
            "PortalBody" => accept::<PortalBody>(body),
            "UpgradeBody" => accept::<plan_change::UpgradeBody>(body),
            "DowngradeBody" => accept::<plan_change::DowngradeBody>(body),
            "DecisionBody" => accept::<DecisionBody>(body),
            "CountBody" => accept::<CountBody>(body),
            "SpendBody" => accept::<SpendBody>(body),
            "IncreaseBody" => accept::<IncreaseBody>(body),
            "SettingsChange" => accept::<SettingsChange>(body),
            "ResumeBody" => accept::<ResumeBody>(body),
            "GrantBody" => accept::<crate::billing::mandates::GrantBody>(body),
            "MandateRequestBody" => accept::<MandateRequestBody>(body),
            "JsonRpcRequest" => {
                serde_json::from_value::<rmcp::model::ClientJsonRpcMessage>(body.clone()).map(drop).map_err(|e| e.to_string())
            }
            other => panic!("no body type for the schema {other}: add it here"),
        }
    }

    fn bodies(doc: &Value) -> Vec<(String, &Value)> {
        let mut bodies = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let content = &op["requestBody"]["content"][JSON];
                if let Some(schema) = content["schema"]["$ref"].as_str() {
                    let schema = schema.trim_start_matches("#/components/schemas/").to_string();
                    if schema != "StripeEvent" {
                        bodies.push((schema, &content["examples"]));
                    }
                }
                let ok = op["responses"]["200"]["content"]
                    .as_object()
                    .or(op["responses"]["201"]["content"].as_object())
                    .and_then(|c| c.values().next());
                assert!(ok.and_then(|c| c["examples"].as_object()).is_some_and(|e| !e.is_empty()), "{method} {path}: no example");
            }
        }
        bodies
    }

    #[test]
    fn every_request_example_is_a_body_its_route_accepts() {
        let doc: Value = serde_json::from_str(document_json()).unwrap();
        for (schema, examples) in bodies(&doc) {
            assert!(examples.as_object().is_some_and(|e| !e.is_empty()), "{schema}: no example");
            for (name, example) in examples.as_object().unwrap() {
                assert_eq!(parse(&schema, &example["value"]), Ok(()), "{schema} example {name}");
            }
        }
    }

    /// The body types refuse unknown fields and name the ones they know: those are the schema's.
    #[test]
    fn every_request_schema_has_the_fields_its_body_type_accepts() {
        let doc: Value = serde_json::from_str(document_json()).unwrap();
        // A JSON-RPC message is rmcp's to parse, and MCP's `params` carry what each method takes.
        for (schema, _) in bodies(&doc).into_iter().filter(|(schema, _)| schema != "JsonRpcRequest") {
            let refused = parse(&schema, &json!({ "probe-not-a-field": 1 })).unwrap_err();
            let accepted: BTreeSet<&str> =
                refused.split_once("expected").map_or("", |(_, names)| names).split('`').skip(1).step_by(2).collect();
            let properties = doc["components"]["schemas"][&schema]["properties"].as_object();
            let documented: BTreeSet<&str> = properties.into_iter().flat_map(|p| p.keys()).map(String::as_str).collect();
            assert_eq!(documented, accepted, "{schema}: {refused}");
            assert_eq!(doc["components"]["schemas"][&schema]["additionalProperties"], false, "{schema} refuses unknown fields");
        }
    }

    #[test]
    fn error_examples_are_envelopes_of_their_status() {
        let doc: Value = serde_json::from_str(document_json()).unwrap();
        let codes: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
        assert_eq!(doc["components"]["schemas"]["ErrorType"]["enum"], json!(codes));
        for item in doc["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                let envelopes = op["responses"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .filter(|(_, response)| response["content"][JSON]["schema"]["$ref"] == "#/components/schemas/ErrorEnvelope");
                for (status, response) in envelopes {
                    for example in response["content"][JSON]["examples"].as_object().unwrap().values() {
                        let kind = ErrorKind::from_code(example["value"]["error"].as_str().unwrap()).unwrap();
                        assert_eq!(kind.status().to_string(), *status);
                        assert!(example["value"]["message"].as_str().is_some_and(|m| !m.is_empty()));
                    }
                }
            }
        }
    }

    /// `UPDATE_OPENAPI=1 cargo test -p billing-shared openapi` rewrites the committed file.
    #[test]
    fn the_committed_openapi_json_is_the_generated_one() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.json");
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, document_json()).expect("write openapi.json");
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == document_json(),
            "openapi.json is stale: regenerate it with `UPDATE_OPENAPI=1 cargo test -p billing-shared openapi` and commit it"
        );
    }
}

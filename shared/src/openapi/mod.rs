//! The API's OpenAPI 3.1 document (`GET /openapi.json`, committed as `openapi.json`), built from
//! the request and response types (their `ToSchema` derives), `ErrorKind::ALL` and one table of
//! operations: what each route takes, answers and can refuse. The functions crate's tests hold
//! the table to template.yaml's routes; this module's hold the committed file to this code and
//! the request schemas to the body types.

mod examples;
pub mod mcp;
mod operation;
mod routes;

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
use crate::billing::buy_credits::CreditsBought;
use crate::billing::checkout::{CheckoutSession, SubscriptionCheckoutBody};
use crate::billing::checkout_sync::CheckoutSync;
use crate::billing::credits::{CreditsPage, SpendBody, Spent};
use crate::billing::credits_checkout::{CreditsCheckoutBody, CreditsCheckoutSession};
use crate::billing::idempotency::MAX_KEY_LEN;
use crate::billing::limit_signals::{IncreaseBody, IncreaseRecorded, SignalReport, bad_since};
use crate::billing::limits::LimitsView;
use crate::billing::mandate_request::{MandateRequestBody, MandateRequested};
use crate::billing::mandates::{GrantBody, MandateList, MandateView};
use crate::billing::plan_change::answer::{
    Applied, ApprovalDecided, ApprovalView, Approved, CheckoutRequired, ConfirmationRequired, ConfirmationRequiredStatus, ConsentChange,
    DecisionStatus, DesignPartner, DowngradeAnswer, UpgradeAnswer, WebApproveRequired,
};
use crate::billing::plan_change::approval::DecisionBody;
use crate::billing::plan_change::{ConsentMode, DowngradeBody, UpgradeBody};
use crate::billing::portal::{PortalBody, PortalSession};
use crate::billing::settings::{Settings, SettingsChange};
use crate::billing::top_up::TopUp;
use crate::billing::usage::{CountBody, Released, Reserved};
use crate::billing::webhook_sync::WebhookReceipt;
use crate::domain::approval::PublicStatus;
use crate::domain::calendar::{INSTANT_FORMS, MAX_EPOCH_DIGITS};
use crate::domain::catalog::{Interval, Resource};
use crate::domain::change::PlanConfig;
use crate::domain::entitlements::{LimitStatus, PlanLimitReached};
use crate::domain::invalid::FieldProblem;
use crate::domain::signals::SignalKind;
use crate::domain::summary::{BillingSummary, CatalogView, catalog_view};
use crate::error::{ApiError, ErrorEnvelope, ErrorKind};
use crate::http::REPLAYED_HEADER;
use crate::stripe::InvoicePage;
use examples::value;
use mcp::{JsonRpcRequest, JsonRpcResponse};
use operation::*;

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
    add::<crate::billing::plan_change::trial::EndTrialBody>(&mut all);
    add::<crate::billing::promotion::PromotionCodeBody>(&mut all);
    add::<crate::billing::plan_change::trial::ExtendTrialBody>(&mut all);
    add::<crate::billing::plan_change::answer::TrialEndAnswer>(&mut all);
    add::<Applied>(&mut all);
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
    add::<CreditsBought>(&mut all);
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

/// Every route of template.yaml but `$default`, one file of `routes/` per group.
fn operations() -> Vec<Operation> {
    use routes::*;
    [
        billing::operations(),
        credits::operations(),
        plan_changes::operations(),
        usage::operations(),
        agents::operations(),
        service::operations(),
    ]
    .into_iter()
    .flatten()
    .collect()
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
            "EndTrialBody" => accept::<plan_change::trial::EndTrialBody>(body),
            "PromotionCodeBody" => accept::<crate::billing::promotion::PromotionCodeBody>(body),
            "ExtendTrialBody" => accept::<plan_change::trial::ExtendTrialBody>(body),
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

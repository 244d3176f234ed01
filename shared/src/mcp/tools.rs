//! The tool table: each tool is the use case its REST route calls, its arguments the route's
//! body (plus what the route takes in its path or headers), its answer the route's answer. A
//! refusal is a tool result with `isError` carrying the REST error envelope, so an agent reads
//! the same `error`, `message` and `details` (a plan cap's next steps included).

use std::sync::OnceLock;

use rmcp::model::{CallToolResult, ContentBlock, Tool};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::App;
use crate::billing::Caller;
use crate::billing::activity::{ActivityQuery, history};
use crate::billing::buy_credits::buy_credits;
use crate::billing::credits::{SpendBody, spend};
use crate::billing::idempotency::{IdempotencyKey, MAX_KEY_LEN};
use crate::billing::invoices::{InvoiceQuery, list};
use crate::billing::limit_signals::{IncreaseBody, request_increase};
use crate::billing::limits::{limits, resource_limit};
use crate::billing::mandate_request::{self, MandateRequestBody};
use crate::billing::mandates;
use crate::billing::plan_change::trial::{EndTrialBody, end_trial};
use crate::billing::plan_change::{DowngradeBody, UpgradeBody, approval, downgrade, upgrade};
use crate::billing::portal::{PortalBody, portal_session};
use crate::billing::summary::summary;
use crate::billing::usage::{CountBody, NEXT_CALLS, Operation, count};
use crate::domain::catalog::Resource;
use crate::domain::summary::catalog_view;
use crate::error::ApiError;
use crate::http::json_object;

/// `get_limits`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsArgs {
    /// One gated resource ("can I create one more?"); left out, every resource.
    #[serde(default)]
    #[schema(value_type = Option<Resource>)]
    pub resource: Option<String>,
}

/// `reserve_usage` and `release_usage`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageArgs {
    /// The gated resource to count.
    #[schema(value_type = Resource)]
    pub resource: String,
    /// How many: 1 to 1000, default 1.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000)]
    pub count: Option<u64>,
    /// Send one per intended change (e.g. a UUID) and repeat it when retrying after a timeout:
    /// the same key within 24 hours answers the first answer again and counts once.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 255)]
    pub idempotency_key: Option<String>,
}

/// `spend_credits`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpendArgs {
    /// Credits to take: 1 to 1,000,000,000.
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub amount: u64,
    /// Kept in the ledger, cut to 500 characters.
    #[serde(default)]
    pub reason: Option<String>,
    /// Send one per intended spend and repeat it when retrying: the same key within 24 hours
    /// answers the first answer again and spends once.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 255)]
    pub idempotency_key: Option<String>,
}

/// `buy_credits`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuyCreditsArgs {
    /// Credit bundles to buy: 1 to the catalog's `credits.max_bundles`.
    #[serde(deserialize_with = "crate::domain::whole_number::required")]
    #[schema(schema_with = crate::field_schemas::credit_bundles)]
    pub quantity: u32,
    /// Send one per intended purchase and repeat it when retrying after a timeout: the same key
    /// within 24 hours answers the first answer again and charges once.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 255)]
    pub idempotency_key: Option<String>,
}

/// `check_approval`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalArgs {
    /// The `approval_id` of a `web-approve-required` answer.
    #[schema(min_length = 1, max_length = 255)]
    pub approval_id: String,
}

/// `list_invoices`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoicesArgs {
    /// Page size: 1 to 100, default 10.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    /// The last invoice id (`in_...`) of the previous page: the page after it.
    #[serde(default)]
    pub starting_after: Option<String>,
}

/// `list_activity`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityArgs {
    /// Page size: 1 to 100, default 20.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page: the page after it.
    #[serde(default)]
    pub starting_after: Option<String>,
    /// Only this API key's actions (HUMAN and ADMIN keys; an AGENT sees its own only).
    #[serde(default)]
    pub actor: Option<String>,
}

pub const GET_BILLING: &str = "get_billing";
pub const LIST_PLANS: &str = "list_plans";
pub const GET_LIMITS: &str = "get_limits";
pub const RESERVE_USAGE: &str = "reserve_usage";
pub const RELEASE_USAGE: &str = "release_usage";
/// The two tools a 402 `plan_limit_reached` names as next steps.
pub const UPGRADE_PLAN: &str = NEXT_CALLS.upgrade.mcp_tool;
pub const REQUEST_LIMIT_INCREASE: &str = NEXT_CALLS.increase.mcp_tool;
pub const DOWNGRADE_PLAN: &str = "downgrade_plan";
pub const END_TRIAL: &str = "end_trial";
pub const CHECK_APPROVAL: &str = "check_approval";
pub const OPEN_BILLING_PORTAL: &str = "open_billing_portal";
pub const LIST_INVOICES: &str = "list_invoices";
pub const SPEND_CREDITS: &str = "spend_credits";
pub const BUY_CREDITS: &str = "buy_credits";
pub const LIST_ACTIVITY: &str = "list_activity";
pub const REQUEST_MANDATE: &str = "request_mandate";
pub const GET_MANDATE: &str = "get_mandate";

/// Every tool's name, in the table's order.
pub const NAMES: [&str; 17] = [
    GET_BILLING,
    LIST_PLANS,
    GET_LIMITS,
    RESERVE_USAGE,
    RELEASE_USAGE,
    UPGRADE_PLAN,
    DOWNGRADE_PLAN,
    END_TRIAL,
    CHECK_APPROVAL,
    OPEN_BILLING_PORTAL,
    LIST_INVOICES,
    REQUEST_LIMIT_INCREASE,
    SPEND_CREDITS,
    BUY_CREDITS,
    LIST_ACTIVITY,
    REQUEST_MANDATE,
    GET_MANDATE,
];

/// Every tool, read once from `tools.json`: the table (`table.rs`) with its schemas built from
/// the document's types when the tests run, so that the function carries text, not the code
/// that builds it.
pub fn all() -> &'static [Tool] {
    static TOOLS: OnceLock<Vec<Tool>> = OnceLock::new();
    TOOLS.get_or_init(|| serde_json::from_str(include_str!("tools.json")).unwrap_or_default())
}

pub fn find(name: &str) -> Option<&'static Tool> {
    all().iter().find(|tool| tool.name == name)
}

/// `name` if it is a tool's, without reading the table (on a cold start's first request).
pub fn known(name: &str) -> Option<&'static str> {
    NAMES.into_iter().find(|known| *known == name)
}

/// The tool's arguments as its type, refused like a REST body (the field at fault named).
fn args<T: DeserializeOwned>(arguments: &Map<String, Value>) -> Result<T, ApiError> {
    json_object(&serde_json::to_vec(arguments).unwrap_or_default())
}

fn key(text: Option<&str>) -> Result<Option<IdempotencyKey>, ApiError> {
    text.map(|text| {
        IdempotencyKey::parse(text).map_err(|_| {
            ApiError::field("idempotency_key", format!("must be 1 to {MAX_KEY_LEN} printable ASCII characters without spaces or commas"))
        })
    })
    .transpose()
}

fn value<T: serde::Serialize>(answer: T) -> Result<Value, ApiError> {
    serde_json::to_value(answer).map_err(|e| ApiError::internal(e.to_string()))
}

/// Runs tool `name` (one of `all()`) for `caller`.
pub async fn call(app: &App, caller: &Caller<'_>, name: &str, arguments: &Map<String, Value>, now: i64) -> Result<Value, ApiError> {
    let principal = caller.principal;
    match name {
        GET_BILLING => value(summary(app, principal, now).await?),
        LIST_PLANS => value(catalog_view(&app.config.catalog)),
        GET_LIMITS => match args::<LimitsArgs>(arguments)?.resource {
            Some(resource) => value(resource_limit(app, principal, &resource, now).await?),
            None => value(limits(app, principal, now).await?),
        },
        RESERVE_USAGE | RELEASE_USAGE => {
            let usage: UsageArgs = args(arguments)?;
            let operation = if name == RESERVE_USAGE { Operation::Reserve } else { Operation::Release };
            let key = key(usage.idempotency_key.as_deref())?;
            count(app, principal, operation, &usage.resource, &CountBody { count: usage.count }, key.as_ref(), now).await?.result
        }
        UPGRADE_PLAN => value(upgrade(app, caller, &args::<UpgradeBody>(arguments)?, now).await?),
        DOWNGRADE_PLAN => value(downgrade(app, caller, &args::<DowngradeBody>(arguments)?, now).await?),
        END_TRIAL => value(end_trial(app, caller, &args::<EndTrialBody>(arguments)?, now).await?),
        CHECK_APPROVAL => value(approval::status(app, principal, &args::<ApprovalArgs>(arguments)?.approval_id, now).await?),
        OPEN_BILLING_PORTAL => value(portal_session(app, principal, &args::<PortalBody>(arguments)?, now).await?),
        LIST_INVOICES => {
            let page: InvoicesArgs = args(arguments)?;
            let limit = page.limit.map(|limit| limit.to_string());
            value(list(app, principal, &InvoiceQuery::parse(limit.as_deref(), page.starting_after.as_deref())?).await?)
        }
        REQUEST_LIMIT_INCREASE => value(request_increase(app, principal, &args::<IncreaseBody>(arguments)?, now).await?),
        SPEND_CREDITS => {
            let credits: SpendArgs = args(arguments)?;
            let key = key(credits.idempotency_key.as_deref())?;
            spend(app, principal, &SpendBody { amount: credits.amount, reason: credits.reason }, key.as_ref(), now).await?.result
        }
        BUY_CREDITS => {
            let buy: BuyCreditsArgs = args(arguments)?;
            value(buy_credits(app, principal, buy.quantity, key(buy.idempotency_key.as_deref())?.as_ref(), now).await?)
        }
        LIST_ACTIVITY => {
            let page: ActivityArgs = args(arguments)?;
            let limit = page.limit.map(|limit| limit.to_string());
            let query = ActivityQuery::parse(limit.as_deref(), page.starting_after.as_deref(), page.actor.as_deref())?;
            value(history(app, principal, &query).await?)
        }
        REQUEST_MANDATE => value(mandate_request::request(app, caller, &args::<MandateRequestBody>(arguments)?, now).await?),
        GET_MANDATE => value(mandates::list(app, principal, now).await?),
        other => Err(ApiError::not_found(format!("No tool `{other}`."))),
    }
}

/// What to tell the human, for an answer that needs them: the consent to ask for, the page to
/// open, the Checkout to pay.
fn next_step(tool: &str, answer: &Value) -> Option<String> {
    let text = |key: &str| answer[key].as_str().unwrap_or_default();
    match text("status") {
        "confirmation_required" => Some(format!(
            "Nothing has changed yet. Show your human this and ask for a yes: \"{}\" Only if they agree, call {tool} again \
             with the same arguments plus confirm_token \"{}\" within {} seconds; the token works once. To stop asking \
             each time, ask your human once for a mandate with {REQUEST_MANDATE}.",
            text("message"),
            text("confirm_token"),
            answer["expires_in"]
        )),
        "web-approve-required" => Some(format!(
            "Nothing has changed yet. Ask your human to open {} , check that the page shows the code {} and approve or deny \
             there: \"{}\" Meanwhile call {CHECK_APPROVAL} with approval_id \"{}\" every {} seconds until its status is \
             no longer pending.",
            text("approval_url"),
            text("binding_code"),
            text("message"),
            text("approval_id"),
            answer["interval"]
        )),
        "checkout-required" if tool == BUY_CREDITS => Some(format!(
            "Nothing was charged: your mandate does not cover this ({}). Give your human this Checkout link to pay: {} To \
             buy without asking each time, ask your human once for a mandate with {REQUEST_MANDATE}.",
            text("mandate_limit"),
            text("checkout_url")
        )),
        "checkout-required" => {
            Some(format!("The org has no subscription yet: give your human this Checkout link to pay: {}", text("checkout_url")))
        }
        _ => None,
    }
}

/// A use case's answer as a tool result: the REST body as structured content (and as JSON
/// text, for clients that read only text), or the REST error envelope with `isError`.
pub fn result(tool: &str, answer: Result<Value, ApiError>, request_id: &str) -> CallToolResult {
    match answer {
        Ok(body) => {
            let step = next_step(tool, &body);
            let mut result = CallToolResult::structured(body);
            if let Some(step) = step {
                result.content.insert(0, ContentBlock::text(step));
            }
            result
        }
        Err(err) => {
            if err.status() >= 500 {
                tracing::error!(tool, error = err.kind.code(), message = %err.message, "tool failed");
            }
            let mut result = CallToolResult::structured_error(err.envelope(request_id));
            result.content.insert(0, ContentBlock::text(err.message));
            result
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_the_issue_s_tools_with_object_schemas() {
        let names: Vec<&str> = all().iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(
            names,
            [
                "get_billing",
                "list_plans",
                "get_limits",
                "reserve_usage",
                "release_usage",
                "upgrade_plan",
                "downgrade_plan",
                "end_trial",
                "check_approval",
                "open_billing_portal",
                "list_invoices",
                "request_limit_increase",
                "spend_credits",
                "buy_credits",
                "list_activity",
                "request_mandate",
                "get_mandate"
            ]
        );
        assert_eq!((known("spend_credits"), known("spend"), known("")), (Some("spend_credits"), None, None));
        for tool in all() {
            assert_eq!(tool.input_schema["type"], "object", "{}", tool.name);
            assert_eq!(tool.output_schema.as_ref().map(|s| s["type"].clone()), Some(Value::from("object")), "{}", tool.name);
        }
    }

    #[test]
    fn arguments_are_refused_naming_the_field() {
        let arguments = serde_json::json!({ "resource": "agents", "count": "two" });
        let err = args::<UsageArgs>(arguments.as_object().unwrap()).unwrap_err();
        assert_eq!(err.details.unwrap()["fields"][0]["field"], "count");
        let arguments = serde_json::json!({ "resource": "agents", "colour": 1 });
        let err = args::<UsageArgs>(arguments.as_object().unwrap()).unwrap_err();
        assert_eq!(err.details.unwrap()["fields"][0]["field"], "colour");
        let err = key(Some("two words")).unwrap_err();
        assert_eq!(err.details.unwrap()["fields"][0]["field"], "idempotency_key");
    }

    #[test]
    fn a_consent_answer_tells_the_agent_what_to_ask_and_how_to_confirm() {
        let answer =
            serde_json::json!({ "status": "confirmation_required", "confirm_token": "ct_x", "expires_in": 60, "message": "Pay $5." });
        let step = next_step(UPGRADE_PLAN, &answer).unwrap();
        assert!(step.contains("\"Pay $5.\"") && step.contains("confirm_token \"ct_x\"") && step.contains("60 seconds"), "{step}");
        assert_eq!(next_step(GET_BILLING, &serde_json::json!({ "plan": "pro" })), None);
    }
}

//! The tool table, with each tool's schemas built from the OpenAPI document's types. It runs
//! in the tests only: they write it to `tools.json`, which the function reads, so that the code
//! building the schemas stays out of the function's binary (within the brief's 8 MB).

use rmcp::model::{Tool, ToolAnnotations};
use serde_json::{Map, Value};

use super::schema;
use super::tools::*;

/// One tool of the table.
struct Spec {
    name: &'static str,
    title: &'static str,
    description: &'static str,
    input: fn() -> Map<String, Value>,
    output: fn() -> Map<String, Value>,
    read_only: bool,
    destructive: bool,
}

impl Spec {
    fn tool(self) -> Tool {
        let annotations = ToolAnnotations::with_title(self.title)
            .read_only(self.read_only)
            .destructive(self.destructive)
            .idempotent(self.read_only)
            .open_world(false);
        Tool::new(self.name, self.description, (self.input)())
            .with_title(self.title)
            .with_raw_output_schema((self.output)().into())
            .with_annotations(annotations)
    }
}

fn specs() -> Vec<Spec> {
    vec![
        Spec {
            name: GET_BILLING,
            title: "Billing summary",
            description: "The org's plan, subscription status, price, billing interval, period end, any scheduled change, \
                card on file, credits balance, and `active` vs `cap` for every gated resource. Free, read-only: call it \
                first to learn where the org stands.",
            input: schema::none,
            output: || schema::named("BillingSummary"),
            read_only: true,
            destructive: false,
        },
        Spec {
            name: LIST_PLANS,
            title: "Plan catalog",
            description: "The plans (free, pro, scale) with monthly and annual prices in cents, their caps (`null` is unlimited) \
                and per-server pricing, and the credit bundle. Free, read-only: use it to explain options to your human \
                before proposing an upgrade.",
            input: schema::none,
            output: || schema::named("CatalogView"),
            read_only: true,
            destructive: false,
        },
        Spec {
            name: GET_LIMITS,
            title: "Limits and usage",
            description: "Caps vs usage under the plan in effect. With `resource`: that one resource and whether one more fits \
                (`can_create`); without: every resource. Free, read-only: call it before creating something the plan caps.",
            input: schema::of::<LimitsArgs>,
            output: || schema::any_of(&["LimitsView", "LimitStatus"]),
            read_only: true,
            destructive: false,
        },
        Spec {
            name: RESERVE_USAGE,
            title: "Reserve usage",
            description: "Counts `count` more of a resource (an agent, a workspace, rows...) before you create it, atomically \
                within the plan's cap. At the cap it changes nothing and returns an error `plan_limit_reached` whose \
                `details` name the next step: `upgrade.mcpTool` (upgrade_plan, needs your human's consent) or \
                `increase.mcpTool` (request_limit_increase). Costs nothing. Pass an `idempotency_key` and reuse it when \
                retrying, so a retry never counts twice.",
            input: schema::of::<UsageArgs>,
            output: || schema::named("Reserved"),
            read_only: false,
            destructive: false,
        },
        Spec {
            name: RELEASE_USAGE,
            title: "Release usage",
            description: "Frees `count` of a resource after you deleted what it counted (never below 0; not for `api_calls`). \
                Costs nothing. Pass an `idempotency_key` and reuse it when retrying.",
            input: schema::of::<UsageArgs>,
            output: || schema::named("Released"),
            read_only: false,
            destructive: false,
        },
        Spec {
            name: UPGRADE_PLAN,
            title: "Upgrade the plan",
            description: "Changes the subscription to a paid plan (`plan`: pro or scale, `interval`, `quantity` of servers for \
                scale). This costs money, so an agent key never changes anything on the first call: it returns \
                `confirmation_required` with a `message` stating the real amounts and a `confirm_token`. Show the \
                message to your human word for word; only if they say yes, call upgrade_plan again with the same \
                arguments plus `confirm_token` within 60 seconds (the token works once). With `mode: \"web\"` it returns \
                an `approval_url` and a `binding_code` for your human to approve in a browser instead; then poll \
                check_approval. An org without a subscription gets a Checkout link for its human (`checkout-required`), \
                A `promotion_code` your human gave you is checked first and its discount shown in the amounts.",
            input: || schema::named("UpgradeBody"),
            output: || schema::named("UpgradeAnswer"),
            read_only: false,
            destructive: true,
        },
        Spec {
            name: DOWNGRADE_PLAN,
            title: "Downgrade to Free",
            description: "Schedules the move to the Free plan at the end of the paid period (its caps then apply). An agent key \
                gets `confirmation_required` first, exactly like upgrade_plan: show the `message` to your human and call \
                again with `confirm_token` only on their yes. Idempotent: `already-scheduled`, `already-free`.",
            input: || schema::named("DowngradeBody"),
            output: || schema::named("DowngradeAnswer"),
            read_only: false,
            destructive: true,
        },
        Spec {
            name: END_TRIAL,
            title: "End the free trial now",
            description: "Ends the org's free trial now: its first period is charged at once (discount and tax included). \
                This costs money, so an agent key gets `confirmation_required` first, exactly like upgrade_plan: show the \
                `message` to your human and call again with `confirm_token` only on their yes (or `mode: \"web\"` for an \
                approval page). An org not in a trial gets `not_trialing`; get_billing shows `trial_ends_at`.",
            input: || schema::named("EndTrialBody"),
            output: || schema::named("TrialEndAnswer"),
            read_only: false,
            destructive: true,
        },
        Spec {
            name: CHECK_APPROVAL,
            title: "Check a web approval",
            description: "The status of a web approval (`pending`, `approved`, `denied`, `expired`, `failed`) that \
                upgrade_plan or downgrade_plan with `mode: \"web\"` created; `result` once approved. Poll no faster than \
                its `interval` seconds (faster is refused with `slow_down`). Read-only; only your human can approve, on \
                the approval page.",
            input: schema::of::<ApprovalArgs>,
            output: || schema::named("ApprovalView"),
            read_only: true,
            destructive: false,
        },
        Spec {
            name: OPEN_BILLING_PORTAL,
            title: "Billing portal link",
            description: "A Stripe Customer Portal link for your human (card, invoices, cancellation). Give the `url` to your \
                human; do not open it yourself. Logged with your key; a deployment may refuse agents (`forbidden`).",
            input: || schema::named("PortalBody"),
            output: || schema::named("PortalSession"),
            read_only: false,
            destructive: false,
        },
        Spec {
            name: LIST_INVOICES,
            title: "Invoices",
            description: "The org's invoices, newest first: number, status, amounts, currency, hosted and PDF links, dates. \
                Read-only; page with `starting_after` while `has_more`.",
            input: schema::of::<InvoicesArgs>,
            output: || schema::named("InvoicePage"),
            read_only: true,
            destructive: false,
        },
        Spec {
            name: REQUEST_LIMIT_INCREASE,
            title: "Ask for a higher limit",
            description: "Tells the provider the org needs more of a resource than its plan gives (`kind`, `desiredValue`, \
                `reason`). Costs nothing and changes no cap by itself: it is recorded for a human at the provider. Use it \
                when a plan_limit_reached error names it in `details.increase.mcpTool`, or when no plan fits.",
            input: || schema::named("IncreaseBody"),
            output: || schema::named("IncreaseRecorded"),
            read_only: false,
            destructive: false,
        },
        Spec {
            name: SPEND_CREDITS,
            title: "Spend credits",
            description: "Takes `amount` of the org's prepaid credits (bought by your human through Checkout), never below zero \
                (`insufficient_credits` with the balance otherwise). Each spend is a ledger entry with your `reason`. \
                Pass an `idempotency_key` and reuse it when retrying, so a retry never spends twice.",
            input: schema::of::<SpendArgs>,
            output: || schema::named("Spent"),
            read_only: false,
            destructive: false,
        },
        Spec {
            name: BUY_CREDITS,
            title: "Buy credits",
            description: "Buys `quantity` credit bundles. Inside your mandate (`credit_bundles_per_month`, and \
                `max_charge_per_month` if set) the org's card on file is charged at once and the credits granted \
                (`status: paid`, with what remains of the mandate). Without a mandate, or outside it, nothing is charged: \
                you get a Checkout link for your human to pay (`checkout-required`) and `mandate_limit` says why; ask for \
                a mandate with request_mandate to stop asking each time. A card that cannot pay is an error \
                `payment_failed` with a Checkout link in `details.checkout_url`. Pass an `idempotency_key` and reuse it \
                when retrying, so a retry never charges twice.",
            input: schema::of::<BuyCreditsArgs>,
            output: || schema::named("CreditsBought"),
            read_only: false,
            destructive: false,
        },
        Spec {
            name: LIST_ACTIVITY,
            title: "Activity history",
            description: "What was done to the org's billing, newest first: who (key id, kind, name), what, under which \
                consent, Stripe ids, amount and outcome. An AGENT key sees its own actions only. Read-only; page with \
                `starting_after` = `next_cursor` while `has_more`.",
            input: schema::of::<ActivityArgs>,
            output: || schema::named("ActivityPageView"),
            read_only: true,
            destructive: false,
        },
        Spec {
            name: REQUEST_MANDATE,
            title: "Ask for a mandate",
            description: "Asks your human, once, for standing consent within an envelope (`limits`: `max_plan`, \
                `max_quantity`, `max_charge_per_month` in cents, `credit_bundles_per_month`, `credits_spend_per_day`; \
                `expires_at` at most 90 days ahead; a `reason`), so that your plan changes inside it run at once instead \
                of asking each time. Nothing is granted until your human approves on the page: give them the \
                `approval_url` and the `binding_code`, then poll check_approval; its `result` is then the mandate.",
            input: || schema::named("MandateRequestBody"),
            output: || schema::named("MandateRequested"),
            read_only: false,
            destructive: false,
        },
        Spec {
            name: GET_MANDATE,
            title: "Your mandate",
            description: "Your key's mandate, if your human granted one: its `status`, `limits`, what you `used` this month and \
                today and what `remaining` of each limit. Read-only.",
            input: schema::none,
            output: || schema::named("MandateList"),
            read_only: true,
            destructive: false,
        },
    ]
}

/// `tools.json`, as the table makes it: compact, as the function carries every byte of it.
fn generated() -> String {
    let tools: Vec<Tool> = specs().into_iter().map(Spec::tool).collect();
    serde_json::to_string(&tools).unwrap_or_default() + "\n"
}

/// `UPDATE_OPENAPI=1 cargo test -p billing-shared` rewrites the committed file, with openapi.json.
#[test]
fn the_committed_tools_json_is_the_generated_one() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/mcp/tools.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, generated()).expect("write tools.json");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated(),
        "shared/src/mcp/tools.json is stale: regenerate it with `UPDATE_OPENAPI=1 cargo test -p billing-shared` and commit it"
    );
}

#[test]
fn the_table_names_every_tool_once_in_order() {
    let names: Vec<&str> = specs().iter().map(|spec| spec.name).collect();
    assert_eq!(names, NAMES);
}

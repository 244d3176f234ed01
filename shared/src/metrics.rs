//! The one catalog of metrics: a function per metric, named as the metric, with its labels
//! (CloudWatch dimensions besides `function`, the binary) drawn from bounded sets. Org, key and
//! principal ids are never labels (each value would make a metric of its own): `org` and
//! `principal` put them on the invocation's documents as properties, which Logs Insights
//! searches.
//!
//! Each function installs an Embedded Metric Format collector once per cold start (`install`):
//! the invocation's metrics go to stdout as EMF documents when it is answered, and Lambda's log
//! stream turns them into CloudWatch metrics. Every document carries Lambda's request id
//! (`lambda_request_id`) and the X-Ray `trace_id`, as the invocation's log lines do. Where
//! nothing is installed (most tests) the calls of the `metrics` facade do nothing; the local run
//! installs a recorder of its own with `metrics::set_global_recorder`, which counts them.

use std::io::Write;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use metrics_cloudwatch_embedded::{Builder, Collector};

use crate::config;
use crate::domain::catalog::Resource;
use crate::domain::change::ChangeKind;
use crate::domain::principal::Principal;
use crate::domain::signals::SignalKind;

/// EMF takes at most 100 values of a metric in one document, and the collector keeps at most
/// 100 unflushed values of a histogram (it drops the next ones).
const MAX_VALUES: usize = 100;

static COLLECTOR: OnceLock<&'static Collector> = OnceLock::new();
/// Histogram values recorded since the last flush: at `MAX_VALUES` they are written out at
/// once (a reconciler run makes hundreds of Stripe calls in one invocation).
static UNFLUSHED: Mutex<usize> = Mutex::new(0);

/// Makes the EMF collector the recorder of this process's metrics, in the namespace
/// `METRICS_NAMESPACE`; `function` (the binary's name) is every metric's `function` dimension.
pub fn install(function: &'static str) -> Result<&'static Collector, lambda_http::Error> {
    let namespace = config::metrics_namespace(config::env_var)?;
    let collector = Builder::new()
        .cloudwatch_namespace(namespace)
        .with_dimension("function", function)
        .lambda_cold_start_metric("cold_start")
        // Not `request_id`: log lines of the HTTP API carry the API's request id under that name.
        .with_lambda_request_id("lambda_request_id")
        .with_lambda_xray_trace_id("trace_id")
        .init()?;
    describe();
    // `init` has failed already if this process had a recorder.
    let _ = COLLECTOR.set(collector);
    Ok(collector)
}

/// Tells the installed recorder what each metric of the catalog counts, and its unit: the EMF
/// collector writes the unit into the documents, the local run shows the descriptions on its
/// events page.
pub fn describe() {
    use ::metrics::{Unit, describe_counter, describe_histogram};
    describe_counter!("requests", "Requests answered, by outcome");
    describe_counter!("checkout_started", "Checkout Sessions Stripe created (not replays)");
    describe_counter!("checkout_completed", "Completed Checkouts applied to their org, once");
    describe_counter!("plan_changed", "Plan changes executed at Stripe and recorded");
    describe_counter!("consent_asked", "Confirm tokens given to an agent");
    describe_counter!("consent_confirmed", "Confirm tokens that executed their change");
    describe_counter!("consent_expired", "Confirm tokens brought back after they lapsed");
    describe_counter!("approval_asked", "Web approvals asked by an agent");
    describe_counter!("approval_approved", "Web approvals approved by a human");
    describe_counter!("approval_denied", "Web approvals denied by a human");
    describe_counter!("approval_expired", "Web approvals the agent's poll found lapsed");
    describe_counter!("plan_limit_reached", "Reservations refused at the cap (402)");
    describe_counter!("credits_spent", "Credits taken by spends");
    describe_counter!("limit_increase_requested", "Limit-increase requests");
    describe_counter!("agent_paused", "AGENT keys the brake paused");
    describe_counter!("agent_resumed", "Paused AGENT keys a human resumed early");
    describe_counter!("webhook_events", "Webhook deliveries, by what became of them");
    describe_histogram!("stripe_call_latency", Unit::Milliseconds, "One attempt of a Stripe call");
    describe_counter!("stripe_retries", "Stripe calls attempted again");
    describe_counter!("stripe_errors", "Stripe calls failed after their retries");
    describe_counter!("dynamodb_throttles", "DynamoDB calls refused for capacity");
    describe_counter!("dynamodb_failures", "DynamoDB calls failed otherwise");
    describe_counter!("reconcile_drift", "Orgs found differing from Stripe");
    describe_counter!("reconcile_failures", "Reconciler runs that failed");
    describe_counter!("events_published", "Outbox events published, by type");
    describe_counter!("events_publish_failed", "Outbox events that could not be published");
    describe_counter!("auto_top_ups", "Automatic top-ups set off by a spend, by what became of them");
}

/// At the start of an invocation: the org and principal of the one before are no longer this
/// one's (the collector keeps properties across flushes), and its flush counted nothing here.
pub fn invocation_started() {
    *UNFLUSHED.lock().unwrap_or_else(PoisonError::into_inner) = 0;
    if let Some(collector) = COLLECTOR.get() {
        collector.remove_property("org_id").remove_property("principal_id");
    }
}

/// The org the invocation acts for, as a property of its documents.
pub fn org(org_id: &str) {
    if let Some(collector) = COLLECTOR.get() {
        collector.set_property("org_id", org_id);
    }
}

/// The key's principal (and its org) the invocation acts for, as properties of its documents.
pub fn principal(principal: &Principal) {
    org(&principal.org_id);
    if let Some(collector) = COLLECTOR.get() {
        collector.set_property("principal_id", principal.principal_id.as_str());
    }
}

/// Records one histogram value; the 100th since the last flush writes the documents to `out`.
fn record<W: Write>(histogram: ::metrics::Histogram, value: f64, out: impl FnOnce() -> W) {
    let mut unflushed = UNFLUSHED.lock().unwrap_or_else(PoisonError::into_inner);
    histogram.record(value);
    *unflushed += 1;
    if *unflushed < MAX_VALUES {
        return;
    }
    *unflushed = 0;
    if let Some(collector) = COLLECTOR.get()
        && let Err(err) = collector.flush(out())
    {
        tracing::warn!(error = %err, "metrics could not be written");
    }
}

/// The outcome class of an HTTP status (the API answers no redirects).
fn outcome(status: u16) -> &'static str {
    match status {
        500.. => "5xx",
        400.. => "4xx",
        _ => "2xx",
    }
}

/// A request answered (by `http::serve`), by outcome: `2xx`, `4xx`, `5xx`.
pub fn requests(status: u16) {
    ::metrics::counter!("requests", "outcome" => outcome(status)).increment(1);
}

/// What a Checkout buys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutKind {
    Subscription,
    Credits,
}

impl CheckoutKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Subscription => "subscription",
            Self::Credits => "credits",
        }
    }
}

/// A Checkout Session Stripe created (not the replay of an earlier request's).
pub fn checkout_started(kind: CheckoutKind) {
    ::metrics::counter!("checkout_started", "kind" => kind.as_str()).increment(1);
}

/// A completed Checkout applied to its org, once (by the webhook, the success page's sync or the
/// reconciler, whichever wrote first).
pub fn checkout_completed(kind: CheckoutKind) {
    ::metrics::counter!("checkout_completed", "kind" => kind.as_str()).increment(1);
}

/// The route a change came by: `upgrade` (also a cheaper paid plan, which waits for the period
/// end), `downgrade` (to Free) or `resume`.
fn change_kind(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::SwitchNow | ChangeKind::AtPeriodEnd => "upgrade",
        ChangeKind::ToFree => "downgrade",
        ChangeKind::Resume => "resume",
        ChangeKind::EndTrial => "end_trial",
    }
}

/// A plan change executed at Stripe and recorded, once; `plan` is the catalog plan it moves to.
pub fn plan_changed(kind: ChangeKind, plan: &str) {
    ::metrics::counter!("plan_changed", "kind" => change_kind(kind), "plan" => plan.to_string()).increment(1);
}

/// An agent was given a confirm token to show its human (chat mode).
pub fn consent_asked() {
    ::metrics::counter!("consent_asked").increment(1);
}

/// A confirm token executed its change.
pub fn consent_confirmed() {
    ::metrics::counter!("consent_confirmed").increment(1);
}

/// A confirm token came back after it lapsed.
pub fn consent_expired() {
    ::metrics::counter!("consent_expired").increment(1);
}

/// An agent was given an approval for its human to decide (web mode).
pub fn approval_asked() {
    ::metrics::counter!("approval_asked").increment(1);
}

/// A human approved, and the change executed.
pub fn approval_approved() {
    ::metrics::counter!("approval_approved").increment(1);
}

pub fn approval_denied() {
    ::metrics::counter!("approval_denied").increment(1);
}

/// The agent's poll found its approval lapsed undecided (it stops polling then).
pub fn approval_expired() {
    ::metrics::counter!("approval_expired").increment(1);
}

/// A reservation refused at the cap (402 `plan_limit_reached`), by resource and effective plan.
pub fn plan_limit_reached(resource: Resource, plan: &str) {
    ::metrics::counter!("plan_limit_reached", "resource" => resource.as_str(), "plan" => plan.to_string()).increment(1);
}

/// Credits taken by a spend (its amount).
pub fn credits_spent(amount: u64) {
    ::metrics::counter!("credits_spent").increment(amount);
}

/// A limit-increase request, by what it asks more of (a resource or `other`).
pub fn limit_increase_requested(kind: SignalKind) {
    ::metrics::counter!("limit_increase_requested", "resource" => kind.as_str()).increment(1);
}

/// The brake paused an AGENT key (its org and key are the invocation's properties, never labels).
pub fn agent_paused() {
    ::metrics::counter!("agent_paused").increment(1);
}

/// A HUMAN or ADMIN lifted an AGENT key's pause early.
pub fn agent_resumed() {
    ::metrics::counter!("agent_resumed").increment(1);
}

/// A webhook delivery, by what became of it: `applied`, `duplicate`, `ignored` (nothing to do
/// for it), `rejected` (its signature, or not an event).
pub fn webhook_events(outcome: &'static str) {
    ::metrics::counter!("webhook_events", "outcome" => outcome).increment(1);
}

/// One attempt of a Stripe call, answered or not.
pub fn stripe_call_latency(operation: &'static str, elapsed: Duration) {
    let histogram = ::metrics::histogram!("stripe_call_latency", "operation" => operation);
    // Locked: another thread's log line must not land inside a document.
    record(histogram, elapsed.as_secs_f64() * 1000.0, || std::io::stdout().lock());
}

/// A Stripe call attempted again (429, 5xx, no answer).
pub fn stripe_retries(operation: &'static str) {
    ::metrics::counter!("stripe_retries", "operation" => operation).increment(1);
}

/// A Stripe call that failed after its retries, for another reason than Stripe refusing it (a
/// declined card or an unknown id is the caller's outcome, not an outage).
pub fn stripe_errors(operation: &'static str) {
    ::metrics::counter!("stripe_errors", "operation" => operation).increment(1);
}

/// A DynamoDB call refused for capacity, after the SDK's retries.
pub fn dynamodb_throttles(operation: &'static str) {
    ::metrics::counter!("dynamodb_throttles", "operation" => operation).increment(1);
}

/// A DynamoDB call that failed otherwise (not a condition or a concurrent transaction).
pub fn dynamodb_failures(operation: &'static str) {
    ::metrics::counter!("dynamodb_failures", "operation" => operation).increment(1);
}

/// An org whose stored subscription differs from Stripe's, found by a reconciler run.
pub fn reconcile_drift() {
    ::metrics::counter!("reconcile_drift").increment(1);
}

/// A reconciler run that failed (the next one starts again from the stored cursor).
pub fn reconcile_failures() {
    ::metrics::counter!("reconcile_failures").increment(1);
}

/// An outbox event published, by its type (a bounded set).
pub fn events_published(event_type: &str) {
    ::metrics::counter!("events_published", "type" => event_type.to_string()).increment(1);
}

/// An outbox event that could not be published (it is tried again).
pub fn events_publish_failed() {
    ::metrics::counter!("events_publish_failed").increment(1);
}

/// An automatic top-up a spend set off, by what became of it (`billing::auto_top_up::Outcome`).
pub fn auto_top_ups(outcome: &'static str) {
    ::metrics::counter!("auto_top_ups", "outcome" => outcome).increment(1);
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::domain::principal::PrincipalKind;

    #[test]
    fn labels_are_bounded_names() {
        assert_eq!([200, 204, 400, 402, 429, 500, 503].map(outcome), ["2xx", "2xx", "4xx", "4xx", "4xx", "5xx", "5xx"]);
        let kinds = [ChangeKind::SwitchNow, ChangeKind::AtPeriodEnd, ChangeKind::ToFree, ChangeKind::Resume].map(change_kind);
        assert_eq!(kinds, ["upgrade", "upgrade", "downgrade", "resume"]);
        assert_eq!([CheckoutKind::Subscription, CheckoutKind::Credits].map(CheckoutKind::as_str), ["subscription", "credits"]);
    }

    fn documents(out: &[u8]) -> Vec<Value> {
        std::str::from_utf8(out).unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect()
    }

    fn dimensions(doc: &Value) -> Vec<&str> {
        doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect()
    }

    /// One test for everything that needs the process's one recorder installed.
    #[test]
    fn documents_carry_ids_as_properties_and_at_most_100_values_a_metric() {
        let collector = install("test-function").unwrap();
        principal(&Principal { org_id: "org_a".into(), principal_id: "key_a".into(), key_id: "key_a".into(), kind: PrincipalKind::Agent });
        plan_limit_reached(Resource::Agents, "free");
        let mut out = Vec::new();
        for value in 0..250 {
            record(::metrics::histogram!("stripe_call_latency", "operation" => "unit_test"), f64::from(value), || &mut out);
        }
        let early = documents(&out).iter().filter(|doc| doc["operation"] == "unit_test").count();
        assert_eq!(early, 2, "written at the 100th and the 200th value");
        collector.flush(&mut out).unwrap();
        let docs = documents(&out);
        for doc in &docs {
            assert!(!dimensions(doc).iter().any(|d| d.ends_with("_id")), "ids are properties only: {doc}");
            assert_eq!(
                (&doc["org_id"], &doc["principal_id"], &doc["function"]),
                (&"org_a".into(), &"key_a".into(), &"test-function".into())
            );
        }
        let latencies: Vec<usize> = docs
            .iter()
            .filter(|doc| doc["operation"] == "unit_test")
            .map(|doc| doc["stripe_call_latency"].as_array().map_or(0, Vec::len))
            .collect();
        assert_eq!(latencies, [100, 100, 50], "every value kept, none over 100 a document");
        let unit = &docs.iter().find(|doc| doc["operation"] == "unit_test").unwrap()["_aws"]["CloudWatchMetrics"][0]["Metrics"][0];
        assert_eq!(unit["Unit"], "Milliseconds");
        let refused = docs.iter().find(|doc| doc.get("plan_limit_reached").is_some()).expect("the 402's document");
        assert_eq!(dimensions(refused), ["function", "resource", "plan"]);
        assert_eq!((&refused["resource"], &refused["plan"], &refused["plan_limit_reached"]), (&"agents".into(), &"free".into(), &1.into()));

        invocation_started();
        requests(200);
        let mut out = Vec::new();
        collector.flush(&mut out).unwrap();
        let next = documents(&out);
        assert_eq!(next.len(), 1, "counters written are reset: {next:?}");
        assert!(next[0].get("org_id").is_none() && next[0].get("principal_id").is_none(), "{}", next[0]);
    }
}

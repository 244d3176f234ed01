//! One reconciler run (the `reconciler` function every few minutes, `billing-admin reconcile`
//! by hand): completes stuck plan-change intents, applies the Stripe events the webhook never
//! received, then reports drift for the orgs it touched.
//!
//! Missed events: Stripe's event list is paged from a cursor in the table (the `created` of the
//! newest event a run went through, less `OVERLAP_SECS` for events Stripe lists late; the first
//! run looks back `reconcile_lookback_secs`). Events go oldest first through the webhook's own
//! `handle_event`, whose dedupe by event id makes the overlap, and a run racing the webhook,
//! harmless. The cursor moves with a conditional write, only past events that were handled: a
//! failure ends the run there, and the next run starts again from there.
//!
//! It never scans the table: stuck intents are plan_change's to find, an event names its
//! customer (one index query per applied event), and drift is checked only for the orgs touched
//! (and the one asked for).

use std::collections::BTreeSet;

use serde::Serialize;

use crate::App;
use crate::billing::plan_change::complete_stuck_intents;
use crate::billing::webhook_sync::{Outcome, handle_event, org_of_customer};
use crate::domain::drift::{Drift, subscription_drift};
use crate::domain::events::{VerifiedEvent, effect};
use crate::error::ApiError;

/// How far before the cursor each run starts listing again: Stripe's list may show an event a
/// little after its `created`.
pub const OVERLAP_SECS: i64 = 300;

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReconcileReport {
    /// Orgs whose stuck plan-change intent was completed.
    pub intents_completed: Vec<String>,
    /// Events listed since the cursor (overlap included).
    pub events_seen: usize,
    pub events_applied: usize,
    /// Events applied before (by the webhook or an earlier run).
    pub events_duplicate: usize,
    /// Events that need nothing (types the API does not act on, customers of no org).
    pub events_ignored: usize,
    /// Orgs compared with their Stripe subscription.
    pub orgs_checked: usize,
    pub drift: Vec<Drift>,
    /// Requests sent to Stripe, retries included.
    pub stripe_calls: u64,
    /// The `created` of the newest event gone through, as stored after the run.
    pub cursor: Option<i64>,
}

/// Runs once at `now`; `org` also has that org's drift checked, whatever the run touched.
pub async fn run(app: &App, org: Option<&str>, now: i64) -> Result<ReconcileReport, ApiError> {
    let calls_before = app.stripe()?.calls_made();
    if let Some(org_id) = org {
        app.store.get_org(org_id).await?.ok_or_else(|| ApiError::not_found(format!("No org `{org_id}`.")))?;
    }
    let mut report = ReconcileReport { intents_completed: complete_stuck_intents(app, org, now).await?, ..ReconcileReport::default() };
    let mut touched: BTreeSet<String> = report.intents_completed.iter().cloned().chain(org.map(str::to_string)).collect();
    catch_up(app, now, &mut report, &mut touched).await?;
    for org_id in &touched {
        report.drift.extend(drift_of(app, org_id, now, &mut report.orgs_checked).await?);
    }
    report.stripe_calls = app.stripe()?.calls_made() - calls_before;
    tracing::info!(
        intents_completed = report.intents_completed.len(),
        events_seen = report.events_seen,
        events_applied = report.events_applied,
        events_duplicate = report.events_duplicate,
        events_ignored = report.events_ignored,
        orgs_checked = report.orgs_checked,
        drifting_orgs = report.drift.iter().map(|d| d.org_id.as_str()).collect::<BTreeSet<_>>().len(),
        stripe_calls = report.stripe_calls,
        cursor = report.cursor,
        "reconcile run done"
    );
    Ok(report)
}

/// Applies the events listed since the cursor, oldest first, and moves the cursor past those
/// handled. Orgs changed by an event join `touched`.
async fn catch_up(app: &App, now: i64, report: &mut ReconcileReport, touched: &mut BTreeSet<String>) -> Result<(), ApiError> {
    let cursor = app.store.event_cursor().await?.map(|c| c.created);
    let from = cursor.map_or(now - app.config.reconcile_lookback_secs, |created| created - OVERLAP_SECS);
    let events = events_since(app, from).await?;
    let mut newest = cursor;
    let mut failure = None;
    for event in &events {
        report.events_seen += 1;
        match handle_event(app, event, now).await {
            Ok(Outcome::Applied) => {
                report.events_applied += 1;
                touched.extend(org_of_event(app, event).await?);
            }
            Ok(Outcome::Duplicate) => report.events_duplicate += 1,
            Ok(Outcome::Ignored(_)) => report.events_ignored += 1,
            Err(err) => {
                tracing::error!(event_id = %event.id, event_type = %event.event_type, error = %err, "a missed event could not be applied; the next run retries it");
                failure = Some(err);
                break;
            }
        }
        newest = newest.max(Some(event.created));
    }
    report.cursor = cursor;
    if let Some(to) = newest.filter(|to| Some(*to) > cursor) {
        if app.store.move_event_cursor(cursor, to, now).await? {
            report.cursor = Some(to);
        } else {
            tracing::info!("another run moved the event cursor first");
            report.cursor = app.store.event_cursor().await?.map(|c| c.created);
        }
    }
    failure.map_or(Ok(()), Err)
}

/// Every event created at or after `from`, oldest first.
async fn events_since(app: &App, from: i64) -> Result<Vec<VerifiedEvent>, ApiError> {
    let mut events = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = app.stripe()?.list_events(from, after.as_deref()).await?;
        let last = page.events.last().map(|e| e.id.clone());
        events.extend(page.events);
        match last {
            Some(last) if page.has_more => after = Some(last),
            _ => break,
        }
    }
    // Stripe lists newest first.
    events.reverse();
    Ok(events)
}

/// The org an applied event changed.
async fn org_of_event(app: &App, event: &VerifiedEvent) -> Result<Option<String>, ApiError> {
    match effect(event).customer_id() {
        Ok(customer_id) => org_of_customer(app, event, customer_id).await,
        Err(_) => Ok(None),
    }
}

/// The org's drift from its Stripe subscription, logged as one line (the drifting fields and
/// their values, in the same order); none for an org without a subscription.
async fn drift_of(app: &App, org_id: &str, now: i64, checked: &mut usize) -> Result<Vec<Drift>, ApiError> {
    let Some(org) = app.store.get_org(org_id).await? else { return Ok(Vec::new()) };
    let Some(subscription_id) = &org.stripe_subscription_id else { return Ok(Vec::new()) };
    let sub = app.stripe()?.retrieve_subscription(subscription_id).await?;
    *checked += 1;
    let drift = subscription_drift(&org, &sub, &app.config.catalog, now);
    if !drift.is_empty() {
        crate::metrics::reconcile_drift();
        let joined = |part: fn(&Drift) -> &str| drift.iter().map(part).collect::<Vec<_>>().join(",");
        tracing::warn!(
            org_id,
            field = %joined(|d| d.field),
            stored = %joined(|d| &d.stored),
            stripe = %joined(|d| &d.stripe),
            "org drifted from Stripe"
        );
    }
    Ok(drift)
}

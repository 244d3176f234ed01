//! The scheduled reconciler (EventBridge Scheduler, `ReconcileSchedule` in template.yaml): one
//! `billing::reconcile` run per invocation. Its report is the invocation's result; a failed run
//! fails the invocation, and the next scheduled run starts again from the stored cursor.

use billing_shared::billing::reconcile::{ReconcileReport, run};
use billing_shared::{App, metrics, now, telemetry};
use lambda_runtime::Context;
use tracing::Instrument;

pub async fn handle(app: &App, lambda: Context) -> Result<ReconcileReport, lambda_runtime::Error> {
    let span = telemetry::invocation(None, Some(&lambda));
    run(app, None, now()).instrument(span).await.map_err(|err| {
        metrics::reconcile_failures();
        err.to_string().into()
    })
}

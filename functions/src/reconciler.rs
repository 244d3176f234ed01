//! The scheduled reconciler (EventBridge Scheduler, `ReconcileSchedule` in template.yaml): one
//! `billing::reconcile` run per invocation. Its report is the invocation's result; a failed run
//! fails the invocation, and the next scheduled run starts again from the stored cursor.

use billing_shared::billing::reconcile::{ReconcileReport, run};
use billing_shared::{App, now};

pub async fn handle(app: &App) -> Result<ReconcileReport, lambda_runtime::Error> {
    run(app, None, now()).await.map_err(|err| err.to_string().into())
}

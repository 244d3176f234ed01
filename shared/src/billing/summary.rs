//! `GET /billing`: the org's plan, status, price, period, card, credits and every limit, in one
//! DynamoDB read (the org item holds usage too).

use crate::App;
use crate::billing::load_org;
use crate::domain::principal::Principal;
use crate::domain::summary::{BillingSummary, billing_summary};
use crate::error::ApiError;

pub async fn summary(app: &App, principal: &Principal, now: i64) -> Result<BillingSummary, ApiError> {
    let org = load_org(&app.store, &principal.org_id).await?;
    Ok(billing_summary(&org, &app.config.catalog, now, app.config.past_due_grace_secs))
}

//! `PATCH /billing/settings` `{agent_brake?: {max_refusals_per_minute?, pause_minutes?},
//! auto_top_up?: {below, bundles, max_per_month, agent_key_id} | null}`: a HUMAN or ADMIN changes
//! the org's settings (an AGENT gets 403).

use billing_shared::billing::settings::{self, SettingsChange};
use billing_shared::http::{self, json_body, ok, only_query_params, principal};
use billing_shared::{App, now};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        only_query_params(&req, &[])?;
        let body: SettingsChange = json_body(&req)?;
        ok(&settings::change(app, &principal, &body, now()).await?)
    })
    .await
}

//! `POST /billing/promotion-code`: a promotion code applied to the org's live subscription.

use billing_shared::billing::promotion::{PromotionCodeBody, apply_promotion_code};
use billing_shared::http::{self, json_body, ok, principal};
use billing_shared::{App, now};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        let body: PromotionCodeBody = json_body(&req)?;
        ok(&apply_promotion_code(app, &principal, &body, now()).await?)
    })
    .await
}

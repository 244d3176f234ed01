//! A promotion code a customer typed, resolved on the server with Stripe's list by `code` and
//! checked for a purchase before anything is created. A refusal is 400 `invalid_promotion_code`
//! with `details.reason`, and nothing exists in Stripe or the table that did not before.

use serde_json::json;

use crate::App;
use crate::domain::catalog::Price;
use crate::domain::org::Org;
use crate::domain::promotion::{Purchase, Refusal, check, check_code_text};
use crate::error::{ApiError, ErrorKind};

pub(crate) fn refused(code: &str, refusal: Refusal) -> ApiError {
    ApiError::new(ErrorKind::InvalidPromotionCode, refusal.message(code)).with_details(json!({ "promotion_code": code, "reason": refusal }))
}

/// The Stripe promotion code (`promo_...`) for `code`, checked for `quantity` units of `price`
/// bought by `org`; 400 `invalid_promotion_code` saying why it does not apply.
pub(crate) async fn resolve(app: &App, org: &Org, code: &str, price: &Price, quantity: u32, now: i64) -> Result<String, ApiError> {
    check_code_text(code).map_err(|problem| ApiError::validation(vec![problem]))?;
    let stripe = app.stripe()?;
    let found = stripe.find_promotion_code(code).await?;
    let product = match found.as_ref().and_then(|c| c.coupon.products.as_ref()) {
        Some(_) => Some(stripe.product_of_price(&price.price_id).await?),
        None => None,
    };
    let purchase = Purchase {
        amount: price.unit_amount * u64::from(quantity),
        currency: &app.config.catalog.currency,
        product: product.as_deref(),
        paid_before: org.is_returning_customer(),
    };
    match check(found.as_ref(), purchase, now) {
        Ok(()) => found.map(|c| c.id).ok_or_else(|| refused(code, Refusal::Unknown)),
        Err(refusal) => {
            tracing::info!(org_id = %org.org_id, reason = ?refusal, "promotion code refused");
            Err(refused(code, refusal))
        }
    }
}

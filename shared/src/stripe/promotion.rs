//! The gateway's promotion-code calls: find the code a customer typed (Stripe's list by
//! `code`, the coupon expanded), the product a catalog price sells, and a code applied to a
//! live subscription. Async-stripe's split crates have no promotion-code or price requests, so
//! these are described here, as the card payment is.

use serde::{Deserialize, Serialize};
use stripe_client_core::{RequestBuilder, StripeMethod, StripeRequest};

use super::wire::{Expandable, List, Object, WireCoupon};
use super::{GatewayError, StripeGateway};
use crate::domain::promotion::PromotionCode;

#[derive(Serialize)]
struct ListPromotionCodes<'a> {
    code: &'a str,
    limit: u8,
    expand: [&'static str; 1],
}

impl StripeRequest for ListPromotionCodes<'_> {
    type Output = ();

    fn build(&self) -> RequestBuilder {
        RequestBuilder::new(StripeMethod::Get, "/promotion_codes").query(self)
    }
}

struct RetrievePrice<'a>(&'a str);

impl StripeRequest for RetrievePrice<'_> {
    type Output = ();

    fn build(&self) -> RequestBuilder {
        RequestBuilder::new(StripeMethod::Get, format!("/prices/{}", self.0))
    }
}

#[derive(Serialize)]
struct ApplyPromotionCode<'a> {
    discounts: [DiscountParam<'a>; 1],
}

#[derive(Serialize)]
struct DiscountParam<'a> {
    promotion_code: &'a str,
}

struct UpdateSubscriptionDiscount<'a> {
    subscription_id: &'a str,
    form: ApplyPromotionCode<'a>,
}

impl StripeRequest for UpdateSubscriptionDiscount<'_> {
    type Output = ();

    fn build(&self) -> RequestBuilder {
        RequestBuilder::new(StripeMethod::Post, format!("/subscriptions/{}", self.subscription_id)).form(&self.form)
    }
}

#[derive(Debug, Deserialize)]
struct WirePromotionCode {
    id: String,
    code: String,
    active: bool,
    expires_at: Option<i64>,
    max_redemptions: Option<u64>,
    times_redeemed: u64,
    promotion: Promotion,
    restrictions: Restrictions,
}

#[derive(Debug, Deserialize)]
struct Promotion {
    coupon: Option<Expandable<WireCoupon>>,
}

#[derive(Debug, Deserialize)]
struct Restrictions {
    first_time_transaction: bool,
    minimum_amount: Option<u64>,
    minimum_amount_currency: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Price {
    product: Expandable<Object>,
}

impl WirePromotionCode {
    fn code(self) -> Option<PromotionCode> {
        let coupon = self.promotion.coupon?.into_object()?;
        Some(PromotionCode {
            id: self.id,
            code: self.code,
            active: self.active,
            expires_at: self.expires_at,
            max_redemptions: self.max_redemptions,
            times_redeemed: self.times_redeemed,
            first_time_transaction: self.restrictions.first_time_transaction,
            minimum_amount: self.restrictions.minimum_amount.zip(self.restrictions.minimum_amount_currency),
            coupon: coupon.coupon(),
        })
    }
}

impl StripeGateway {
    /// The promotion code a customer typed, as Stripe knows it (codes are case-insensitive; an
    /// active one is preferred to retired ones with the same code); `None` when there is none.
    pub async fn find_promotion_code(&self, code: &str) -> Result<Option<PromotionCode>, GatewayError> {
        let request = ListPromotionCodes { code, limit: 10, expand: ["data.promotion.coupon.applies_to"] };
        let found: List<WirePromotionCode> = self.send("find_promotion_code", None, request).await?;
        let mut codes: Vec<PromotionCode> = found.data.into_iter().filter_map(WirePromotionCode::code).collect();
        codes.sort_by_key(|c| !c.active);
        Ok(codes.into_iter().next())
    }

    /// The Stripe product a catalog price sells.
    pub async fn product_of_price(&self, price_id: &str) -> Result<String, GatewayError> {
        let price: Price = self.send("retrieve_price", None, RetrievePrice(price_id)).await?;
        Ok(price.product.id().to_string())
    }

    /// Puts the promotion code (`promo_...`) on the subscription, replacing its discounts.
    pub async fn apply_promotion_code(
        &self,
        subscription_id: &str,
        promotion_code_id: &str,
        idempotency_key: &str,
    ) -> Result<(), GatewayError> {
        let form = ApplyPromotionCode { discounts: [DiscountParam { promotion_code: promotion_code_id }] };
        let request = UpdateSubscriptionDiscount { subscription_id, form };
        let _: Object = self.send("apply_promotion_code", Some(idempotency_key), request).await?;
        Ok(())
    }
}

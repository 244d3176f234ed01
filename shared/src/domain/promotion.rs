//! Promotion codes as rules: what a code a customer types may look like, whether a code Stripe
//! knows applies to a purchase (and why not), and the discount an org has, as `GET /billing`
//! shows it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::invalid::FieldProblem;

/// The longest code a customer may type.
pub const MAX_CODE_LEN: usize = 64;

/// A code as typed: 1 to 64 letters, digits, `-` or `_` (Stripe's codes are case-insensitive).
pub fn check_code_text(code: &str) -> Result<(), FieldProblem> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    match !code.is_empty() && code.len() <= MAX_CODE_LEN && code.chars().all(allowed) {
        true => Ok(()),
        false => Err(FieldProblem::new("promotion_code", format!("must be 1 to {MAX_CODE_LEN} letters, digits, `-` or `_`"))),
    }
}

/// How long a coupon's discount lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Duration {
    Once,
    Repeating,
    Forever,
}

/// A coupon, as a promotion code carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct Coupon {
    pub percent_off: Option<f64>,
    pub amount_off: Option<u64>,
    pub currency: Option<String>,
    pub duration: Duration,
    /// Whether it can still be redeemed (Stripe's `valid`).
    pub valid: bool,
    /// The products it is limited to; `None`: every product.
    pub products: Option<Vec<String>>,
}

/// A promotion code as Stripe knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct PromotionCode {
    /// `promo_...`.
    pub id: String,
    pub code: String,
    /// The merchant's switch; an expired code stays `active` in Stripe.
    pub active: bool,
    pub expires_at: Option<i64>,
    pub max_redemptions: Option<u64>,
    pub times_redeemed: u64,
    pub first_time_transaction: bool,
    /// The smallest amount it applies to, and its currency.
    pub minimum_amount: Option<(u64, String)>,
    pub coupon: Coupon,
}

/// Why a code does not apply (`details.reason` of `invalid_promotion_code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    Unknown,
    Inactive,
    Expired,
    Exhausted,
    FirstTimeOnly,
    MinimumAmount,
    NotApplicable,
}

impl Refusal {
    /// The sentence of the refusal, for a client to show.
    pub fn message(self, code: &str) -> String {
        let why = match self {
            Self::Unknown => "is not a promotion code of this service",
            Self::Inactive => "is no longer offered",
            Self::Expired => "has expired",
            Self::Exhausted => "has been redeemed as often as it may be",
            Self::FirstTimeOnly => "is for first-time customers only, and this org has paid before",
            Self::MinimumAmount => "needs a larger purchase",
            Self::NotApplicable => "does not apply to this plan",
        };
        format!("The promotion code `{code}` {why}; nothing was created or charged.")
    }
}

/// What a code is to be used on.
#[derive(Debug, Clone, Copy)]
pub struct Purchase<'a> {
    /// Before any discount, in the smallest unit of `currency`.
    pub amount: u64,
    pub currency: &'a str,
    /// The Stripe product bought (asked for only when the coupon is limited to products).
    pub product: Option<&'a str>,
    /// The org has had a subscription (trial or paid) or bought credits before.
    pub paid_before: bool,
}

/// Whether `code` (none: Stripe does not know it) applies to `purchase` now.
pub fn check(code: Option<&PromotionCode>, purchase: Purchase<'_>, now: i64) -> Result<(), Refusal> {
    let Some(code) = code else { return Err(Refusal::Unknown) };
    if !code.active {
        return Err(Refusal::Inactive);
    }
    if code.expires_at.is_some_and(|at| at <= now) || !code.coupon.valid {
        return Err(Refusal::Expired);
    }
    if code.max_redemptions.is_some_and(|max| code.times_redeemed >= max) {
        return Err(Refusal::Exhausted);
    }
    if code.first_time_transaction && purchase.paid_before {
        return Err(Refusal::FirstTimeOnly);
    }
    if let Some((minimum, currency)) = &code.minimum_amount
        && (currency != purchase.currency || purchase.amount < *minimum)
    {
        return Err(Refusal::MinimumAmount);
    }
    let covers = |products: &Vec<String>| purchase.product.is_some_and(|p| products.iter().any(|q| q == p));
    if code.coupon.products.as_ref().is_some_and(|products| !covers(products))
        || code.coupon.currency.as_ref().is_some_and(|currency| currency != purchase.currency)
    {
        return Err(Refusal::NotApplicable);
    }
    Ok(())
}

/// The discount on an org's subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Discount {
    /// The code the customer used (`LAUNCH20`); null for a coupon applied without one.
    pub promotion_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent_off: Option<f64>,
    /// In the smallest unit of `currency`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_off: Option<u64>,
    pub currency: Option<String>,
    pub duration: Duration,
    /// When it stops applying (epoch seconds); null for `forever` and for `once`.
    pub ends_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch20() -> PromotionCode {
        PromotionCode {
            id: "promo_1".into(),
            code: "LAUNCH20".into(),
            active: true,
            expires_at: None,
            max_redemptions: None,
            times_redeemed: 0,
            first_time_transaction: false,
            minimum_amount: None,
            coupon: Coupon {
                percent_off: Some(20.0),
                amount_off: None,
                currency: None,
                duration: Duration::Forever,
                valid: true,
                products: None,
            },
        }
    }

    fn pro(paid_before: bool) -> Purchase<'static> {
        Purchase { amount: 1900, currency: "usd", product: Some("prod_pro"), paid_before }
    }

    #[test]
    fn codes_typed_are_short_and_plain() {
        assert!(check_code_text("LAUNCH20").is_ok() && check_code_text("first-month_2").is_ok());
        for bad in ["", "with space", "tab\there", "bell\u{7}", "é", &"A".repeat(65), &"A".repeat(200)] {
            assert_eq!(check_code_text(bad).map_err(|p| p.field), Err("promotion_code".to_string()), "{bad:?}");
        }
    }

    #[test]
    fn every_refusal_has_its_reason() {
        let now = 1_000;
        assert_eq!(check(Some(&launch20()), pro(true), now), Ok(()));
        assert_eq!(check(None, pro(false), now), Err(Refusal::Unknown));
        let refused = |edit: fn(&mut PromotionCode), purchase| {
            let mut code = launch20();
            edit(&mut code);
            check(Some(&code), purchase, now).unwrap_err()
        };
        assert_eq!(refused(|c| c.active = false, pro(false)), Refusal::Inactive);
        assert_eq!(refused(|c| c.expires_at = Some(1_000), pro(false)), Refusal::Expired, "expired at the very second");
        assert_eq!(refused(|c| c.coupon.valid = false, pro(false)), Refusal::Expired);
        assert_eq!(refused(|c| (c.max_redemptions, c.times_redeemed) = (Some(1), 1), pro(false)), Refusal::Exhausted);
        assert_eq!(refused(|c| c.first_time_transaction = true, pro(true)), Refusal::FirstTimeOnly);
        assert_eq!(refused(|c| c.minimum_amount = Some((10_000, "usd".into())), pro(false)), Refusal::MinimumAmount);
        assert_eq!(refused(|c| c.minimum_amount = Some((100, "eur".into())), pro(false)), Refusal::MinimumAmount);
        assert_eq!(refused(|c| c.coupon.products = Some(vec!["prod_scale".into()]), pro(false)), Refusal::NotApplicable);
        assert_eq!(refused(|c| c.coupon.currency = Some("eur".into()), pro(false)), Refusal::NotApplicable);

        let mut first = launch20();
        first.first_time_transaction = true;
        first.coupon.products = Some(vec!["prod_pro".into()]);
        first.minimum_amount = Some((1900, "usd".into()));
        assert_eq!(check(Some(&first), pro(false), now), Ok(()), "exactly the minimum, the right product, a first purchase");
    }

    #[test]
    fn refusals_say_the_code_and_that_nothing_happened() {
        let message = Refusal::Expired.message("EXPIRED10");
        assert!(message.contains("`EXPIRED10` has expired") && message.contains("nothing was created"), "{message}");
        assert_eq!(serde_json::to_value(Refusal::FirstTimeOnly).unwrap(), "first_time_only");
    }
}

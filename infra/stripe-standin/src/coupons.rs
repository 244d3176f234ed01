//! The coupons and promotion codes a stand-in starts with (seeded like the catalog), the demo
//! set the local run and the tests use, and the discount a request asks for.

/// What a coupon takes off.
#[derive(Clone, Debug, PartialEq)]
pub enum CouponValue {
    /// A percentage of the amount, e.g. `20.0`.
    PercentOff(f64),
    /// A fixed amount in the smallest unit of `currency` (lowercase ISO code).
    AmountOff { amount: u64, currency: String },
}

/// How long a coupon's discount lasts once redeemed.
#[derive(Clone, Debug, PartialEq)]
pub enum CouponDuration {
    /// The first invoice with something to pay.
    Once,
    /// Invoices dated within `months` months of the redemption.
    Repeating {
        months: u32,
    },
    Forever,
}

/// A coupon in the stand-in's account. Codes naming the same coupon `id` share it (and its
/// `times_redeemed`), so they must describe it identically.
#[derive(Clone, Debug, PartialEq)]
pub struct CouponSpec {
    pub id: String,
    pub name: Option<String>,
    pub value: CouponValue,
    pub duration: CouponDuration,
    /// `applies_to.products`, by the `product_name` of [`crate::PriceSpec`]s; empty for every
    /// product.
    pub applies_to_products: Vec<String>,
}

/// A customer-facing promotion code for a coupon, as it stands when the stand-in starts.
#[derive(Clone, Debug, PartialEq)]
pub struct PromotionCodeSpec {
    pub code: String,
    pub coupon: CouponSpec,
    /// Stripe's `active` flag; an expired code keeps it (see [`PromotionCodeSpec::expires_at`]).
    pub active: bool,
    /// When the code stops being redeemable. Stripe keeps `active: true` after that moment:
    /// `active` is the merchant's switch, expiry is `expires_at` in the past.
    pub expires_at: Option<i64>,
    pub max_redemptions: Option<u64>,
    /// Redemptions before the stand-in started.
    pub times_redeemed: u64,
    /// `restrictions.first_time_transaction`: only for customers who never paid before.
    pub first_time_transaction: bool,
    /// `restrictions.minimum_amount` and its currency: the least subtotal it applies to.
    pub minimum_amount: Option<(u64, String)>,
}

impl PromotionCodeSpec {
    /// An active code for `coupon` with no restrictions.
    pub fn new(code: &str, coupon: CouponSpec) -> Self {
        Self {
            code: code.into(),
            coupon,
            active: true,
            expires_at: None,
            max_redemptions: None,
            times_redeemed: 0,
            first_time_transaction: false,
            minimum_amount: None,
        }
    }
}

/// A percent-off coupon applying to every product.
fn percent_coupon(id: &str, percent: f64, duration: CouponDuration) -> CouponSpec {
    CouponSpec {
        id: id.into(),
        name: Some(format!("{percent}% off")),
        value: CouponValue::PercentOff(percent),
        duration,
        applies_to_products: Vec::new(),
    }
}

/// The project's demo codes, seeded by the local run and the tests: one for each thing a code
/// can do or a redemption can run into.
///
/// | code | coupon | state |
/// |---|---|---|
/// | `LAUNCH20` | 20% off, forever | redeemable |
/// | `FIRSTMONTH` | 100% off, once | first-time customers only |
/// | `EXPIRED10` | 10% off, once | expired (2024-01-01) |
/// | `USEDUP` | 10% off, once | 1 of 1 redemptions used |
/// | `RETIRED15` | 15% off, once | inactive |
/// | `BIGSPEND` | $10.00 off, once | for subtotals from $100.00 |
pub fn demo_promotion_codes() -> Vec<PromotionCodeSpec> {
    const START_OF_2024: i64 = 1_704_067_200;
    let ten_percent = percent_coupon("TEN_PERCENT_ONCE", 10.0, CouponDuration::Once);
    vec![
        PromotionCodeSpec::new("LAUNCH20", percent_coupon("LAUNCH20", 20.0, CouponDuration::Forever)),
        PromotionCodeSpec {
            first_time_transaction: true,
            ..PromotionCodeSpec::new("FIRSTMONTH", percent_coupon("FIRSTMONTH", 100.0, CouponDuration::Once))
        },
        PromotionCodeSpec { expires_at: Some(START_OF_2024), ..PromotionCodeSpec::new("EXPIRED10", ten_percent.clone()) },
        PromotionCodeSpec { max_redemptions: Some(1), times_redeemed: 1, ..PromotionCodeSpec::new("USEDUP", ten_percent) },
        PromotionCodeSpec { active: false, ..PromotionCodeSpec::new("RETIRED15", percent_coupon("RETIRED15", 15.0, CouponDuration::Once)) },
        PromotionCodeSpec {
            minimum_amount: Some((10_000, "usd".into())),
            ..PromotionCodeSpec::new(
                "BIGSPEND",
                CouponSpec {
                    id: "TEN_DOLLARS_ONCE".into(),
                    name: Some("$10 off".into()),
                    value: CouponValue::AmountOff { amount: 1000, currency: "usd".into() },
                    duration: CouponDuration::Once,
                    applies_to_products: Vec::new(),
                },
            )
        },
    ]
}

/// `discounts[i]` of a request: a promotion code or a coupon, by id.
pub(crate) enum DiscountChoice {
    PromotionCode(String),
    Coupon(String),
}

/// A coupon (and the code it came through) that passed every check, not yet redeemed.
#[derive(Clone, Debug)]
pub(crate) struct Redemption {
    pub(crate) coupon: String,
    pub(crate) promotion_code: Option<String>,
}

/// Where a new discount is attached.
#[derive(Clone, Copy)]
pub(crate) struct DiscountHolder<'a> {
    pub(crate) customer: Option<&'a str>,
    pub(crate) subscription: Option<&'a str>,
    pub(crate) checkout_session: Option<&'a str>,
}

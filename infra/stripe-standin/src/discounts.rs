//! Coupons and promotion codes, seeded at start like the catalog, and the discounts that
//! redeeming them creates: which code Stripe would refuse and why, what a discount object
//! looks like, and how long it stays on a subscription (`once`: its first invoice with
//! something to pay; `repeating`: until `end`; `forever`).

use serde_json::{Value, json};

use crate::account::{Account, Origin};
use crate::catalog::money;
use crate::clock;
use crate::coupons::{CouponDuration, CouponSpec, CouponValue, DiscountChoice, DiscountHolder, PromotionCodeSpec, Redemption};
use crate::error::StripeApiError;
use crate::objects::{self, NewCoupon, NewDiscount, NewPromotionCode};
use crate::totals::TotalsLine;
impl Account {
    /// Creates the coupons and promotion codes of `specs`, refusing specs Stripe would not
    /// accept or that contradict each other.
    pub(crate) fn seed_promotion_codes(&mut self, specs: &[PromotionCodeSpec]) -> Result<(), String> {
        let now = self.now();
        let mut coupons: Vec<&CouponSpec> = Vec::new();
        for spec in specs {
            if spec.code.is_empty() || !spec.code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(format!("promotion code {:?}: use letters, digits and dashes", spec.code));
            }
            if self.promotion_codes.all().iter().any(|p| p["code"].as_str().is_some_and(|c| c.eq_ignore_ascii_case(&spec.code))) {
                return Err(format!("promotion code {} is given twice", spec.code));
            }
            match coupons.iter().find(|c| c.id == spec.coupon.id) {
                Some(known) if **known != spec.coupon => return Err(format!("coupon {} is described two ways", spec.coupon.id)),
                Some(_) => {}
                None => {
                    self.seed_coupon(&spec.coupon, now)?;
                    coupons.push(&spec.coupon);
                }
            }
            let id = self.ids.id("promo_", 24);
            let code = objects::promotion_code(NewPromotionCode { id: &id, created: now, spec });
            self.promotion_codes.push(code);
            self.count_redemptions(&spec.coupon.id, spec.times_redeemed);
        }
        Ok(())
    }

    fn seed_coupon(&mut self, spec: &CouponSpec, created: i64) -> Result<(), String> {
        let valid_value = match &spec.value {
            CouponValue::PercentOff(percent) => *percent > 0.0 && *percent <= 100.0,
            CouponValue::AmountOff { amount, currency } => *amount > 0 && currency.len() == 3,
        };
        if spec.id.is_empty() || !valid_value || spec.duration == (CouponDuration::Repeating { months: 0 }) {
            return Err(format!("coupon {:?}: needs an id, a percentage in (0, 100] or a positive amount, and months to repeat", spec.id));
        }
        let products = spec
            .applies_to_products
            .iter()
            .map(|name| {
                self.catalog
                    .product_named(name)
                    .map(|p| p.id.clone())
                    .ok_or_else(|| format!("coupon {}: no price has product {name}", spec.id))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.coupons.push(objects::coupon(NewCoupon { spec, created, products: &products }));
        Ok(())
    }

    fn count_redemptions(&mut self, coupon: &str, count: u64) {
        if let Some(Value::Object(coupon)) = self.coupons.get_mut(coupon) {
            let redeemed = coupon.get("times_redeemed").and_then(Value::as_u64).unwrap_or(0);
            coupon.insert("times_redeemed".into(), json!(redeemed + count));
        }
    }

    /// The coupon `choice` names if Stripe would let `customer` redeem it on `lines` (the
    /// amounts before discounts, in `currency`); otherwise Stripe's 400 about `param`.
    pub(crate) fn redeemable(
        &self,
        choice: &DiscountChoice,
        param: &str,
        customer: Option<&str>,
        lines: &[TotalsLine],
        currency: &str,
    ) -> Result<Redemption, StripeApiError> {
        let refuse = |message: String| Err(StripeApiError::invalid(param, message));
        let (coupon_id, promotion_code) = match choice {
            DiscountChoice::Coupon(id) => (id.clone(), None),
            DiscountChoice::PromotionCode(id) => {
                let code = self.promotion_codes.get(id).ok_or_else(|| StripeApiError::no_such(400, "promotion code", id, param))?;
                let name = code["code"].as_str().unwrap_or_default();
                if code["active"] != true {
                    return refuse(format!("The promotion code `{name}` is not active."));
                }
                if code["expires_at"].as_i64().is_some_and(|at| at <= self.now()) {
                    return refuse(format!("The promotion code `{name}` has expired."));
                }
                if code["max_redemptions"].as_i64().is_some_and(|max| code["times_redeemed"].as_i64().unwrap_or(0) >= max) {
                    return refuse(format!("The promotion code `{name}` has been redeemed the maximum number of times."));
                }
                let restrictions = &code["restrictions"];
                if restrictions["first_time_transaction"] == true && customer.is_some_and(|c| self.has_paid_before(c)) {
                    return refuse(format!(
                        "The promotion code `{name}` cannot be redeemed because the associated customer has prior transactions."
                    ));
                }
                if let Some(minimum) = restrictions["minimum_amount"].as_i64() {
                    let subtotal: i64 = lines.iter().map(|l| l.amount).sum();
                    let minimum_currency = restrictions["minimum_amount_currency"].as_str().unwrap_or(currency);
                    if minimum_currency == currency && subtotal < minimum {
                        return refuse(format!(
                            "The promotion code `{name}` requires a minimum order of {}.",
                            money(minimum, minimum_currency)
                        ));
                    }
                }
                let coupon = code["promotion"]["coupon"].as_str().unwrap_or_default().to_string();
                (coupon, Some(id.clone()))
            }
        };
        let coupon = self.coupons.get(&coupon_id).ok_or_else(|| StripeApiError::no_such(400, "coupon", &coupon_id, param))?;
        if coupon["amount_off"].is_i64() && coupon["currency"] != currency {
            return refuse(format!("The coupon `{coupon_id}` is in {} and cannot apply to amounts in {currency}.", coupon["currency"]));
        }
        let covers_none = coupon["applies_to"]["products"]
            .as_array()
            .is_some_and(|products| !lines.iter().any(|line| products.iter().any(|p| p == line.product)));
        if covers_none {
            return refuse(format!("The coupon `{coupon_id}` does not apply to any of the products being purchased."));
        }
        Ok(Redemption { coupon: coupon_id, promotion_code })
    }

    /// Whether `customer` has a successful payment or a paid invoice, even one of zero (what
    /// `first_time_transaction` rules out).
    fn has_paid_before(&self, customer: &str) -> bool {
        let invoiced = self.invoices.all().iter().any(|i| i["customer"] == customer && i["status"] == "paid");
        let charged = self.payment_intents.all().iter().any(|p| p["customer"] == customer && p["status"] == "succeeded");
        invoiced || charged
    }

    /// Redeems a checked coupon: a discount object on `holder` starting at `start`, one more
    /// redemption on the code and the coupon, and, on a subscription,
    /// `customer.discount.created`. Returns its id.
    pub(crate) fn redeem(&mut self, redemption: &Redemption, holder: DiscountHolder, start: i64, origin: &Origin) -> String {
        let coupon = self.coupons.get(&redemption.coupon).cloned().unwrap_or_default();
        let end = match (coupon["duration"].as_str(), coupon["duration_in_months"].as_i64()) {
            (Some("repeating"), Some(months)) => Some(clock::add_months(start, months)),
            _ => None,
        };
        let id = self.ids.id("di_", 24);
        let discount = objects::discount(NewDiscount {
            id: &id,
            coupon: &redemption.coupon,
            promotion_code: redemption.promotion_code.as_deref(),
            customer: holder.customer,
            subscription: holder.subscription,
            checkout_session: holder.checkout_session,
            start,
            end,
        });
        self.discounts.push(discount.clone());
        if let Some(code) = &redemption.promotion_code
            && let Some(Value::Object(code)) = self.promotion_codes.get_mut(code)
        {
            let redeemed = code.get("times_redeemed").and_then(Value::as_u64).unwrap_or(0);
            code.insert("times_redeemed".into(), json!(redeemed + 1));
        }
        self.count_redemptions(&redemption.coupon, 1);
        if holder.subscription.is_some() {
            self.emit("customer.discount.created", &discount, None, origin);
        }
        id
    }

    /// The discounts of `subscription` that an invoice dated `at` gets, as
    /// (discount id, coupon) pairs.
    pub(crate) fn discounts_in_force(&self, subscription: &Value, at: i64) -> Vec<(String, Value)> {
        subscription["discounts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|id| self.discounts.get(id.as_str()?))
            .filter(|d| d["end"].as_i64().is_none_or(|end| at < end))
            .filter_map(|d| {
                let coupon = self.coupons.get(d["source"]["coupon"].as_str()?)?.clone();
                Some((d["id"].as_str()?.to_string(), coupon))
            })
            .collect()
    }

    /// After a subscription's invoice: a `once` discount that took something off it, and a
    /// `repeating` one whose months are over, leave the subscription
    /// (`customer.discount.deleted`).
    pub(crate) fn retire_discounts(&mut self, invoice: &Value, origin: &Origin) {
        let Some(subscription) = invoice["subscription"].as_str().map(str::to_string) else { return };
        let at = invoice["created"].as_i64().unwrap_or_default();
        let held: Vec<String> = self
            .subscriptions
            .get(&subscription)
            .and_then(|s| s["discounts"].as_array())
            .into_iter()
            .flatten()
            .filter_map(|d| d.as_str().map(str::to_string))
            .collect();
        let used = |id: &str| {
            invoice["total_discount_amounts"]
                .as_array()
                .is_some_and(|amounts| amounts.iter().any(|a| a["discount"] == id && a["amount"].as_i64().is_some_and(|n| n > 0)))
        };
        let retired: Vec<String> = held
            .into_iter()
            .filter(|id| {
                let Some(discount) = self.discounts.get(id) else { return true };
                let once =
                    self.coupons.get(discount["source"]["coupon"].as_str().unwrap_or_default()).is_some_and(|c| c["duration"] == "once");
                (once && used(id)) || discount["end"].as_i64().is_some_and(|end| end <= at)
            })
            .collect();
        if retired.is_empty() {
            return;
        }
        self.update(
            |s| &mut s.subscriptions,
            &subscription,
            "customer.subscription.updated",
            origin,
            |s| {
                if let Some(Value::Array(discounts)) = s.get_mut("discounts") {
                    discounts.retain(|d| d.as_str().is_none_or(|id| !retired.iter().any(|r| r == id)));
                }
            },
        );
        for id in retired {
            if let Some(discount) = self.discounts.get(&id).cloned() {
                self.emit("customer.discount.deleted", &discount, None, origin);
            }
        }
    }
}

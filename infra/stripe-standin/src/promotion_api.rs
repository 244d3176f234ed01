//! The endpoints and parameters for coupons and promotion codes: listing codes (how a caller
//! looks one up by what a customer typed), the `discounts[]` parameter that Checkout and
//! subscription updates take, and coupons' includable `applies_to`.

use serde_json::Value;

use crate::account::Account;
use crate::coupons::DiscountChoice;
use crate::error::StripeApiError;
use crate::params::{Params, paginate};

/// `GET /v1/promotion_codes`: newest first, filtered by `code` (case-insensitive, as Stripe
/// matches codes), `active` and `coupon`.
pub(crate) fn list_promotion_codes(account: &Account, p: &Params) -> Result<Value, StripeApiError> {
    p.allow_only(&["active", "code", "coupon", "ending_before", "expand", "limit", "starting_after"])?;
    let code = p.str("code")?;
    let active = p.bool("active")?;
    let coupon = p.str("coupon")?;
    let matching = account
        .promotion_codes
        .newest_first()
        .filter(|c| code.is_none_or(|code| c["code"].as_str().is_some_and(|have| have.eq_ignore_ascii_case(code))))
        .filter(|c| active.is_none_or(|active| c["active"] == active))
        .filter(|c| coupon.is_none_or(|coupon| c["promotion"]["coupon"] == coupon))
        .cloned()
        .collect();
    paginate(matching, p, "promotion_code", "/v1/promotion_codes")
}

/// `discounts[i][promotion_code]` or `discounts[i][coupon]`, each with its parameter name.
/// `None` when absent; an empty string (`discounts=`) is an empty list, which removes them.
pub(crate) fn discount_choices(p: &Params) -> Result<Option<Vec<(String, DiscountChoice)>>, StripeApiError> {
    if p.str("discounts").is_ok_and(|s| s == Some("")) {
        return Ok(Some(Vec::new()));
    }
    let entries = p.list("discounts")?;
    if entries.is_empty() {
        return Ok(None);
    }
    let mut choices = Vec::new();
    for entry in entries {
        entry.allow_only(&["coupon", "promotion_code"])?;
        let choice = match (entry.str("promotion_code")?, entry.str("coupon")?) {
            (Some(code), None) => (entry.name("promotion_code"), DiscountChoice::PromotionCode(code.to_string())),
            (None, Some(coupon)) => (entry.name("coupon"), DiscountChoice::Coupon(coupon.to_string())),
            _ => {
                return Err(StripeApiError::invalid(
                    entry.own_name(),
                    "You may only specify one of these parameters: coupon, promotion_code.",
                ));
            }
        };
        choices.push(choice);
    }
    Ok(Some(choices))
}

/// Coupons show `applies_to` only when it is expanded (`expand[]=applies_to`,
/// `data.promotion.coupon.applies_to`...), as Stripe's includable fields do.
pub(crate) fn hide_unexpanded_applies_to(value: &mut Value, paths: &[String]) {
    if paths.iter().any(|path| path == "applies_to" || path.ends_with(".applies_to")) {
        return;
    }
    match value {
        Value::Object(map) => {
            if map.get("object").is_some_and(|o| o == "coupon") {
                map.remove("applies_to");
            }
            map.values_mut().for_each(|v| hide_unexpanded_applies_to(v, paths));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| hide_unexpanded_applies_to(v, paths)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn applies_to_shows_only_when_expanded() {
        let mut code = json!({"promotion": {"coupon": {"object": "coupon", "applies_to": {"products": ["prod_1"]}}}});
        let mut expanded = code.clone();
        hide_unexpanded_applies_to(&mut code, &["promotion.coupon".into()]);
        assert_eq!(code["promotion"]["coupon"].get("applies_to"), None);
        hide_unexpanded_applies_to(&mut expanded, &["promotion.coupon.applies_to".into()]);
        assert_eq!(expanded["promotion"]["coupon"]["applies_to"]["products"][0], "prod_1");
    }

    #[test]
    fn discounts_name_one_code_or_coupon_each() {
        let value = json!({"discounts": {"0": {"promotion_code": "promo_1"}, "1": {"coupon": "C"}}});
        let choices = discount_choices(&Params::root(&value).unwrap()).unwrap().unwrap();
        assert_eq!(choices[0].0, "discounts[0][promotion_code]");
        assert!(matches!(&choices[1].1, DiscountChoice::Coupon(c) if c == "C"));
        let both = json!({"discounts": {"0": {"promotion_code": "promo_1", "coupon": "C"}}});
        assert_eq!(discount_choices(&Params::root(&both).unwrap()).err().map(|e| e.status), Some(400));
        let cleared = json!({"discounts": ""});
        assert_eq!(discount_choices(&Params::root(&cleared).unwrap()).unwrap().map(|c| c.len()), Some(0));
    }
}

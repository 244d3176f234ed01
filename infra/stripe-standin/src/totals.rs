//! The arithmetic behind an invoice's or a Checkout Session's amounts: discounts taken off
//! the lines they apply to, then the stand-in's predictable tax on what is left, so that
//! `total = subtotal - discount + tax` holds for the whole and for every line.

use serde_json::Value;

/// The stand-in's tax rule: this percentage of the amount after discounts.
pub(crate) const TAX_PERCENT: i64 = 10;

/// One line to total: the product it bills and its amount before discounts (negative for a
/// credit).
pub(crate) struct TotalsLine<'a> {
    pub(crate) product: &'a str,
    pub(crate) amount: i64,
}

/// A discount to apply: its id (what the amounts name) and its coupon object.
pub(crate) struct AppliedDiscount<'a> {
    pub(crate) id: &'a str,
    pub(crate) coupon: &'a Value,
}

#[derive(Debug, Default, PartialEq)]
pub(crate) struct Totals {
    pub(crate) subtotal: i64,
    pub(crate) discount: i64,
    pub(crate) tax: i64,
    pub(crate) total: i64,
    /// Per discount, in the order given: how much it took off.
    pub(crate) by_discount: Vec<(String, i64)>,
    /// Per line, in the order given: what each discount took off it (zeros left out).
    pub(crate) line_discounts: Vec<Vec<(String, i64)>>,
    /// Per line, in the order given: its share of the tax.
    pub(crate) line_taxes: Vec<i64>,
}

impl Totals {
    /// The amount the tax was computed on.
    pub(crate) fn taxable(&self) -> i64 {
        (self.subtotal - self.discount).max(0)
    }
}

/// Applies `discounts` one after the other to the lines their coupons cover, then, when
/// `taxed`, adds [`TAX_PERCENT`] of the amount after discounts (rounded half up), shared out
/// over the lines by what is left of each.
pub(crate) fn compute(lines: &[TotalsLine], discounts: &[AppliedDiscount], taxed: bool) -> Totals {
    let subtotal: i64 = lines.iter().map(|l| l.amount).sum();
    let mut left: Vec<i64> = lines.iter().map(|l| l.amount).collect();
    let mut line_discounts = vec![Vec::new(); lines.len()];
    let mut by_discount = Vec::new();
    for discount in discounts {
        let covered: Vec<bool> = lines.iter().map(|l| covers(discount.coupon, l.product)).collect();
        let base: Vec<i64> = left.iter().zip(&covered).map(|(amount, covered)| if *covered { (*amount).max(0) } else { 0 }).collect();
        let eligible: i64 = base.iter().sum();
        let off = match (discount.coupon["percent_off"].as_f64(), discount.coupon["amount_off"].as_i64()) {
            (Some(percent), _) => percent_of(eligible, percent),
            (None, Some(amount_off)) => amount_off.min(eligible),
            (None, None) => 0,
        };
        let shares = allocate(off, &base);
        for (i, share) in shares.into_iter().enumerate() {
            if share != 0 {
                left[i] -= share;
                line_discounts[i].push((discount.id.to_string(), share));
            }
        }
        by_discount.push((discount.id.to_string(), off));
    }
    let discount: i64 = by_discount.iter().map(|(_, amount)| amount).sum();
    let tax = if taxed { tax_on(subtotal - discount) } else { 0 };
    let weights: Vec<i64> = left.iter().map(|amount| (*amount).max(0)).collect();
    let line_taxes = allocate(tax, &weights);
    Totals { subtotal, discount, tax, total: subtotal - discount + tax, by_discount, line_discounts, line_taxes }
}

/// [`TAX_PERCENT`] of `amount`, rounded half up; nothing on a zero or negative amount.
pub(crate) fn tax_on(amount: i64) -> i64 {
    if amount <= 0 { 0 } else { (amount * TAX_PERCENT + 50) / 100 }
}

/// `percent` of `amount`, rounded half up to the smallest unit.
fn percent_of(amount: i64, percent: f64) -> i64 {
    ((amount as f64) * percent / 100.0).round() as i64
}

/// Whether `coupon` applies to `product`: every product unless `applies_to` names some.
fn covers(coupon: &Value, product: &str) -> bool {
    match coupon["applies_to"]["products"].as_array() {
        Some(products) => products.iter().any(|p| p == product),
        None => true,
    }
}

/// `total` shared out in proportion to `weights` (all zero or positive), rounding down and
/// giving what rounding left over to the heaviest weight, so the shares add up to `total`.
pub(crate) fn allocate(total: i64, weights: &[i64]) -> Vec<i64> {
    let sum: i64 = weights.iter().sum();
    if sum <= 0 {
        return vec![0; weights.len()];
    }
    let mut shares: Vec<i64> = weights.iter().map(|w| ((total as i128 * *w as i128) / sum as i128) as i64).collect();
    let remainder = total - shares.iter().sum::<i64>();
    if let Some(heaviest) = weights.iter().enumerate().max_by_key(|(_, w)| **w).map(|(i, _)| i) {
        shares[heaviest] += remainder;
    }
    shares
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn line(product: &str, amount: i64) -> TotalsLine<'_> {
        TotalsLine { product, amount }
    }

    #[test]
    fn percent_discount_then_tax_on_what_is_left() {
        let coupon = json!({"percent_off": 20.0, "amount_off": null});
        let totals = compute(&[line("prod_pro", 2000)], &[AppliedDiscount { id: "di_1", coupon: &coupon }], true);
        assert_eq!((totals.subtotal, totals.discount, totals.tax, totals.total), (2000, 400, 160, 1760));
        assert_eq!(totals.line_discounts, [vec![("di_1".to_string(), 400)]]);
        assert_eq!(totals.line_taxes, [160]);
        assert_eq!(totals.taxable(), 1600);
    }

    #[test]
    fn amount_off_is_capped_and_limited_to_covered_products() {
        let coupon = json!({"percent_off": null, "amount_off": 5000, "applies_to": {"products": ["prod_a"]}});
        let totals = compute(&[line("prod_a", 1000), line("prod_b", 3000)], &[AppliedDiscount { id: "di_1", coupon: &coupon }], false);
        assert_eq!((totals.discount, totals.total), (1000, 3000));
        assert_eq!(totals.line_discounts, [vec![("di_1".to_string(), 1000)], vec![]]);
        assert_eq!(totals.line_taxes, [0, 0]);
    }

    #[test]
    fn tax_rounds_half_up_and_skips_credits() {
        assert_eq!(tax_on(1005), 101);
        assert_eq!(tax_on(1004), 100);
        assert_eq!(tax_on(-500), 0);
        let totals = compute(&[line("p", 3000), line("p", -1000)], &[], true);
        assert_eq!((totals.tax, totals.total, totals.line_taxes.clone()), (200, 2200, vec![200, 0]));
    }

    #[test]
    fn allocation_adds_up() {
        assert_eq!(allocate(100, &[1, 1, 1]), [33, 33, 34]);
        assert_eq!(allocate(7, &[0, 0]), [0, 0]);
        assert_eq!(allocate(10, &[3, 0, 1]), [8, 0, 2]);
    }
}

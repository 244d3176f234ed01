//! A promotion code the customer types on the hosted page, which a session made with
//! `allow_promotion_codes` offers: checked as `discounts` would be at creation; then the
//! session's amounts show it, and Pay redeems it.

use serde_json::json;

use crate::account::{Account, LineItem};
use crate::coupons::DiscountChoice;
use crate::objects::{self, SessionAmounts};

impl Account {
    /// Applies `typed` (any letter case, as Stripe's page takes it) to the open session `id`,
    /// in place of a code applied before; otherwise the refusal the page shows.
    pub(crate) fn apply_typed_code(&mut self, id: &str, typed: &str) -> Result<(), String> {
        let session = self.sessions.get(id).ok_or_else(|| format!("no such checkout session: {id}"))?;
        if session["status"] != "open" || session["allow_promotion_codes"] != true {
            return Err("This checkout does not take promotion codes.".into());
        }
        let customer = session["customer"].as_str().map(str::to_string);
        let currency = session["currency"].as_str().unwrap_or("usd").to_string();
        let taxed = session["automatic_tax"]["status"] == "complete";
        let typed = typed.trim();
        let promotion_code = self
            .promotion_codes
            .all()
            .iter()
            .find(|code| code["code"].as_str().is_some_and(|code| code.eq_ignore_ascii_case(typed)))
            .and_then(|code| code["id"].as_str())
            .map(str::to_string)
            .ok_or_else(|| "This code is invalid.".to_string())?;
        let details = self.session_details.get(id).ok_or("checkout session has no line items")?;
        let items: Vec<LineItem> = details.items.iter().map(|(_, item)| item.clone()).collect();
        let choice = DiscountChoice::PromotionCode(promotion_code);
        let redemption = self
            .redeemable_on(&items, details.trial.is_some(), &choice, "promotion_code", customer.as_deref(), &currency)
            .map_err(|refused| refused.message().to_string())?;
        let discounts = json!([{ "coupon": redemption.coupon, "promotion_code": redemption.promotion_code }]);
        let details = self.session_details.get_mut(id).ok_or("checkout session has no line items")?;
        details.discount = Some(redemption);
        let details = self.session_details.get(id).ok_or("checkout session has no line items")?;
        let amounts = SessionAmounts::of(&self.session_totals(details, taxed));
        self.modify(
            |account| &mut account.sessions,
            id,
            |s| {
                s.insert("discounts".into(), discounts);
                s.insert("amount_subtotal".into(), json!(amounts.subtotal));
                s.insert("amount_total".into(), json!(amounts.total));
                s.insert("total_details".into(), objects::total_details(amounts));
            },
        );
        Ok(())
    }
}

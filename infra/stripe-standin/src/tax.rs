//! Automatic tax by a predictable rule instead of Stripe Tax's jurisdictions: a customer with
//! an address pays `totals::TAX_PERCENT` of what is left after discounts, wherever the address
//! is; without an address nothing is charged and the tax waits for one
//! (`requires_location_inputs`), as Stripe reports it.

use serde_json::{Value, json};

use crate::account::{Account, Origin};

/// The billing address the hosted Checkout page enters for the customer.
pub(crate) fn test_address() -> Value {
    json!({"city": "South San Francisco", "country": "US", "line1": "354 Oyster Point Blvd", "line2": null, "postal_code": "94080", "state": "CA"})
}

/// Whether Stripe could locate `customer` for tax: it has an address with a country.
pub(crate) fn has_address(customer: &Value) -> bool {
    customer["address"]["country"].is_string()
}

impl Account {
    /// How an invoice for `customer` is taxed: `None` without automatic tax; with it, the tax
    /// rate charged at, or `None` inside when the customer has no address yet.
    pub(crate) fn tax_rate_for(&self, automatic_tax: bool, customer: &Value) -> Option<Option<String>> {
        automatic_tax.then(|| has_address(customer).then(|| self.tax_rate["id"].as_str().unwrap_or_default().to_string()))
    }

    /// What the hosted page's address form does: the test address becomes the customer's
    /// (`customer.updated`).
    pub(crate) fn record_test_address(&mut self, customer: &str, origin: &Origin) {
        self.update(
            |s| &mut s.customers,
            customer,
            "customer.updated",
            origin,
            |c| {
                c.insert("address".into(), test_address());
            },
        );
    }
}

//! `GET /billing/invoices`: the invoice history of the org's Stripe customer, paged as Stripe
//! pages it.

use crate::App;
use crate::billing::load_org;
use crate::domain::invalid::FieldProblem;
use crate::domain::principal::Principal;
use crate::error::ApiError;
use crate::stripe::InvoicePage;

pub const DEFAULT_LIMIT: u8 = 10;
pub const MAX_LIMIT: u8 = 100;

/// The query of `GET /billing/invoices`, checked before anything is fetched.
#[derive(Debug, PartialEq, Eq)]
pub struct InvoiceQuery {
    pub limit: u8,
    pub starting_after: Option<String>,
}

impl InvoiceQuery {
    pub fn parse(limit: Option<&str>, starting_after: Option<&str>) -> Result<Self, ApiError> {
        let mut problems = Vec::new();
        let limit = match limit.map(str::parse::<u8>) {
            None => DEFAULT_LIMIT,
            Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
            Some(_) => {
                problems.push(FieldProblem::new("limit", format!("must be a whole number from 1 to {MAX_LIMIT}")));
                DEFAULT_LIMIT
            }
        };
        let valid_id = |id: &&str| id.starts_with("in_") && id.len() <= 255 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if starting_after.is_some_and(|id| !valid_id(&id)) {
            problems.push(FieldProblem::new("starting_after", "must be an invoice id (in_...) from a previous page"));
        }
        match problems.is_empty() {
            true => Ok(Self { limit, starting_after: starting_after.map(str::to_string) }),
            false => Err(ApiError::validation(problems)),
        }
    }
}

/// The org's invoices, newest first; an org that never had a Stripe customer has none.
pub async fn list(app: &App, principal: &Principal, query: &InvoiceQuery) -> Result<InvoicePage, ApiError> {
    let org = load_org(&app.store, &principal.org_id).await?;
    let Some(customer_id) = org.stripe_customer_id else { return Ok(InvoicePage { data: Vec::new(), has_more: false }) };
    app.stripe()?.list_invoices(&customer_id, query.limit, query.starting_after.as_deref()).await.map_err(|err| {
        // Stripe refusing the cursor: no such invoice, or another customer's. Either way this org
        // has no invoice of that id (404, as for anything of another org).
        match (err.is_refused_id(), &query.starting_after) {
            (true, Some(id)) => ApiError::not_found(format!("`starting_after`: this org has no invoice `{id}`.")),
            _ => err.into(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_and_cursor_are_checked() {
        assert_eq!(InvoiceQuery::parse(None, None).unwrap(), InvoiceQuery { limit: 10, starting_after: None });
        assert_eq!(InvoiceQuery::parse(Some("100"), Some("in_123")).unwrap().limit, 100);
        for bad in ["0", "101", "-1", "ten", "1.5", ""] {
            assert!(InvoiceQuery::parse(Some(bad), None).is_err(), "{bad}");
        }
        for bad in ["cus_1", "in_1&limit=5", "in_ä"] {
            assert!(InvoiceQuery::parse(None, Some(bad)).is_err(), "{bad}");
        }
        let err = InvoiceQuery::parse(Some("0"), Some("x")).unwrap_err();
        assert_eq!(err.details.unwrap()["fields"].as_array().unwrap().len(), 2);
    }
}

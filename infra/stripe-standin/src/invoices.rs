//! Invoices: the lines a change or a period bills, rendered into Stripe's invoice with the
//! subscription's discounts and automatic tax applied, numbered, stored and reported.

use serde_json::{Map, Value, json};

use crate::account::{Account, Origin};
use crate::catalog::Price;
use crate::catalog::full_amount;
use crate::objects::{self, LineSource, NewInvoice, NewInvoiceLine};
use crate::totals::{self, AppliedDiscount, TotalsLine};

/// One invoice line before it is rendered: a price and quantity, billed in full for a period,
/// or for a set amount with its own description (a proration, negative for unused time, or a
/// trial's zero).
pub(crate) struct BillingLine {
    price: String,
    quantity: u64,
    subscription_item: Option<String>,
    period: (i64, i64),
    set_amount: Option<(i64, String)>,
    proration: bool,
}

impl BillingLine {
    pub(crate) fn full(price: &str, quantity: u64, subscription_item: Option<String>, period: (i64, i64)) -> Self {
        Self { price: price.to_string(), quantity, subscription_item, period, set_amount: None, proration: false }
    }

    pub(crate) fn proration(price: &Price, quantity: u64, item: &str, period: (i64, i64), amount: i64, description: String) -> Self {
        Self {
            price: price.id.clone(),
            quantity,
            subscription_item: Some(item.to_string()),
            period,
            set_amount: Some((amount, description)),
            proration: true,
        }
    }

    /// A recurring item during a trial: billed at zero, as `Trial period for Pro`.
    pub(crate) fn trial(price: &Price, quantity: u64, item: &str, period: (i64, i64)) -> Self {
        Self {
            price: price.id.clone(),
            quantity,
            subscription_item: Some(item.to_string()),
            period,
            set_amount: Some((0, format!("Trial period for {}", price.product_name))),
            proration: false,
        }
    }
}

pub(crate) struct InvoiceSpec {
    pub(crate) id: String,
    pub(crate) customer: String,
    pub(crate) subscription: Option<String>,
    pub(crate) lines: Vec<BillingLine>,
    pub(crate) billing_reason: &'static str,
    pub(crate) period: (i64, i64),
    pub(crate) paid: bool,
    pub(crate) created: i64,
    pub(crate) description: Option<String>,
    pub(crate) metadata: Map<String, Value>,
    /// The discounts of an invoice without a subscription; one with a subscription gets the
    /// subscription's.
    pub(crate) discounts: Vec<String>,
    /// Whether automatic tax applies; `None`: as the subscription says (off without one).
    pub(crate) automatic_tax: Option<bool>,
    /// A preview's `discounts`: coupons (by id) applied instead of the subscription's.
    pub(crate) preview_coupons: Option<Vec<String>>,
}

impl InvoiceSpec {
    /// An invoice charged successfully when created at `now`, outside a renewal; Stripe gives
    /// such an invoice an empty period at its creation time.
    pub(crate) fn paid_at(
        now: i64,
        id: String,
        customer: String,
        subscription: Option<String>,
        lines: Vec<BillingLine>,
        billing_reason: &'static str,
    ) -> Self {
        Self {
            id,
            customer,
            subscription,
            lines,
            billing_reason,
            period: (now, now),
            paid: true,
            created: now,
            description: None,
            metadata: Map::new(),
            discounts: Vec::new(),
            automatic_tax: None,
            preview_coupons: None,
        }
    }
}

impl Account {
    /// Renders, stores and reports a finalized invoice that was charged once.
    pub(crate) fn create_invoice(&mut self, spec: InvoiceSpec, origin: &Origin) -> Value {
        let customer = self.next_invoice_number(&spec.customer);
        let number = customer["invoice_prefix"]
            .as_str()
            .map(|prefix| format!("{prefix}-{:04}", customer["next_invoice_sequence"].as_u64().unwrap_or(1).saturating_sub(1)));
        let invoice = self.render_invoice(&spec, &customer, number);
        self.invoices.push(invoice.clone());
        if spec.paid {
            self.emit("invoice.paid", &invoice, None, origin);
            self.emit("invoice.payment_succeeded", &invoice, None, origin);
        } else {
            self.emit("invoice.payment_failed", &invoice, None, origin);
        }
        self.retire_discounts(&invoice, origin);
        invoice
    }

    /// The invoice object for `spec`, neither stored nor reported (previews have no number).
    pub(crate) fn render_invoice(&mut self, spec: &InvoiceSpec, customer: &Value, number: Option<String>) -> Value {
        let subscription = spec.subscription.as_ref().and_then(|id| self.subscriptions.get(id)).cloned();
        let subscription_metadata = subscription.as_ref().map_or(json!({}), |s| s["metadata"].clone());
        let discounts = match (&spec.preview_coupons, &subscription) {
            (Some(coupons), _) => {
                coupons.iter().filter_map(|id| Some((format!("di_preview_{id}"), self.coupons.get(id)?.clone()))).collect()
            }
            (None, Some(subscription)) => self.discounts_in_force(subscription, spec.created),
            (None, None) => spec
                .discounts
                .iter()
                .filter_map(|id| {
                    let coupon = self.discounts.get(id)?["source"]["coupon"].as_str()?;
                    Some((id.clone(), self.coupons.get(coupon)?.clone()))
                })
                .collect(),
        };
        let automatic_tax =
            spec.automatic_tax.unwrap_or_else(|| subscription.as_ref().is_some_and(|s| s["automatic_tax"]["enabled"] == true));
        let tax_rate = self.tax_rate_for(automatic_tax, customer);
        let priced: Vec<(&Price, &BillingLine)> =
            spec.lines.iter().filter_map(|line| Some((self.catalog.price(&line.price)?, line))).collect();
        let amounts: Vec<(i64, String)> = priced
            .iter()
            .map(|(price, line)| match &line.set_amount {
                Some((amount, description)) => (*amount, description.clone()),
                None => (full_amount(price, line.quantity), describe(price, line.quantity)),
            })
            .collect();
        let totals_lines: Vec<TotalsLine> =
            priced.iter().zip(&amounts).map(|((price, _), (amount, _))| TotalsLine { product: &price.product, amount: *amount }).collect();
        let applied: Vec<AppliedDiscount> = discounts.iter().map(|(id, coupon)| AppliedDiscount { id, coupon }).collect();
        let totals = totals::compute(&totals_lines, &applied, matches!(tax_rate, Some(Some(_))));
        let currency = priced.last().map_or_else(|| "usd".to_string(), |(price, _)| price.currency.clone());
        let mut lines = Vec::new();
        for (i, ((price, line), (amount, description))) in priced.iter().zip(amounts).enumerate() {
            let taxable = amount - totals.line_discounts[i].iter().map(|(_, off)| off).sum::<i64>();
            let tax = tax_rate.as_ref().and_then(Option::as_deref).map(|rate| (totals.line_taxes[i], taxable.max(0), rate));
            let id = self.ids.id("il_", 24);
            let invoice_item = self.ids.id("ii_", 24);
            let source = match &line.subscription_item {
                Some(item) => LineSource::SubscriptionItem(item),
                None => LineSource::InvoiceItem(&invoice_item),
            };
            lines.push(objects::invoice_line(NewInvoiceLine {
                id: &id,
                invoice: &spec.id,
                price,
                quantity: line.quantity,
                amount,
                description,
                period: line.period,
                subscription: spec.subscription.as_deref(),
                source,
                proration: line.proration,
                discount_amounts: &totals.line_discounts[i],
                tax,
            }));
        }
        objects::invoice(NewInvoice {
            id: &spec.id,
            created: spec.created,
            customer,
            subscription: spec.subscription.as_deref().map(|id| (id, &subscription_metadata)),
            currency: &currency,
            lines,
            totals: &totals,
            automatic_tax: tax_rate.as_ref().map(Option::as_deref),
            number,
            billing_reason: spec.billing_reason,
            period: spec.period,
            paid: spec.paid,
            description: spec.description.as_deref(),
            metadata: &spec.metadata,
            public_base: &self.public_base,
        })
    }

    /// Takes the customer's next invoice number (Stripe numbers invoices
    /// `<invoice_prefix>-<sequence>` per customer); returns the customer after the step.
    fn next_invoice_number(&mut self, customer: &str) -> Value {
        let stepped = self.modify(
            |s| &mut s.customers,
            customer,
            |c| {
                let next = c.get("next_invoice_sequence").and_then(Value::as_u64).unwrap_or(1);
                c.insert("next_invoice_sequence".into(), json!(next + 1));
            },
        );
        stepped.map_or_else(|| json!({"id": customer}), |(_, after)| after)
    }

    pub(crate) fn line_amount(&self, line: &BillingLine) -> i64 {
        match &line.set_amount {
            Some((amount, _)) => *amount,
            None => self.catalog.price(&line.price).map_or(0, |p| full_amount(p, line.quantity)),
        }
    }
}

/// Stripe's line description: `1 × Pro (at $20.00 / month)`.
fn describe(price: &Price, quantity: u64) -> String {
    let amount = crate::catalog::money(i64::try_from(price.unit_amount).unwrap_or(i64::MAX), &price.currency);
    match &price.interval {
        Some(interval) => format!("{quantity} × {} (at {amount} / {interval})", price.product_name),
        None => format!("{quantity} × {} (at {amount})", price.product_name),
    }
}

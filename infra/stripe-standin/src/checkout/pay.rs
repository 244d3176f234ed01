//! Completing a session: the hosted page's Pay button, which creates what a real payment would.

use serde_json::{Value, json};

use super::DAY;
use crate::account::{Account, CustomerFields, Origin};
use crate::cards::TestCard;
use crate::catalog::Price;
use crate::clock;
use crate::coupons::DiscountHolder;
use crate::invoices::{BillingLine, InvoiceSpec};
use crate::objects::{self, NewPaymentIntent, NewSubscription, NewSubscriptionItem, SessionAmounts};
use crate::tax;

impl Account {
    /// What pressing Pay does. Returns where the browser goes next (the success URL with
    /// `{CHECKOUT_SESSION_ID}` filled in). Paying a completed session again changes nothing.
    pub(crate) fn complete_checkout(&mut self, id: &str) -> Result<String, String> {
        let session = self.sessions.get(id).ok_or_else(|| format!("no such checkout session: {id}"))?.clone();
        let redirect = session["success_url"].as_str().unwrap_or_default().replace("{CHECKOUT_SESSION_ID}", id);
        match session["status"].as_str() {
            Some("open") => {}
            Some("complete") => return Ok(redirect),
            other => {
                return Err(format!("checkout session {id} is {}", other.unwrap_or("unknown")));
            }
        }
        let origin = Origin::default();
        let completion =
            if session["mode"] == "subscription" { self.pay_subscription(&session, &origin)? } else { self.pay_once(&session, &origin)? };
        let amounts = completion.amounts;
        let completed = self.modify(
            |s| &mut s.sessions,
            id,
            |s| {
                let automatic_tax = s.get("automatic_tax").is_some_and(|t| t["enabled"] == true);
                s.insert("status".into(), json!("complete"));
                // A trial or a full discount leaves nothing to pay now.
                s.insert("payment_status".into(), json!(if amounts.total == 0 { "no_payment_required" } else { "paid" }));
                s.insert("url".into(), Value::Null);
                s.insert("amount_subtotal".into(), json!(amounts.subtotal));
                s.insert("amount_total".into(), json!(amounts.total));
                s.insert("total_details".into(), objects::total_details(amounts));
                s.insert("automatic_tax".into(), objects::session_automatic_tax(automatic_tax, true));
                s.insert("customer_details".into(), completion.customer_details);
                for (key, value) in completion.links {
                    s.insert(key.into(), value);
                }
            },
        );
        if let Some((_, session)) = completed {
            self.emit("checkout.session.completed", &session, None, &origin);
        }
        Ok(redirect)
    }

    /// Subscription mode: customer (created if the session had none), card, subscription,
    /// first invoice, in the order Stripe reports them.
    fn pay_subscription(&mut self, session: &Value, origin: &Origin) -> Result<Completion, String> {
        let details = self.session_details.get(session_id(session)).ok_or("checkout session has no line items")?;
        let lines: Vec<(String, u64)> = details.items.iter().map(|(_, item)| (item.price.clone(), item.quantity)).collect();
        let metadata = Value::Object(details.subscription_metadata.clone());
        let (trial, discount, automatic_tax, collects_address) =
            (details.trial.clone(), details.discount.clone(), details.automatic_tax, details.collects_address);
        let customer = self.checkout_customer(session, origin);
        if collects_address {
            self.record_test_address(&customer, origin);
        }
        // With `if_required`, a trial (nothing to pay now) is started without a card.
        let saves_card = trial.is_none() || session["payment_method_collection"] != "if_required";
        let payment_method = saves_card.then(|| self.attach_test_card(&customer, true));
        let now = self.now();
        let prices: Vec<&Price> = lines.iter().filter_map(|(price, _)| self.catalog.price(price)).collect();
        let interval = prices.iter().find_map(|p| p.interval.clone()).unwrap_or_else(|| "month".into());
        let period = match &trial {
            Some(trial) => (now, now.saturating_add(i64::try_from(trial.days).unwrap_or(0).saturating_mul(DAY))),
            None => (now, clock::add_interval(now, &interval)),
        };

        let subscription_id = self.ids.id("sub_", 24);
        let invoice_id = self.ids.id("in_", 24);
        let mut items = Vec::new();
        let mut billing_lines = Vec::new();
        for (price_id, quantity) in &lines {
            let Some(price) = self.catalog.price(price_id) else {
                continue;
            };
            // One-time prices in a subscription checkout are billed once, on the first invoice.
            let item_id = price.interval.as_ref().map(|_| self.ids.id("si_", 14));
            if let Some(item_id) = &item_id {
                items.push(objects::subscription_item(NewSubscriptionItem {
                    id: item_id,
                    subscription: &subscription_id,
                    price,
                    quantity: *quantity,
                    created: now,
                    period,
                }));
            }
            billing_lines.push(match (&trial, item_id) {
                (Some(_), Some(item_id)) => BillingLine::trial(price, *quantity, &item_id, period),
                (_, item_id) => BillingLine::full(price_id, *quantity, item_id, period),
            });
        }
        let holder =
            DiscountHolder { customer: Some(&customer), subscription: Some(&subscription_id), checkout_session: Some(session_id(session)) };
        let discounts: Vec<String> = discount.iter().map(|d| self.redeem(d, holder, now, origin)).collect();
        let subscription = objects::subscription(NewSubscription {
            id: &subscription_id,
            created: now,
            customer: &customer,
            currency: session["currency"].as_str().unwrap_or("usd"),
            items,
            latest_invoice: &invoice_id,
            default_payment_method: payment_method.as_deref(),
            metadata: metadata.as_object().cloned().unwrap_or_default(),
            trial: trial.as_ref().map(|_| period),
            missing_payment_method: trial.as_ref().map_or("create_invoice", |t| t.missing_payment_method),
            discounts,
            automatic_tax,
        });
        self.subscriptions.push(subscription.clone());
        self.emit("customer.subscription.created", &subscription, None, origin);
        let spec = InvoiceSpec::paid_at(
            now,
            invoice_id.clone(),
            customer.clone(),
            Some(subscription_id.clone()),
            billing_lines,
            "subscription_create",
        );
        let invoice = self.create_invoice(spec, origin);
        Ok(Completion {
            customer_details: self.customer_details(session, Some(&customer), collects_address),
            links: vec![("customer", json!(customer)), ("subscription", json!(subscription_id)), ("invoice", json!(invoice_id))],
            amounts: invoice_amounts(&invoice),
        })
    }

    /// Payment mode: a succeeded payment intent for the session total.
    fn pay_once(&mut self, session: &Value, origin: &Origin) -> Result<Completion, String> {
        let details = self.session_details.get(session_id(session)).ok_or("checkout session has no line items")?;
        let metadata = details.payment_intent_metadata.clone();
        let invoice_data = details.invoice_data.clone();
        let (discount, automatic_tax, collects_address) = (details.discount.clone(), details.automatic_tax, details.collects_address);
        // The test address is entered whenever it is collected, so the tax is known now.
        let totals = self.session_totals(details, automatic_tax);
        let lines: Vec<(String, u64)> = details.items.iter().map(|(_, item)| (item.price.clone(), item.quantity)).collect();
        // An invoice needs a customer, so Checkout creates one for it (`if_required`).
        let customer = match (&invoice_data, session["customer"].as_str()) {
            (_, Some(customer)) => Some(customer.to_string()),
            (Some(_), None) => Some(self.checkout_customer(session, origin)),
            (None, None) => None,
        };
        if let Some(customer) = customer.as_deref().filter(|_| collects_address) {
            self.record_test_address(customer, origin);
        }
        let payment_method = match &customer {
            Some(customer) => self.attach_test_card(customer, false),
            None => self.create_test_card(None, &TestCard::VISA),
        };
        let id = self.ids.id("pi_", 24);
        let secret = self.ids.id("", 25);
        let now = self.now();
        let intent = objects::payment_intent(NewPaymentIntent {
            id: &id,
            secret: &secret,
            created: now,
            amount: u64::try_from(totals.total).unwrap_or_default(),
            currency: session["currency"].as_str().unwrap_or("usd"),
            customer: customer.as_deref(),
            payment_method: Some(&payment_method),
            metadata,
            status: "succeeded",
            latest_charge: None,
            last_payment_error: Value::Null,
        });
        self.payment_intents.push(intent.clone());
        self.emit("payment_intent.succeeded", &intent, None, origin);
        let mut links = vec![("payment_intent", json!(id))];
        let holder = DiscountHolder { customer: customer.as_deref(), subscription: None, checkout_session: Some(session_id(session)) };
        let discounts: Vec<String> = discount.iter().map(|d| self.redeem(d, holder, now, origin)).collect();
        if let (Some(data), Some(customer)) = (invoice_data, &customer) {
            let invoice_id = self.ids.id("in_", 24);
            let lines = lines.iter().map(|(price, quantity)| BillingLine::full(price, *quantity, None, (now, now))).collect();
            let spec = InvoiceSpec {
                description: data.description,
                metadata: data.metadata,
                discounts,
                automatic_tax: Some(automatic_tax),
                ..InvoiceSpec::paid_at(now, invoice_id.clone(), customer.clone(), None, lines, "manual")
            };
            self.create_invoice(spec, origin);
            links.push(("customer", json!(customer)));
            links.push(("invoice", json!(invoice_id)));
        }
        Ok(Completion {
            customer_details: self.customer_details(session, customer.as_deref(), collects_address),
            links,
            amounts: SessionAmounts::of(&totals),
        })
    }

    /// The session's customer, or a new one from `customer_email` (subscriptions always need one).
    fn checkout_customer(&mut self, session: &Value, origin: &Origin) -> String {
        if let Some(customer) = session["customer"].as_str() {
            return customer.to_string();
        }
        let fields = CustomerFields { email: session["customer_email"].as_str().map(str::to_string), ..Default::default() };
        let customer = self.create_customer(fields, origin);
        customer["id"].as_str().unwrap_or_default().to_string()
    }

    /// The test card, saved on the customer; for subscriptions it also becomes the
    /// customer's default for invoices.
    fn attach_test_card(&mut self, customer: &str, make_default: bool) -> String {
        let payment_method = self.create_test_card(Some(customer), &TestCard::VISA);
        let settings = self.customers.get_mut(customer).and_then(|c| c.get_mut("invoice_settings")).and_then(Value::as_object_mut);
        if make_default && let Some(settings) = settings {
            settings.insert("default_payment_method".into(), json!(payment_method));
        }
        payment_method
    }

    /// A new payment method for `card`, saved on `customer` when there is one.
    pub(crate) fn create_test_card(&mut self, customer: Option<&str>, card: &TestCard) -> String {
        let id = self.ids.id("pm_", 24);
        let owner = customer.and_then(|c| self.customers.get(c));
        let email = owner.and_then(|c| c["email"].as_str()).map(str::to_string);
        let name = owner.and_then(|c| c["name"].as_str()).map(str::to_string);
        let card = objects::payment_method(&id, self.now(), customer, email.as_deref(), name.as_deref(), card);
        self.payment_methods.push(card);
        id
    }

    /// What the page collected: the customer's email and name, and the test billing address
    /// when it asked for one.
    fn customer_details(&self, session: &Value, customer: Option<&str>, collected_address: bool) -> Value {
        let customer = customer.and_then(|c| self.customers.get(c));
        let email = customer.and_then(|c| c["email"].as_str()).or(session["customer_email"].as_str());
        let name = customer.and_then(|c| c["name"].as_str());
        let address = if collected_address { tax::test_address() } else { Value::Null };
        objects::customer_details(email, name, &address)
    }
}

/// What completing a session filled in, applied to the session in one update.
struct Completion {
    customer_details: Value,
    links: Vec<(&'static str, Value)>,
    amounts: SessionAmounts,
}

/// A session's amounts as its first invoice charged them.
fn invoice_amounts(invoice: &Value) -> SessionAmounts {
    let sum = |key: &str| invoice[key].as_array().into_iter().flatten().filter_map(|a| a["amount"].as_i64()).sum::<i64>();
    SessionAmounts {
        subtotal: invoice["subtotal"].as_i64().unwrap_or_default(),
        discount: sum("total_discount_amounts"),
        tax: sum("total_taxes"),
        total: invoice["total"].as_i64().unwrap_or_default(),
    }
}

fn session_id(session: &Value) -> &str {
    session["id"].as_str().unwrap_or_default()
}

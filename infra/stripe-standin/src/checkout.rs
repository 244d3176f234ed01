//! Checkout sessions: creation with Stripe's validation, expiry, and completion (the hosted
//! page's Pay button), which creates what a real payment would: a subscription with its first
//! paid invoice, or a succeeded payment intent (and its invoice when `invoice_creation` asks).

use serde_json::{Value, json};

use crate::account::{Account, CustomerFields, LineItem, Origin, SessionDetails};
use crate::billing::{BillingLine, InvoiceSpec};
use crate::cards::TestCard;
use crate::catalog::Price;
use crate::clock;
use crate::error::StripeApiError;
use crate::objects::{self, InvoiceData, NewCheckoutSession, NewPaymentIntent, NewSubscription, NewSubscriptionItem};
use crate::params::MetadataUpdate;

/// Stripe's largest charge in the smallest currency unit (999,999.99 for two-decimal
/// currencies).
pub(crate) const MAX_AMOUNT: u64 = 99_999_999;

/// A session expires 24 hours after creation unless `expires_at` says otherwise, which
/// must be 30 minutes to 24 hours away. The grace absorbs the client's clock running a
/// little ahead of ours.
const LIFETIME: i64 = 24 * 3600;
const MIN_LIFETIME: i64 = 30 * 60;
const CLOCK_GRACE: i64 = 10;

/// A validated `POST /v1/checkout/sessions`.
pub(crate) struct CheckoutRequest {
    pub(crate) mode: &'static str,
    pub(crate) customer: Option<String>,
    pub(crate) customer_email: Option<String>,
    pub(crate) client_reference_id: Option<String>,
    pub(crate) success_url: String,
    pub(crate) cancel_url: Option<String>,
    pub(crate) line_items: Vec<LineItem>,
    pub(crate) metadata: MetadataUpdate,
    pub(crate) subscription_metadata: MetadataUpdate,
    pub(crate) payment_intent_metadata: MetadataUpdate,
    pub(crate) expires_at: Option<i64>,
    /// `invoice_creation[enabled]=true` (payment mode): invoice the payment once made.
    pub(crate) invoice_data: Option<InvoiceData>,
}

impl Account {
    /// Stripe emits no event when a session is created, only when it completes or expires.
    pub(crate) fn create_checkout_session(&mut self, request: CheckoutRequest) -> Result<Value, StripeApiError> {
        if let Some(customer) = &request.customer {
            if self.customers.get(customer).is_none() {
                return Err(StripeApiError::no_such(400, "customer", customer, "customer"));
            }
            if request.customer_email.is_some() {
                return Err(StripeApiError::invalid(
                    "customer_email",
                    "You may only specify one of these parameters: customer, customer_email.",
                ));
            }
        }
        let (currency, amount_total) = self.validate_line_items(request.mode, &request.line_items)?;
        let created = self.now();
        // A session's lifetime runs on the machine's clock, which its caller shares, not on the
        // account's (`Standin::advance_clock`): the caller dates `expires_at` by its own clock.
        let opened = clock::now();
        let expires_at = match request.expires_at {
            None => opened + LIFETIME,
            Some(at) if at + CLOCK_GRACE < opened + MIN_LIFETIME => {
                return Err(StripeApiError::invalid(
                    "expires_at",
                    "The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.",
                ));
            }
            Some(at) if at - CLOCK_GRACE > opened + LIFETIME => {
                return Err(StripeApiError::invalid(
                    "expires_at",
                    "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
                ));
            }
            Some(at) => at,
        };

        let id = self.ids.id("cs_test_a1", 58);
        let url = format!("{}/checkout/{id}", self.public_base);
        let session = objects::checkout_session(NewCheckoutSession {
            id: &id,
            created,
            mode: request.mode,
            customer: request.customer.as_deref(),
            customer_email: request.customer_email.as_deref(),
            client_reference_id: request.client_reference_id.as_deref(),
            success_url: Some(&request.success_url),
            cancel_url: request.cancel_url.as_deref(),
            currency: &currency,
            amount_total,
            metadata: request.metadata.into_map(),
            url: &url,
            expires_at,
            invoice_data: request.invoice_data.as_ref(),
        });
        let items = request.line_items.into_iter().map(|item| (self.ids.id("li_", 24), item)).collect();
        self.session_details.insert(
            id,
            SessionDetails {
                items,
                subscription_metadata: request.subscription_metadata.into_map(),
                payment_intent_metadata: request.payment_intent_metadata.into_map(),
                invoice_data: request.invoice_data,
            },
        );
        self.sessions.push(session.clone());
        Ok(session)
    }

    /// Prices exist, fit the mode, share one currency (and one interval for subscriptions);
    /// returns that currency and the session total.
    fn validate_line_items(&self, mode: &str, items: &[LineItem]) -> Result<(String, u64), StripeApiError> {
        if items.is_empty() {
            return Err(StripeApiError::missing("line_items"));
        }
        let mut currency: Option<&str> = None;
        let mut interval: Option<&str> = None;
        let mut total: u64 = 0;
        for (i, item) in items.iter().enumerate() {
            let param = format!("line_items[{i}][price]");
            let price = self.catalog.price(&item.price).ok_or_else(|| StripeApiError::no_such(400, "price", &item.price, &param))?;
            match (mode, &price.interval) {
                ("payment", Some(_)) => {
                    return Err(StripeApiError::invalid(
                        param,
                        "You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices.",
                    ));
                }
                (_, Some(this)) if interval.is_some_and(|first| first != this) => {
                    return Err(StripeApiError::invalid(
                        param,
                        "Checkout does not support multiple prices with different billing intervals.",
                    ));
                }
                (_, Some(this)) => interval = Some(this),
                _ => {}
            }
            if currency.is_some_and(|c| c != price.currency) {
                return Err(StripeApiError::invalid(param, "Checkout does not support multiple currencies in one session."));
            }
            currency = Some(&price.currency);
            total = price
                .unit_amount
                .checked_mul(item.quantity)
                .and_then(|amount| total.checked_add(amount))
                .filter(|amount| *amount <= MAX_AMOUNT)
                .ok_or_else(|| {
                    StripeApiError::invalid(
                        "line_items",
                        format!("Amount must be no more than {MAX_AMOUNT} in the smallest currency unit."),
                    )
                })?;
        }
        if mode == "subscription" && interval.is_none() {
            return Err(StripeApiError::invalid(
                "line_items",
                "You must specify at least one recurring price in `subscription` mode when using prices.",
            ));
        }
        Ok((currency.unwrap_or("usd").to_string(), total))
    }

    /// The session's line items as Stripe's `item` objects.
    pub(crate) fn checkout_items(&self, session_id: &str) -> Vec<Value> {
        let Some(details) = self.session_details.get(session_id) else {
            return Vec::new();
        };
        details
            .items
            .iter()
            .filter_map(|(id, item)| {
                let price = self.catalog.price(&item.price)?;
                Some(objects::checkout_item(id, price, item.quantity, price.unit_amount * item.quantity))
            })
            .collect()
    }

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
        let completed = self.modify(
            |s| &mut s.sessions,
            id,
            |s| {
                s.insert("status".into(), json!("complete"));
                s.insert("payment_status".into(), json!("paid"));
                s.insert("url".into(), Value::Null);
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
        let customer = self.checkout_customer(session, origin);
        let payment_method = self.attach_test_card(&customer, true);
        let now = self.now();
        let prices: Vec<&Price> = lines.iter().filter_map(|(price, _)| self.catalog.price(price)).collect();
        let interval = prices.iter().find_map(|p| p.interval.clone()).unwrap_or_else(|| "month".into());
        let period = (now, clock::add_interval(now, &interval));

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
            billing_lines.push(BillingLine::full(price_id, *quantity, item_id, period));
        }
        let subscription = objects::subscription(NewSubscription {
            id: &subscription_id,
            created: now,
            customer: &customer,
            currency: session["currency"].as_str().unwrap_or("usd"),
            items,
            latest_invoice: &invoice_id,
            default_payment_method: &payment_method,
            metadata: metadata.as_object().cloned().unwrap_or_default(),
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
        self.create_invoice(spec, origin);
        Ok(Completion {
            customer_details: self.customer_details(session, Some(&customer)),
            links: vec![("customer", json!(customer)), ("subscription", json!(subscription_id)), ("invoice", json!(invoice_id))],
        })
    }

    /// Payment mode: a succeeded payment intent for the session total.
    fn pay_once(&mut self, session: &Value, origin: &Origin) -> Result<Completion, String> {
        let details = self.session_details.get(session_id(session)).ok_or("checkout session has no line items")?;
        let metadata = details.payment_intent_metadata.clone();
        let invoice_data = details.invoice_data.clone();
        let lines: Vec<(String, u64)> = details.items.iter().map(|(_, item)| (item.price.clone(), item.quantity)).collect();
        // An invoice needs a customer, so Checkout creates one for it (`if_required`).
        let customer = match (&invoice_data, session["customer"].as_str()) {
            (_, Some(customer)) => Some(customer.to_string()),
            (Some(_), None) => Some(self.checkout_customer(session, origin)),
            (None, None) => None,
        };
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
            amount: session["amount_total"].as_u64().unwrap_or_default(),
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
        if let (Some(data), Some(customer)) = (invoice_data, &customer) {
            let invoice_id = self.ids.id("in_", 24);
            let lines = lines.iter().map(|(price, quantity)| BillingLine::full(price, *quantity, None, (now, now))).collect();
            let spec = InvoiceSpec {
                description: data.description,
                metadata: data.metadata,
                ..InvoiceSpec::paid_at(now, invoice_id.clone(), customer.clone(), None, lines, "manual")
            };
            self.create_invoice(spec, origin);
            links.push(("customer", json!(customer)));
            links.push(("invoice", json!(invoice_id)));
        }
        Ok(Completion { customer_details: self.customer_details(session, customer.as_deref()), links })
    }

    /// `POST /v1/checkout/sessions/{id}/expire`: an open session can no longer be paid.
    pub(crate) fn expire_checkout_session(&mut self, id: &str, origin: &Origin) -> Result<Value, StripeApiError> {
        let session = self.sessions.get(id).ok_or_else(|| StripeApiError::no_such(404, "checkout.session", id, "session"))?;
        if session["status"] != "open" {
            return Err(StripeApiError::bad_request(format!(
                "Only Checkout Sessions with a status in [\"open\"] can be expired. This session has a status of {}.",
                session["status"]
            )));
        }
        self.expire(id, origin).ok_or_else(|| StripeApiError::no_such(404, "checkout.session", id, "session"))
    }

    /// Expires open sessions whose `expires_at` has passed, as Stripe does in the background;
    /// called before the account is read or changed. On the machine's clock, like `expires_at`.
    pub(crate) fn expire_overdue_sessions(&mut self) {
        let now = clock::now();
        let overdue: Vec<String> = self
            .sessions
            .newest_first()
            .filter(|s| s["status"] == "open" && s["expires_at"].as_i64().is_some_and(|at| at <= now))
            .filter_map(|s| s["id"].as_str().map(str::to_string))
            .collect();
        for id in overdue {
            self.expire(&id, &Origin::default());
        }
    }

    fn expire(&mut self, id: &str, origin: &Origin) -> Option<Value> {
        let (_, expired) = self.modify(
            |s| &mut s.sessions,
            id,
            |s| {
                s.insert("status".into(), json!("expired"));
                s.insert("url".into(), Value::Null);
            },
        )?;
        self.emit("checkout.session.expired", &expired, None, origin);
        Some(expired)
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

    fn customer_details(&self, session: &Value, customer: Option<&str>) -> Value {
        let customer = customer.and_then(|c| self.customers.get(c));
        let email = customer.and_then(|c| c["email"].as_str()).or(session["customer_email"].as_str());
        let name = customer.and_then(|c| c["name"].as_str());
        objects::customer_details(email, name)
    }
}

/// What completing a session filled in, applied to the session in one update.
struct Completion {
    customer_details: Value,
    links: Vec<(&'static str, Value)>,
}

fn session_id(session: &Value) -> &str {
    session["id"].as_str().unwrap_or_default()
}

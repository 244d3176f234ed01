//! Checkout sessions: creation with Stripe's validation, expiry, and completion (the hosted
//! page's Pay button), which creates what a real payment would: a subscription (trialing when
//! asked) with its first paid invoice, or a succeeded payment intent (and its invoice when
//! `invoice_creation` asks). A session's discount is checked when it is created and redeemed
//! when it is paid; Pay enters the test billing address, so automatic tax is computed then.

use serde_json::{Value, json};

use crate::account::{Account, CustomerFields, LineItem, Origin, SessionDetails, TrialRequest};
use crate::cards::TestCard;
use crate::catalog::Price;
use crate::clock;
use crate::coupons::{DiscountChoice, DiscountHolder, Redemption};
use crate::error::StripeApiError;
use crate::invoices::{BillingLine, InvoiceSpec};
use crate::objects::{self, InvoiceData, NewCheckoutSession, NewPaymentIntent, NewSubscription, NewSubscriptionItem, SessionAmounts};
use crate::params::MetadataUpdate;
use crate::tax;
use crate::totals::{self, AppliedDiscount, Totals, TotalsLine};

const DAY: i64 = 86_400;

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
    pub(crate) trial: Option<TrialRequest>,
    /// `always` or `if_required`.
    pub(crate) payment_method_collection: Option<&'static str>,
    /// `discounts[0]` and its parameter name.
    pub(crate) discount: Option<(String, DiscountChoice)>,
    pub(crate) allow_promotion_codes: Option<bool>,
    pub(crate) automatic_tax: bool,
    pub(crate) billing_address_collection: Option<&'static str>,
    pub(crate) tax_id_collection: bool,
    /// `customer_update[address]=auto`: the address entered is saved on the given customer.
    pub(crate) saves_customer_address: bool,
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
        let currency = self.validate_line_items(request.mode, &request.line_items)?;
        let customer = request.customer.as_deref().and_then(|c| self.customers.get(c));
        let located = customer.is_some_and(tax::has_address);
        if request.automatic_tax && customer.is_some() && !located && !request.saves_customer_address {
            return Err(StripeApiError::invalid(
                "customer_update[address]",
                "Automatic tax calculation in Checkout requires a valid address on the Customer. Add a valid address to the \
                 Customer or set `customer_update[address]` to 'auto' to save the address entered in Checkout.",
            ));
        }
        let discount = match &request.discount {
            Some((param, choice)) => {
                let priced = self.first_invoice_lines(&request.line_items, request.trial.is_some());
                let lines: Vec<TotalsLine> = priced.iter().map(|(product, amount)| TotalsLine { product, amount: *amount }).collect();
                Some(self.redeemable(choice, param, request.customer.as_deref(), &lines, &currency)?)
            }
            None => None,
        };
        let totals =
            self.first_invoice_totals(&request.line_items, request.trial.is_some(), discount.as_ref(), request.automatic_tax && located);
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
            amounts: SessionAmounts::of(&totals),
            discounts: discount.iter().map(|d| (d.coupon.clone(), d.promotion_code.clone())).collect(),
            allow_promotion_codes: request.allow_promotion_codes,
            automatic_tax: objects::session_automatic_tax(request.automatic_tax, located),
            billing_address_collection: request.billing_address_collection,
            tax_id_collection: request.tax_id_collection,
            payment_method_collection: match request.mode {
                "subscription" => Some(request.payment_method_collection.unwrap_or("always")),
                _ => request.payment_method_collection,
            },
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
                trial: request.trial,
                discount,
                automatic_tax: request.automatic_tax,
                collects_address: request.automatic_tax || request.billing_address_collection.is_some(),
            },
        );
        self.sessions.push(session.clone());
        Ok(session)
    }

    /// Prices exist, fit the mode, share one currency (and one interval for subscriptions), and
    /// add up to what Stripe can charge; returns that currency.
    fn validate_line_items(&self, mode: &str, items: &[LineItem]) -> Result<String, StripeApiError> {
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
        Ok(currency.unwrap_or("usd").to_string())
    }

    /// What each line of the session's first invoice bills, by product: nothing for a
    /// recurring price during a trial.
    fn first_invoice_lines(&self, items: &[LineItem], trial: bool) -> Vec<(String, i64)> {
        items
            .iter()
            .filter_map(|item| {
                let price = self.catalog.price(&item.price)?;
                let amount = if trial && price.interval.is_some() { 0 } else { price.unit_amount.saturating_mul(item.quantity) };
                Some((price.product.clone(), i64::try_from(amount).unwrap_or(i64::MAX)))
            })
            .collect()
    }

    /// The amounts of the session's first invoice or payment: its lines, the discount, and the
    /// tax when `taxed`.
    fn first_invoice_totals(&self, items: &[LineItem], trial: bool, discount: Option<&Redemption>, taxed: bool) -> Totals {
        let priced = self.first_invoice_lines(items, trial);
        let lines: Vec<TotalsLine> = priced.iter().map(|(product, amount)| TotalsLine { product, amount: *amount }).collect();
        let applied: Vec<AppliedDiscount> =
            discount.and_then(|d| Some(AppliedDiscount { id: &d.coupon, coupon: self.coupons.get(&d.coupon)? })).into_iter().collect();
        totals::compute(&lines, &applied, taxed)
    }

    /// A session's amounts, with tax when `taxed` (once its customer's address is known).
    fn session_totals(&self, details: &SessionDetails, taxed: bool) -> Totals {
        let items: Vec<LineItem> = details.items.iter().map(|(_, item)| item.clone()).collect();
        self.first_invoice_totals(&items, details.trial.is_some(), details.discount.as_ref(), taxed)
    }

    /// The session's line items as Stripe's `item` objects.
    pub(crate) fn checkout_items(&self, session_id: &str) -> Vec<Value> {
        let (Some(session), Some(details)) = (self.sessions.get(session_id), self.session_details.get(session_id)) else {
            return Vec::new();
        };
        let totals = self.session_totals(details, session["automatic_tax"]["status"] == "complete");
        details
            .items
            .iter()
            .enumerate()
            .filter_map(|(i, (id, item))| {
                let price = self.catalog.price(&item.price)?;
                let subtotal = if details.trial.is_some() && price.interval.is_some() {
                    0
                } else {
                    i64::try_from(price.unit_amount.saturating_mul(item.quantity)).unwrap_or(i64::MAX)
                };
                let discount: i64 = totals.line_discounts[i].iter().map(|(_, amount)| amount).sum();
                let tax = totals.line_taxes[i];
                let amounts = SessionAmounts { subtotal, discount, tax, total: subtotal - discount + tax };
                Some(objects::checkout_item(id, price, item.quantity, amounts))
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

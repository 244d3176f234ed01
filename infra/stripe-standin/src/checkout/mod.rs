//! Checkout sessions: creation with Stripe's validation, expiry, and completion (the hosted
//! page's Pay button), which creates what a real payment would: a subscription (trialing when
//! asked) with its first paid invoice, or a succeeded payment intent (and its invoice when
//! `invoice_creation` asks). A session's discount is checked when it is created and redeemed
//! when it is paid; Pay enters the test billing address, so automatic tax is computed then.
//! Here: creation and expiry; `pay.rs`: completion; `typed_code.rs`: a code typed on the page.

mod pay;
mod typed_code;

use serde_json::{Value, json};

use crate::account::{Account, LineItem, Origin, SessionDetails, TrialRequest};
use crate::clock;
use crate::coupons::{DiscountChoice, Redemption};
use crate::error::StripeApiError;
use crate::objects::{self, InvoiceData, NewCheckoutSession, SessionAmounts};
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
            Some((param, choice)) => Some(self.redeemable_on(
                &request.line_items,
                request.trial.is_some(),
                choice,
                param,
                request.customer.as_deref(),
                &currency,
            )?),
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

    /// The coupon `choice` names if Stripe would let `customer` redeem it on the first invoice
    /// of `items`; otherwise Stripe's 400 about `param`.
    fn redeemable_on(
        &self,
        items: &[LineItem],
        trial: bool,
        choice: &DiscountChoice,
        param: &str,
        customer: Option<&str>,
        currency: &str,
    ) -> Result<Redemption, StripeApiError> {
        let priced = self.first_invoice_lines(items, trial);
        let lines: Vec<TotalsLine> = priced.iter().map(|(product, amount)| TotalsLine { product, amount: *amount }).collect();
        self.redeemable(choice, param, customer, &lines, currency)
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
}

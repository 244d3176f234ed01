//! An offline stand-in for the part of Stripe the billing API uses, for tests and local runs.
//! It keeps one Stripe account in memory, speaks Stripe's wire format (form-encoded requests,
//! Stripe's JSON objects and errors, `Request-Id`, idempotency keys) and builds every object
//! from Stripe's published fixtures, so the real `async-stripe` client works against it
//! unchanged.
//!
//! # What it covers
//!
//! API (`Authorization: Bearer sk_test_...`, or Basic with the key as user name):
//! - `POST /v1/customers`, `GET|POST /v1/customers/{id}`, `GET /v1/customers/search` for
//!   one metadata value (`query=metadata['org_id']:'acme'`, single or double quotes; `limit`;
//!   Stripe's `search_result`, newest first, in one page: `next_page` is always null)
//! - `POST /v1/checkout/sessions` (modes `subscription` and `payment`, price line items,
//!   metadata, `subscription_data[metadata]`, `subscription_data[trial_period_days]` and
//!   `[trial_settings][end_behavior][missing_payment_method]`, `payment_method_collection`,
//!   `payment_intent_data[metadata]`, `invoice_creation`, `expires_at`, one
//!   `discounts[0][promotion_code|coupon]` or `allow_promotion_codes`, `automatic_tax[enabled]`,
//!   `billing_address_collection`, `tax_id_collection[enabled]`, `customer_update[address|name]`),
//!   `GET /v1/checkout/sessions/{id}`, `GET /v1/checkout/sessions/{id}/line_items`,
//!   `POST /v1/checkout/sessions/{id}/expire`
//! - `POST /v1/billing_portal/sessions`
//! - `POST /v1/payment_intents` (`amount`, `currency`, `customer`, `payment_method` or the
//!   customer's `invoice_settings.default_payment_method`, `confirm`, `off_session`,
//!   `metadata`): confirmed at once, Stripe's test payment methods deciding the outcome
//!   (`pm_card_visa` pays; `pm_card_chargeDeclined` answers 402 `card_error` `card_declined`;
//!   `pm_card_authenticationRequired` answers 402 `authentication_required` off session).
//!   `POST /v1/customers/{id}` takes such a token as `invoice_settings[default_payment_method]`
//!   and saves a card made from it on the customer (Stripe wants it attached first).
//! - `GET /v1/subscriptions` (customer, price, status, cursor paging),
//!   `GET|POST|DELETE /v1/subscriptions/{id}` (cancel at period end, item price/quantity
//!   changes with `proration_behavior` and `proration_date`, `payment_behavior=
//!   pending_if_incomplete`, metadata, `trial_end` (`now` or a later time) of a trialing
//!   subscription (`now` with `pending_if_incomplete` and no way to pay: the first period's
//!   invoice stays open and the trial goes on), `discounts[i][promotion_code|coupon]`
//!   replacing its discounts,
//!   `automatic_tax[enabled]`, cancel now)
//! - `POST /v1/invoices/create_preview` for a change of a subscription
//!   (`subscription_details[items]`, `[proration_date]`, `[proration_behavior]`,
//!   `[trial_end]=now` for a trialing one: its first full period, billed now,
//!   `automatic_tax[enabled]`, `discounts[i][promotion_code|coupon]` checked and applied instead
//!   of the subscription's)
//! - `GET /v1/promotion_codes` (`code`, `active`, `coupon`, cursor paging),
//!   `GET /v1/promotion_codes/{id}`, `GET /v1/coupons/{id}` (`applies_to` only when
//!   expanded, as Stripe includes it), `GET /v1/tax_rates/{id}` (the automatic tax rate)
//! - `POST /v1/subscription_schedules` (`from_subscription`), `GET|POST
//!   /v1/subscription_schedules/{id}` (`phases` with items, start and end dates,
//!   `end_behavior=release`), `POST /v1/subscription_schedules/{id}/release`
//! - `GET /v1/invoices` (customer, subscription, status, cursor paging), `GET /v1/invoices/{id}`
//! - `GET /v1/prices/{id}`, `/v1/products/{id}`, `/v1/payment_methods/{id}`,
//!   `/v1/payment_intents/{id}`, `/v1/events/{id}`
//! - `GET /v1/events` (`type`, `created` as a timestamp or `created[gt|gte|lt|lte]`, cursor
//!   paging), newest first
//! - `expand[]` on every endpoint, `Idempotency-Key` on POST and DELETE (kept 24 hours on
//!   the account's clock, like Stripe's).
//!
//! Hosted pages: `/checkout/{id}` (Pay, Cancel), `/portal/{id}` (cancel at period end,
//! resume), `/invoices/{id}` and its `/pdf`, and `/logs/{request_id}` (what an error's
//! `request_log_url` points at).
//!
//! Trials: a Checkout trial starts the subscription `trialing` (the trial is its current
//! period, its first invoice a paid $0 one, the session `no_payment_required`); with
//! `payment_method_collection=if_required` no card is saved. Changes during the trial bill
//! nothing. Its end ([`Standin::advance_period`] or `trial_end=now`) charges the first full
//! period to the card; without one, `missing_payment_method` cancels, pauses (`paused`), or
//! leaves an open invoice (`past_due`), with `customer.subscription.deleted`, `.paused` or
//! `invoice.payment_failed`. [`Standin::trial_will_end`] sends the reminder Stripe sends three
//! days before the end (`customer.subscription.trial_will_end`).
//!
//! Discounts: coupons and promotion codes are seeded at start ([`StandinConfig`]). Promotion
//! codes have the shape of the API version async-stripe speaks: `promotion: {type: "coupon",
//! coupon: "<id>"}`; an expired code keeps `active: true` (its `expires_at` is past), as in
//! Stripe. Checkout and subscription updates refuse unknown, inactive, expired, used-up,
//! first-time-only (for a customer with a paid invoice or payment, even of zero),
//! below-minimum and not-applicable codes with a 400 naming `discounts[0][promotion_code]`.
//! A session made with `allow_promotion_codes` has a code box on its hosted page
//! ([`Standin::type_promotion_code`]): the same checks, the refusal shown on the page.
//! Paying redeems the code (`times_redeemed`) into a discount object on the subscription
//! (`discounts`: ids, expandable; `customer.discount.created`, and `.deleted` when it ends).
//! Invoices carry `discounts`, `total_discount_amounts` and per line `discount_amounts`: a
//! `once` discount applies to the first invoice with something to pay and then leaves the
//! subscription, `repeating` to invoices dated before its `end`, `forever` to all.
//!
//! Tax: with `automatic_tax[enabled]` on a session, subscription or preview and an address on
//! the customer, 10% of the amount after discounts, rounded half up, wherever the address is
//! (so `total = subtotal - discount + tax`); no address, no tax (`requires_location_inputs`).
//! Checkout's Pay enters a fixed US billing address (on the customer too) when the session
//! collects addresses or computes tax. Invoices show `total_taxes` and per line `taxes` at one
//! tax rate, sessions `total_details.amount_tax`.
//!
//! Webhooks: changes record the events Stripe would send and POST them, signed with
//! `Stripe-Signature`, to one endpoint, retrying a failed delivery a few times over about a
//! second. [`Standin::drop_webhooks`] loses deliveries on purpose: events are still recorded
//! and listed, never sent.
//!
//! # What it does not cover
//!
//! Anything not listed above. In particular: no real payments (every charge succeeds with
//! the test card 4242 unless a test says otherwise: [`Standin::decline_payments`] makes a
//! customer's charges fail, and a payment intent's test card can decline or want
//! authentication; no 3-D Secure flow, charge objects, refunds or disputes); no `setup` mode
//! or embedded Checkout; no creating subscriptions, prices, products, coupons or promotion
//! codes through the API (subscriptions come from Checkout, the catalog and the codes are
//! fixed at start); no removing a code typed on the hosted Checkout page (a new one replaces
//! it), no customer-level, item-level or `discounts[][discount]` discounts, no
//! customer-restricted codes; no trials outside Checkout, no `trial_end` on a subscription
//! that is not trialing, no resuming a paused one; no Stripe Tax jurisdictions, collected tax
//! ids, tax-inclusive prices or tax on credits; no metered or tiered prices, schedules not
//! made from a subscription, or invoice drafts (invoices are born finalized, and a credit
//! from a downgrade goes to the customer's `balance` without later invoices drawing on it);
//! no list endpoints besides subscriptions, invoices, events, promotion codes and a session's
//! line items; no other search (other resources, other query syntax, `page`); no Connect,
//! live mode or webhook endpoint API; webhooks go to plain `http://` endpoints only; nothing
//! persists past the process. Parameters Stripe has but the stand-in does not model are
//! refused as unknown parameters rather than silently ignored, except display options
//! (`locale`, `submit_type`...).
//!
//! # Time
//!
//! The account has a clock of its own: the machine's, moved forward by
//! [`Standin::advance_clock`]. New objects and events are dated by it and idempotency keys
//! expire by it, so a test can let Stripe's 24 hours pass. There is no Stripe test clock
//! (`/v1/test_helpers/test_clocks`). Tests move billing time one subscription at a time with [`Standin::advance_period`], which ends that
//! subscription's current period on the spot: it renews for the next period (on the UTC
//! calendar, so a month from Jan 31 ends Feb 28/29) with an invoice dated at the old period
//! end, paid or, with `payment_succeeds: false`, failed (the subscription turns `past_due`);
//! or, when set to cancel at period end, it is canceled. A schedule's phase starting at the
//! period end is applied at the renewal, and a schedule with no phase left is released. Nothing else moves: its periods
//! run ahead of the clock while events and new objects keep the account's timestamps, and a
//! change prorated after an advance counts the whole advanced period as unused.
//!
//! Checkout Sessions expire against the machine's clock (`expires_at` 30 minutes to 24 hours
//! away), which their callers share, so tests expire one with `POST
//! /v1/checkout/sessions/{id}/expire` instead of waiting; webhook signatures are dated by it
//! too. The other test hooks on [`Standin`] press the Pay button ([`Standin::pay_checkout`]),
//! inject failures ([`Standin::fail_next`]), simulate the caller dying right after Stripe
//! applied its request ([`Standin::hang_after`], [`Standin::trapped`]) and inspect or replay
//! what happened (requests, events, webhook deliveries).
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use stripe_standin::{PriceSpec, Standin, StandinConfig, demo_promotion_codes};
//! let standin = Standin::start(
//!     StandinConfig {
//!         prices: vec![PriceSpec {
//!             id: "price_pro_monthly".into(),
//!             product_name: "Pro".into(),
//!             unit_amount: 2000,
//!             currency: "usd".into(),
//!             interval: Some("month".into()),
//!         }],
//!         promotion_codes: demo_promotion_codes(),
//!         webhook_url: Some("http://127.0.0.1:9000/stripe/webhook".into()),
//!         webhook_secret: "whsec_test".into(),
//!     },
//!     "127.0.0.1:0".parse().unwrap(),
//! )
//! .await?;
//! // Point the Stripe client at `standin.base_url()`.
//! # Ok(()) }
//! ```

// `json!` recurses once per field; the invoice, Stripe's largest object here, needs more
// than the default 128.
#![recursion_limit = "256"]

mod account;
mod api;
mod billing;
mod cards;
mod catalog;
mod checkout;
mod checkout_api;
mod clock;
mod coupons;
mod discounts;
mod error;
mod expand;
mod form;
mod ids;
mod invoices;
mod objects;
mod pages;
mod params;
mod payments;
mod pdf;
mod plan_changes;
mod promotion_api;
mod response;
mod server;
mod state;
mod tax;
mod totals;
mod trials;
mod webhook;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use serde_json::Value;

pub use catalog::PriceSpec;
pub use coupons::{CouponDuration, CouponSpec, CouponValue, PromotionCodeSpec, demo_promotion_codes};
pub use state::RecordedRequest;
pub use webhook::Delivery;

use crate::account::Account;
use crate::state::Shared;
use crate::webhook::{Deliverer, Endpoint};

/// What a stand-in starts with: its catalog, its coupons and promotion codes (both fixed for
/// its lifetime), and where its events go.
#[derive(Clone, Debug)]
pub struct StandinConfig {
    pub prices: Vec<PriceSpec>,
    /// Coupons and promotion codes the account starts with ([`demo_promotion_codes`] is the
    /// project's set). Coupons limited to products name them by `product_name`.
    pub promotion_codes: Vec<PromotionCodeSpec>,
    /// Where events are POSTed; `None` records events without delivering them.
    pub webhook_url: Option<String>,
    /// The endpoint's signing secret (`whsec_...`).
    pub webhook_secret: String,
}

/// A running stand-in. Clones share the same server and account.
#[derive(Clone)]
pub struct Standin {
    shared: Arc<Shared>,
}

impl Standin {
    /// Binds `bind` (port 0 picks a free port) and serves on the current tokio runtime until
    /// the runtime shuts down.
    pub async fn start(config: StandinConfig, bind: SocketAddr) -> std::io::Result<Standin> {
        let listener = tokio::net::TcpListener::bind(bind).await?;
        let local = listener.local_addr()?;
        // URLs handed to browsers and clients need an address they can reach.
        let host = match local.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let public_base = format!("http://{}", SocketAddr::new(host, local.port()));
        let webhook = config.webhook_url.map(|url| Endpoint { url, secret: config.webhook_secret });
        let account = Account::new(&config.prices, &config.promotion_codes, public_base.clone(), webhook)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let shared = Arc::new(Shared::new(format!("{public_base}/"), account, Deliverer::start()));
        tokio::spawn(server::serve(listener, shared.clone()));
        Ok(Standin { shared })
    }

    /// `http://127.0.0.1:PORT/`, with the trailing slash async-stripe expects (it requests
    /// `{base}v1/...`).
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// Every `/v1` request so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    /// The next `count` `/v1` requests fail with `status` and a Stripe error body
    /// (`api_error` for 5xx, `rate_limit` for 429) without running.
    pub fn fail_next(&self, count: usize, status: u16) {
        self.shared.fail_next(count, status);
    }

    /// Arms a one-shot crash trap: the next `/v1` request with `method` whose path starts with
    /// `path_prefix` (`/v1/customers`) runs as usual (applied, logged in [`Standin::requests`],
    /// its idempotency key saved, its events sent) but is never answered: the connection stays
    /// open until the client drops it. That is the calling function dying between Stripe's
    /// write and its own. Arming again replaces a trap that has not fired.
    pub fn hang_after(&self, method: &str, path_prefix: &str) {
        self.shared.hang_after(method, path_prefix);
    }

    /// Resolves once the trap armed by [`Standin::hang_after`] has fired, that is once the
    /// held request was applied; at once if it already has. Never resolves without a trap.
    pub async fn trapped(&self) {
        self.shared.trapped().await;
    }

    /// Moves the account's clock `secs` seconds forward (backward when negative): new objects
    /// and events are dated by it and idempotency keys age by it. Checkout Session lifetimes
    /// and webhook signatures stay on the machine's clock, which the callers share.
    pub fn advance_clock(&self, secs: i64) {
        self.shared.with_account(|account| account.advance_clock(secs));
    }

    /// Presses Pay on the hosted Checkout page of `session_id`.
    pub async fn pay_checkout(&self, session_id: &str) -> Result<(), String> {
        self.shared.with_account(|account| account.complete_checkout(session_id)).map(drop)
    }

    /// Types `code` into the hosted page's promotion code box of a session made with
    /// `allow_promotion_codes`, as a customer would before pressing Pay; the page's refusal
    /// otherwise.
    pub async fn type_promotion_code(&self, session_id: &str, code: &str) -> Result<(), String> {
        self.shared.with_account(|account| account.apply_typed_code(session_id, code))
    }

    /// Ends the current billing period of a subscription: one set to cancel at period end is
    /// canceled (`customer.subscription.deleted`); otherwise it renews and the renewal invoice
    /// is paid (`invoice.paid`) or, with `payment_succeeds: false`, fails
    /// (`invoice.payment_failed`, subscription `past_due`). A trialing subscription's trial
    /// ends: charged to its card as a renewal would be, or, without a card, canceled, paused
    /// or invoiced as its `trial_settings` say. A paused one cannot advance.
    pub async fn advance_period(&self, subscription_id: &str, payment_succeeds: bool) -> Result<(), String> {
        self.shared.with_account(|account| account.advance_period(subscription_id, payment_succeeds))
    }

    /// Sends `customer.subscription.trial_will_end` for a trialing subscription, which Stripe
    /// sends three days before a trial ends (the stand-in has no scheduler to do it).
    pub async fn trial_will_end(&self, subscription_id: &str) -> Result<(), String> {
        self.shared.with_account(|account| account.trial_will_end(subscription_id))
    }

    /// From now on every charge to `customer_id` is declined, as with Stripe's decline test cards.
    pub fn decline_payments(&self, customer_id: &str) {
        self.shared.with_account(|account| account.declining_customers.insert(customer_id.to_string()));
    }

    /// Every payment intent so far (Checkout's and the API's), oldest first.
    pub fn payment_intents(&self) -> Vec<Value> {
        self.shared.with_account(|account| account.payment_intents.all().to_vec())
    }

    /// Every event so far, oldest first.
    pub fn events(&self) -> Vec<Value> {
        self.shared.with_account(|account| account.events.all().to_vec())
    }

    /// Every webhook delivery attempt so far, in the order they finished.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.deliverer.log()
    }

    /// Waits until every queued webhook delivery has succeeded or run out of retries.
    pub async fn webhooks_settled(&self) {
        self.shared.deliverer.settled().await;
    }

    /// Delivers an existing event again (same id and body, fresh signature) to the current
    /// endpoint, with retries; returns when that delivery is done.
    pub async fn redeliver(&self, event_id: &str) -> Result<(), String> {
        let outgoing = self.shared.with_account(|account| account.redelivery(event_id))?;
        self.shared.deliverer.deliver_now(&outgoing).await;
        Ok(())
    }

    /// While `on`, events are recorded (and listed by `GET /v1/events`) but never delivered, as
    /// when Stripe gives up on an endpoint; turning it off delivers only later events.
    /// [`Standin::redeliver`] still sends a dropped event on request.
    pub fn drop_webhooks(&self, on: bool) {
        self.shared.with_account(|account| account.drop_webhooks = on);
    }

    /// Changes where future events go; `None` stops deliveries.
    pub fn set_webhook(&self, url: Option<String>, secret: String) {
        let endpoint = url.map(|url| Endpoint { url, secret });
        self.shared.with_account(|account| account.set_webhook(endpoint));
    }
}

//! The `/v1` endpoints: route, validate parameters like Stripe, call the account, expand.
//!
//! Each endpoint accepts the Stripe parameters the stand-in models plus a few harmless ones it
//! ignores (display options such as `locale`). Anything else is refused with Stripe's own
//! "Received unknown parameter" error: a typo fails here as it would against Stripe, and a
//! real parameter the stand-in does not model fails loudly instead of being dropped.

use serde_json::{Value, json};

use crate::account::{Account, CustomerFields, Origin};
use crate::billing::{ItemChange, SubscriptionChange, TrialEnd};
use crate::cards::TestCard;
use crate::checkout_api::create_checkout_session;
use crate::error::StripeApiError;
use crate::expand::expand;
use crate::objects;
use crate::params::{Params, automatic_tax, limit, paginate, text, url};
use crate::payments::PaymentIntentRequest;
use crate::plan_changes::{PhaseRequest, PreviewRequest};
use crate::promotion_api::{discount_choices, hide_unexpanded_applies_to, list_promotion_codes};

/// Answers one API request; `path` includes the `/v1` prefix.
pub(crate) fn handle(account: &mut Account, method: &str, path: &str, params: &Value, origin: &Origin) -> Result<Value, StripeApiError> {
    let p = Params::root(params)?;
    account.expire_overdue_sessions();
    let route: Vec<&str> = path.trim_start_matches("/v1").trim_matches('/').split('/').collect();
    let mut response = match (method, route.as_slice()) {
        ("POST", ["customers"]) => create_customer(account, &p, origin),
        ("GET", ["customers", "search"]) => search_customers(account, &p),
        ("GET", ["customers", id]) => retrieve(&p, account.customers.get(id).cloned(), "customer", id),
        ("POST", ["customers", id]) => update_customer(account, id, &p, origin),
        ("POST", ["checkout", "sessions"]) => create_checkout_session(account, &p),
        ("GET", ["checkout", "sessions", id]) => retrieve(&p, account.sessions.get(id).cloned(), "checkout.session", id),
        ("GET", ["checkout", "sessions", id, "line_items"]) => list_checkout_items(account, id, &p),
        ("POST", ["checkout", "sessions", id, "expire"]) => {
            p.allow_only(&["expand"])?;
            account.expire_checkout_session(id, origin)
        }
        ("POST", ["billing_portal", "sessions"]) => create_portal_session(account, &p),
        ("POST", ["payment_intents"]) => create_payment_intent(account, &p, origin),
        ("GET", ["subscriptions"]) => list_subscriptions(account, &p),
        ("GET", ["subscriptions", id]) => retrieve(&p, account.subscriptions.get(id).cloned(), "subscription", id),
        ("POST", ["subscriptions", id]) => update_subscription(account, id, &p, origin),
        ("DELETE", ["subscriptions", id]) => cancel_subscription(account, id, &p, origin),
        ("GET", ["invoices"]) => list_invoices(account, &p),
        ("POST", ["invoices", "create_preview"]) => preview_invoice(account, &p),
        ("POST", ["subscription_schedules"]) => create_schedule(account, &p, origin),
        ("GET", ["subscription_schedules", id]) => {
            retrieve(&p, account.subscription_schedules.get(id).cloned(), "subscription_schedule", id)
        }
        ("POST", ["subscription_schedules", id]) => update_schedule(account, id, &p, origin),
        ("POST", ["subscription_schedules", id, "release"]) => {
            p.allow_only(&["expand", "preserve_cancel_date"])?;
            account.release_schedule(id, origin)
        }
        ("GET", ["invoices", id]) => retrieve(&p, account.invoices.get(id).cloned(), "invoice", id),
        ("GET", ["promotion_codes"]) => list_promotion_codes(account, &p),
        ("GET", ["promotion_codes", id]) => retrieve(&p, account.promotion_codes.get(id).cloned(), "promotion code", id),
        ("GET", ["coupons", id]) => retrieve(&p, account.coupons.get(id).cloned(), "coupon", id),
        ("GET", ["tax_rates", id]) => retrieve(&p, (account.tax_rate["id"] == *id).then(|| account.tax_rate.clone()), "tax rate", id),
        ("GET", ["prices", id]) => retrieve(&p, account.catalog.price(id).map(objects::price), "price", id),
        ("GET", ["products", id]) => retrieve(&p, account.catalog.product(id).map(objects::product), "product", id),
        ("GET", ["payment_methods", id]) => retrieve(&p, account.payment_methods.get(id).cloned(), "PaymentMethod", id),
        ("GET", ["payment_intents", id]) => retrieve(&p, account.payment_intents.get(id).cloned(), "payment_intent", id),
        ("GET", ["events"]) => list_events(account, &p),
        ("GET", ["events", id]) => retrieve(&p, account.events.get(id).cloned(), "event", id),
        _ => Err(StripeApiError::unrecognized_url(method, path)),
    }?;
    let mut paths = p.strings("expand")?;
    // A session's line items are not a field holding an id but an includable list.
    if response["object"] == "checkout.session" && paths.iter().any(|path| path == "line_items") {
        paths.retain(|path| path != "line_items");
        let id = response["id"].as_str().unwrap_or_default().to_string();
        response["line_items"] = objects::list(account.checkout_items(&id), false, &format!("/v1/checkout/sessions/{id}/line_items"));
    }
    expand(&mut response, &paths, &|id| account.find(id))?;
    hide_unexpanded_applies_to(&mut response, &paths);
    Ok(response)
}

fn retrieve(p: &Params, found: Option<Value>, resource: &str, id: &str) -> Result<Value, StripeApiError> {
    p.allow_only(&["expand"])?;
    found.ok_or_else(|| StripeApiError::no_such(404, resource, id, "id"))
}

fn create_customer(account: &mut Account, p: &Params, origin: &Origin) -> Result<Value, StripeApiError> {
    p.allow_only(&["description", "email", "expand", "metadata", "name", "phone", "preferred_locales"])?;
    let fields = CustomerFields {
        name: text(p, "name")?,
        email: email(p)?,
        description: text(p, "description")?,
        phone: text(p, "phone")?,
        metadata: p.metadata("metadata")?,
    };
    Ok(account.create_customer(fields, origin))
}

/// `GET /v1/customers/search` for one metadata value, the one query the billing API makes:
/// `metadata['key']:'value'` (or with double quotes). Stripe's query language has more; those
/// queries are refused rather than answered wrongly.
fn search_customers(account: &Account, p: &Params) -> Result<Value, StripeApiError> {
    p.allow_only(&["expand", "limit", "query"])?;
    let query = p.str("query")?.ok_or_else(|| StripeApiError::missing("query"))?;
    let (key, value) = metadata_clause(query).ok_or_else(|| {
        StripeApiError::invalid(
            "query",
            format!(
                "The Stripe stand-in searches customers by one metadata value only, as in                  `metadata['org_id']:'acme'`; it does not support the query `{query}`."
            ),
        )
    })?;
    let limit = limit(p)?;
    let mut matching = account.customers.newest_first().filter(|c| c["metadata"][key.as_str()] == value.as_str());
    let data: Vec<Value> = matching.by_ref().take(limit).cloned().collect();
    let has_more = matching.next().is_some();
    Ok(objects::search_result(data, has_more, "/v1/customers/search"))
}

/// `metadata['key']:'value'` as (key, value); quotes are `'` or `"`, and a backslash escapes
/// the next character, as in Stripe's search query language.
fn metadata_clause(query: &str) -> Option<(String, String)> {
    let rest = query.trim().strip_prefix("metadata[")?;
    let (key, rest) = quoted(rest)?;
    let (value, rest) = quoted(rest.strip_prefix("]:")?)?;
    rest.trim().is_empty().then_some((key, value))
}

/// The quoted string `text` starts with, unescaped, and what follows it.
fn quoted(text: &str) -> Option<(String, &str)> {
    let quote = text.chars().next().filter(|c| matches!(c, '\'' | '"'))?;
    let mut value = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((at, c)) = chars.next() {
        match c {
            '\\' => value.push(chars.next()?.1),
            c if c == quote => return Some((value, &text[at + c.len_utf8()..])),
            c => value.push(c),
        }
    }
    None
}

fn update_customer(account: &mut Account, id: &str, p: &Params, origin: &Origin) -> Result<Value, StripeApiError> {
    p.allow_only(&["description", "email", "expand", "invoice_settings", "metadata", "name", "phone", "preferred_locales"])?;
    if account.customers.get(id).is_none() {
        return Err(StripeApiError::no_such(404, "customer", id, "id"));
    }
    let mut changes: Vec<(&str, Value)> = Vec::new();
    for key in ["name", "description", "phone"] {
        if p.str(key)?.is_some() {
            changes.push((key, json!(text(p, key)?)));
        }
    }
    if p.str("email")?.is_some() {
        changes.push(("email", json!(email(p)?)));
    }
    let default_payment_method = match p.object("invoice_settings")? {
        Some(settings) => {
            settings.allow_only(&["default_payment_method"])?;
            match settings.str("default_payment_method")? {
                Some("") => Some(Value::Null),
                // A test token (`pm_card_visa`) becomes a card saved on the customer.
                Some(token) if TestCard::of_token(token).is_some() => account.save_test_card(id, token).map(|pm| json!(pm)),
                Some(pm) if account.payment_methods.get(pm).is_some_and(|m| m["customer"] == id) => Some(json!(pm)),
                Some(pm) => {
                    return Err(StripeApiError::no_such(400, "PaymentMethod", pm, &settings.name("default_payment_method")));
                }
                None => None,
            }
        }
        None => None,
    };
    let metadata = p.metadata("metadata")?;
    let updated = account.update(
        |s| &mut s.customers,
        id,
        "customer.updated",
        origin,
        |c| {
            for (key, value) in changes {
                c.insert(key.into(), value);
            }
            if let Some(pm) = default_payment_method
                && let Some(Value::Object(settings)) = c.get_mut("invoice_settings")
            {
                settings.insert("default_payment_method".into(), pm);
            }
            if let Some(Value::Object(map)) = c.get_mut("metadata") {
                metadata.apply(map);
            }
        },
    );
    updated.ok_or_else(|| StripeApiError::no_such(404, "customer", id, "id"))
}

fn create_payment_intent(account: &mut Account, p: &Params, origin: &Origin) -> Result<Value, StripeApiError> {
    p.allow_only(&[
        "amount",
        "confirm",
        "currency",
        "customer",
        "description",
        "expand",
        "metadata",
        "off_session",
        "payment_method",
        "payment_method_types",
        "receipt_email",
        "statement_descriptor_suffix",
    ])?;
    let amount = p.u64("amount")?.ok_or_else(|| StripeApiError::missing("amount"))?;
    if amount < 50 {
        return Err(
            StripeApiError::invalid("amount", "Amount must be at least 50 in the smallest currency unit.").with_code("amount_too_small")
        );
    }
    if amount > crate::checkout::MAX_AMOUNT {
        return Err(StripeApiError::invalid("amount", "Amount must be no more than 99999999 in the smallest currency unit.")
            .with_code("amount_too_large"));
    }
    let currency = p.str("currency")?.ok_or_else(|| StripeApiError::missing("currency"))?;
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(StripeApiError::invalid("currency", format!("Invalid currency: {currency}.")));
    }
    let confirm = p.bool("confirm")?.unwrap_or(false);
    let off_session = p.bool("off_session")?.unwrap_or(false);
    if off_session && !confirm {
        return Err(StripeApiError::invalid("off_session", "You can only pass `off_session` when `confirm` is true."));
    }
    account.create_payment_intent(
        PaymentIntentRequest {
            amount,
            currency: currency.to_string(),
            customer: text(p, "customer")?,
            payment_method: text(p, "payment_method")?,
            confirm,
            off_session,
            metadata: p.metadata("metadata")?.into_map(),
        },
        origin,
    )
}

fn list_checkout_items(account: &Account, id: &str, p: &Params) -> Result<Value, StripeApiError> {
    p.allow_only(&["ending_before", "expand", "limit", "starting_after"])?;
    if account.sessions.get(id).is_none() {
        return Err(StripeApiError::no_such(404, "checkout.session", id, "id"));
    }
    paginate(account.checkout_items(id), p, "item", &format!("/v1/checkout/sessions/{id}/line_items"))
}

fn create_portal_session(account: &mut Account, p: &Params) -> Result<Value, StripeApiError> {
    // `flow_data` deep-links into one portal flow; the stand-in's portal page shows every
    // action at once, so it is accepted and ignored like the display options.
    p.allow_only(&["configuration", "customer", "expand", "flow_data", "locale", "return_url"])?;
    let customer = p.required_str("customer")?;
    if account.customers.get(customer).is_none() {
        return Err(StripeApiError::no_such(400, "customer", customer, "customer"));
    }
    let return_url = url(p, "return_url")?;
    Ok(account.create_portal_session(customer, return_url.as_deref()))
}

fn update_subscription(account: &mut Account, id: &str, p: &Params, origin: &Origin) -> Result<Value, StripeApiError> {
    p.allow_only(&[
        "automatic_tax",
        "cancel_at_period_end",
        "discounts",
        "expand",
        "items",
        "metadata",
        "off_session",
        "payment_behavior",
        "proration_behavior",
        "proration_date",
        "trial_end",
    ])?;
    let payment_behavior =
        p.one_of("payment_behavior", &["allow_incomplete", "default_incomplete", "error_if_incomplete", "pending_if_incomplete"])?;
    let change = SubscriptionChange {
        cancel_at_period_end: p.bool("cancel_at_period_end")?,
        items: item_changes(p)?,
        proration_behavior: p.one_of("proration_behavior", &["always_invoice", "create_prorations", "none"])?,
        proration_date: timestamp(p, "proration_date")?,
        pending_if_incomplete: payment_behavior == Some("pending_if_incomplete"),
        metadata: p.metadata("metadata")?,
        trial_end: match p.str("trial_end")? {
            Some("now") => Some(TrialEnd::Now),
            Some(_) => timestamp(p, "trial_end")?.map(TrialEnd::At),
            None => None,
        },
        discounts: discount_choices(p)?,
        automatic_tax: automatic_tax(p)?,
    };
    account.update_subscription(id, change, origin)
}

/// `items[]` of a subscription update or preview: changes of existing items, or new ones.
fn item_changes(p: &Params) -> Result<Vec<ItemChange>, StripeApiError> {
    let mut items = Vec::new();
    for item in p.list("items")? {
        item.allow_only(&["id", "metadata", "price", "quantity"])?;
        items.push(ItemChange {
            param: item.own_name().to_string(),
            id: text(&item, "id")?,
            price: text(&item, "price")?,
            quantity: item.u64("quantity")?,
        });
    }
    Ok(items)
}

fn timestamp(p: &Params, key: &str) -> Result<Option<i64>, StripeApiError> {
    p.u64(key)?.map(|at| i64::try_from(at).map_err(|_| StripeApiError::invalid_integer(&p.name(key), &at.to_string()))).transpose()
}

fn preview_invoice(account: &mut Account, p: &Params) -> Result<Value, StripeApiError> {
    p.allow_only(&["automatic_tax", "customer", "discounts", "expand", "subscription", "subscription_details"])?;
    let subscription = p.required_str("subscription")?.to_string();
    let (items, proration_date, proration_behavior, trial_end_now) = match p.object("subscription_details")? {
        Some(details) => {
            details.allow_only(&["items", "proration_behavior", "proration_date", "trial_end"])?;
            let behavior = details.one_of("proration_behavior", &["always_invoice", "create_prorations", "none"])?;
            let trial_end_now = match details.str("trial_end")? {
                None => false,
                Some("now") => true,
                Some(_) => {
                    return Err(StripeApiError::invalid(details.name("trial_end"), "The Stripe stand-in previews `trial_end=now` only."));
                }
            };
            (item_changes(&details)?, timestamp(&details, "proration_date")?, behavior, trial_end_now)
        }
        None => (Vec::new(), None, None, false),
    };
    let automatic_tax = automatic_tax(p)?;
    let discounts = discount_choices(p)?;
    account.preview_invoice(PreviewRequest {
        subscription,
        items,
        proration_date,
        proration_behavior,
        automatic_tax,
        trial_end_now,
        discounts,
    })
}

fn create_schedule(account: &mut Account, p: &Params, origin: &Origin) -> Result<Value, StripeApiError> {
    p.allow_only(&["expand", "from_subscription", "metadata"])?;
    let subscription = p.str("from_subscription")?.ok_or_else(|| {
        StripeApiError::invalid("from_subscription", "The Stripe stand-in creates schedules from an existing subscription only.")
    })?;
    account.create_schedule(subscription, origin)
}

fn update_schedule(account: &mut Account, id: &str, p: &Params, origin: &Origin) -> Result<Value, StripeApiError> {
    p.allow_only(&["end_behavior", "expand", "metadata", "phases", "proration_behavior"])?;
    if p.one_of("end_behavior", &["cancel", "none", "release", "renew"])?.is_some_and(|b| b != "release") {
        return Err(StripeApiError::invalid("end_behavior", "The Stripe stand-in supports `end_behavior=release` only."));
    }
    let mut phases = Vec::new();
    for phase in p.list("phases")? {
        phase.allow_only(&["end_date", "items", "metadata", "proration_behavior", "start_date"])?;
        let mut items = Vec::new();
        for item in phase.list("items")? {
            item.allow_only(&["metadata", "price", "quantity"])?;
            items.push((item.required_str("price")?.to_string(), item.u64("quantity")?.unwrap_or(1)));
        }
        phases.push(PhaseRequest { items, start: timestamp(&phase, "start_date")?, end: timestamp(&phase, "end_date")? });
    }
    account.update_schedule(id, phases, origin)
}

fn cancel_subscription(account: &mut Account, id: &str, p: &Params, origin: &Origin) -> Result<Value, StripeApiError> {
    p.allow_only(&["cancellation_details", "expand", "invoice_now", "prorate"])?;
    account.cancel_subscription(id, origin)
}

fn list_subscriptions(account: &Account, p: &Params) -> Result<Value, StripeApiError> {
    p.allow_only(&["customer", "ending_before", "expand", "limit", "price", "starting_after", "status"])?;
    let customer = p.str("customer")?;
    let price = p.str("price")?;
    let status = p.one_of(
        "status",
        &["active", "all", "canceled", "ended", "incomplete", "incomplete_expired", "past_due", "paused", "trialing", "unpaid"],
    )?;
    let matching = account
        .subscriptions
        .newest_first()
        .filter(|s| customer.is_none_or(|c| s["customer"] == c))
        .filter(|s| price.is_none_or(|p| s["items"]["data"].as_array().is_some_and(|items| items.iter().any(|i| i["price"]["id"] == p))))
        .filter(|s| {
            let current = s["status"].as_str().unwrap_or_default();
            match status {
                // Without a status filter Stripe leaves canceled subscriptions out.
                None => current != "canceled",
                Some("all") => true,
                Some("ended") => matches!(current, "canceled" | "incomplete_expired"),
                Some(wanted) => current == wanted,
            }
        })
        .cloned()
        .collect();
    paginate(matching, p, "subscription", "/v1/subscriptions")
}

fn list_invoices(account: &Account, p: &Params) -> Result<Value, StripeApiError> {
    p.allow_only(&["customer", "ending_before", "expand", "limit", "starting_after", "status", "subscription"])?;
    let customer = p.str("customer")?;
    let subscription = p.str("subscription")?;
    let status = p.one_of("status", &["draft", "open", "paid", "uncollectible", "void"])?;
    let matching = account
        .invoices
        .newest_first()
        .filter(|i| customer.is_none_or(|c| i["customer"] == c))
        .filter(|i| subscription.is_none_or(|s| i["subscription"] == s))
        .filter(|i| status.is_none_or(|s| i["status"] == s))
        .cloned()
        .collect();
    paginate(matching, p, "invoice", "/v1/invoices")
}

/// `GET /v1/events`: newest first, filtered by `type` and by `created` (a timestamp, or a hash
/// of `gt`, `gte`, `lt`, `lte`).
fn list_events(account: &Account, p: &Params) -> Result<Value, StripeApiError> {
    p.allow_only(&["created", "ending_before", "expand", "limit", "starting_after", "type"])?;
    let kind = p.str("type")?;
    let created = created_range(p)?;
    let matching = account
        .events
        .newest_first()
        .filter(|e| kind.is_none_or(|k| e["type"] == k))
        .filter(|e| e["created"].as_i64().is_some_and(|at| created.contains(at)))
        .cloned()
        .collect();
    paginate(matching, p, "event", "/v1/events")
}

/// The bounds of a `created` filter, inclusive.
struct CreatedRange {
    from: i64,
    to: i64,
}

impl CreatedRange {
    fn contains(&self, at: i64) -> bool {
        (self.from..=self.to).contains(&at)
    }
}

fn created_range(p: &Params) -> Result<CreatedRange, StripeApiError> {
    let mut range = CreatedRange { from: i64::MIN, to: i64::MAX };
    if p.object("created").is_err() {
        let at = timestamp(p, "created")?.unwrap_or_default();
        return Ok(CreatedRange { from: at, to: at });
    }
    if let Some(bounds) = p.object("created")? {
        bounds.allow_only(&["gt", "gte", "lt", "lte"])?;
        if let Some(at) = timestamp(&bounds, "gt")? {
            range.from = range.from.max(at.saturating_add(1));
        }
        if let Some(at) = timestamp(&bounds, "gte")? {
            range.from = range.from.max(at);
        }
        if let Some(at) = timestamp(&bounds, "lt")? {
            range.to = range.to.min(at.saturating_sub(1));
        }
        if let Some(at) = timestamp(&bounds, "lte")? {
            range.to = range.to.min(at);
        }
    }
    Ok(range)
}

fn email(p: &Params) -> Result<Option<String>, StripeApiError> {
    let email = text(p, "email")?;
    match &email {
        Some(address) if !address.contains('@') || address.chars().any(char::is_whitespace) => {
            Err(StripeApiError::invalid("email", format!("Invalid email address: {address}")))
        }
        _ => Ok(email),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_clauses_take_either_quote_and_escapes() {
        let clause = |k: &str, v: &str| Some((k.to_string(), v.to_string()));
        assert_eq!(metadata_clause("metadata['org_id']:'acme'"), clause("org_id", "acme"));
        assert_eq!(metadata_clause(r#" metadata["org_id"]:"acme" "#), clause("org_id", "acme"));
        assert_eq!(metadata_clause(r"metadata['note']:'it\'s'"), clause("note", "it's"));
        for other in
            ["email:'a@b.test'", "metadata['org_id']:'acme' AND name:'x'", "metadata['org_id']:'acme", "metadata[org_id]:'acme'", ""]
        {
            assert_eq!(metadata_clause(other), None, "{other}");
        }
    }
}

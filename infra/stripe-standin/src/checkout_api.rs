//! `POST /v1/checkout/sessions`: its many parameters, validated like Stripe's, into a
//! `CheckoutRequest` for the account.

use serde_json::Value;

use crate::account::{Account, LineItem, TrialRequest};
use crate::checkout::CheckoutRequest;
use crate::error::StripeApiError;
use crate::objects::InvoiceData;
use crate::params::{Params, automatic_tax, text, url};
use crate::promotion_api::discount_choices;

pub(crate) fn create_checkout_session(account: &mut Account, p: &Params) -> Result<Value, StripeApiError> {
    p.allow_only(&[
        "allow_promotion_codes",
        "automatic_tax",
        "billing_address_collection",
        "cancel_url",
        "client_reference_id",
        "customer",
        "customer_email",
        "customer_update",
        "discounts",
        "expand",
        "expires_at",
        "invoice_creation",
        "line_items",
        "locale",
        "metadata",
        "mode",
        "payment_intent_data",
        "payment_method_collection",
        "payment_method_types",
        "subscription_data",
        "submit_type",
        "success_url",
        "tax_id_collection",
        "ui_mode",
    ])?;
    let mode = p.one_of("mode", &["payment", "setup", "subscription"])?.ok_or_else(|| StripeApiError::missing("mode"))?;
    if mode == "setup" {
        return Err(StripeApiError::invalid("mode", "The Stripe stand-in supports `payment` and `subscription` mode only."));
    }
    // The values of the API version async-stripe 1.0 speaks (`hosted_page`, not the older `hosted`).
    if p.one_of("ui_mode", &["elements", "embedded_page", "form", "hosted_page"])?.is_some_and(|ui| ui != "hosted_page") {
        return Err(StripeApiError::invalid("ui_mode", "The Stripe stand-in hosts `hosted_page` Checkout pages only."));
    }
    let success_url = url(p, "success_url")?.ok_or_else(|| StripeApiError::missing("success_url"))?;
    let mut line_items = Vec::new();
    for item in p.list("line_items")? {
        item.allow_only(&["metadata", "price", "quantity"])?;
        let quantity = item.u64("quantity")?.ok_or_else(|| StripeApiError::missing(&item.name("quantity")))?;
        if quantity == 0 {
            return Err(StripeApiError::invalid(item.name("quantity"), "This value must be greater than or equal to 1."));
        }
        line_items.push(LineItem { price: item.required_str("price")?.to_string(), quantity });
    }
    let (subscription_metadata, trial) = match p.object("subscription_data")? {
        Some(_) if mode == "payment" => {
            return Err(StripeApiError::invalid("subscription_data", "You can not pass `subscription_data` in `payment` mode."));
        }
        Some(data) => {
            data.allow_only(&["description", "metadata", "trial_period_days", "trial_settings"])?;
            (data.metadata("metadata")?, trial_request(&data)?)
        }
        None => Default::default(),
    };
    let payment_intent_metadata = match p.object("payment_intent_data")? {
        Some(_) if mode == "subscription" => {
            return Err(StripeApiError::invalid("payment_intent_data", "You can not pass `payment_intent_data` in `subscription` mode."));
        }
        Some(data) => {
            data.allow_only(&["description", "metadata", "receipt_email", "statement_descriptor", "statement_descriptor_suffix"])?;
            data.metadata("metadata")?
        }
        None => Default::default(),
    };
    let invoice_data = match p.object("invoice_creation")? {
        Some(_) if mode == "subscription" => {
            return Err(StripeApiError::invalid("invoice_creation", "You can only use `invoice_creation` in `payment` mode."));
        }
        Some(creation) => {
            creation.allow_only(&["enabled", "invoice_data"])?;
            let enabled = creation.bool("enabled")?.ok_or_else(|| StripeApiError::missing(&creation.name("enabled")))?;
            let data = creation.object("invoice_data")?;
            if let Some(data) = &data {
                data.allow_only(&["description", "footer", "metadata"])?;
            }
            let description = match &data {
                Some(data) => text(data, "description")?,
                None => None,
            };
            let metadata = match &data {
                Some(data) => data.metadata("metadata")?.into_map(),
                None => Default::default(),
            };
            enabled.then_some(InvoiceData { description, metadata })
        }
        None => None,
    };
    let expires_at = p
        .u64("expires_at")?
        .map(|at| i64::try_from(at).map_err(|_| StripeApiError::invalid_integer("expires_at", &at.to_string())))
        .transpose()?;
    let allow_promotion_codes = p.bool("allow_promotion_codes")?;
    let discounts = discount_choices(p)?.unwrap_or_default();
    if allow_promotion_codes == Some(true) && !discounts.is_empty() {
        return Err(StripeApiError::invalid(
            "discounts",
            "You may only specify one of these parameters: allow_promotion_codes, discounts.",
        ));
    }
    if discounts.len() > 1 {
        return Err(StripeApiError::invalid("discounts", "Checkout Sessions accept only one discount."));
    }
    let saves_customer_address = match p.object("customer_update")? {
        Some(_) if p.str("customer")?.is_none() => {
            return Err(StripeApiError::invalid("customer_update", "`customer_update` can only be used with `customer`."));
        }
        Some(update) => {
            update.allow_only(&["address", "name"])?;
            update.one_of("name", &["auto", "never"])?;
            update.one_of("address", &["auto", "never"])? == Some("auto")
        }
        None => false,
    };
    let tax_id_collection = match p.object("tax_id_collection")? {
        Some(collection) => {
            collection.allow_only(&["enabled"])?;
            collection.bool("enabled")?.ok_or_else(|| StripeApiError::missing(&collection.name("enabled")))?
        }
        None => false,
    };
    account.create_checkout_session(CheckoutRequest {
        mode,
        customer: text(p, "customer")?,
        customer_email: text(p, "customer_email")?,
        client_reference_id: text(p, "client_reference_id")?,
        success_url,
        cancel_url: url(p, "cancel_url")?,
        line_items,
        metadata: p.metadata("metadata")?,
        subscription_metadata,
        payment_intent_metadata,
        expires_at,
        invoice_data,
        trial,
        payment_method_collection: p.one_of("payment_method_collection", &["always", "if_required"])?,
        discount: discounts.into_iter().next(),
        allow_promotion_codes,
        automatic_tax: automatic_tax(p)?.unwrap_or(false),
        billing_address_collection: p.one_of("billing_address_collection", &["auto", "required"])?,
        tax_id_collection,
        saves_customer_address,
    })
}

/// `subscription_data[trial_period_days]` (1 to 730) and
/// `[trial_settings][end_behavior][missing_payment_method]`.
fn trial_request(data: &Params) -> Result<Option<TrialRequest>, StripeApiError> {
    let missing_payment_method = match data.object("trial_settings")? {
        Some(settings) => {
            settings.allow_only(&["end_behavior"])?;
            let behavior = settings.object("end_behavior")?.ok_or_else(|| StripeApiError::missing(&settings.name("end_behavior")))?;
            behavior.allow_only(&["missing_payment_method"])?;
            behavior.one_of("missing_payment_method", &["cancel", "create_invoice", "pause"])?
        }
        None => None,
    };
    match data.u64("trial_period_days")? {
        Some(days @ 1..=730) => Ok(Some(TrialRequest { days, missing_payment_method: missing_payment_method.unwrap_or("create_invoice") })),
        Some(_) => Err(StripeApiError::invalid(
            data.name("trial_period_days"),
            "The trial period must be between 1 and 730 days (`trial_period_days`).",
        )),
        None => Ok(None),
    }
}

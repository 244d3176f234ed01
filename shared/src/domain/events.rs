//! What a Stripe event does to an org: pure classification of a verified event into the one
//! effect it has (the webhook sync applies it).

use serde_json::Value;

use crate::domain::principal::PrincipalKind;

/// `metadata.payment` of a top-up's PaymentIntent: the card on file was charged off session.
pub const CARD_ON_FILE: &str = "card_on_file";

/// A delivery whose signature checked out.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedEvent {
    pub id: String,
    pub event_type: String,
    pub created: i64,
    pub object: Value,
}

/// What an event does to the org of `customer_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Re-read the subscription from Stripe and write its current state: whatever order
    /// events arrive in, the org ends up with Stripe's latest state.
    SyncSubscription {
        customer_id: String,
        subscription_id: String,
    },
    /// Grant bought credits, once per payment: `payment_id` is the paid credits Checkout
    /// Session, or the PaymentIntent of a top-up of the card on file.
    GrantCredits {
        customer_id: String,
        payment_id: String,
        credits: u64,
        /// A top-up's buyer (from its PaymentIntent's metadata); `None`: a Checkout's.
        bought_by: Option<Buyer>,
    },
    /// Record that the trial ends soon, then sync the subscription.
    TrialEnding {
        customer_id: String,
        subscription_id: String,
        trial_end: i64,
    },
    /// Record the failure, then sync the subscription (it goes past_due).
    PaymentFailed {
        customer_id: String,
        subscription_id: Option<String>,
        message: String,
    },
    CustomerDeleted {
        customer_id: String,
    },
    Ignore(String),
}

impl Effect {
    /// The Stripe customer whose org the effect changes, or why the event is ignored.
    pub fn customer_id(&self) -> Result<&str, &str> {
        match self {
            Self::SyncSubscription { customer_id, .. }
            | Self::TrialEnding { customer_id, .. }
            | Self::GrantCredits { customer_id, .. }
            | Self::PaymentFailed { customer_id, .. }
            | Self::CustomerDeleted { customer_id } => Ok(customer_id),
            Self::Ignore(reason) => Err(reason),
        }
    }
}

/// Who bought a top-up of the card on file, as the PaymentIntent's metadata keeps it, so that
/// the record of its grant names the key, the mandate it was bought under and, for an automatic
/// top-up, the spend's record that set it off, whichever of the top-up or the webhook grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buyer {
    pub principal_id: String,
    pub key_id: String,
    pub kind: PrincipalKind,
    /// The mandate's id and the human who granted it.
    pub mandate: Option<(String, String)>,
    /// The activity id of the spend that took the balance under the automatic top-up's level.
    pub auto_top_up_of: Option<String>,
}

impl Buyer {
    /// The PaymentIntent metadata that keeps the buyer.
    pub fn metadata(&self) -> Vec<(&'static str, String)> {
        let kind = match self.kind {
            PrincipalKind::Human => "HUMAN",
            PrincipalKind::Agent => "AGENT",
            PrincipalKind::Admin => "ADMIN",
        };
        let mut metadata =
            vec![("principal_id", self.principal_id.clone()), ("key_id", self.key_id.clone()), ("principal_kind", kind.into())];
        if let Some((mandate_id, approved_by)) = &self.mandate {
            metadata.extend([("mandate_id", mandate_id.clone()), ("approved_by", approved_by.clone())]);
        }
        metadata.extend(self.auto_top_up_of.clone().map(|id| ("auto_top_up_of", id)));
        metadata
    }

    /// The buyer a PaymentIntent's metadata names (none for one made before buyers were kept).
    pub fn from_metadata(metadata: &Value) -> Option<Self> {
        let text = |name: &str| metadata[name].as_str().map(str::to_string);
        Some(Self {
            principal_id: text("principal_id")?,
            key_id: text("key_id")?,
            kind: PrincipalKind::parse(&text("principal_kind")?)?,
            mandate: text("mandate_id").zip(text("approved_by")),
            auto_top_up_of: text("auto_top_up_of"),
        })
    }
}

fn id_of(value: &Value) -> Option<String> {
    value.as_str().or_else(|| value.get("id").and_then(Value::as_str)).map(str::to_string)
}

/// The subscription of an invoice, in the current and in older API versions.
fn invoice_subscription(invoice: &Value) -> Option<String> {
    id_of(&invoice["parent"]["subscription_details"]["subscription"]).or_else(|| id_of(&invoice["subscription"]))
}

pub fn effect(event: &VerifiedEvent) -> Effect {
    let object = &event.object;
    let Some(customer_id) =
        id_of(&object["customer"]).or_else(|| (event.event_type == "customer.deleted").then(|| id_of(&object["id"])).flatten())
    else {
        return Effect::Ignore(format!("{} has no customer", event.event_type));
    };
    match event.event_type.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            let paid = object["payment_status"] == "paid";
            match (object["mode"].as_str(), id_of(&object["subscription"])) {
                (Some("subscription"), Some(subscription_id)) => Effect::SyncSubscription { customer_id, subscription_id },
                (Some("payment"), _) if !paid => Effect::Ignore("checkout session not paid yet".into()),
                (Some("payment"), _) if object["metadata"]["purpose"] == "credits" => {
                    match (id_of(&object["id"]), object["metadata"]["credits"].as_str().and_then(|c| c.parse().ok())) {
                        (Some(payment_id), Some(credits)) => Effect::GrantCredits { customer_id, payment_id, credits, bought_by: None },
                        _ => Effect::Ignore("credits session without a credit count".into()),
                    }
                }
                _ => Effect::Ignore("checkout session of no known purpose".into()),
            }
        }
        // A top-up of the card on file (`billing::top_up`): its own answer grants the credits,
        // and this grants them when that function died between Stripe and the table. A credits
        // Checkout's PaymentIntent carries the same purpose, but its session grants.
        "payment_intent.succeeded" if object["metadata"]["purpose"] == "credits" => {
            if object["metadata"]["payment"] != CARD_ON_FILE {
                return Effect::Ignore("a credits Checkout's payment: its session grants the credits".into());
            }
            match (id_of(&object["id"]), object["metadata"]["credits"].as_str().and_then(|c| c.parse().ok())) {
                (Some(payment_id), Some(credits)) => {
                    Effect::GrantCredits { customer_id, payment_id, credits, bought_by: Buyer::from_metadata(&object["metadata"]) }
                }
                _ => Effect::Ignore("credits payment without a credit count".into()),
            }
        }
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted"
        | "customer.subscription.paused"
        | "customer.subscription.resumed" => match id_of(&object["id"]) {
            Some(subscription_id) => Effect::SyncSubscription { customer_id, subscription_id },
            None => Effect::Ignore("subscription without id".into()),
        },
        "customer.subscription.trial_will_end" => match (id_of(&object["id"]), object["trial_end"].as_i64()) {
            (Some(subscription_id), Some(trial_end)) => Effect::TrialEnding { customer_id, subscription_id, trial_end },
            _ => Effect::Ignore("trial ending without a subscription id or trial end".into()),
        },
        // A schedule holds a change for the period end; a released one names its subscription
        // in `released_subscription`.
        "subscription_schedule.created"
        | "subscription_schedule.updated"
        | "subscription_schedule.released"
        | "subscription_schedule.canceled"
        | "subscription_schedule.completed" => match id_of(&object["subscription"]).or_else(|| id_of(&object["released_subscription"])) {
            Some(subscription_id) => Effect::SyncSubscription { customer_id, subscription_id },
            None => Effect::Ignore("subscription schedule without a subscription".into()),
        },
        "invoice.paid" => match invoice_subscription(object) {
            Some(subscription_id) => Effect::SyncSubscription { customer_id, subscription_id },
            None => Effect::Ignore("invoice of no subscription".into()),
        },
        "invoice.payment_failed" => {
            let number = object["number"].as_str().or(object["id"].as_str()).unwrap_or("an invoice");
            let attempt = object["attempt_count"].as_i64().unwrap_or(1);
            Effect::PaymentFailed {
                customer_id,
                subscription_id: invoice_subscription(object),
                message: format!("Payment of {number} failed (attempt {attempt})."),
            }
        }
        "customer.deleted" => Effect::CustomerDeleted { customer_id },
        other => Effect::Ignore(format!("{other} is not an event this API acts on")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(event_type: &str, object: Value) -> VerifiedEvent {
        VerifiedEvent { id: "evt_1".into(), event_type: event_type.into(), created: 1, object }
    }

    #[test]
    fn events_map_to_their_effect() {
        let sync = |sub: &str| Effect::SyncSubscription { customer_id: "cus_1".into(), subscription_id: sub.into() };
        assert_eq!(effect(&event("customer.subscription.updated", json!({"id": "sub_1", "customer": "cus_1"}))), sync("sub_1"));
        assert_eq!(effect(&event("customer.subscription.deleted", json!({"id": "sub_1", "customer": "cus_1"}))), sync("sub_1"));
        let ending = json!({"id": "sub_1", "customer": "cus_1", "trial_end": 1_700_000_000});
        assert_eq!(
            effect(&event("customer.subscription.trial_will_end", ending)),
            Effect::TrialEnding { customer_id: "cus_1".into(), subscription_id: "sub_1".into(), trial_end: 1_700_000_000 }
        );
        let no_end = json!({"id": "sub_1", "customer": "cus_1", "trial_end": null});
        assert!(matches!(effect(&event("customer.subscription.trial_will_end", no_end)), Effect::Ignore(_)));
        let invoice = json!({"id": "in_1", "customer": "cus_1", "parent": {"subscription_details": {"subscription": "sub_2"}}});
        assert_eq!(effect(&event("invoice.paid", invoice)), sync("sub_2"));
        assert_eq!(effect(&event("invoice.paid", json!({"customer": "cus_1", "subscription": "sub_3"}))), sync("sub_3"));
        let completed =
            json!({"id": "cs_1", "customer": "cus_1", "mode": "subscription", "subscription": "sub_4", "payment_status": "paid"});
        assert_eq!(effect(&event("checkout.session.completed", completed)), sync("sub_4"));
        let credits = json!({"id": "cs_2", "customer": "cus_1", "mode": "payment", "payment_status": "paid", "metadata": {"purpose": "credits", "credits": "300"}});
        assert_eq!(
            effect(&event("checkout.session.completed", credits.clone())),
            Effect::GrantCredits { customer_id: "cus_1".into(), payment_id: "cs_2".into(), credits: 300, bought_by: None }
        );
        let top_up =
            json!({"id": "pi_1", "customer": "cus_1", "metadata": {"purpose": "credits", "credits": "200", "payment": "card_on_file"}});
        assert_eq!(
            effect(&event("payment_intent.succeeded", top_up.clone())),
            Effect::GrantCredits { customer_id: "cus_1".into(), payment_id: "pi_1".into(), credits: 200, bought_by: None }
        );
        let buyer = Buyer {
            principal_id: "bot".into(),
            key_id: "k1".into(),
            kind: PrincipalKind::Agent,
            mandate: Some(("md_1".into(), "alice".into())),
            auto_top_up_of: Some("act_1".into()),
        };
        let mut by_agent = top_up;
        for (name, value) in buyer.metadata() {
            by_agent["metadata"][name] = json!(value);
        }
        assert_eq!(
            effect(&event("payment_intent.succeeded", by_agent)),
            Effect::GrantCredits { customer_id: "cus_1".into(), payment_id: "pi_1".into(), credits: 200, bought_by: Some(buyer) }
        );
        let checkouts = json!({"id": "pi_2", "customer": "cus_1", "metadata": {"purpose": "credits", "credits": "200"}});
        assert!(matches!(effect(&event("payment_intent.succeeded", checkouts)), Effect::Ignore(_)));
        let mut unpaid = credits;
        unpaid["payment_status"] = json!("unpaid");
        assert!(matches!(effect(&event("checkout.session.completed", unpaid)), Effect::Ignore(_)));
        assert_eq!(
            effect(&event("customer.deleted", json!({"id": "cus_1", "object": "customer"}))),
            Effect::CustomerDeleted { customer_id: "cus_1".into() }
        );
        assert!(
            matches!(effect(&event("invoice.payment_failed", json!({"customer": "cus_1", "subscription": "sub_1", "number": "A-1", "attempt_count": 2}))),
            Effect::PaymentFailed { message, .. } if message == "Payment of A-1 failed (attempt 2).")
        );
        assert!(matches!(effect(&event("charge.refunded", json!({"customer": "cus_1"}))), Effect::Ignore(_)));
        assert!(matches!(effect(&event("invoice.paid", json!({"id": "in_1"}))), Effect::Ignore(_)));
    }
}

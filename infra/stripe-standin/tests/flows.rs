//! End-to-end flows: Checkout's Pay button, what it creates, the events it emits and their
//! signed webhook deliveries (with retries and redelivery), the Customer Portal's buttons,
//! subscription changes through the API, the end of a billing period, and the events list (with deliveries dropped).

mod common;

use common::*;
use serde_json::Value;
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_billing::invoice::ListInvoice;
use stripe_billing::subscription::{CancelSubscription, RetrieveSubscription, UpdateSubscription, UpdateSubscriptionItems};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionInvoiceCreation, CreateCheckoutSessionInvoiceCreationInvoiceData,
    CreateCheckoutSessionLineItems, CreateCheckoutSessionPaymentIntentData, CreateCheckoutSessionSubscriptionData, ExpireCheckoutSession,
    ListLineItemsCheckoutSession, RetrieveCheckoutSession,
};
use stripe_core::customer::{CreateCustomer, RetrieveCustomer, RetrieveCustomerReturned};
use stripe_core::event::ListEvent;
use stripe_shared::{
    CheckoutSession, CheckoutSessionMode, CheckoutSessionPaymentStatus, CheckoutSessionStatus, Customer, InvoiceStatus, SubscriptionStatus,
};
use stripe_webhook::EventObject;

fn line(price: &str, quantity: u64) -> CreateCheckoutSessionLineItems {
    let mut item = CreateCheckoutSessionLineItems::new();
    item.price = Some(price.into());
    item.quantity = Some(quantity);
    item
}

/// Acme's Checkout Session for 2 × Pro monthly, not paid yet: (customer, session).
async fn subscription_checkout(client: &stripe::Client) -> (Customer, CheckoutSession) {
    let customer = CreateCustomer::new().name("Acme Inc").email("billing@acme.test").send(client).await.unwrap();
    let mut subscription_data = CreateCheckoutSessionSubscriptionData::new();
    subscription_data.metadata = Some(metadata(&[("org_id", "acme")]));
    let session = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Subscription)
        .customer(customer.id.as_str())
        .success_url("https://app.test/billing/success?session={CHECKOUT_SESSION_ID}")
        .cancel_url("https://app.test/billing")
        .line_items(vec![line(PRO_MONTHLY, 2)])
        .subscription_data(subscription_data)
        .send(client)
        .await
        .unwrap();
    (customer, session)
}

/// A customer who has paid for 2 × Pro monthly through Checkout: (customer, session, subscription).
async fn subscribed(standin: &stripe_standin::Standin, client: &stripe::Client) -> (String, String, String) {
    let (customer, session) = subscription_checkout(client).await;
    standin.pay_checkout(session.id.as_str()).await.unwrap();
    let session = RetrieveCheckoutSession::new(session.id).send(client).await.unwrap();
    let subscription = session.subscription.expect("a subscription").id().to_string();
    (customer.id.to_string(), session.id.to_string(), subscription)
}

#[tokio::test]
async fn pay_button_creates_subscription_invoice_card_and_ordered_signed_events() {
    let receiver = Receiver::start(0).await;
    let (standin, client) = start(Some(receiver.url.clone())).await;
    let (customer, session) = subscription_checkout(&client).await;

    // The hosted page shows the order and a Pay button; pressing it redirects to success_url.
    let page = raw(&standin, "GET", &format!("/checkout/{}", session.id), &[], "").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Pro") && page.body.contains("$40.00") && page.body.contains("/pay\""));
    assert!(page.body.contains("href=\"https://app.test/billing\""));
    let paid = raw(&standin, "POST", &format!("/checkout/{}/pay", session.id), &[], "").await;
    assert_eq!(paid.status, 303);
    assert_eq!(paid.header("location"), Some(format!("https://app.test/billing/success?session={}", session.id).as_str()));

    let session = RetrieveCheckoutSession::new(session.id.clone()).send(&client).await.unwrap();
    assert_eq!(session.status, Some(CheckoutSessionStatus::Complete));
    assert_eq!(session.payment_status, CheckoutSessionPaymentStatus::Paid);
    assert_eq!(session.url, None);
    let subscription_id = session.subscription.clone().expect("subscription").id().clone();

    let subscription = RetrieveSubscription::new(subscription_id.clone())
        .expand(vec!["default_payment_method".into(), "latest_invoice".into()])
        .send(&client)
        .await
        .unwrap();
    assert_eq!(subscription.status, SubscriptionStatus::Active);
    assert_eq!(subscription.customer.id(), &customer.id);
    assert_eq!(subscription.metadata.get("org_id").map(String::as_str), Some("acme"));
    let item = &subscription.items.data[0];
    assert_eq!((item.price.id.as_str(), item.quantity), (PRO_MONTHLY, Some(2)));
    assert!(item.current_period_end > item.current_period_start);
    let card = subscription.default_payment_method.as_ref().and_then(|pm| pm.as_object()).and_then(|pm| pm.card.as_ref()).unwrap();
    assert_eq!((card.last4.as_str(), card.exp_month, card.exp_year, card.brand.as_str()), ("4242", 12, 2034, "visa"));
    let invoice = subscription.latest_invoice.as_ref().and_then(|i| i.as_object()).unwrap();
    assert_eq!((invoice.status.clone(), invoice.amount_paid, invoice.total), (Some(InvoiceStatus::Paid), 4000, 4000));

    // The card is the customer's default too.
    let RetrieveCustomerReturned::Customer(customer_now) = RetrieveCustomer::new(customer.id.clone()).send(&client).await.unwrap() else {
        panic!("live customer")
    };
    let default = customer_now.invoice_settings.and_then(|s| s.default_payment_method).map(|pm| pm.id().to_string());
    assert_eq!(default, subscription.default_payment_method.map(|pm| pm.id().to_string()));
    let raw_subscription = get_json(&standin, &format!("/v1/subscriptions/{subscription_id}?expand[]=default_payment_method")).await;
    assert_fixture_keys(&raw_subscription);
    assert_fixture_keys(&raw_subscription["default_payment_method"]);

    // The invoice is listed, and its hosted page and PDF are served by the stand-in.
    let invoices = ListInvoice::new().customer(customer.id.as_str()).send(&client).await.unwrap();
    assert_eq!(invoices.data.len(), 1);
    let hosted = invoices.data[0].hosted_invoice_url.clone().unwrap();
    let pdf = invoices.data[0].invoice_pdf.clone().unwrap();
    let base = standin.base_url();
    assert!(hosted.starts_with(&base) && pdf.starts_with(&base));
    let page = raw(&standin, "GET", &hosted[base.len()..], &[], "").await;
    assert!(page.status == 200 && page.body.contains("2 × Pro (at $20.00 / month)"));
    let document = raw(&standin, "GET", &pdf[base.len()..], &[], "").await;
    assert_eq!((document.status, document.header("content-type")), (200, Some("application/pdf")));
    assert!(document.body.starts_with("%PDF-"));

    let expected =
        ["customer.created", "customer.subscription.created", "invoice.paid", "invoice.payment_succeeded", "checkout.session.completed"];
    assert_eq!(event_types(&standin), expected);
    for event in standin.events() {
        assert_fixture_keys(&event);
        assert_fixture_keys(&event["data"]["object"]);
    }

    // Every event reached the endpoint once, in order, signed as Stripe signs.
    settle(&standin).await;
    let delivered = receiver.events();
    let types: Vec<&str> = delivered.iter().map(|e| e.type_.as_str()).collect();
    assert_eq!(types, expected);
    assert!(matches!(&delivered[1].data.object, EventObject::CustomerSubscriptionCreated(s) if s.id == subscription_id));
    assert!(matches!(&delivered[4].data.object, EventObject::CheckoutSessionCompleted(s) if s.id == session.id));
    assert!(standin.deliveries().iter().all(|d| d.attempt == 1 && d.status == Some(200)));

    // Paying again changes nothing and still redirects.
    let again = raw(&standin, "POST", &format!("/checkout/{}/pay", session.id), &[], "").await;
    assert_eq!(again.status, 303);
    assert_eq!(standin.events().len(), expected.len());
}

#[tokio::test]
async fn payment_mode_checkout_completes_with_a_succeeded_payment_intent() {
    let (standin, client) = start(None).await;
    let mut intent_data = CreateCheckoutSessionPaymentIntentData::new();
    intent_data.metadata = Some(metadata(&[("org_id", "acme"), ("credits", "3")]));
    let session = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Payment)
        .customer_email("buyer@acme.test")
        .success_url("https://app.test/credits/done")
        .line_items(vec![line(CREDITS, 3)])
        .metadata(metadata(&[("org_id", "acme")]))
        .payment_intent_data(intent_data)
        .send(&client)
        .await
        .unwrap();
    assert_eq!(session.amount_total, Some(3000));
    let items = ListLineItemsCheckoutSession::new(session.id.clone()).send(&client).await.unwrap();
    assert_eq!((items.data.len(), items.data[0].quantity), (1, Some(3)));

    standin.pay_checkout(session.id.as_str()).await.unwrap();
    let session = RetrieveCheckoutSession::new(session.id.clone()).expand(vec!["payment_intent".into()]).send(&client).await.unwrap();
    assert_eq!(session.payment_status, CheckoutSessionPaymentStatus::Paid);
    assert_eq!(session.customer_details.and_then(|d| d.email).as_deref(), Some("buyer@acme.test"));
    let intent = session.payment_intent.and_then(|pi| pi.into_object()).expect("expanded payment intent");
    assert_eq!((intent.amount, intent.amount_received), (3000, 3000));
    assert_eq!(intent.metadata.get("credits").map(String::as_str), Some("3"));
    assert_eq!(intent.status.as_str(), "succeeded");
    assert_eq!(event_types(&standin), ["payment_intent.succeeded", "checkout.session.completed"]);
    let completed = &standin.events()[1]["data"]["object"];
    assert_eq!((completed["payment_status"].as_str(), completed["metadata"]["org_id"].as_str()), (Some("paid"), Some("acme")));
    assert_fixture_keys(&standin.events()[0]["data"]["object"]);
    assert_shape::<stripe_shared::PaymentIntent>(&standin.events()[0]["data"]["object"]);
}

#[tokio::test]
async fn failed_deliveries_are_retried_and_every_attempt_recorded() {
    let receiver = Receiver::start(2).await;
    let (standin, client) = start(Some(receiver.url.clone())).await;
    CreateCustomer::new().send(&client).await.unwrap();
    settle(&standin).await;
    let attempts: Vec<(u32, Option<u16>)> = standin.deliveries().iter().map(|d| (d.attempt, d.status)).collect();
    assert_eq!(attempts, [(1, Some(500)), (2, Some(500)), (3, Some(200))]);
    let ids: Vec<String> = receiver.events().iter().map(|e| e.id.to_string()).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "every attempt carries the same event");

    // An endpoint that refuses connections uses up the attempts and records the errors.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    standin.set_webhook(Some(format!("http://{closed}/unreachable")), SECRET.into());
    CreateCustomer::new().send(&client).await.unwrap();
    settle(&standin).await;
    let failed: Vec<_> = standin.deliveries().into_iter().skip(3).collect();
    assert_eq!(failed.len(), 4);
    assert!(failed.iter().all(|d| d.status.is_none() && d.error.is_some()));

    // Without an endpoint, events are recorded but not sent.
    standin.set_webhook(None, SECRET.into());
    CreateCustomer::new().send(&client).await.unwrap();
    settle(&standin).await;
    assert_eq!((standin.events().len(), standin.deliveries().len()), (3, 7));
    assert_eq!(standin.events()[2]["pending_webhooks"], 0);
}

#[tokio::test]
async fn redeliver_sends_the_same_event_again() {
    let receiver = Receiver::start(0).await;
    let (standin, client) = start(Some(receiver.url.clone())).await;
    let (_, _, _) = subscribed(&standin, &client).await;
    settle(&standin).await;
    let completed = standin.events().into_iter().find(|e| e["type"] == "checkout.session.completed").unwrap();
    let id = completed["id"].as_str().unwrap();

    standin.redeliver(id).await.unwrap();
    let deliveries: Vec<_> = receiver.events().into_iter().filter(|e| e.id.as_str() == id).collect();
    assert_eq!(deliveries.len(), 2);
    let bodies: Vec<Value> = receiver.bodies().into_iter().filter(|b| b["id"] == id).collect();
    assert_eq!(bodies[0], bodies[1]);
    assert!(standin.redeliver("evt_unknown").await.is_err());
}

#[tokio::test]
async fn portal_buttons_cancel_at_period_end_and_resume() {
    let (standin, client) = start(None).await;
    let (customer, _, subscription) = subscribed(&standin, &client).await;
    let portal =
        CreateBillingPortalSession::new().customer(customer.as_str()).return_url("https://app.test/billing").send(&client).await.unwrap();
    let path = &portal.url[standin.base_url().len()..];
    let page = raw(&standin, "GET", path, &[], "").await;
    assert!(page.body.contains("Cancel at period end") && page.body.contains("href=\"https://app.test/billing\""));

    let before = event_types(&standin).len();
    let cancel = raw(&standin, "POST", &format!("{path}/subscriptions/{subscription}/cancel"), &[], "").await;
    assert_eq!((cancel.status, cancel.header("location")), (303, Some(format!("/portal/{}", portal.id).as_str())));
    let scheduled = RetrieveSubscription::new(subscription.as_str()).send(&client).await.unwrap();
    assert!(scheduled.cancel_at_period_end);
    assert_eq!(scheduled.cancel_at, Some(scheduled.items.data[0].current_period_end));
    let updated = standin.events().last().cloned().unwrap();
    assert_eq!(updated["type"], "customer.subscription.updated");
    assert_eq!(updated["data"]["previous_attributes"]["cancel_at_period_end"], false);
    assert_eq!(updated["request"]["id"], Value::Null, "a customer action, not an API request");

    let page = raw(&standin, "GET", path, &[], "").await;
    assert!(page.body.contains("Resume"));
    raw(&standin, "POST", &format!("{path}/subscriptions/{subscription}/resume"), &[], "").await;
    let resumed = RetrieveSubscription::new(subscription.as_str()).send(&client).await.unwrap();
    assert!(!resumed.cancel_at_period_end && resumed.cancel_at.is_none());
    assert_eq!(event_types(&standin)[before..], ["customer.subscription.updated", "customer.subscription.updated"]);

    // Another customer's portal cannot touch this subscription.
    let other = CreateCustomer::new().send(&client).await.unwrap();
    let other_portal = CreateBillingPortalSession::new().customer(other.id.as_str()).send(&client).await.unwrap();
    let refused = raw(&standin, "POST", &format!("/portal/{}/subscriptions/{subscription}/cancel", other_portal.id), &[], "").await;
    assert_eq!(refused.status, 404);
}

#[tokio::test]
async fn api_changes_bill_prorations_schedule_and_cancel() {
    let (standin, client) = start(None).await;
    let (customer, _, subscription) = subscribed(&standin, &client).await;
    let current = RetrieveSubscription::new(subscription.as_str()).send(&client).await.unwrap();
    let item_id = current.items.data[0].id.to_string();

    // Upgrade to the yearly price: a new period starts and is invoiced at once.
    let mut item = UpdateSubscriptionItems::new();
    item.id = Some(item_id.clone());
    item.price = Some(PRO_YEARLY.into());
    item.quantity = Some(3);
    let upgraded = UpdateSubscription::new(subscription.as_str())
        .items(vec![item])
        .proration_behavior(stripe_billing::subscription::UpdateSubscriptionProrationBehavior::AlwaysInvoice)
        .send(&client)
        .await
        .unwrap();
    let item = &upgraded.items.data[0];
    assert_eq!((item.id.as_str(), item.price.id.as_str(), item.quantity), (item_id.as_str(), PRO_YEARLY, Some(3)));
    let invoices = ListInvoice::new().customer(customer.as_str()).send(&client).await.unwrap();
    let latest = &invoices.data[0];
    assert_eq!(latest.billing_reason.as_ref().map(|r| r.as_str()), Some("subscription_update"));
    // 3 × 200.00 for the year, less the unused (almost whole) month of 2 × 20.00.
    assert!((60000 - 4000..=60000 - 3900).contains(&latest.total), "total {}", latest.total);
    let updated = standin.events().into_iter().rev().find(|e| e["type"] == "customer.subscription.updated").unwrap();
    assert!(updated["data"]["previous_attributes"]["items"].is_object());
    assert!(updated["request"]["id"].as_str().is_some_and(|id| id.starts_with("req_")));

    // Unknown items and one-time prices are refused like Stripe refuses them.
    let mut bad = UpdateSubscriptionItems::new();
    bad.id = Some("si_nope".into());
    let error = UpdateSubscription::new(subscription.as_str()).items(vec![bad]).send(&client).await.unwrap_err();
    assert!(matches!(error, stripe::StripeError::Stripe(e, 400) if e.param.as_deref() == Some("items[0][id]")));
    let mut one_time = UpdateSubscriptionItems::new();
    one_time.id = Some(item_id.clone());
    one_time.price = Some(CREDITS.into());
    let error = UpdateSubscription::new(subscription.as_str()).items(vec![one_time]).send(&client).await.unwrap_err();
    assert!(matches!(error, stripe::StripeError::Stripe(e, 400) if e.param.as_deref() == Some("items[0][price]")));

    // Scheduling a cancellation, then canceling now.
    let scheduled = UpdateSubscription::new(subscription.as_str()).cancel_at_period_end(true).send(&client).await.unwrap();
    assert!(scheduled.cancel_at_period_end);
    let canceled = CancelSubscription::new(subscription.as_str()).send(&client).await.unwrap();
    assert_eq!(canceled.status, SubscriptionStatus::Canceled);
    assert!(canceled.ended_at.is_some());
    assert_eq!(event_types(&standin).last().map(String::as_str), Some("customer.subscription.deleted"));
    let again = CancelSubscription::new(subscription.as_str()).send(&client).await.unwrap_err();
    assert!(matches!(again, stripe::StripeError::Stripe(_, 400)));
}

#[tokio::test]
async fn period_end_renews_fails_or_ends_the_subscription() {
    let (standin, client) = start(None).await;
    let (customer, _, subscription) = subscribed(&standin, &client).await;
    let first = RetrieveSubscription::new(subscription.as_str()).send(&client).await.unwrap();

    standin.advance_period(&subscription, true).await.unwrap();
    let renewed = RetrieveSubscription::new(subscription.as_str()).send(&client).await.unwrap();
    assert_eq!(renewed.items.data[0].current_period_start, first.items.data[0].current_period_end);
    let types = event_types(&standin);
    assert_eq!(types[types.len() - 3..], ["customer.subscription.updated", "invoice.paid", "invoice.payment_succeeded"]);

    standin.advance_period(&subscription, false).await.unwrap();
    let past_due = RetrieveSubscription::new(subscription.as_str()).send(&client).await.unwrap();
    assert_eq!(past_due.status, SubscriptionStatus::PastDue);
    assert_eq!(event_types(&standin).last().map(String::as_str), Some("invoice.payment_failed"));
    let open = ListInvoice::new().customer(customer.as_str()).status(InvoiceStatus::Open).send(&client).await.unwrap();
    assert_eq!((open.data.len(), open.data[0].amount_remaining), (1, 4000));

    UpdateSubscription::new(subscription.as_str()).cancel_at_period_end(true).send(&client).await.unwrap();
    standin.advance_period(&subscription, true).await.unwrap();
    let ended = RetrieveSubscription::new(subscription.as_str()).send(&client).await.unwrap();
    assert_eq!(ended.status, SubscriptionStatus::Canceled);
    assert_eq!(event_types(&standin).last().map(String::as_str), Some("customer.subscription.deleted"));
    assert!(standin.advance_period(&subscription, true).await.is_err());
}

#[tokio::test]
async fn credit_purchases_with_invoice_creation_are_invoiced() {
    let (standin, client) = start(None).await;
    let mut invoice_data = CreateCheckoutSessionInvoiceCreationInvoiceData::new();
    invoice_data.metadata = Some(metadata(&[("purpose", "credits")]));
    let mut invoice_creation = CreateCheckoutSessionInvoiceCreation::new(true);
    invoice_creation.invoice_data = Some(invoice_data);
    let session = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Payment)
        .customer_email("buyer@acme.test")
        .success_url("https://app.test/credits/done")
        .line_items(vec![line(CREDITS, 2)])
        .invoice_creation(invoice_creation)
        .send(&client)
        .await
        .unwrap();
    assert!(session.invoice_creation.as_ref().is_some_and(|c| c.enabled));
    standin.pay_checkout(session.id.as_str()).await.unwrap();

    let session = RetrieveCheckoutSession::new(session.id.clone()).send(&client).await.unwrap();
    let customer = session.customer.expect("a customer was created for the invoice").id().to_string();
    let invoice_id = session.invoice.expect("an invoice").id().as_ref().map(|id| id.to_string());
    let invoices = ListInvoice::new().customer(customer.as_str()).send(&client).await.unwrap();
    let invoice = &invoices.data[0];
    assert_eq!(invoice.id.as_ref().map(|id| id.to_string()), invoice_id);
    assert_eq!((invoice.status.clone(), invoice.amount_paid), (Some(InvoiceStatus::Paid), 2000));
    assert_eq!(invoice.metadata.as_ref().and_then(|m| m.get("purpose")).map(String::as_str), Some("credits"));
    assert!(invoice.parent.is_none() && invoice.subscription.is_none());
    assert_eq!(
        event_types(&standin),
        ["customer.created", "payment_intent.succeeded", "invoice.paid", "invoice.payment_succeeded", "checkout.session.completed"]
    );
    let raw_invoice = get_json(&standin, &format!("/v1/invoices/{}", invoice.id.as_ref().unwrap())).await;
    assert_fixture_keys(&raw_invoice);
    assert_shape::<stripe_shared::Invoice>(&raw_invoice);
}

#[tokio::test]
async fn expired_sessions_cannot_be_paid() {
    let (standin, client) = start(None).await;
    let session = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Payment)
        .success_url("https://app.test/ok")
        .line_items(vec![line(CREDITS, 1)])
        .send(&client)
        .await
        .unwrap();
    let expired = ExpireCheckoutSession::new(session.id.clone()).send(&client).await.unwrap();
    assert_eq!((expired.status, expired.url), (Some(CheckoutSessionStatus::Expired), None));
    assert_eq!(event_types(&standin), ["checkout.session.expired"]);
    assert!(standin.pay_checkout(session.id.as_str()).await.is_err());
    let pay = raw(&standin, "POST", &format!("/checkout/{}/pay", session.id), &[], "").await;
    assert_eq!(pay.status, 404);
    let again = ExpireCheckoutSession::new(session.id.clone()).send(&client).await;
    assert!(matches!(again, Err(stripe::StripeError::Stripe(_, 400))));
}

#[tokio::test]
async fn events_list_newest_first_with_filters_and_cursors() {
    let (standin, client) = start(None).await;
    subscribed(&standin, &client).await;
    for _ in 0..3 {
        CreateCustomer::new().send(&client).await.unwrap();
    }
    let recorded = standin.events();
    let newest_first: Vec<String> = recorded.iter().rev().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    assert!(newest_first.len() > 6, "{newest_first:?}");

    let page = ListEvent::new().limit(3).send(&client).await.unwrap();
    assert!(page.has_more);
    assert_eq!(page.url, "/v1/events");
    let mut seen: Vec<String> = page.data.iter().map(|e| e.id.to_string()).collect();
    while let Some(last) = seen.last().cloned() {
        let next = ListEvent::new().limit(3).starting_after(last).send(&client).await.unwrap();
        seen.extend(next.data.iter().map(|e| e.id.to_string()));
        if !next.has_more {
            break;
        }
    }
    assert_eq!(seen, newest_first);
    let before = ListEvent::new().limit(2).ending_before(newest_first[4].clone()).send(&client).await.unwrap();
    let before: Vec<String> = before.data.iter().map(|e| e.id.to_string()).collect();
    assert_eq!(before, newest_first[2..4]);

    let customers = ListEvent::new().type_("customer.created").limit(100).send(&client).await.unwrap();
    assert_eq!(customers.data.len(), 4);
    assert!(!customers.has_more);

    let first = recorded[0]["created"].as_i64().unwrap();
    let last = recorded.last().unwrap()["created"].as_i64().unwrap();
    let count = |body: Value| body["data"].as_array().unwrap().len();
    assert_eq!(count(get_json(&standin, &format!("/v1/events?limit=100&created[gte]={first}")).await), recorded.len());
    assert_eq!(count(get_json(&standin, &format!("/v1/events?limit=100&created[gt]={last}")).await), 0);
    assert_eq!(count(get_json(&standin, &format!("/v1/events?limit=100&created[lt]={first}")).await), 0);
    let window = format!("/v1/events?limit=100&created[gt]={}&created[lte]={last}", first - 1);
    assert_eq!(count(get_json(&standin, &window).await), recorded.len());
    let exact = recorded.iter().filter(|e| e["created"] == first).count();
    assert_eq!(count(get_json(&standin, &format!("/v1/events?limit=100&created={first}")).await), exact);

    for (query, param) in
        [("limit=0", "limit"), ("limit=101", "limit"), ("created[after]=1", "created[after]"), ("starting_after=evt_x", "starting_after")]
    {
        let response = raw(&standin, "GET", &format!("/v1/events?{query}"), &[("authorization", "Bearer sk_test_standin")], "").await;
        assert_eq!((response.status, response.json()["error"]["param"].as_str()), (400, Some(param)), "{query}");
    }
}

#[tokio::test]
async fn dropped_webhooks_are_recorded_and_listed_but_never_sent() {
    let receiver = Receiver::start(0).await;
    let (standin, client) = start(Some(receiver.url.clone())).await;
    standin.drop_webhooks(true);
    subscribed(&standin, &client).await;
    settle(&standin).await;
    let dropped = standin.events();
    assert!(!dropped.is_empty());
    assert!(standin.deliveries().is_empty() && receiver.bodies().is_empty());
    let listed = get_json(&standin, "/v1/events?limit=100").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), dropped.len());

    // Turning it off sends later events only; a dropped one still goes out on request.
    standin.drop_webhooks(false);
    CreateCustomer::new().send(&client).await.unwrap();
    settle(&standin).await;
    let types: Vec<Value> = receiver.bodies().iter().map(|b| b["type"].clone()).collect();
    assert_eq!(types, ["customer.created"]);
    standin.redeliver(dropped[0]["id"].as_str().unwrap()).await.unwrap();
    assert_eq!(receiver.bodies().len(), 2);
}

/// `POST /v1/payment_intents` off session, as form fields; the answer's status and JSON.
async fn charge_off_session(standin: &stripe_standin::Standin, customer: &str, key: &str) -> (u16, Value) {
    let auth = ("authorization", "Bearer sk_test_standin");
    let body = format!("amount=2000&currency=usd&customer={customer}&confirm=true&off_session=true&metadata[purpose]=credits");
    let response = raw(standin, "POST", "/v1/payment_intents", &[auth, ("idempotency-key", key)], &body).await;
    (response.status, response.json())
}

#[tokio::test]
async fn off_session_payment_intents_charge_the_default_card_as_its_test_token_says() {
    let (standin, _) = start(None).await;
    let auth = ("authorization", "Bearer sk_test_standin");
    let customer = raw(&standin, "POST", "/v1/customers", &[auth], "name=Acme").await.json()["id"].as_str().unwrap().to_string();
    let set_card = |token: &'static str| {
        let (standin, path) = (standin.clone(), format!("/v1/customers/{customer}"));
        async move {
            let body = format!("invoice_settings[default_payment_method]={token}");
            let response = raw(&standin, "POST", &path, &[auth], &body).await;
            assert_eq!(response.status, 200, "{}", response.body);
            response.json()["invoice_settings"]["default_payment_method"].as_str().unwrap().to_string()
        }
    };

    // Without a card there is nothing to confirm with.
    let (status, error) = charge_off_session(&standin, &customer, "k0").await;
    assert_eq!((status, error["error"]["code"].as_str()), (400, Some("payment_intent_unexpected_state")));

    let card = set_card("pm_card_visa").await;
    assert!(card.starts_with("pm_") && card != "pm_card_visa");
    let (status, intent) = charge_off_session(&standin, &customer, "k1").await;
    assert_eq!((status, intent["status"].as_str(), intent["payment_method"].as_str()), (200, Some("succeeded"), Some(card.as_str())));
    assert!(intent["latest_charge"].as_str().is_some_and(|c| c.starts_with("ch_")));
    assert_eq!(intent["amount_received"], 2000);
    assert_fixture_keys(&intent);
    assert_shape::<stripe_shared::PaymentIntent>(&intent);
    assert_eq!(event_types(&standin).last().map(String::as_str), Some("payment_intent.succeeded"));

    set_card("pm_card_chargeDeclined").await;
    let (status, declined) = charge_off_session(&standin, &customer, "k2").await;
    assert_eq!(status, 402, "{declined}");
    let error = &declined["error"];
    assert_eq!(
        (error["type"].as_str(), error["code"].as_str(), error["decline_code"].as_str()),
        (Some("card_error"), Some("card_declined"), Some("generic_decline"))
    );
    let intent = &error["payment_intent"];
    assert_eq!((intent["status"].as_str(), intent["amount_received"].as_u64()), (Some("requires_payment_method"), Some(0)));
    assert_eq!(intent["last_payment_error"]["code"], "card_declined");
    assert_shape::<stripe_shared::PaymentIntent>(intent);
    assert_eq!(event_types(&standin).last().map(String::as_str), Some("payment_intent.payment_failed"));
    // The same key replays the refusal: one payment intent, not two.
    let (status, again) = charge_off_session(&standin, &customer, "k2").await;
    assert_eq!((status, &again["error"]["payment_intent"]["id"]), (402, &intent["id"]));

    set_card("pm_card_authenticationRequired").await;
    let (status, wants) = charge_off_session(&standin, &customer, "k3").await;
    assert_eq!((status, wants["error"]["code"].as_str()), (402, Some("authentication_required")));
    assert_eq!(wants["error"]["payment_intent"]["status"], "requires_payment_method");
    assert_eq!(standin.payment_intents().len(), 3);
    let retrieved = get_json(&standin, &format!("/v1/payment_intents/{}", intent["id"].as_str().unwrap())).await;
    assert_eq!(retrieved["status"], "requires_payment_method");
}

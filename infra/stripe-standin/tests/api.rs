//! The `/v1` API as the billing API uses it, driven with the real async-stripe client: object
//! shapes, Stripe's errors, idempotency, injected failures and list paging.

mod common;

use common::*;
use serde_json::json;
use stripe::{IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_billing::invoice::ListInvoice;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionSubscriptionData, RetrieveCheckoutSession,
};
use stripe_core::customer::{CreateCustomer, RetrieveCustomer, RetrieveCustomerReturned};
use stripe_shared::{
    ApiErrors, ApiErrorsCode, ApiErrorsType, CheckoutSessionMode, CheckoutSessionPaymentStatus, CheckoutSessionStatus,
    CheckoutSessionUiMode,
};

fn line(price: &str, quantity: u64) -> CreateCheckoutSessionLineItems {
    let mut item = CreateCheckoutSessionLineItems::new();
    item.price = Some(price.into());
    item.quantity = Some(quantity);
    item
}

fn stripe_error(result: Result<impl std::fmt::Debug, StripeError>) -> (Box<ApiErrors>, u16) {
    match result {
        Err(StripeError::Stripe(error, status)) => (error, status),
        other => panic!("expected a Stripe error, got {other:?}"),
    }
}

async fn customer(client: &stripe::Client) -> stripe_shared::Customer {
    CreateCustomer::new().name("Acme Inc").email("billing@acme.test").metadata(metadata(&[("org_id", "acme")])).send(client).await.unwrap()
}

fn subscription_checkout(customer: &str) -> CreateCheckoutSession {
    let mut subscription_data = CreateCheckoutSessionSubscriptionData::new();
    subscription_data.metadata = Some(metadata(&[("org_id", "acme"), ("plan", "pro")]));
    CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Subscription)
        .customer(customer)
        .client_reference_id("acme")
        .success_url("https://app.test/billing/success?session={CHECKOUT_SESSION_ID}")
        .cancel_url("https://app.test/billing")
        .line_items(vec![line(PRO_MONTHLY, 2)])
        .metadata(metadata(&[("org_id", "acme")]))
        .subscription_data(subscription_data)
}

#[tokio::test]
async fn customers_round_trip_with_stripe_shape() {
    let (standin, client) = start(None).await;
    let created = customer(&client).await;
    assert!(created.id.as_str().starts_with("cus_"));
    assert_eq!(created.email.as_deref(), Some("billing@acme.test"));
    assert_eq!(created.metadata.as_ref().and_then(|m| m.get("org_id")).map(String::as_str), Some("acme"));

    let RetrieveCustomerReturned::Customer(retrieved) = RetrieveCustomer::new(created.id.clone()).send(&client).await.unwrap() else {
        panic!("a live customer")
    };
    assert_eq!(retrieved.id, created.id);

    let raw = get_json(&standin, &format!("/v1/customers/{}", created.id)).await;
    assert_fixture_keys(&raw);
    assert_shape::<stripe_shared::Customer>(&raw);

    // The request log holds the form parameters as nested JSON.
    let logged = &standin.requests()[0];
    assert_eq!((logged.method.as_str(), logged.path.as_str(), logged.status), ("POST", "/v1/customers", 200));
    assert_eq!(logged.params["metadata"], json!({"org_id": "acme"}));
    assert!(logged.request_id.starts_with("req_"));
}

#[tokio::test]
async fn checkout_sessions_have_stripe_shape_and_a_hosted_url() {
    let (standin, client) = start(None).await;
    let customer = customer(&client).await;
    let session = subscription_checkout(customer.id.as_str()).send(&client).await.unwrap();

    assert!(session.id.as_str().starts_with("cs_test_"));
    assert_eq!(session.status, Some(CheckoutSessionStatus::Open));
    assert_eq!(session.payment_status, CheckoutSessionPaymentStatus::Unpaid);
    assert_eq!(session.amount_total, Some(4000));
    assert_eq!(session.client_reference_id.as_deref(), Some("acme"));
    assert_eq!(session.url, Some(format!("{}checkout/{}", standin.base_url(), session.id)));
    // A value the client knows: an unknown one parses as `Unknown` with a logged warning.
    assert_eq!(session.ui_mode, Some(CheckoutSessionUiMode::HostedPage));

    let raw = get_json(&standin, &format!("/v1/checkout/sessions/{}", session.id)).await;
    assert_fixture_keys(&raw);
    assert_shape::<stripe_shared::CheckoutSession>(&raw);

    // Bracket notation arrived as nested parameters.
    let logged = standin.requests().into_iter().find(|r| r.path == "/v1/checkout/sessions").unwrap();
    assert_eq!(logged.params["line_items"], json!({"0": {"price": PRO_MONTHLY, "quantity": "2"}}));
    assert_eq!(logged.params["subscription_data"]["metadata"]["plan"], "pro");

    // `expand[]` is accepted, and `line_items` is included on request.
    let expanded =
        RetrieveCheckoutSession::new(session.id.clone()).expand(vec!["line_items".into(), "customer".into()]).send(&client).await.unwrap();
    let items = expanded.line_items.expect("line items included");
    assert_eq!(items.data[0].quantity, Some(2));
    let listed = get_json(&standin, &format!("/v1/checkout/sessions/{}/line_items", session.id)).await;
    assert_fixture_keys(&listed["data"][0]);
    assert_shape::<stripe_shared::CheckoutSessionItem>(&listed["data"][0]);
    assert_eq!(expanded.customer.and_then(|c| c.as_object().map(|c| c.id.clone())), Some(customer.id));
}

#[tokio::test]
async fn checkout_validation_errors_match_stripe() {
    let (_standin, client) = start(None).await;
    let customer = customer(&client).await;

    let (error, status) =
        stripe_error(subscription_checkout(customer.id.as_str()).line_items(vec![line("price_nope", 1)]).send(&client).await);
    assert_eq!(status, 400);
    assert_eq!(error.type_, ApiErrorsType::InvalidRequestError);
    assert_eq!(error.code, Some(ApiErrorsCode::ResourceMissing));
    assert_eq!(error.param.as_deref(), Some("line_items[0][price]"));
    assert_eq!(error.message.as_deref(), Some("No such price: 'price_nope'"));

    let (error, status) = stripe_error(subscription_checkout("cus_missing").send(&client).await);
    assert_eq!((status, error.code, error.param.as_deref()), (400, Some(ApiErrorsCode::ResourceMissing), Some("customer")));

    let subscription_data_in_payment = subscription_checkout(customer.id.as_str()).mode(CheckoutSessionMode::Payment);
    let (error, status) = stripe_error(subscription_data_in_payment.send(&client).await);
    assert_eq!((status, error.param.as_deref()), (400, Some("subscription_data")));

    let recurring_in_payment = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Payment)
        .success_url("https://app.test/ok")
        .line_items(vec![line(PRO_MONTHLY, 1)]);
    let (error, status) = stripe_error(recurring_in_payment.send(&client).await);
    assert_eq!((status, error.param.as_deref()), (400, Some("line_items[0][price]")));
    assert!(error.message.unwrap().contains("recurring price"));

    let one_time_in_subscription = subscription_checkout(customer.id.as_str()).line_items(vec![line(CREDITS, 1)]);
    let (error, status) = stripe_error(one_time_in_subscription.send(&client).await);
    assert_eq!((status, error.param.as_deref()), (400, Some("line_items")));

    let no_success_url = CreateCheckoutSession::new().mode(CheckoutSessionMode::Payment).line_items(vec![line(CREDITS, 1)]);
    let (error, status) = stripe_error(no_success_url.send(&client).await);
    assert_eq!((status, error.code, error.param.as_deref()), (400, Some(ApiErrorsCode::ParameterMissing), Some("success_url")));
}

#[tokio::test]
async fn auth_unknown_urls_and_bad_parameters_get_stripe_errors() {
    let (standin, _client) = start(None).await;

    let missing = raw(&standin, "GET", "/v1/prices/price_pro_monthly", &[], "").await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.json()["error"]["type"], "invalid_request_error");
    assert!(missing.header("request-id").is_some_and(|id| id.starts_with("req_")));

    let live_client = stripe::ClientBuilder::new("sk_live_nope").url(standin.base_url()).build().unwrap();
    let (error, status) = stripe_error(CreateCustomer::new().send(&live_client).await);
    assert_eq!((status, error.type_), (401, ApiErrorsType::InvalidRequestError));

    let auth = [("authorization", "Bearer sk_test_standin")];
    let unknown_url = raw(&standin, "GET", "/v1/charges", &auth, "").await;
    assert_eq!(unknown_url.status, 404);
    assert!(unknown_url.json()["error"]["message"].as_str().unwrap().starts_with("Unrecognized request URL (GET: /v1/charges)"));

    let unknown_param = raw(&standin, "POST", "/v1/customers", &auth, "nmae=typo").await;
    assert_eq!(unknown_param.status, 400);
    let request_id = unknown_param.header("request-id").unwrap().to_string();
    assert_eq!(
        unknown_param.json()["error"],
        json!({
            "type": "invalid_request_error",
            "message": "Received unknown parameter: nmae",
            "param": "nmae",
            "code": "parameter_unknown",
            "doc_url": "https://stripe.com/docs/error-codes/parameter-unknown",
            "request_log_url": format!("{}logs/{request_id}", standin.base_url()),
        })
    );

    let malformed = raw(&standin, "POST", "/v1/customers", &auth, "metadata[org_id=acme").await;
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.json()["error"]["type"], "invalid_request_error");

    let missing_object = raw(&standin, "GET", "/v1/subscriptions/sub_nope", &auth, "").await;
    assert_eq!(missing_object.status, 404);
    assert_eq!(missing_object.json()["error"]["code"], "resource_missing");

    let price = get_json(&standin, "/v1/prices/price_pro_monthly").await;
    assert_fixture_keys(&price);
    let price = assert_shape::<stripe_shared::Price>(&price);
    assert_eq!((price.unit_amount, price.recurring.map(|r| r.interval.as_str().to_string())), (Some(2000), Some("month".into())));
    let product = get_json(&standin, &format!("/v1/products/{}", price.product.id())).await;
    assert_fixture_keys(&product);
    assert_eq!(assert_shape::<stripe_shared::Product>(&product).name, "Pro");
}

#[tokio::test]
async fn idempotency_keys_replay_and_reject_changed_parameters() {
    let (standin, client) = start(None).await;
    let key = |k: &str| RequestStrategy::Idempotent(IdempotencyKey::new(k).unwrap());

    let first = CreateCustomer::new().email("a@acme.test").customize().request_strategy(key("k-1")).send(&client).await.unwrap();
    let again = CreateCustomer::new().email("a@acme.test").customize().request_strategy(key("k-1")).send(&client).await.unwrap();
    assert_eq!(first.id, again.id);
    let replayed: Vec<bool> = standin.requests().iter().map(|r| r.replayed).collect();
    assert_eq!(replayed, [false, true]);
    assert_eq!(standin.requests()[1].idempotency_key.as_deref(), Some("k-1"));
    assert_eq!(standin.events().len(), 1, "a replay creates nothing");

    let headers = [("authorization", "Bearer sk_test_standin"), ("idempotency-key", "k-1")];
    let replay = raw(&standin, "POST", "/v1/customers", &headers, "email=a%40acme.test").await;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.json()["id"], first.id.as_str());

    let changed = CreateCustomer::new().email("b@acme.test").customize().request_strategy(key("k-1")).send(&client).await;
    let (error, status) = stripe_error(changed);
    assert_eq!((status, error.type_), (400, ApiErrorsType::IdempotencyError));
}

#[tokio::test]
async fn injected_failures_answer_stripe_errors_and_retries_recover() {
    let (standin, client) = start(None).await;

    standin.fail_next(1, 500);
    let (error, status) = stripe_error(CreateCustomer::new().send(&client).await);
    assert_eq!((status, error.type_), (500, ApiErrorsType::ApiError));

    standin.fail_next(1, 429);
    let (error, status) = stripe_error(CreateCustomer::new().send(&client).await);
    assert_eq!((status, error.code), (429, Some(ApiErrorsCode::RateLimit)));

    // The client's own retry gets through once the failures are used up.
    standin.fail_next(2, 503);
    let created = CreateCustomer::new().customize().request_strategy(RequestStrategy::Retry(3)).send(&client).await.unwrap();
    assert!(created.id.as_str().starts_with("cus_"));
    let statuses: Vec<u16> = standin.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 429, 503, 503, 200]);
}

#[tokio::test]
async fn invoices_list_newest_first_with_cursor_paging() {
    let (standin, client) = start(None).await;
    let customer = customer(&client).await;
    let session = subscription_checkout(customer.id.as_str()).send(&client).await.unwrap();
    standin.pay_checkout(session.id.as_str()).await.unwrap();
    let subscription = standin.events().iter().find(|e| e["type"] == "customer.subscription.created").unwrap()["data"]["object"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..4 {
        standin.advance_period(&subscription, true).await.unwrap();
    }

    let page = ListInvoice::new().customer(customer.id.as_str()).limit(2).send(&client).await.unwrap();
    assert!(page.has_more);
    assert_eq!(page.url, "/v1/invoices");
    let numbers: Vec<String> = page.data.iter().map(|i| i.number.clone().unwrap()).collect();
    assert!(numbers[0] > numbers[1], "newest first: {numbers:?}");
    let mut seen = page.data.len();
    let mut last = page.data.last().unwrap().id.clone().unwrap();
    loop {
        let next = ListInvoice::new().customer(customer.id.as_str()).limit(2).starting_after(last.as_str()).send(&client).await.unwrap();
        seen += next.data.len();
        if !next.has_more {
            break;
        }
        last = next.data.last().unwrap().id.clone().unwrap();
    }
    assert_eq!(seen, 5);

    let everything = get_json(&standin, &format!("/v1/invoices?customer={}&limit=100", customer.id)).await;
    for invoice in everything["data"].as_array().unwrap() {
        assert_fixture_keys(invoice);
        assert_shape::<stripe_shared::Invoice>(invoice);
    }
    let other = ListInvoice::new().customer("cus_other").send(&client).await.unwrap();
    assert!(other.data.is_empty() && !other.has_more);

    for limit in [0, 101] {
        let (error, status) = stripe_error(ListInvoice::new().limit(limit).send(&client).await);
        assert_eq!((status, error.param.as_deref()), (400, Some("limit")));
    }
}

#[tokio::test]
async fn portal_sessions_have_stripe_shape() {
    let (standin, client) = start(None).await;
    let customer = customer(&client).await;
    let portal = CreateBillingPortalSession::new()
        .customer(customer.id.as_str())
        .return_url("https://app.test/billing")
        .send(&client)
        .await
        .unwrap();
    assert_eq!(portal.url, format!("{}portal/{}", standin.base_url(), portal.id));
    assert_eq!(portal.return_url.as_deref(), Some("https://app.test/billing"));
    let auth = [("authorization", "Bearer sk_test_standin")];
    let body = raw(&standin, "POST", "/v1/billing_portal/sessions", &auth, &format!("customer={}", customer.id)).await.json();
    assert_fixture_keys(&body);

    let (error, status) = stripe_error(CreateBillingPortalSession::new().customer("cus_nope").send(&client).await);
    assert_eq!((status, error.code), (400, Some(ApiErrorsCode::ResourceMissing)));
}

#[tokio::test]
async fn errors_link_to_their_request_log() {
    let (standin, client) = start(None).await;
    let (error, _) = stripe_error(RetrieveCheckoutSession::new("cs_test_missing").send(&client).await);
    let log_url = error.request_log_url.expect("request_log_url");
    let request_id = standin.requests()[0].request_id.clone();
    assert_eq!(log_url, format!("{}logs/{request_id}", standin.base_url()));
    let log = raw(&standin, "GET", &format!("/logs/{request_id}"), &[], "").await.json();
    assert_eq!((log["path"].as_str(), log["status"].as_u64()), (Some("/v1/checkout/sessions/cs_test_missing"), Some(404)));
}

#[tokio::test]
async fn expires_at_must_be_30_minutes_to_a_day_away() {
    let (_standin, client) = start(None).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let session = |expires_at: i64| {
        CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Payment)
            .success_url("https://app.test/ok")
            .line_items(vec![line(CREDITS, 1)])
            .expires_at(expires_at)
    };
    for too_far in [now + 60, now + 25 * 3600] {
        let (error, status) = stripe_error(session(too_far).send(&client).await);
        assert_eq!((status, error.param.as_deref()), (400, Some("expires_at")));
    }
    let ok = session(now + 31 * 60).send(&client).await.unwrap();
    assert_eq!(ok.expires_at, now + 31 * 60);
}

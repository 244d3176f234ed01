//! Free trials, coupons and promotion codes, and automatic tax: what Checkout creates with
//! them, how the end of a trial goes with and without a card, how discounts and the
//! stand-in's 10% tax rule show on invoices, and the refusals Stripe answers with.

mod common;

use common::*;
use serde_json::Value;
use stripe_shared::{CheckoutSession, Coupon, Discount, Invoice, PromotionCode, Subscription};
use stripe_standin::{CouponDuration, CouponSpec, CouponValue, PromotionCodeSpec, Standin};

const AUTH: (&str, &str) = ("authorization", "Bearer sk_test_standin");

/// An API POST with a form body: (status, JSON).
async fn post(standin: &Standin, path: &str, body: &str) -> (u16, Value) {
    let response = raw(standin, "POST", path, &[AUTH], body).await;
    (response.status, response.json())
}

async fn post_ok(standin: &Standin, path: &str, body: &str) -> Value {
    let (status, json) = post(standin, path, body).await;
    assert_eq!(status, 200, "{path} {body}: {json}");
    json
}

async fn customer(standin: &Standin) -> String {
    post_ok(standin, "/v1/customers", "name=Acme&email=billing%40acme.test").await["id"].as_str().unwrap().to_string()
}

/// The id of the promotion code a customer would type as `code`.
async fn promotion_code(standin: &Standin, code: &str) -> String {
    let list = get_json(standin, &format!("/v1/promotion_codes?code={code}")).await;
    list["data"][0]["id"].as_str().unwrap_or_else(|| panic!("no code {code}: {list}")).to_string()
}

/// A subscription Checkout Session for one Pro monthly (20.00) with `extra` parameters.
async fn checkout(standin: &Standin, customer: &str, extra: &str) -> (u16, Value) {
    let body = format!(
        "mode=subscription&customer={customer}&success_url=https%3A%2F%2Fapp.test%2Fok&line_items[0][price]={PRO_MONTHLY}&line_items[0][quantity]=1{extra}"
    );
    post(standin, "/v1/checkout/sessions", &body).await
}

/// Pays a new session and returns (session, subscription) as the API shows them afterwards.
async fn subscribe(standin: &Standin, customer: &str, extra: &str) -> (Value, Value) {
    let (status, session) = checkout(standin, customer, extra).await;
    assert_eq!(status, 200, "{session}");
    let id = session["id"].as_str().unwrap();
    standin.pay_checkout(id).await.unwrap();
    let session = get_json(standin, &format!("/v1/checkout/sessions/{id}")).await;
    let subscription = get_json(standin, &format!("/v1/subscriptions/{}", session["subscription"].as_str().unwrap())).await;
    (session, subscription)
}

async fn latest_invoice(standin: &Standin, subscription: &Value) -> Value {
    let now = get_json(standin, &format!("/v1/subscriptions/{}", subscription["id"].as_str().unwrap())).await;
    get_json(standin, &format!("/v1/invoices/{}", now["latest_invoice"].as_str().unwrap())).await
}

fn id(value: &Value) -> &str {
    value["id"].as_str().unwrap()
}

#[tokio::test]
async fn a_trial_from_checkout_is_free_until_its_end_charges_the_card() {
    let receiver = Receiver::start(0).await;
    let (standin, _) = start(Some(receiver.url.clone())).await;
    let customer = customer(&standin).await;
    let (session, subscription) = subscribe(&standin, &customer, "&subscription_data[trial_period_days]=14").await;
    assert_shape::<CheckoutSession>(&session);
    assert_eq!((session["payment_status"].as_str(), session["amount_total"].as_i64()), (Some("no_payment_required"), Some(0)));

    let typed: Subscription = assert_shape(&subscription);
    assert_fixture_keys(&subscription);
    assert_eq!(typed.status.as_str(), "trialing");
    let (start, end) = (typed.trial_start.unwrap(), typed.trial_end.unwrap());
    assert_eq!(end - start, 14 * 86_400);
    assert_eq!((typed.items.data[0].current_period_start, typed.items.data[0].current_period_end), (start, end));
    assert_eq!(subscription["trial_settings"]["end_behavior"]["missing_payment_method"], "create_invoice");
    assert!(typed.default_payment_method.is_some());
    let first: Invoice = assert_shape(&latest_invoice(&standin, &subscription).await);
    assert_eq!((first.status.as_ref().map(|s| s.as_str()), first.total, first.amount_paid), (Some("paid"), 0, 0));
    assert_eq!(first.lines.data[0].description.as_deref(), Some("Trial period for Pro"));

    standin.trial_will_end(id(&subscription)).await.unwrap();
    let reminder = standin.events().into_iter().last().unwrap();
    assert_eq!(
        (reminder["type"].as_str(), &reminder["data"]["object"]["id"]),
        (Some("customer.subscription.trial_will_end"), &subscription["id"])
    );

    standin.advance_period(id(&subscription), true).await.unwrap();
    let active: Subscription = assert_shape(&get_json(&standin, &format!("/v1/subscriptions/{}", id(&subscription))).await);
    assert_eq!(active.status.as_str(), "active");
    assert_eq!(active.items.data[0].current_period_start, end);
    let charged: Invoice = assert_shape(&latest_invoice(&standin, &subscription).await);
    assert_eq!((charged.amount_paid, charged.billing_reason.as_ref().map(|r| r.as_str())), (2000, Some("subscription_cycle")));
    assert!(standin.trial_will_end(id(&subscription)).await.is_err());
    settle(&standin).await;
    let delivered = receiver.events();
    assert!(delivered.iter().any(|e| e.type_.as_str() == "customer.subscription.trial_will_end"));
    assert_eq!(delivered.len(), standin.events().len());
}

#[tokio::test]
async fn a_trial_without_a_card_ends_as_its_settings_say() {
    let receiver = Receiver::start(0).await;
    let (standin, _) = start(Some(receiver.url.clone())).await;
    let customer = customer(&standin).await;
    let no_card = "&payment_method_collection=if_required&subscription_data[trial_period_days]=7";
    let (session, canceling) = subscribe(
        &standin,
        &customer,
        &format!("{no_card}&subscription_data[trial_settings][end_behavior][missing_payment_method]=cancel"),
    )
    .await;
    assert_eq!(session["payment_method_collection"], "if_required");
    assert_eq!(canceling["default_payment_method"], Value::Null);
    let saved = get_json(&standin, &format!("/v1/customers/{customer}")).await;
    assert_eq!(saved["invoice_settings"]["default_payment_method"], Value::Null);
    standin.advance_period(id(&canceling), true).await.unwrap();
    let canceled = get_json(&standin, &format!("/v1/subscriptions/{}", id(&canceling))).await;
    assert_eq!(canceled["status"], "canceled");
    assert_eq!(event_types(&standin).last().map(String::as_str), Some("customer.subscription.deleted"));

    let (_, pausing) =
        subscribe(&standin, &customer, &format!("{no_card}&subscription_data[trial_settings][end_behavior][missing_payment_method]=pause"))
            .await;
    standin.advance_period(id(&pausing), true).await.unwrap();
    let paused: Subscription = assert_shape(&get_json(&standin, &format!("/v1/subscriptions/{}", id(&pausing))).await);
    assert_eq!(paused.status.as_str(), "paused");
    assert_eq!(event_types(&standin).last().map(String::as_str), Some("customer.subscription.paused"));
    assert!(standin.advance_period(id(&pausing), true).await.is_err());

    // `create_invoice` (the default) leaves an open invoice and a past-due subscription.
    let (_, invoicing) = subscribe(&standin, &customer, no_card).await;
    standin.advance_period(id(&invoicing), true).await.unwrap();
    let past_due = get_json(&standin, &format!("/v1/subscriptions/{}", id(&invoicing))).await;
    let open = latest_invoice(&standin, &invoicing).await;
    assert_eq!(
        (past_due["status"].as_str(), open["status"].as_str(), open["amount_remaining"].as_i64()),
        (Some("past_due"), Some("open"), Some(2000))
    );
    settle(&standin).await;
    assert_eq!(receiver.events().len(), standin.events().len());
}

#[tokio::test]
async fn trial_end_moves_or_ends_the_trial_and_changes_during_it_cost_nothing() {
    let (standin, _) = start(None).await;
    let customer = customer(&standin).await;
    let (_, subscription) = subscribe(&standin, &customer, "&subscription_data[trial_period_days]=14").await;
    let path = format!("/v1/subscriptions/{}", id(&subscription));
    let trial_end = subscription["trial_end"].as_i64().unwrap();
    let item = subscription["items"]["data"][0]["id"].as_str().unwrap().to_string();
    let invoices_before =
        get_json(&standin, &format!("/v1/invoices?subscription={}", id(&subscription))).await["data"].as_array().unwrap().len();

    let changed = post_ok(&standin, &path, &format!("items[0][id]={item}&items[0][quantity]=3&proration_behavior=always_invoice")).await;
    assert_eq!((changed["status"].as_str(), changed["trial_end"].as_i64()), (Some("trialing"), Some(trial_end)));
    assert_eq!(changed["items"]["data"][0]["quantity"], 3);
    let invoices = get_json(&standin, &format!("/v1/invoices?subscription={}", id(&subscription))).await;
    assert_eq!(invoices["data"].as_array().unwrap().len(), invoices_before);
    let preview = post_ok(
        &standin,
        "/v1/invoices/create_preview",
        &format!("subscription={}&subscription_details[items][0][id]={item}&subscription_details[items][0][quantity]=5", id(&subscription)),
    )
    .await;
    assert_shape::<Invoice>(&preview);
    assert_eq!((preview["amount_due"].as_i64(), preview["total"].as_i64()), (Some(0), Some(0)));

    let later = trial_end + 86_400;
    let extended = post_ok(&standin, &path, &format!("trial_end={later}")).await;
    assert_eq!((extended["trial_end"].as_i64(), extended["items"]["data"][0]["current_period_end"].as_i64()), (Some(later), Some(later)));
    let (status, past) = post(&standin, &path, "trial_end=1000").await;
    assert_eq!((status, past["error"]["param"].as_str()), (400, Some("trial_end")));

    let ended: Subscription = assert_shape(&post_ok(&standin, &path, "trial_end=now").await);
    assert_eq!(ended.status.as_str(), "active");
    assert!(ended.trial_end.unwrap() < trial_end);
    let charged = latest_invoice(&standin, &subscription).await;
    assert_eq!((charged["status"].as_str(), charged["amount_paid"].as_i64()), (Some("paid"), Some(6000)));
    let (status, _) = post(&standin, &path, "trial_end=now").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn promotion_codes_are_found_by_code_with_their_coupon() {
    let (standin, _) = start(None).await;
    let list = get_json(&standin, "/v1/promotion_codes?code=launch20&expand[]=data.promotion.coupon").await;
    assert_eq!((list["object"].as_str(), list["url"].as_str()), (Some("list"), Some("/v1/promotion_codes")));
    let code: PromotionCode = assert_shape(&list["data"][0]);
    assert_fixture_keys(&list["data"][0]);
    let coupon = code.promotion.coupon.as_ref().and_then(|c| c.as_object()).expect("expanded coupon");
    assert_eq!((code.code.as_str(), coupon.percent_off, coupon.duration.as_str()), ("LAUNCH20", Some(20.0), "forever"));
    assert_eq!(get_json(&standin, "/v1/promotion_codes?code=NOPE").await["data"], Value::Array(Vec::new()));
    let (status, _) = post(&standin, "/v1/promotion_codes?code=X", "").await;
    assert_eq!(status, 404);
    let unexpandable = raw(&standin, "GET", "/v1/promotion_codes?expand[]=data.coupon", &[AUTH], "").await;
    assert_eq!(unexpandable.status, 400);

    let expired = get_json(&standin, &format!("/v1/promotion_codes/{}", promotion_code(&standin, "EXPIRED10").await)).await;
    let expired: PromotionCode = assert_shape(&expired);
    assert!(expired.active && expired.expires_at.is_some_and(|at| at < 1_800_000_000));
    let used_up: PromotionCode =
        assert_shape(&get_json(&standin, &format!("/v1/promotion_codes/{}", promotion_code(&standin, "USEDUP").await)).await);
    assert_eq!((used_up.max_redemptions, used_up.times_redeemed), (Some(1), 1));
    let first: PromotionCode =
        assert_shape(&get_json(&standin, &format!("/v1/promotion_codes/{}", promotion_code(&standin, "FIRSTMONTH").await)).await);
    assert!(first.restrictions.first_time_transaction);
    let inactive = get_json(&standin, "/v1/promotion_codes?active=false").await;
    assert_eq!(inactive["data"][0]["code"], "RETIRED15");

    let coupon = get_json(&standin, "/v1/coupons/TEN_DOLLARS_ONCE").await;
    let typed: Coupon = assert_shape(&coupon);
    assert_fixture_keys(&coupon);
    assert_eq!((typed.amount_off, typed.currency.map(|c| c.to_string())), (Some(1000), Some("usd".into())));
}

#[tokio::test]
async fn a_code_at_checkout_discounts_the_subscription_invoices() {
    let (standin, _) = start(None).await;
    let customer = customer(&standin).await;
    let launch = promotion_code(&standin, "LAUNCH20").await;
    let (session, subscription) = subscribe(&standin, &customer, &format!("&discounts[0][promotion_code]={launch}")).await;
    assert_eq!(session["discounts"][0]["promotion_code"], launch.as_str());
    assert_eq!((session["amount_total"].as_i64(), session["total_details"]["amount_discount"].as_i64()), (Some(1600), Some(400)));

    let typed: Subscription = assert_shape(&subscription);
    let discount_id = typed.discounts[0].id().to_string();
    let discount = get_json(&standin, &format!("/v1/subscriptions/{}?expand[]=discounts", id(&subscription))).await["discounts"][0].clone();
    let discount: Discount = assert_shape(&discount);
    assert_eq!(discount.source.coupon.as_ref().map(|c| c.id().to_string()), Some("LAUNCH20".into()));
    assert_eq!((discount.promotion_code.map(|p| p.id().to_string()), discount.end), (Some(launch.clone()), None));

    let invoice: Invoice = assert_shape(&latest_invoice(&standin, &subscription).await);
    assert_eq!((invoice.subtotal, invoice.total, invoice.amount_paid), (2000, 1600, 1600));
    assert_eq!(invoice.discounts[0].id().to_string(), discount_id);
    let amounts = invoice.total_discount_amounts.unwrap();
    assert_eq!((amounts[0].amount, amounts[0].discount.id().to_string()), (400, discount_id));
    let redeemed = get_json(&standin, &format!("/v1/promotion_codes/{launch}")).await;
    assert_eq!(redeemed["times_redeemed"], 1);

    // `forever` goes on discounting renewals.
    standin.advance_period(id(&subscription), true).await.unwrap();
    assert_eq!(latest_invoice(&standin, &subscription).await["total"], 1600);
}

#[tokio::test]
async fn a_once_code_discounts_the_first_invoice_only() {
    let receiver = Receiver::start(0).await;
    let (standin, _) = start(Some(receiver.url.clone())).await;
    let customer = customer(&standin).await;
    let first_month = promotion_code(&standin, "FIRSTMONTH").await;
    let (session, subscription) = subscribe(&standin, &customer, &format!("&discounts[0][promotion_code]={first_month}")).await;
    assert_eq!(session["payment_status"], "no_payment_required");
    assert_eq!(latest_invoice(&standin, &subscription).await["total"], 0);
    let now = get_json(&standin, &format!("/v1/subscriptions/{}", id(&subscription))).await;
    assert_eq!(now["discounts"], Value::Array(Vec::new()));
    assert!(event_types(&standin).iter().any(|t| t == "customer.discount.deleted"));
    let (status, again) = checkout(&standin, &customer, &format!("&discounts[0][promotion_code]={first_month}")).await;
    assert_eq!((status, again["error"]["param"].as_str()), (400, Some("discounts[0][promotion_code]")));
    standin.advance_period(id(&subscription), true).await.unwrap();
    assert_eq!(latest_invoice(&standin, &subscription).await["total"], 2000);

    // The customer has paid now, so a first-time-only code is refused; LAUNCH20 applies.
    let path = format!("/v1/subscriptions/{}", id(&subscription));
    let (status, refused) = post(&standin, &path, &format!("discounts[0][promotion_code]={first_month}")).await;
    assert_eq!((status, refused["error"]["param"].as_str()), (400, Some("discounts[0][promotion_code]")));
    assert!(refused["error"]["message"].as_str().unwrap().contains("prior transactions"));
    let launch = promotion_code(&standin, "LAUNCH20").await;
    let discounted = post_ok(&standin, &path, &format!("discounts[0][promotion_code]={launch}")).await;
    assert_eq!(discounted["discounts"].as_array().map(Vec::len), Some(1));
    standin.advance_period(id(&subscription), true).await.unwrap();
    assert_eq!(latest_invoice(&standin, &subscription).await["total"], 1600);
    settle(&standin).await;
    let delivered: Vec<String> = receiver.events().iter().map(|e| e.type_.as_str().to_string()).collect();
    assert_eq!(delivered, event_types(&standin));
    assert!(delivered.iter().any(|t| t == "customer.discount.created"));
}

#[tokio::test]
async fn a_code_typed_on_the_hosted_page_discounts_what_pay_charges() {
    let (standin, _) = start(None).await;
    let customer = customer(&standin).await;
    let (_, plain) = checkout(&standin, &customer, "").await;
    let page = raw(&standin, "GET", &format!("checkout/{}", id(&plain)), &[], "").await;
    assert!(!page.body.contains("Promotion code"), "no box unless the session allows codes: {}", page.body);

    let (_, session) = checkout(&standin, &customer, "&allow_promotion_codes=true").await;
    let page_path = format!("checkout/{}", id(&session));
    assert!(raw(&standin, "GET", &page_path, &[], "").await.body.contains("name=\"code\""));
    let code_path = format!("{page_path}/promotion-code");
    let type_code = |code: &'static str| {
        let (standin, code_path) = (&standin, &code_path);
        async move { raw(standin, "POST", code_path, &[], &format!("code={code}")).await }
    };
    for (code, says) in [("NOPE", "This code is invalid."), ("EXPIRED10", "has expired"), ("BIGSPEND", "minimum order of $100.00")] {
        let refused = type_code(code).await;
        assert_eq!(refused.status, 400, "{code}");
        assert!(refused.body.contains(says), "{code}: {}", refused.body);
    }
    let unchanged = get_json(&standin, &format!("/v1/checkout/sessions/{}", id(&session))).await;
    assert_eq!((unchanged["amount_total"].as_i64(), unchanged["discounts"].as_array().map(Vec::len)), (Some(2000), Some(0)));

    let applied = type_code("launch20").await;
    assert_eq!((applied.status, applied.header("location")), (303, Some(format!("/checkout/{}", id(&session)).as_str())));
    assert!(raw(&standin, "GET", &page_path, &[], "").await.body.contains("<strong>LAUNCH20</strong> applied"));
    let discounted = get_json(&standin, &format!("/v1/checkout/sessions/{}", id(&session))).await;
    let _: CheckoutSession = assert_shape(&discounted);
    assert_eq!((discounted["amount_total"].as_i64(), discounted["total_details"]["amount_discount"].as_i64()), (Some(1600), Some(400)));

    standin.pay_checkout(id(&session)).await.unwrap();
    let paid = get_json(&standin, &format!("/v1/checkout/sessions/{}", id(&session))).await;
    let subscription = get_json(&standin, &format!("/v1/subscriptions/{}", paid["subscription"].as_str().unwrap())).await;
    let invoice = latest_invoice(&standin, &subscription).await;
    assert_eq!((invoice["subtotal"].as_i64(), invoice["total"].as_i64()), (Some(2000), Some(1600)));
    let launch = promotion_code(&standin, "LAUNCH20").await;
    assert_eq!(get_json(&standin, &format!("/v1/promotion_codes/{launch}")).await["times_redeemed"], 1);
}

#[tokio::test]
async fn refused_codes_and_conflicting_parameters_get_stripe_400s() {
    let (standin, _) = start(None).await;
    let customer = customer(&standin).await;
    let launch = promotion_code(&standin, "LAUNCH20").await;
    let (status, both) = checkout(&standin, &customer, &format!("&allow_promotion_codes=true&discounts[0][promotion_code]={launch}")).await;
    assert_eq!(status, 400);
    assert_eq!(both["error"]["type"], "invalid_request_error");
    assert_eq!(both["error"]["message"], "You may only specify one of these parameters: allow_promotion_codes, discounts.");
    let (status, allowed) = checkout(&standin, &customer, "&allow_promotion_codes=true").await;
    assert_eq!((status, allowed["allow_promotion_codes"].as_bool()), (200, Some(true)));

    for (code, says) in [
        ("EXPIRED10", "expired"),
        ("USEDUP", "maximum number of times"),
        ("RETIRED15", "not active"),
        ("BIGSPEND", "minimum order of $100.00"),
    ] {
        let promo = promotion_code(&standin, code).await;
        let (status, refused) = checkout(&standin, &customer, &format!("&discounts[0][promotion_code]={promo}")).await;
        assert_eq!((status, refused["error"]["param"].as_str()), (400, Some("discounts[0][promotion_code]")), "{code}");
        assert!(refused["error"]["message"].as_str().unwrap().contains(says), "{code}: {refused}");
    }
    let (status, unknown) = checkout(&standin, &customer, "&discounts[0][promotion_code]=promo_nope").await;
    assert_eq!((status, unknown["error"]["code"].as_str()), (400, Some("resource_missing")));
    let (status, _) = checkout(&standin, &customer, "&discounts[0][coupon]=NOPE").await;
    assert_eq!(status, 400);
    let (status, coupon) = checkout(&standin, &customer, "&discounts[0][coupon]=LAUNCH20").await;
    assert_eq!((status, coupon["discounts"][0]["coupon"].as_str()), (200, Some("LAUNCH20")));
}

#[tokio::test]
async fn automatic_tax_adds_ten_percent_after_discounts() {
    let (standin, _) = start(None).await;
    let customer = customer(&standin).await;
    let (status, no_address) = checkout(&standin, &customer, "&automatic_tax[enabled]=true").await;
    assert_eq!((status, no_address["error"]["param"].as_str()), (400, Some("customer_update[address]")));

    let launch = promotion_code(&standin, "LAUNCH20").await;
    let taxed = format!(
        "&automatic_tax[enabled]=true&customer_update[address]=auto&customer_update[name]=auto&billing_address_collection=required&tax_id_collection[enabled]=true&discounts[0][promotion_code]={launch}"
    );
    let (status, open) = checkout(&standin, &customer, &taxed).await;
    assert_eq!(status, 200, "{open}");
    assert_eq!((open["automatic_tax"]["status"].as_str(), open["amount_total"].as_i64()), (Some("requires_location_inputs"), Some(1600)));
    standin.pay_checkout(id(&open)).await.unwrap();
    let session = get_json(&standin, &format!("/v1/checkout/sessions/{}", id(&open))).await;
    assert_shape::<CheckoutSession>(&session);
    assert_eq!(session["automatic_tax"]["status"], "complete");
    assert_eq!(session["customer_details"]["address"]["country"], "US");
    let details = &session["total_details"];
    assert_eq!(
        (session["amount_subtotal"].as_i64(), details["amount_discount"].as_i64(), details["amount_tax"].as_i64()),
        (Some(2000), Some(400), Some(160))
    );
    assert_eq!(session["amount_total"], 1760);
    assert_eq!(get_json(&standin, &format!("/v1/customers/{customer}")).await["address"]["country"], "US");

    let subscription = get_json(&standin, &format!("/v1/subscriptions/{}", session["subscription"].as_str().unwrap())).await;
    assert_eq!(subscription["automatic_tax"]["enabled"], true);
    let invoice: Invoice = assert_shape(&latest_invoice(&standin, &subscription).await);
    assert_eq!((invoice.subtotal, invoice.total_excluding_tax, invoice.total, invoice.amount_paid), (2000, Some(1600), 1760, 1760));
    let taxes = invoice.total_taxes.unwrap();
    assert_eq!((taxes[0].amount, taxes[0].taxable_amount), (160, Some(1600)));
    assert_eq!(invoice.automatic_tax.status.map(|s| s.as_str().to_string()), Some("complete".into()));
    let raw_invoice = latest_invoice(&standin, &subscription).await;
    let rate = raw_invoice["total_taxes"][0]["tax_rate_details"]["tax_rate"].as_str().unwrap();
    assert_eq!(get_json(&standin, &format!("/v1/tax_rates/{rate}")).await["percentage"], 10);
    let line = &raw_invoice["lines"]["data"][0];
    assert_eq!((line["discount_amounts"][0]["amount"].as_i64(), line["taxes"][0]["amount"].as_i64()), (Some(400), Some(160)));

    // Previews tax too, and turning automatic tax off on the subscription stops it.
    let preview = post_ok(&standin, "/v1/invoices/create_preview", &format!("subscription={}", id(&subscription))).await;
    assert_eq!(preview["total"], 1760);
    let untaxed =
        post_ok(&standin, "/v1/invoices/create_preview", &format!("subscription={}&automatic_tax[enabled]=false", id(&subscription))).await;
    assert_eq!(untaxed["total"], 1600);
    post_ok(&standin, &format!("/v1/subscriptions/{}", id(&subscription)), "automatic_tax[enabled]=false").await;
    standin.advance_period(id(&subscription), true).await.unwrap();
    assert_eq!(latest_invoice(&standin, &subscription).await["total"], 1600);
}

#[tokio::test]
async fn payment_mode_checkout_is_taxed_and_discounted_too() {
    let (standin, _) = start(None).await;
    let body = format!(
        "mode=payment&customer_email=buyer%40acme.test&success_url=https%3A%2F%2Fapp.test%2Fok&line_items[0][price]={CREDITS}&line_items[0][quantity]=2&automatic_tax[enabled]=true&invoice_creation[enabled]=true&discounts[0][coupon]=LAUNCH20"
    );
    let open = post_ok(&standin, "/v1/checkout/sessions", &body).await;
    standin.pay_checkout(id(&open)).await.unwrap();
    let session = get_json(&standin, &format!("/v1/checkout/sessions/{}", id(&open))).await;
    // 2 × 10.00, less 20%, plus 10% of 16.00.
    assert_eq!((session["amount_total"].as_i64(), session["total_details"]["amount_tax"].as_i64()), (Some(1760), Some(160)));
    let intent = get_json(&standin, &format!("/v1/payment_intents/{}", session["payment_intent"].as_str().unwrap())).await;
    assert_eq!(intent["amount"], 1760);
    let invoice: Invoice = assert_shape(&get_json(&standin, &format!("/v1/invoices/{}", session["invoice"].as_str().unwrap())).await);
    assert_eq!((invoice.subtotal, invoice.total, invoice.discounts.len()), (2000, 1760, 1));
    let items = get_json(&standin, &format!("/v1/checkout/sessions/{}/line_items", id(&open))).await;
    let item = &items["data"][0];
    assert_eq!(
        (item["amount_discount"].as_i64(), item["amount_tax"].as_i64(), item["amount_total"].as_i64()),
        (Some(400), Some(160), Some(1760))
    );
    assert_eq!(get_json(&standin, "/v1/coupons/LAUNCH20").await["times_redeemed"], 1);
}

fn coupon(id: &str, value: CouponValue, duration: CouponDuration, products: &[&str]) -> CouponSpec {
    CouponSpec { id: id.into(), name: None, value, duration, applies_to_products: products.iter().map(|p| p.to_string()).collect() }
}

#[tokio::test]
async fn repeating_and_product_limited_coupons_follow_their_terms() {
    let codes = vec![
        PromotionCodeSpec::new(
            "HALFTWO",
            coupon("HALF_TWO_MONTHS", CouponValue::PercentOff(50.0), CouponDuration::Repeating { months: 2 }, &[]),
        ),
        PromotionCodeSpec::new(
            "CREDITSONLY",
            coupon("CREDITS_ONLY", CouponValue::PercentOff(10.0), CouponDuration::Forever, &["Credit bundle"]),
        ),
    ];
    let (standin, _) = start_with_codes(None, codes).await.unwrap();
    let customer = customer(&standin).await;

    let credits_only = promotion_code(&standin, "CREDITSONLY").await;
    let (status, refused) = checkout(&standin, &customer, &format!("&discounts[0][promotion_code]={credits_only}")).await;
    assert_eq!(status, 400);
    assert!(refused["error"]["message"].as_str().unwrap().contains("does not apply"), "{refused}");
    let hidden = get_json(&standin, "/v1/coupons/CREDITS_ONLY").await;
    assert_eq!(hidden.get("applies_to"), None);
    let shown: Coupon = assert_shape(&get_json(&standin, "/v1/coupons/CREDITS_ONLY?expand[]=applies_to").await);
    assert_eq!(shown.applies_to.map(|a| a.products.len()), Some(1));

    let half = promotion_code(&standin, "HALFTWO").await;
    let (_, subscription) = subscribe(&standin, &customer, &format!("&discounts[0][promotion_code]={half}")).await;
    let discount = get_json(&standin, &format!("/v1/subscriptions/{}?expand[]=discounts", id(&subscription))).await["discounts"][0].clone();
    let discount: Discount = assert_shape(&discount);
    assert!(discount.end.is_some_and(|end| end > discount.start));
    let mut totals = vec![latest_invoice(&standin, &subscription).await["total"].as_i64().unwrap()];
    for _ in 0..2 {
        standin.advance_period(id(&subscription), true).await.unwrap();
        totals.push(latest_invoice(&standin, &subscription).await["total"].as_i64().unwrap());
    }
    // Months one and two at half price, then the discount has ended and left the subscription.
    assert_eq!(totals, [1000, 1000, 2000]);
    let now = get_json(&standin, &format!("/v1/subscriptions/{}", id(&subscription))).await;
    assert_eq!(now["discounts"], Value::Array(Vec::new()));
}

#[tokio::test]
async fn contradictory_or_unknown_seeds_are_refused_at_start() {
    let unknown_product = coupon("X", CouponValue::PercentOff(10.0), CouponDuration::Forever, &["No such product"]);
    assert!(start_with_codes(None, vec![PromotionCodeSpec::new("X", unknown_product)]).await.is_err());
    let ten = coupon("TEN", CouponValue::PercentOff(10.0), CouponDuration::Once, &[]);
    let twenty = coupon("TEN", CouponValue::PercentOff(20.0), CouponDuration::Once, &[]);
    assert!(start_with_codes(None, vec![PromotionCodeSpec::new("A", ten.clone()), PromotionCodeSpec::new("B", twenty)]).await.is_err());
    assert!(
        start_with_codes(None, vec![PromotionCodeSpec::new("A", ten.clone()), PromotionCodeSpec::new("a", ten.clone())]).await.is_err()
    );
    let (standin, _) =
        start_with_codes(None, vec![PromotionCodeSpec::new("A", ten.clone()), PromotionCodeSpec::new("B", ten)]).await.unwrap();
    assert_eq!(get_json(&standin, "/v1/promotion_codes?coupon=TEN").await["data"].as_array().map(Vec::len), Some(2));
}

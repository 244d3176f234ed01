//! The crash harness with a real process: `billing-upgrade`, the Lambda binary itself, runs
//! behind a local Lambda Runtime API and is SIGKILLed right after the Stripe stand-in applied
//! (and held back the answer to) its subscription update. The in-process harness
//! (`crash_safety.rs`) covers every operation and case; this one shows the same holds for the
//! function as it runs in Lambda. `scripts/test` builds the binary before the tests.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

use billing_bench::emulator::Emulator;
use billing_bench::events::{self, Body, Request};
use billing_tests::process;
use billing_tests::stripe::StripeTestApi;

#[tokio::test]
async fn an_upgrade_whose_process_is_killed_after_stripe_applied_it_is_replayed_by_the_retry() {
    let (api, human, _) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    api.standin.drop_webhooks(true);
    let mut emulator = Emulator::start("billing-upgrade", Duration::from_secs(30)).await.expect("runtime API");
    let mut function = process::command("billing-upgrade", &emulator, api.app.store.table(), &api.standin.base_url(), &[])
        .stdout(Stdio::null())
        .spawn()
        .expect("start the function");

    let update = format!("/v1/subscriptions/{}", api.subscription_id());
    api.standin.hang_after("POST", &update);
    let request = Request {
        method: "POST".into(),
        path: "/billing/upgrade".into(),
        route_key: "POST /billing/upgrade".into(),
        path_parameters: Vec::new(),
        body: Some(Body { text: r#"{"plan":"scale"}"#.into(), headers: Vec::new() }),
    };
    let authorizer_event = serde_json::from_value(events::authorizer(&request, &human)).expect("an authorizer event");
    let authorizer_event = lambda_http::LambdaEvent::new(authorizer_event, Default::default());
    let context = billing_functions::authorizer::handle(&api.app, authorizer_event).await.context;
    let answer = emulator.invoke(events::authorized(events::http(&request, &human), context).to_string().into());
    tokio::time::timeout(Duration::from_secs(60), api.standin.trapped()).await.expect("the change reached Stripe");
    function.start_kill().expect("SIGKILL");
    let status = function.wait().await.expect("the function's exit");
    assert_eq!(status.signal(), Some(9), "killed, not exited");
    let answered = tokio::time::timeout(Duration::from_millis(300), answer).await;
    assert!(!matches!(answered, Ok(Ok(_))), "the killed function never answered");
    let applied = || api.calls("POST", &update).iter().filter(|r| !r.replayed && r.status == 200).count();
    assert_eq!(applied(), 1, "Stripe applied the change");

    let billing = api.get("/billing", Some(&human)).await.body;
    assert_eq!((&billing["plan"], &billing["change_being_confirmed"]["plan"]), (&"pro".into(), &"scale".into()), "{billing}");
    let retry = api.post_json("/billing/upgrade", &human, r#"{"plan":"scale"}"#).await;
    assert_eq!((retry.status, &retry.body["status"]), (200, &"switched".into()), "{}", retry.body);
    assert_eq!(retry.body["billing"]["plan"], "scale");
    assert_eq!(applied(), 1, "one Stripe write: the retry replayed it");
    assert_eq!(api.app.store.get_org("acme").await.unwrap().unwrap().change_intent, None, "no lock left");
}

//! `POST /mcp` driven by an MCP client nobody here wrote: the official Python SDK (`mcp`, in the
//! tools venv), through the local gateway and its authorizer, against DynamoDB Local and the
//! Stripe stand-in. Plus what a client library would never send: no key, malformed JSON-RPC.

use billing_shared::domain::principal::PrincipalKind;
use billing_tests::stripe::StripeTestApi;
use billing_tests::{TestApi, assert_envelope, json, require_env};
use serde_json::Value;

const TOOLS: [&str; 17] = [
    "get_billing",
    "list_plans",
    "get_limits",
    "reserve_usage",
    "release_usage",
    "upgrade_plan",
    "downgrade_plan",
    "end_trial",
    "check_approval",
    "open_billing_portal",
    "list_invoices",
    "request_limit_increase",
    "spend_credits",
    "buy_credits",
    "list_activity",
    "request_mandate",
    "get_mandate",
];

/// Runs the Python SDK client (`tests/mcp/client.py`) against `base`/mcp with `key` and `plan`.
async fn client(base: &str, key: &str, plan: Value) -> Value {
    let python = format!("{}/python", require_env("VENV_BIN"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/mcp/client.py");
    let mut child = tokio::process::Command::new(python)
        .args([script, &format!("{base}/mcp"), key])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the Python MCP client (scripts/tools.sh install_python_tools installs it)");
    let mut stdin = child.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stdin, plan.to_string().as_bytes()).await.unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "client failed: {stderr}");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("client output: {:?} {stderr}", output.stdout))
}

/// The results of `calls` made by one connection with `key`.
async fn calls(base: &str, key: &str, calls: Value) -> Vec<Value> {
    let out = client(base, key, json!({ "calls": calls })).await;
    assert!(out.get("error").is_none(), "{out}");
    out["results"].as_array().unwrap().clone()
}

async fn call(base: &str, key: &str, tool: &str, arguments: Value) -> Value {
    calls(base, key, json!([{ "tool": tool, "arguments": arguments }])).await.remove(0)
}

fn ok(result: &Value) -> &Value {
    assert_eq!(result["isError"], false, "{result}");
    &result["structuredContent"]
}

fn refused<'a>(result: &'a Value, error: &str) -> &'a Value {
    assert_eq!(result["isError"], true, "{result}");
    let envelope = &result["structuredContent"];
    assert_eq!(envelope["error"], error, "{result}");
    assert_eq!(result["text"][0], envelope["message"], "the text a model reads is the message");
    envelope
}

#[tokio::test]
async fn the_python_sdk_initializes_lists_valid_tools_and_calls_every_one() {
    let (api, _human, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let base = api.serve_http().await;
    let plan = json!({
        "mode": "legacy",
        "list_tools": true,
        "calls": [
            { "tool": "get_billing" },
            { "tool": "list_plans" },
            { "tool": "get_limits" },
            { "tool": "get_limits", "arguments": { "resource": "agents" } },
            { "tool": "reserve_usage", "arguments": { "resource": "agents", "count": 2, "idempotency_key": "agents-1" } },
            { "tool": "release_usage", "arguments": { "resource": "agents" } },
            { "tool": "upgrade_plan", "arguments": { "plan": "scale" } },
            { "tool": "downgrade_plan" },
            { "tool": "check_approval", "arguments": { "approval_id": "ap_unknown" } },
            { "tool": "open_billing_portal" },
            { "tool": "list_invoices", "arguments": { "limit": 5 } },
            { "tool": "request_limit_increase", "arguments": { "kind": "rows", "desiredValue": 2_000_000 } },
            { "tool": "spend_credits", "arguments": { "amount": 5, "reason": "report" } },
            { "tool": "list_activity", "arguments": { "limit": 10 } },
            { "tool": "request_mandate", "arguments": { "limits": { "max_plan": "scale" }, "expires_at": billing_shared::domain::calendar::format_instant(billing_shared::now() + 86_400), "reason": "to stop asking" } },
            { "tool": "get_mandate" },
            { "tool": "buy_credits", "arguments": { "quantity": 1 } },
            { "tool": "end_trial" },
        ],
    });
    let out = client(&base, &agent, plan).await;
    assert!(out.get("error").is_none(), "{out}");
    assert_eq!(out["server"]["name"], "stripe-billing-api");
    assert!(out["instructions"].as_str().unwrap().contains("confirm_token"));
    let tools = out["tools"].as_array().unwrap();
    assert_eq!(tools.iter().map(|t| t["name"].as_str().unwrap()).collect::<Vec<_>>(), TOOLS);
    for tool in tools {
        assert_eq!((&tool["input_problem"], &tool["output_problem"]), (&Value::Null, &Value::Null), "{tool}");
        assert!(tool["description"].as_str().unwrap().len() > 80, "written for a model: {tool}");
    }

    let results = out["results"].as_array().unwrap();
    // Every success passed the SDK's check of its structured content against the output schema.
    assert!(results.iter().all(|r| r.get("exception").is_none()), "{results:?}");
    assert_eq!(ok(&results[0])["plan"], "pro");
    assert_eq!(ok(&results[1])["plans"].as_array().unwrap().len(), 3);
    assert_eq!(ok(&results[2])["limits"].as_array().unwrap().len(), 7);
    assert_eq!(ok(&results[3])["can_create"], true);
    assert_eq!((ok(&results[4])["reserved"].as_u64(), ok(&results[4])["active"].as_u64()), (Some(2), Some(2)));
    assert_eq!((ok(&results[5])["released"].as_u64(), ok(&results[5])["active"].as_u64()), (Some(1), Some(1)));
    assert_eq!(ok(&results[6])["status"], "confirmation_required");
    assert_eq!(ok(&results[7])["status"], "confirmation_required");
    refused(&results[8], "not_found");
    assert!(ok(&results[9])["url"].as_str().unwrap().starts_with("http"));
    assert_eq!(ok(&results[10])["data"].as_array().unwrap().len(), 1, "the paid first invoice");
    assert_eq!(ok(&results[11])["status"], "recorded");
    assert_eq!(refused(&results[12], "insufficient_credits")["details"]["balance"], 0);
    let history = ok(&results[13]);
    let actions: Vec<&str> = history["data"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["billing.limit_increase_requested", "billing.consent_requested", "billing.consent_requested"],
        "the agent's own actions, newest first; refusals leave none: {history}"
    );
    assert!(history["data"].as_array().unwrap().iter().all(|r| r["actor"]["kind"] == "AGENT"), "{history}");
    let asked = ok(&results[14]);
    assert_eq!(asked["status"], "web-approve-required", "{asked}");
    assert_eq!(asked["mandate"]["envelope"][0]["value"], "up to Scale");
    assert!(ok(&results[15])["data"].as_array().unwrap().is_empty(), "nothing granted before the human approves");
    assert_eq!(ok(&results[16])["mandate_limit"], "no_mandate", "no mandate: a Checkout for the human");
    refused(&results[17], "not_trialing");

    assert_eq!(api.subscription_updates(), 0, "an agent's plan changes wait for consent");
    assert_eq!(api.get("/billing/limits/agents", Some(&agent)).await.body["active"], 1, "the same store as REST");
}

#[tokio::test]
async fn the_chat_consent_handshake_runs_through_mcp_once() {
    let (api, human, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let base = api.serve_http().await;
    let args = json!({ "plan": "scale", "quantity": 2 });
    let stripe_calls = api.standin.requests().len();
    let ask = call(&base, &agent, "upgrade_plan", args.clone()).await;
    let consent = ok(&ask);
    assert_eq!(consent["status"], "confirmation_required");
    assert_eq!(consent["expires_in"], 60);
    assert_eq!(consent["change"]["to"], json!({ "plan": "scale", "interval": "month", "quantity": 2 }));
    assert_eq!(consent["change"]["recurring_amount"], 9800);
    let token = consent["confirm_token"].as_str().unwrap();
    let message = consent["message"].as_str().unwrap();
    let step = ask["text"][0].as_str().unwrap();
    assert!(step.contains(message) && step.contains(token), "the text an agent shows: {step}");
    assert_eq!(api.subscription_updates(), 0, "asking changes nothing");
    let asked: Vec<String> = api.standin.requests()[stripe_calls..].iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    assert!(asked.iter().all(|call| call.starts_with("GET ") || call.ends_with("/v1/invoices/create_preview")), "{asked:?}");
    assert_eq!(api.get("/billing", Some(&human)).await.body["plan"], "pro");

    let mut confirmed = args.clone();
    confirmed["confirm_token"] = json!(token);
    let results = calls(
        &base,
        &agent,
        json!([
            { "tool": "upgrade_plan", "arguments": confirmed },
            { "tool": "upgrade_plan", "arguments": confirmed },
        ]),
    )
    .await;
    assert_eq!(ok(&results[0])["status"], "switched");
    assert_eq!(ok(&results[0])["billing"]["plan"], "scale");
    let replay = refused(&results[1], "invalid_confirm_token");
    assert_eq!(replay["details"]["reason"], "used");
    assert_eq!(api.subscription_updates(), 1, "executed once");

    // A HUMAN key executes directly, as over REST.
    let downgrade = call(&base, &human, "downgrade_plan", json!({})).await;
    assert_eq!(ok(&downgrade)["status"], "downgrade-scheduled");
}

#[tokio::test]
async fn an_agent_sees_the_trial_and_ending_it_asks_its_human_first() {
    let vars = [("CATALOG_FILE", billing_tests::stripe::DEMO_CATALOG)];
    let api = StripeTestApi::with_webhooks_and(&vars).await;
    let human = api.org_with_key("acme").await;
    let (_, agent) = api.issue_key("acme", "assistant", PrincipalKind::Agent).await;
    let reply = api.post_json("/billing/checkout", &human, r#"{"plan":"pro","interval":"month","promotion_code":"LAUNCH20"}"#).await;
    api.standin.pay_checkout(reply.body["session_id"].as_str().unwrap()).await.unwrap();
    api.standin.webhooks_settled().await;
    let base = api.serve_http().await;
    let results = calls(&base, &agent, json!([{ "tool": "get_billing" }, { "tool": "end_trial" }])).await;
    let billing = ok(&results[0]);
    assert_eq!((&billing["status"], &billing["discount"]["promotion_code"]), (&json!("trialing"), &json!("LAUNCH20")), "{billing}");
    assert!(billing["trial_ends_at"].as_i64().is_some(), "{billing}");
    let asked = ok(&results[1]);
    assert_eq!((&asked["status"], &asked["change"]["amount_due_now"]), (&json!("confirmation_required"), &json!(1520)), "{asked}");
    assert!(results[1]["text"][0].as_str().unwrap().contains("confirm_token"), "the model is told the next step");
    assert_eq!(api.get("/billing", Some(&human)).await.body["status"], "trialing", "nothing changed yet");
}

#[tokio::test]
async fn buy_credits_charges_the_card_inside_the_mandate_once_and_outside_it_links_a_checkout() {
    let (api, human, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let base = api.serve_http().await;
    api.set_card("acme", "pm_card_visa").await;
    let agent_key_id = agent.split('_').nth(1).unwrap();
    let limits = json!({ "credit_bundles_per_month": 1 });
    let expires_at = billing_shared::domain::calendar::format_instant(billing_shared::now() + 86_400);
    let body = json!({ "agent_key_id": agent_key_id, "limits": limits, "expires_at": expires_at }).to_string();
    let granted = api.post_json("/billing/mandates", &human, &body).await;
    assert_eq!(granted.status, 201, "{}", granted.body);
    let mandate_id = granted.body["mandate_id"].as_str().unwrap();
    let card_payments = || api.standin.payment_intents().into_iter().filter(|pi| pi["metadata"]["payment"] == "card_on_file").count();

    let buy = |key: &str| json!({ "tool": "buy_credits", "arguments": { "quantity": 1, "idempotency_key": key } });
    let results = calls(&base, &agent, json!([buy("buy-1"), buy("buy-1"), buy("buy-2")])).await;
    let paid = ok(&results[0]);
    assert_eq!((paid["status"].as_str(), paid["mandate"]["mandate_id"].as_str()), (Some("paid"), Some(mandate_id)), "{paid}");
    assert_eq!(paid["mandate"]["remaining"]["credit_bundles_this_month"], 0);
    assert_eq!(ok(&results[1]), paid, "the retry replays the first answer");
    let over = ok(&results[2]);
    assert_eq!((over["status"].as_str(), over["mandate_limit"].as_str()), (Some("checkout-required"), Some("credit_bundles_per_month")));
    let checkout_url = over["checkout_url"].as_str().unwrap();
    let step = results[2]["text"][0].as_str().unwrap();
    assert!(step.contains(checkout_url) && step.contains("request_mandate"), "{step}");

    assert_eq!(card_payments(), 1, "charged once, and not outside the mandate");
    let balance = api.get("/billing/credits", Some(&human)).await.body["balance"].clone();
    assert_eq!(balance, api.app.config.catalog.credits.credits_per_bundle, "granted once");

    // Revoked: the very next purchase charges nothing.
    let revoke = http::Request::builder()
        .method("DELETE")
        .uri(format!("/billing/mandates/{mandate_id}"))
        .header("authorization", format!("Bearer {human}"));
    assert_eq!(api.request(revoke.body(Vec::new()).unwrap()).await.status, 200);
    let revoked = call(&base, &agent, "buy_credits", json!({ "quantity": 1, "idempotency_key": "buy-3" })).await;
    assert_eq!(ok(&revoked)["mandate_limit"], "revoked");
    assert_eq!(card_payments(), 1);
}

#[tokio::test]
async fn web_consent_gives_the_link_and_another_org_s_approval_is_refused() {
    let (api, _human, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let base = api.serve_http().await;
    api.create_org("globex").await;
    let (_, stranger) = api.issue_key("globex", "their-agent", PrincipalKind::Agent).await;
    let ask = call(&base, &agent, "upgrade_plan", json!({ "plan": "scale", "mode": "web" })).await;
    let approval = ok(&ask);
    assert_eq!(approval["status"], "web-approve-required");
    let id = approval["approval_id"].as_str().unwrap();
    assert!(approval["approval_url"].as_str().unwrap().starts_with(&format!("{base}/approve/")), "{approval}");
    let code = approval["binding_code"].as_str().unwrap();
    assert!(ask["text"][0].as_str().unwrap().contains(code));

    assert_eq!(ok(&call(&base, &agent, "check_approval", json!({ "approval_id": id })).await)["status"], "pending");
    let theirs = call(&base, &stranger, "check_approval", json!({ "approval_id": id })).await;
    refused(&theirs, "not_found");
    assert_eq!(api.subscription_updates(), 0);
}

#[tokio::test]
async fn an_agent_at_its_cap_reads_the_402_details_and_follows_increase_mcp_tool() {
    let api = TestApi::new().await;
    api.create_org("acme").await;
    let (_, agent) = api.issue_key("acme", "assistant", PrincipalKind::Agent).await;
    let base = api.serve_http().await;
    let results = calls(
        &base,
        &agent,
        json!([
            { "tool": "reserve_usage", "arguments": { "resource": "agents" } },
            { "tool": "reserve_usage", "arguments": { "resource": "agents" } },
        ]),
    )
    .await;
    assert_eq!(ok(&results[0])["active"], 1);
    let refusal = refused(&results[1], "plan_limit_reached");
    let details = &refusal["details"];
    assert_eq!(details["upgrade"], json!({ "api": "POST /billing/upgrade", "mcpTool": "upgrade_plan", "plan": "pro", "cap": 10 }));
    assert_eq!(
        details["increase"],
        json!({ "api": "POST /billing/request-limit-increase", "mcpTool": "request_limit_increase", "kind": "agents" })
    );
    let rest = api.post_json("/billing/usage/agents/reserve", &agent, "{}").await;
    assert_envelope(&rest, 402, "plan_limit_reached");
    assert_eq!(rest.body["details"], *details, "the same details as REST");
    assert_eq!(rest.body["message"], refusal["message"]);

    let next = details["increase"]["mcpTool"].as_str().unwrap();
    let asked = call(&base, &agent, next, json!({ "kind": details["increase"]["kind"], "desiredValue": 5, "reason": "5 agents" })).await;
    assert_eq!(ok(&asked)["status"], "recorded");
    let signals = api.items_with_pk_prefix("SIGNALS").await;
    assert_eq!(signals.len(), 1, "stored: {signals:?}");
    assert_eq!(signals[0]["kind"].as_s().unwrap(), "agents");
    assert_eq!(api.get("/billing/limits/agents", Some(&agent)).await.body["active"], 1, "nothing changed at the cap");

    // Bad arguments are tool errors naming the field; nothing is counted.
    for (arguments, field) in [
        (json!({ "resource": "agents", "count": 0 }), "count"),
        (json!({ "resource": "agents", "count": "two" }), "count"),
        (json!({ "resource": "agents", "colour": "red" }), "colour"),
        (json!({}), "resource"),
    ] {
        let result = call(&base, &agent, "release_usage", arguments.clone()).await;
        assert_eq!(refused(&result, "validation_failed")["details"]["fields"][0]["field"], field, "{arguments}");
    }
    assert_eq!(api.get("/billing/limits/agents", Some(&agent)).await.body["active"], 1);

    // A client that negotiates the protocol itself (no initialize handshake) is served too.
    let plan = json!({ "mode": "auto", "list_tools": true, "calls": [{ "tool": "get_limits", "arguments": { "resource": "agents" } }] });
    let modern = client(&base, &agent, plan).await;
    assert!(modern.get("error").is_none(), "{modern}");
    assert_eq!(modern["protocol_version"], "2026-07-28", "{modern}");
    assert_eq!(modern["tools"].as_array().unwrap().len(), TOOLS.len());
    assert_eq!(ok(&modern["results"][0])["active"], 1);
}

#[tokio::test]
async fn no_key_is_refused_and_malformed_json_rpc_gets_a_json_rpc_error() {
    let api = TestApi::new().await;
    let key = api.org_with_key("acme").await;
    let base = api.serve_http().await;
    for key in ["", "bk_not_a_key"] {
        let out = client(&base, key, json!({ "list_tools": true })).await;
        assert!(out["error"].is_string() && out.get("tools").is_none(), "{out}");
        assert_eq!(out["http_statuses"], json!([401]), "{out}");
    }

    let post = |body: &str, key: Option<&str>| {
        let mut req = http::Request::builder()
            .method("POST")
            .uri("/mcp")
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        if let Some(key) = key {
            req = req.header("authorization", format!("Bearer {key}"));
        }
        req.body(body.as_bytes().to_vec()).unwrap()
    };
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    assert_envelope(&api.request(post(list, None)).await, 401, "unauthorized");
    let listed = api.request(post(list, Some(&key))).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["result"]["tools"].as_array().unwrap().len(), TOOLS.len());

    for (body, code) in [("{\"jsonrpc\":", -32700), ("", -32700), (r#"{"hello":"world"}"#, -32600), ("[1, 2]", -32600)] {
        let reply = api.request(post(body, Some(&key))).await;
        assert_eq!((reply.status, &reply.body["error"]["code"]), (400, &json!(code)), "{body}: {}", reply.body);
        assert_eq!(reply.body["jsonrpc"], "2.0");
    }
    let unknown = api.request(post(r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"drop_tables"}}"#, Some(&key))).await;
    assert_eq!((unknown.status, &unknown.body["id"], &unknown.body["error"]["code"]), (200, &json!(7), &json!(-32602)), "{}", unknown.body);
    let no_method = api.request(post(r#"{"jsonrpc":"2.0","id":8,"method":"resources/list"}"#, Some(&key))).await;
    assert_eq!(no_method.body["error"]["code"], -32601, "{}", no_method.body);

    // A client that takes JSON but does not list SSE (or sends no Accept) is served: only JSON is ever sent.
    let mut no_accept = post(list, Some(&key));
    no_accept.headers_mut().remove("accept");
    let reply = api.request(no_accept).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body["result"]["tools"].is_array(), "{}", reply.body);

    let mut wrong_accept = post(list, Some(&key));
    wrong_accept.headers_mut().insert("accept", http::HeaderValue::from_static("text/html"));
    let reply = api.request(wrong_accept).await;
    assert_eq!((reply.status, &reply.body["error"]["code"]), (406, &json!(-32600)), "{}", reply.body);

    let get = http::Request::builder().uri("/mcp").header("authorization", format!("Bearer {key}")).body(Vec::new()).unwrap();
    let reply = api.request(get).await;
    assert_envelope(&reply, 405, "method_not_allowed");
    assert_eq!(reply.headers["allow"], "POST");
}

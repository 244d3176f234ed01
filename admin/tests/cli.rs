//! The admin CLI end to end against DynamoDB Local: org, key, show, revoke.

use std::process::Command;

use billing_infra::template::Template;
use billing_shared::App;
use billing_shared::billing::authenticate::authenticate;
use billing_shared::billing::limit_signals::{IncreaseBody, request_increase};
use billing_tests::{require_env, test_config, unique_table};

fn admin(table: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_billing-admin")).args(args).env("BILLING_TABLE", table).output().expect("run billing-admin");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[tokio::test]
async fn create_issue_show_revoke() {
    require_env("AWS_ENDPOINT_URL_DYNAMODB");
    let table = unique_table();
    let app = App::new(test_config(&table), billing_shared::config::aws_sdk_config().await);
    Template::built_in().create_table(app.store.client(), &table).await.unwrap();

    let (ok, out, _) = admin(&table, &["create-org", "acme", "Acme Inc"]);
    assert!(ok && out.contains("created org acme"), "{out}");
    let (ok, _, err) = admin(&table, &["create-org", "acme"]);
    assert!(!ok && err.contains("exists already"), "{err}");

    let (ok, _, err) = admin(&table, &["issue-key", "nobody", "bot", "AGENT"]);
    assert!(!ok && err.contains("no org"), "{err}");
    let (ok, out, _) = admin(&table, &["issue-key", "acme", "bot", "AGENT"]);
    assert!(ok, "{out}");
    let key_id = out.lines().find_map(|l| l.strip_prefix("key_id ")).unwrap().trim().to_string();
    let token = out.lines().find_map(|l| l.strip_prefix("key    ")).unwrap().trim().to_string();
    let principal = authenticate(&app.store, Some(&token)).await.unwrap();
    assert_eq!((principal.org_id.as_str(), principal.principal_id.as_str()), ("acme", "bot"));

    let (ok, out, _) = admin(&table, &["show-org", "acme"]);
    assert!(ok, "{out}");
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["plan"], "free");

    let (ok, out, _) = admin(&table, &["revoke-key", &key_id]);
    assert!(ok && out.contains("revoked"), "{out}");
    assert_eq!(authenticate(&app.store, Some(&token)).await.unwrap_err().status(), 401);
    let (ok, _, err) = admin(&table, &["revoke-key", "0000000000000000"]);
    assert!(!ok && err.contains("No API key"), "{err}");

    // A cap override: honoured by the summary at once; `none` removes it.
    let (ok, out, err) = admin(&table, &["set-cap-override", "acme", "agents", "25"]);
    assert!(ok, "{err}");
    let limit: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((limit["resource"].as_str(), limit["cap"].as_i64(), limit["remaining"].as_i64()), (Some("agents"), Some(25), Some(25)));
    let (_, out, _) = admin(&table, &["show-org", "acme"]);
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((shown["cap_overrides"]["agents"].as_i64(), shown["limits"][0]["cap"].as_i64()), (Some(25), Some(25)));
    let (ok, out, _) = admin(&table, &["set-cap-override", "acme", "agents", "unlimited"]);
    assert!(ok && serde_json::from_str::<serde_json::Value>(&out).unwrap()["cap"].is_null(), "{out}");
    let (ok, out, _) = admin(&table, &["set-cap-override", "acme", "agents", "none"]);
    assert!(ok && serde_json::from_str::<serde_json::Value>(&out).unwrap()["cap"] == 1, "{out}");
    let (ok, _, err) = admin(&table, &["set-cap-override", "nobody", "agents", "3"]);
    assert!(!ok && err.contains("no org"), "{err}");
    let (ok, _, err) = admin(&table, &["set-cap-override", "acme", "unicorns", "3"]);
    assert!(!ok && err.contains("api_calls"), "{err}");

    // Limit-increase signals, aggregated.
    let (_, out, _) = admin(&table, &["issue-key", "acme", "bot2", "AGENT"]);
    let agent = out.lines().find_map(|l| l.strip_prefix("key    ")).unwrap().trim().to_string();
    let principal = authenticate(&app.store, Some(&agent)).await.unwrap();
    let body = IncreaseBody { kind: Some("rows".into()), desired_value: Some(50_000), reason: Some("import".into()) };
    request_increase(&app, &principal, &body, billing_shared::now()).await.unwrap();
    let (ok, out, err) = admin(&table, &["limit-signals", "--kind", "rows", "--since", "2020-01-01"]);
    assert!(ok, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let org = &report["kinds"][0]["orgs"][0];
    assert_eq!(
        (org["org_id"].as_str(), org["requests"].as_i64(), org["highest_desired_value"].as_i64()),
        (Some("acme"), Some(1), Some(50_000))
    );
    assert_eq!((org["plan"].as_str(), org["cap"].as_i64(), org["latest_reason"].as_str()), (Some("free"), Some(10_000), Some("import")));
    let (ok, out, _) = admin(&table, &["limit-signals", "--kind", "agents"]);
    assert!(ok && serde_json::from_str::<serde_json::Value>(&out).unwrap()["kinds"] == serde_json::json!([]), "{out}");
    let (ok, _, err) = admin(&table, &["limit-signals", "--since", "someday"]);
    assert!(!ok && err.contains("--since"), "{err}");

    let (ok, _, err) = admin(&table, &["frobnicate"]);
    assert!(!ok && err.contains("usage"), "{err}");
}

#[tokio::test]
async fn resume_agent_lifts_the_brake_s_pause() {
    require_env("AWS_ENDPOINT_URL_DYNAMODB");
    let table = unique_table();
    let app = App::new(test_config(&table), billing_shared::config::aws_sdk_config().await);
    Template::built_in().create_table(app.store.client(), &table).await.unwrap();
    assert!(admin(&table, &["create-org", "acme"]).0);
    let (_, out, _) = admin(&table, &["issue-key", "acme", "bot", "AGENT"]);
    let key_id = out.lines().find_map(|l| l.strip_prefix("key_id ")).unwrap().trim().to_string();
    let token = out.lines().find_map(|l| l.strip_prefix("key    ")).unwrap().trim().to_string();
    let principal = authenticate(&app.store, Some(&token)).await.unwrap();
    let now = billing_shared::now();
    for _ in 0..21 {
        billing_shared::billing::brake::count_refusal(&app, &principal, 402, now).await;
    }
    let paused_until = || async { app.store.get_api_key(&key_id).await.unwrap().unwrap().paused_until };
    assert!(paused_until().await.is_some_and(|until| until > now), "21 refusals in a minute pause the key");

    let (ok, out, err) = admin(&table, &["resume-agent", &key_id]);
    assert!(ok && out.starts_with("resumed"), "{out}{err}");
    assert_eq!(paused_until().await, None);
    let (ok, out, _) = admin(&table, &["resume-agent", &key_id]);
    assert!(ok && out.contains("was not paused"), "{out}");
    let (ok, _, err) = admin(&table, &["resume-agent", "0000000000000000"]);
    assert!(!ok && err.contains("No API key"), "{err}");
}

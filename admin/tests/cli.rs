//! The admin CLI end to end against DynamoDB Local: org, key, show, revoke.

use std::process::Command;

use billing_infra::template::Template;
use billing_shared::App;
use billing_shared::billing::authenticate::authenticate;
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

    let (ok, _, err) = admin(&table, &["frobnicate"]);
    assert!(!ok && err.contains("usage"), "{err}");
}

//! The authorizer in front of every /billing route: who gets in, and that an org never sees another.

use billing_shared::domain::api_key as auth;
use billing_shared::domain::principal::PrincipalKind;
use billing_shared::now;
use billing_tests::{TestApi, assert_envelope};

#[tokio::test]
async fn missing_malformed_unknown_and_wrong_keys_are_401_with_the_same_envelope() {
    let api = TestApi::new().await;
    let token = api.org_with_key("acme").await;
    let unknown = auth::issue("acme", "ghost", PrincipalKind::Human, now()).unwrap().token;
    // A real key id with another secret.
    let forged = format!("{}{}", &token[..token.len() - 4], if token.ends_with("0000") { "1111" } else { "0000" });

    let mut messages = Vec::new();
    let bad_headers: Vec<Option<String>> = vec![
        None,
        Some(String::new()),
        Some("Bearer".into()),
        Some(format!("Basic {token}")),
        Some(token.clone()),
        Some("Bearer not-a-key".into()),
        Some(format!("Bearer {unknown}")),
        Some(format!("Bearer {forged}")),
        Some(format!("Bearer {}", token.to_uppercase())),
    ];
    for header in bad_headers {
        let mut req = http::Request::builder().method("GET").uri("/billing");
        if let Some(h) = &header {
            req = req.header("authorization", h);
        }
        let reply = api.request(req.body(Vec::new()).unwrap()).await;
        assert_envelope(&reply, 401, "unauthorized");
        messages.push(reply.body["message"].clone());
    }
    messages.dedup();
    assert_eq!(messages.len(), 1, "every 401 says the same, revealing nothing: {messages:?}");
    assert_eq!(api.get("/billing", Some(&token)).await.status, 200);
}

#[tokio::test]
async fn revoked_key_is_401_and_other_keys_of_the_org_still_work() {
    let api = TestApi::new().await;
    api.create_org("acme").await;
    let (human_id, human) = api.issue_key("acme", "alice", PrincipalKind::Human).await;
    let (_, agent) = api.issue_key("acme", "bot", PrincipalKind::Agent).await;
    assert_eq!(api.get("/billing", Some(&human)).await.status, 200);

    let revoked =
        api.app.store.revoke_api_key(&human_id, now(), |r| auth::key_activity(r, true, now())).await.unwrap().expect("the key exists");
    assert!(revoked.revoked_at.is_some());
    assert_envelope(&api.get("/billing", Some(&human)).await, 401, "unauthorized");
    assert_eq!(api.get("/billing", Some(&agent)).await.status, 200);

    // Revoking again keeps the first revocation time; revoking an unknown key is not found.
    let again = api
        .app
        .store
        .revoke_api_key(&human_id, now() + 100, |r| auth::key_activity(r, true, now()))
        .await
        .unwrap()
        .expect("the key exists");
    assert_eq!(again.revoked_at, revoked.revoked_at);
    assert_eq!(api.app.store.revoke_api_key("0123456789abcdef", now(), |r| auth::key_activity(r, true, now())).await.unwrap(), None);
}

#[tokio::test]
async fn an_org_key_only_ever_sees_its_own_org() {
    let api = TestApi::new().await;
    let acme = api.org_with_key("acme").await;
    let globex = api.org_with_key("globex").await;

    let a = api.get("/billing", Some(&acme)).await;
    let g = api.get("/billing", Some(&globex)).await;
    assert_eq!((a.status, g.status), (200, 200));
    assert_eq!(a.body["org_id"], "acme");
    assert_eq!(g.body["org_id"], "globex");

    // There is no way to name another org: an org parameter is refused, not honoured.
    let reply = api.get("/billing?org_id=globex", Some(&acme)).await;
    assert_envelope(&reply, 400, "validation_failed");
    assert_eq!(reply.body["details"]["fields"][0]["field"], "org_id");
    assert!(!reply.body.to_string().contains("globex\","));
}

#[tokio::test]
async fn key_of_a_deleted_org_sees_not_found_and_no_data() {
    let api = TestApi::new().await;
    let (_, token) = api.issue_key("gone", "alice", PrincipalKind::Human).await;
    assert_envelope(&api.get("/billing", Some(&token)).await, 404, "not_found");
}

#[tokio::test]
async fn keys_are_stored_only_as_hashes() {
    let api = TestApi::new().await;
    let token = api.org_with_key("acme").await;
    let secret = token.rsplit('_').next().unwrap();
    let dump = format!("{:?}", api.items().await);
    assert!(!dump.contains(secret), "the key's secret must not be stored");
    assert!(dump.contains("key_hash"));
}

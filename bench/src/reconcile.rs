//! The reconciler benchmark behind `scripts/bench-reconciler` (a measurement, never a test): one
//! reconciler run over many orgs, a few stuck plan-change intents and about a hundred Stripe
//! events the webhook never received, on DynamoDB Local (every call counted by operation through
//! a `CountingProxy`) and the Stripe stand-in; then a second run over the same state.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use billing_infra::gateway::Gateway;
use billing_infra::template::Template;
use billing_shared::billing::reconcile::{ReconcileReport, run};
use billing_shared::config::Config;
use billing_shared::domain::api_key as auth;
use billing_shared::domain::calendar::civil_from_days;
use billing_shared::domain::catalog::Interval;
use billing_shared::domain::change::{Change, ChangeIntent, ChangeKind, PlanConfig};
use billing_shared::domain::entitlements::CapRules;
use billing_shared::domain::org::Org;
use billing_shared::domain::principal::PrincipalKind;
use billing_shared::store::Store;
use billing_shared::{App, now};
use hyper::body::Bytes;
use serde_json::Value;
use stripe_standin::Standin;
use tokio::task::JoinSet;

use crate::proxy::{CountingProxy, Counts};
use crate::seed::{CREDITS_CHECKOUT, Error, SUBSCRIPTION_CHECKOUT, project_env};
use crate::stripe::WEBHOOK_SECRET;

/// What the issue asks one run to go through.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub orgs: usize,
    pub stuck_intents: usize,
    /// Events the webhook never received: billing activity goes on until at least this many.
    pub missed_events: usize,
}

impl Default for Scale {
    fn default() -> Self {
        Self { orgs: 1_000, stuck_intents: 10, missed_events: 100 }
    }
}

/// Orgs created at once while seeding.
const SEED_CONCURRENCY: usize = 16;

/// The seeded state, ready for the reconciler.
pub struct Bench {
    pub app: App,
    pub proxy: CountingProxy,
    pub standin: Standin,
    pub table: String,
    pub scale: Scale,
    /// Orgs subscribed (through the API, webhooks delivered), with a stuck intent each.
    pub stuck: Vec<String>,
    /// Further subscription Checkouts and credits Checkouts paid with webhooks dropped.
    pub subscriptions_missed: usize,
    pub credits_missed: usize,
    /// Stripe's event list before the run, and how many of those the webhook never received.
    pub events_listed: usize,
    pub events_missed: usize,
    pub seed_time: Duration,
    _gateway_shutdown: tokio::sync::oneshot::Sender<()>,
}

/// One reconciler run as measured.
#[derive(Debug, Clone)]
pub struct Measured {
    pub wall: Duration,
    pub dynamodb: Counts,
    /// Stripe requests by method and path (ids folded), from the stand-in's log.
    pub stripe: Counts,
    pub report: ReconcileReport,
}

impl Measured {
    pub fn dynamodb_calls(&self) -> u64 {
        self.dynamodb.values().sum()
    }
}

fn org_id(i: usize) -> String {
    format!("org-{i:04}")
}

/// The App the functions build, with its DynamoDB client pointed at `proxy` (a client-level
/// endpoint: `AWS_ENDPOINT_URL_DYNAMODB` would otherwise win over one set on `SdkConfig`).
async fn app_through(proxy: &CountingProxy, sdk: &SdkConfig, table: &str, stripe_base: &str) -> Result<App, Error> {
    let env = project_env(table, stripe_base);
    let config = Config::from_lookup(|name| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()))?;
    let mut app = App::new(config, sdk.clone()).with_stripe().await;
    app.stripe()?;
    let dynamodb = aws_sdk_dynamodb::config::Builder::from(sdk).endpoint_url(proxy.endpoint()).build();
    let rules = CapRules { catalog: app.config.catalog.clone(), grace_secs: app.config.past_due_grace_secs };
    app.store = Store::new(aws_sdk_dynamodb::Client::from_conf(dynamodb), table, rules)
        .with_activity_retention_days(app.config.activity_retention_days);
    Ok(app)
}

/// A request through the in-process gateway (authorizer and handler as in AWS): the JSON answer.
async fn post(gateway: &Gateway, path: &str, token: &str, body: &str) -> Result<Value, Error> {
    let req = hyper::Request::builder()
        .method("POST")
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Bytes::from(body.to_string()))?;
    let response = Box::pin(gateway.handle(req)).await;
    let status = response.status();
    let body: Value = serde_json::from_slice(response.body()).map_err(|e| format!("POST {path}: not JSON ({e})"))?;
    if !status.is_success() {
        return Err(format!("POST {path} answered {status}: {body}").into());
    }
    Ok(body)
}

/// A HUMAN key of the org: the bearer token.
async fn key(app: &App, org_id: &str) -> Result<String, Error> {
    let key = auth::issue(org_id, "owner", PrincipalKind::Human, now())?;
    app.store.put_api_key(&key.record, &auth::key_activity(&key.record, false, now())).await?;
    Ok(key.token)
}

/// A Checkout made through the API (`path` with `body`) and paid at the stand-in.
async fn paid_checkout(gateway: &Gateway, standin: &Standin, path: &str, token: &str, body: &str) -> Result<(), Error> {
    let session = post(gateway, path, token, body).await?;
    let id = session["session_id"].as_str().ok_or_else(|| format!("POST {path}: no session_id in {session}"))?;
    standin.pay_checkout(id).await?;
    Ok(())
}

/// The intent an execution of "switch from Pro to Scale now" records before its first Stripe
/// write: the org as if its function died right after.
fn stuck_intent(org: &Org, app: &App, at: i64) -> ChangeIntent {
    let catalog = &app.config.catalog;
    let from = PlanConfig { plan: "pro".into(), interval: Some(Interval::Month), quantity: 1 };
    let to = PlanConfig { plan: "scale".into(), ..from.clone() };
    let change = Change {
        kind: ChangeKind::SwitchNow,
        amount_due_now: to.amount(catalog) as i64 - from.amount(catalog) as i64,
        recurring_amount: to.amount(catalog),
        effective_at: None,
        proration_date: at,
        trial_ends_at: None,
        tax_due_now: 0,
        discount_due_now: 0,
        promotion_code: None,
        from,
        to,
    };
    ChangeIntent {
        change,
        stripe_key: format!("bench-stuck-{}-{at}", org.org_id),
        claim: None,
        generation: org.change_generation,
        started_at: at,
        requested_by: None,
    }
}

impl Bench {
    /// A fresh table on the DynamoDB Local at `dynamodb` (through a counting proxy), the stand-in,
    /// and the state of `scale`.
    pub async fn seed(dynamodb: &hyper::Uri, sdk: &SdkConfig, standin: Standin, scale: Scale) -> Result<Self, Error> {
        let started = Instant::now();
        let proxy = CountingProxy::start(dynamodb).await.map_err(|e| format!("dynamodb proxy: {e}"))?;
        let table = format!("reconcile-bench-{}", now());
        let app = app_through(&proxy, sdk, &table, &standin.base_url()).await?;
        Template::built_in().create_table(app.store.client(), &table).await?;

        // The API, and the webhook the stand-in delivers to until it is dropped.
        let gateway = Arc::new(Gateway::new(app.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(billing_infra::gateway::serve(gateway.clone(), listener, async {
            let _ = stop.await;
        }));
        standin.set_webhook(Some(format!("{base}/stripe/webhook")), WEBHOOK_SECRET.into());

        // The orgs, free.
        let mut created = JoinSet::new();
        for i in 0..scale.orgs {
            if created.len() >= SEED_CONCURRENCY
                && let Some(done) = created.join_next().await
            {
                done??;
            }
            let app = app.clone();
            created.spawn(async move {
                let id = org_id(i);
                app.store.create_org(&Org::new(&id, &format!("Bench Org {i}"), now())).await.map_err(Error::from)
            });
        }
        while let Some(done) = created.join_next().await {
            done??;
        }

        // The orgs with a stuck intent: subscribed to Pro through Checkout, webhooks delivered.
        let stuck: Vec<String> = (0..scale.stuck_intents).map(org_id).collect();
        for org_id in &stuck {
            let token = key(&app, org_id).await?;
            paid_checkout(&gateway, &standin, "/billing/checkout", &token, SUBSCRIPTION_CHECKOUT).await?;
        }
        standin.webhooks_settled().await;

        // From here on Stripe gives up on the webhook endpoint.
        standin.drop_webhooks(true);
        let events_before = standin.events().len();
        let at = now();
        for org_id in &stuck {
            let mut org = app.store.get_org(org_id).await?.ok_or_else(|| format!("org {org_id} vanished"))?;
            if org.stripe_subscription_id.is_none() || org.plan != "pro" {
                return Err(format!("org {org_id} is not subscribed to Pro after its paid Checkout: {} {:?}", org.plan, org.status).into());
            }
            org.change_intent = Some(stuck_intent(&org, &app, at));
            app.store.save_org(&mut org).await?;
        }

        // Billing activity the webhook never hears of: subscription and credits Checkouts paid,
        // by free orgs after the stuck ones, until enough events are missed.
        let (mut subscriptions_missed, mut credits_missed) = (0, 0);
        let mut next = scale.stuck_intents;
        while standin.events().len() - events_before < scale.missed_events {
            if next >= scale.orgs {
                return Err(format!("{} orgs are not enough for {} missed events", scale.orgs, scale.missed_events).into());
            }
            let org_id = org_id(next);
            let token = key(&app, &org_id).await?;
            if next.is_multiple_of(2) {
                paid_checkout(&gateway, &standin, "/billing/checkout", &token, SUBSCRIPTION_CHECKOUT).await?;
                subscriptions_missed += 1;
            } else {
                paid_checkout(&gateway, &standin, "/billing/credits/checkout", &token, CREDITS_CHECKOUT).await?;
                credits_missed += 1;
            }
            next += 1;
        }
        standin.webhooks_settled().await;
        let events_listed = standin.events().len();
        Ok(Self {
            app,
            proxy,
            standin,
            table,
            scale,
            stuck,
            subscriptions_missed,
            credits_missed,
            events_listed,
            events_missed: events_listed - events_before,
            seed_time: started.elapsed(),
            _gateway_shutdown: shutdown,
        })
    }

    /// One reconciler run over everything (`reconcile::run(app, None, now)`), measured.
    pub async fn run_once(&self) -> Result<Measured, Error> {
        let dynamodb_before = self.proxy.counts();
        let stripe_before = self.standin.requests().len();
        let started = Instant::now();
        let report = run(&self.app, None, now()).await?;
        let wall = started.elapsed();
        let dynamodb = self
            .proxy
            .counts()
            .into_iter()
            .map(|(op, n)| {
                let before = dynamodb_before.get(&op).copied().unwrap_or(0);
                (op, n - before)
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        let mut stripe = Counts::new();
        for request in self.standin.requests().iter().skip(stripe_before) {
            *stripe.entry(format!("{} {}", request.method, without_ids(&request.path))).or_default() += 1;
        }
        Ok(Measured { wall, dynamodb, stripe, report })
    }
}

/// `/v1/subscriptions/sub_1AbC` -> `/v1/subscriptions/{id}` (as the counting proxy folds them).
fn without_ids(path: &str) -> String {
    let is_id = |s: &str| s.contains('_') && s.bytes().any(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
    path.split('/').map(|s| if is_id(s) { "{id}" } else { s }).collect::<Vec<_>>().join("/")
}

/// What the report says about where and how it was measured.
pub struct Context {
    pub date: String,
    pub commit: Option<String>,
    pub machine: String,
}

fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1_000.0)
}

/// The figures as markdown.
pub fn markdown(bench: &Bench, runs: &[Measured], context: &Context) -> String {
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    let scale = &bench.scale;
    let mut out = String::new();
    out.push_str("# Reconciler benchmark\n\n");
    out.push_str(&format!(
        "Measured {}{} with `scripts/bench-reconciler` (a measurement, never a test: it asserts nothing).\n\n",
        context.date,
        context.commit.as_deref().map(|c| format!(" at {c}")).unwrap_or_default()
    ));
    out.push_str("## Method\n\n");
    out.push_str(&format!(
        "One process ({profile} build of `billing-bench --bin reconcile-bench`) on {machine}. A fresh table \
         (from template.yaml) on DynamoDB Local (on the same machine; the seeding's calls warm its JIT), every \
         DynamoDB call of the App going through a counting proxy (counted by operation); the offline Stripe stand-in \
         (`infra/stripe-standin`) as Stripe. Seeded: {orgs} orgs, all free to start; {stuck} of them subscribed \
         to Pro (monthly) through the API (`POST /billing/checkout`, then paid at the stand-in, webhooks \
         delivered), each then left with a stuck plan-change intent (switch now from Pro to Scale, \
         proration date pinned, no Stripe request sent: a function that died after recording its intent). \
         Then the stand-in dropped every webhook while {subs} more orgs subscribed to Pro and {credits} bought \
         credits (`POST /billing/credits/checkout {{\"quantity\":1}}`, paid): {missed} events the webhook never \
         received, {listed} events in Stripe's list in all. Seeding took {seed:.1} s. Then \
         `billing_shared::billing::reconcile::run(&app, None, now)` ran once, timed (wall clock around the \
         call), and once more over the state the first left. Run 1 also lists the {made} events its own \
         intent completions made at Stripe (their webhooks dropped too). Stripe calls are the run's own count \
         (`report.stripe_calls`, retries included); by operation from the stand-in's request log.\n\n",
        machine = context.machine,
        orgs = scale.orgs,
        stuck = bench.stuck.len(),
        subs = bench.subscriptions_missed,
        credits = bench.credits_missed,
        missed = bench.events_missed,
        listed = bench.events_listed,
        seed = bench.seed_time.as_secs_f64(),
        made = runs.first().map_or(0, |run| run.report.events_seen.saturating_sub(bench.events_listed)),
    ));
    out.push_str("## Figures\n\n");
    let header: Vec<String> = (1..=runs.len()).map(|i| format!("run {i}")).collect();
    out.push_str(&format!("| | {} |\n|---|{}\n", header.join(" | "), "---:|".repeat(runs.len())));
    let row = |name: &str, value: &dyn Fn(&Measured) -> String| {
        let cells: Vec<String> = runs.iter().map(value).collect();
        format!("| {name} | {} |\n", cells.join(" | "))
    };
    out.push_str(&row("wall time", &|m| millis(m.wall)));
    out.push_str(&row("DynamoDB calls", &|m| m.dynamodb_calls().to_string()));
    out.push_str(&row("Stripe calls (`stripe_calls`)", &|m| m.report.stripe_calls.to_string()));
    out.push_str(&row("intents completed", &|m| m.report.intents_completed.len().to_string()));
    out.push_str(&row("events seen", &|m| m.report.events_seen.to_string()));
    out.push_str(&row("events applied", &|m| m.report.events_applied.to_string()));
    out.push_str(&row("events duplicate", &|m| m.report.events_duplicate.to_string()));
    out.push_str(&row("events ignored", &|m| m.report.events_ignored.to_string()));
    out.push_str(&row("orgs checked for drift", &|m| m.report.orgs_checked.to_string()));
    out.push_str(&row("drift: orgs", &|m| {
        m.report.drift.iter().map(|d| d.org_id.as_str()).collect::<std::collections::BTreeSet<_>>().len().to_string()
    }));
    out.push_str(&row("drift: fields", &|m| m.report.drift.len().to_string()));
    out.push_str(&breakdown("DynamoDB calls by operation", runs, |m| &m.dynamodb));
    out.push_str(&breakdown("Stripe calls by operation", runs, |m| &m.stripe));
    out
}

/// A table of counts by operation, one column per run.
fn breakdown(title: &str, runs: &[Measured], counts: fn(&Measured) -> &Counts) -> String {
    let mut ops: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (i, run) in runs.iter().enumerate() {
        for (op, n) in counts(run) {
            ops.entry(op).or_insert_with(|| vec![0; runs.len()])[i] = *n;
        }
    }
    let header: Vec<String> = (1..=runs.len()).map(|i| format!("run {i}")).collect();
    let mut out = format!("\n### {title}\n\n| operation | {} |\n|---|{}\n", header.join(" | "), "---:|".repeat(runs.len()));
    for (op, ns) in &ops {
        let cells: Vec<String> = ns.iter().map(u64::to_string).collect();
        out.push_str(&format!("| `{op}` | {} |\n", cells.join(" | ")));
    }
    let totals: Vec<String> = (0..runs.len()).map(|i| ops.values().map(|ns| ns[i]).sum::<u64>().to_string()).collect();
    out.push_str(&format!("| total | {} |\n", totals.join(" | ")));
    out
}

/// Now in UTC, `YYYY-MM-DD HH:MM UTC`.
pub fn utc_now() -> String {
    let secs = now();
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", rest / 3_600, rest % 3_600 / 60)
}

//! `billing-admin`: create orgs, issue and revoke API keys, resume a paused agent key, list and
//! revoke mandates, show an org, grant per-org cap overrides, read limit-increase signals, run
//! the reconciler by hand. Talks to whatever
//! DynamoDB the environment points at: `BILLING_TABLE` plus the usual AWS settings (in AWS, the
//! stack's `TableName` output; locally, `AWS_ENDPOINT_URL_DYNAMODB` for DynamoDB Local).
//! `reconcile` also calls Stripe, with the secrets the functions use (`STRIPE_SECRET_ARN`, or
//! `STRIPE_SECRET_KEY` and `STRIPE_API_BASE` locally).

use billing_shared::billing::brake::{ResumeStatus, resume_key};
use billing_shared::billing::limit_signals::{SignalQuery, report};
use billing_shared::billing::limits::{parse_override, parse_resource, set_cap_override};
use billing_shared::billing::{mandates, reconcile};
use billing_shared::domain::api_key as auth;
use billing_shared::domain::catalog::Resource;
use billing_shared::domain::mandate::is_mandate_id;
use billing_shared::domain::org::{Org, valid_id};
use billing_shared::domain::principal::Actor;
use billing_shared::domain::principal::PrincipalKind;
use billing_shared::domain::summary::billing_summary;
use billing_shared::store::{ACTIVITY_PAGE_MAX, ActivityFilter};
use billing_shared::{ApiError, App, now};

const USAGE: &str = "usage:
  billing-admin create-org <org_id> [name]
  billing-admin issue-key <org_id> <principal_id> <HUMAN|AGENT|ADMIN>
  billing-admin revoke-key <key_id>
  billing-admin resume-agent <key_id>
  billing-admin show-org <org_id>
  billing-admin set-design-partner <org_id> <on|off>
  billing-admin set-cap-override <org_id> <resource> <cap|unlimited|none>
  billing-admin limit-signals [--kind <kind>] [--since <YYYY-MM-DD>]
  billing-admin reconcile [--org <org_id>]
  billing-admin activity --org <org_id>
  billing-admin mandates --org <org_id>
  billing-admin revoke-mandate <org_id> <mandate_id>
  billing-admin index-keys   (once, after upgrading: lists keys issued before GET /billing/agents)";

#[derive(Debug)]
enum Command {
    CreateOrg {
        org_id: String,
        name: String,
    },
    IssueKey {
        org_id: String,
        principal_id: String,
        kind: PrincipalKind,
    },
    RevokeKey {
        key_id: String,
    },
    /// Puts keys issued before the keys' index existed into it.
    IndexKeys,
    /// Lifts the brake's pause of an AGENT key now.
    ResumeAgent {
        key_id: String,
    },
    ShowOrg {
        org_id: String,
    },
    SetDesignPartner {
        org_id: String,
        on: bool,
    },
    /// `cap: None` removes the override.
    SetCapOverride {
        org_id: String,
        resource: Resource,
        cap: Option<Option<u64>>,
    },
    LimitSignals {
        query: SignalQuery,
    },
    /// One reconciler run; `org` also has its drift checked.
    Reconcile {
        org: Option<String>,
    },
    /// The org's activity history, newest first (the latest page).
    Activity {
        org_id: String,
    },
    Mandates {
        org_id: String,
    },
    RevokeMandate {
        org_id: String,
        mandate_id: String,
    },
}

/// `[--kind K] [--since DATE]`, in any order, each at most once.
fn signal_query(args: &[&str]) -> Result<SignalQuery, String> {
    let (mut kind, mut since) = (None, None);
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let slot = match *flag {
            "--kind" => &mut kind,
            "--since" => &mut since,
            _ => return Err(USAGE.to_string()),
        };
        match (slot.is_none(), rest.next()) {
            (true, Some(value)) => *slot = Some(*value),
            _ => return Err(USAGE.to_string()),
        }
    }
    SignalQuery::parse(kind, since).map_err(|e| {
        let problems: Vec<String> = e
            .details
            .as_ref()
            .and_then(|d| d["fields"].as_array())
            .into_iter()
            .flatten()
            .map(|f| format!("--{}: {}", f["field"].as_str().unwrap_or_default(), f["problem"].as_str().unwrap_or_default()))
            .collect();
        problems.join("\n")
    })
}

fn parse(args: &[String]) -> Result<Command, String> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let command = match args.as_slice() {
        ["create-org", org_id] => Command::CreateOrg { org_id: org_id.to_string(), name: org_id.to_string() },
        ["create-org", org_id, name] => Command::CreateOrg { org_id: org_id.to_string(), name: name.to_string() },
        ["issue-key", org_id, principal_id, kind] => Command::IssueKey {
            org_id: org_id.to_string(),
            principal_id: principal_id.to_string(),
            kind: PrincipalKind::parse(kind).ok_or_else(|| format!("unknown kind `{kind}`: HUMAN, AGENT or ADMIN"))?,
        },
        ["revoke-key", key_id] => Command::RevokeKey { key_id: key_id.to_string() },
        ["index-keys"] => Command::IndexKeys,
        ["resume-agent", key_id] => Command::ResumeAgent { key_id: key_id.to_string() },
        ["show-org", org_id] => Command::ShowOrg { org_id: org_id.to_string() },
        ["set-design-partner", org_id, flag] => Command::SetDesignPartner {
            org_id: org_id.to_string(),
            on: match *flag {
                "on" => true,
                "off" => false,
                other => return Err(format!("`{other}`: say on or off")),
            },
        },
        ["set-cap-override", org_id, resource, cap] => Command::SetCapOverride {
            org_id: org_id.to_string(),
            resource: parse_resource(resource).map_err(|e| e.message)?,
            cap: parse_override(cap)?,
        },
        ["limit-signals", flags @ ..] => Command::LimitSignals { query: signal_query(flags)? },
        ["reconcile"] => Command::Reconcile { org: None },
        ["reconcile", "--org", org_id] => Command::Reconcile { org: Some(org_id.to_string()) },
        ["activity", "--org", org_id] => Command::Activity { org_id: org_id.to_string() },
        ["mandates", "--org", org_id] => Command::Mandates { org_id: org_id.to_string() },
        ["revoke-mandate", org_id, mandate_id] if is_mandate_id(mandate_id) => {
            Command::RevokeMandate { org_id: org_id.to_string(), mandate_id: mandate_id.to_string() }
        }
        ["revoke-mandate", _, other] => return Err(format!("`{other}` is not a mandate id (md_ and 32 hex digits)")),
        _ => return Err(USAGE.to_string()),
    };
    match &command {
        Command::CreateOrg { org_id, .. }
        | Command::ShowOrg { org_id }
        | Command::SetCapOverride { org_id, .. }
        | Command::Reconcile { org: Some(org_id) }
        | Command::Activity { org_id }
        | Command::Mandates { org_id }
        | Command::RevokeMandate { org_id, .. }
            if !valid_id(org_id) =>
        {
            Err(format!("org id `{org_id}` must be 1-64 of a-z, 0-9, - and _"))
        }
        _ => Ok(command),
    }
}

async fn run(app: &App, command: Command) -> Result<String, ApiError> {
    match command {
        Command::CreateOrg { org_id, name } => {
            app.store.create_org(&Org::new(&org_id, &name, now())).await.map_err(|e| match e.is_conflict() {
                true => ApiError::new(billing_shared::ErrorKind::Conflict, format!("org `{org_id}` exists already")),
                _ => e.into(),
            })?;
            Ok(format!("created org {org_id}"))
        }
        Command::IssueKey { org_id, principal_id, kind } => {
            if app.store.get_org(&org_id).await?.is_none() {
                return Err(ApiError::not_found(format!("no org `{org_id}`")));
            }
            let key = auth::issue(&org_id, &principal_id, kind, now())?;
            app.store.put_api_key(&key.record, &auth::key_activity(&key.record, false, now())).await?;
            Ok(format!("key_id {}\nkey    {}\n(the key is shown once; store it now)", key.record.key_id, key.token))
        }
        Command::ResumeAgent { key_id } => {
            let record = app.store.get_api_key(&key_id).await?.ok_or_else(|| ApiError::not_found(format!("No API key `{key_id}`.")))?;
            let status = resume_key(app, &record.org_id, &key_id, Actor::System, now()).await?;
            Ok(match status {
                ResumeStatus::Resumed => format!("resumed {key_id} ({} of org {})", record.principal_id, record.org_id),
                ResumeStatus::NotPaused => format!("{key_id} ({} of org {}) was not paused", record.principal_id, record.org_id),
            })
        }
        Command::RevokeKey { key_id } => {
            let record = app
                .store
                .revoke_api_key(&key_id, now(), |record| auth::key_activity(record, true, now()))
                .await?
                .ok_or_else(|| ApiError::not_found(format!("No API key `{key_id}`.")))?;
            Ok(format!("revoked {} ({} of org {})", record.key_id, record.principal_id, record.org_id))
        }
        Command::IndexKeys => Ok(format!("indexed {} keys", app.store.index_unlisted_keys().await?)),
        Command::SetDesignPartner { org_id, on } => {
            billing_shared::retry::retry(billing_shared::retry::Policy::WRITE_RACE, "set_design_partner", |_| async {
                let mut org = billing_shared::billing::load_org(&app.store, &org_id).await?;
                org.design_partner = on;
                app.store.save_org(&mut org).await?;
                Ok(())
            })
            .await?;
            Ok(format!("org {org_id}: design partner {}", if on { "on" } else { "off" }))
        }
        Command::ShowOrg { org_id } => {
            let org = app.store.get_org(&org_id).await?.ok_or_else(|| ApiError::not_found(format!("no org `{org_id}`")))?;
            let summary = billing_summary(&org, &app.config.catalog, now(), app.config.past_due_grace_secs);
            Ok(serde_json::to_string_pretty(&summary).unwrap_or_default())
        }
        Command::SetCapOverride { org_id, resource, cap } => {
            let limit = set_cap_override(app, &org_id, resource, cap, now()).await?;
            Ok(serde_json::to_string_pretty(&limit).unwrap_or_default())
        }
        Command::Activity { org_id } => {
            let filter = ActivityFilter { org_id: &org_id, key_id: None, after: None };
            let page = app.store.activity_page(filter, ACTIVITY_PAGE_MAX).await?;
            let views: Vec<_> = page.records.iter().map(|record| record.view(&app.config.catalog.currency)).collect();
            Ok(serde_json::to_string_pretty(&views).unwrap_or_default())
        }
        Command::Mandates { org_id } => {
            let views: Vec<_> = app.store.mandates(&org_id).await?.iter().map(|m| mandates::MandateView::of(m, now())).collect();
            Ok(serde_json::to_string_pretty(&views).unwrap_or_default())
        }
        Command::RevokeMandate { org_id, mandate_id } => {
            let view = mandates::revoke_as(app, &org_id, &mandate_id, (Actor::System, "operator"), now()).await?;
            Ok(serde_json::to_string_pretty(&view).unwrap_or_default())
        }
        Command::LimitSignals { query } => Ok(serde_json::to_string_pretty(&report(app, &query, now()).await?).unwrap_or_default()),
        Command::Reconcile { org } => {
            let report = reconcile::run(app, org.as_deref(), now()).await?;
            Ok(serde_json::to_string_pretty(&report).unwrap_or_default())
        }
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match parse(&args) {
        Ok(c) => c,
        Err(message) => {
            eprintln!("{message}");
            return std::process::ExitCode::from(2);
        }
    };
    let app = match App::from_env().await {
        Ok(app) if matches!(command, Command::Reconcile { .. }) => app.with_stripe().await,
        Ok(app) => app,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    match run(&app, command).await {
        Ok(out) => {
            println!("{out}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", e.message);
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_each_command_and_refuses_bad_ones() {
        assert!(matches!(parse(&args(&["create-org", "acme"])), Ok(Command::CreateOrg { name, .. }) if name == "acme"));
        assert!(matches!(parse(&args(&["issue-key", "acme", "bot", "agent"])), Ok(Command::IssueKey { kind: PrincipalKind::Agent, .. })));
        assert!(matches!(parse(&args(&["revoke-key", "abc"])), Ok(Command::RevokeKey { .. })));
        assert!(matches!(parse(&args(&["index-keys"])), Ok(Command::IndexKeys)));
        assert!(matches!(parse(&args(&["resume-agent", "abc"])), Ok(Command::ResumeAgent { .. })));
        assert!(matches!(parse(&args(&["set-design-partner", "acme", "on"])), Ok(Command::SetDesignPartner { on: true, .. })));
        assert!(parse(&args(&["set-design-partner", "acme", "yes"])).unwrap_err().contains("on or off"));
        assert!(parse(&args(&["issue-key", "acme", "bot", "root"])).unwrap_err().contains("unknown kind"));
        assert!(parse(&args(&["create-org", "Acme Inc"])).unwrap_err().contains("must be"));
        assert!(matches!(parse(&args(&["activity", "--org", "acme"])), Ok(Command::Activity { org_id }) if org_id == "acme"));
        assert!(parse(&args(&["activity", "--org", "Acme Inc"])).unwrap_err().contains("must be"));
        assert!(matches!(parse(&args(&["mandates", "--org", "acme"])), Ok(Command::Mandates { org_id }) if org_id == "acme"));
        let id = format!("md_{}", "0".repeat(32));
        assert!(
            matches!(parse(&args(&["revoke-mandate", "acme", &id])), Ok(Command::RevokeMandate { mandate_id, .. }) if mandate_id == id)
        );
        assert!(parse(&args(&["revoke-mandate", "acme", "md_1"])).unwrap_err().contains("not a mandate id"));
        assert_eq!(parse(&args(&[])).unwrap_err(), USAGE);
        assert!(matches!(
            parse(&args(&["set-cap-override", "acme", "agents", "25"])),
            Ok(Command::SetCapOverride { resource: Resource::Agents, cap: Some(Some(25)), .. })
        ));
        assert!(matches!(parse(&args(&["set-cap-override", "acme", "rows", "none"])), Ok(Command::SetCapOverride { cap: None, .. })));
        assert!(parse(&args(&["set-cap-override", "acme", "unicorns", "5"])).unwrap_err().contains("agents"));
        assert!(parse(&args(&["set-cap-override", "acme", "agents", "-5"])).unwrap_err().contains("unlimited"));
        assert!(matches!(parse(&args(&["limit-signals"])), Ok(Command::LimitSignals { query }) if query == SignalQuery::default()));
        let Ok(Command::LimitSignals { query }) = parse(&args(&["limit-signals", "--since", "2025-01-01", "--kind", "rows"])) else {
            panic!("limit-signals with flags")
        };
        assert_eq!((query.kind.map(|k| k.as_str()), query.since), (Some("rows"), Some(1_735_689_600)));
        assert!(parse(&args(&["limit-signals", "--kind"])).unwrap_err().contains("usage"));
        assert!(parse(&args(&["limit-signals", "--kind", "a", "--kind", "b"])).unwrap_err().contains("usage"));
        assert!(parse(&args(&["limit-signals", "--since", "soon"])).unwrap_err().contains("--since"));
        assert!(matches!(parse(&args(&["reconcile"])), Ok(Command::Reconcile { org: None })));
        assert!(matches!(parse(&args(&["reconcile", "--org", "acme"])), Ok(Command::Reconcile { org: Some(o) }) if o == "acme"));
        assert!(parse(&args(&["reconcile", "--org"])).unwrap_err().contains("usage"));
        assert!(parse(&args(&["reconcile", "--org", "Acme Inc"])).unwrap_err().contains("must be"));
    }
}

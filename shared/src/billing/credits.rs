//! `POST /billing/credits/spend` and `GET /billing/credits`: spending bought credits, never
//! below zero, each spend in the ledger with the balance after it; and the ledger, paged.
//!
//! A spend reads the org (and its key's record), decides, and writes the new balance (on the
//! condition that the org is still at the version read), its ledger entry and its answer in
//! one transaction: the ledger entry needs the exact balance after the spend, which a write
//! that does not know the balance before could not record. Concurrent spends of one org
//! therefore serialise: each lost race reads again.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::App;
use crate::billing::idempotency::{Answer, IdempotencyKey, fingerprint};
use crate::billing::load_org;
use crate::billing::mandates::{self, MandateUsed};
use crate::domain::activity::{Activity, Consent, Event, credits_went_low};
use crate::domain::invalid::FieldProblem;
use crate::domain::ledger::{LedgerEntry, entry_version};
use crate::domain::mandate::{MandateStatus, MandateUse, Uncovered};
use crate::domain::principal::Actor;
use crate::domain::principal::{Principal, PrincipalKind};
use crate::domain::signals::clean_reason;
use crate::error::{ApiError, ErrorKind};
use crate::retry::{Failure, Policy, retry};
use crate::store::{LEDGER_PAGE_MAX, Written};
use crate::telemetry::current_request_id;

/// The most one spend may take.
pub const MAX_SPEND: u64 = 1_000_000_000;
pub const DEFAULT_PAGE: i32 = 20;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpendBody {
    /// Credits to take: 1 to 1,000,000,000.
    #[serde(deserialize_with = "crate::domain::whole_number::required")]
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub amount: u64,
    /// Kept in the ledger, cut to 500 characters.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The answer of a spend: the balance after it, what was taken, and its ledger entry; for an
/// agent whose mandate bounds its spends, the mandate and what remains of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Spent {
    pub balance: i64,
    pub spent: u64,
    pub entry: LedgerEntry,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mandate: Option<MandateUsed>,
}

/// A page of the ledger (newest first) with the balance now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CreditsPage {
    pub balance: i64,
    pub data: Vec<LedgerEntry>,
    /// More entries follow: ask again with `starting_after` = the last entry's id.
    pub has_more: bool,
}

pub(crate) fn insufficient(balance: i64, amount: u64) -> ApiError {
    ApiError::new(
        ErrorKind::InsufficientCredits,
        format!("The org has {balance} credits; {amount} were asked for. Buy more with POST /billing/credits/checkout."),
    )
    .with_details(json!({ "balance": balance, "requested": amount, "buy": { "api": "POST /billing/credits/checkout" } }))
}

/// Takes `amount` credits if the org has them: `{balance, spent, entry}`, or 402
/// `insufficient_credits` with the balance.
pub async fn spend(app: &App, principal: &Principal, body: &SpendBody, key: Option<&IdempotencyKey>, now: i64) -> Result<Answer, ApiError> {
    if !(1..=MAX_SPEND).contains(&body.amount) {
        return Err(ApiError::field("amount", format!("must be a whole number from 1 to {MAX_SPEND}")));
    }
    let reason = clean_reason(body.reason.as_deref());
    let amount = body.amount;
    let fingerprint = fingerprint(&["spend", &amount.to_string(), reason.as_deref().unwrap_or("")]);
    let (fingerprint, reason) = (fingerprint.as_str(), &reason);
    let org_id = principal.org_id.as_str();
    retry(Policy::CONTENDED, "spend_credits", |_| async move {
        let key_hash = key.map(|k| k.hash.as_str());
        let (org, record, mandate) = match principal.kind {
            PrincipalKind::Agent => app.store.org_idempotency_and_mandate(org_id, key_hash, &principal.key_id, now).await?,
            PrincipalKind::Human | PrincipalKind::Admin => {
                let (org, record) = app.store.org_and_idempotency(org_id, key_hash, now).await?;
                (org, record, None)
            }
        };
        if let Some(record) = record {
            return Ok(Answer::replay(&record, fingerprint)?);
        }
        let mut org = org.ok_or_else(|| ApiError::not_found("The org of this key no longer exists."))?;
        let spendable = u64::try_from(org.credits).unwrap_or(0);
        // Only an active mandate with a daily spend limit bounds an agent's spends.
        let bounding = mandate.filter(|m| m.status(now) == MandateStatus::Active && m.limits.credits_spend_per_day.is_some());
        let drawn =
            bounding.as_ref().map(|m| Ok::<_, Uncovered>((m, m.draw(&MandateUse::Spend { credits: amount }, &app.config.catalog, now)?)));
        let refusal = match (&drawn, spendable < amount) {
            (Some(Err(limit)), _) => Some(mandates::outside(*limit)),
            (_, true) => Some(insufficient(org.credits, amount)),
            _ => None,
        };
        if let Some(refusal) = refusal {
            let answer = Answer::fresh(Err(refusal));
            let Some(key) = key else { return Ok(answer) };
            return match app.store.put_idempotent_answer(org_id, &key.hash, &answer.record(fingerprint, now), now).await? {
                None => Ok(answer),
                Some(first) => Ok(Answer::replay(&first, fingerprint)?),
            };
        }
        let drawn = drawn.and_then(Result::ok);
        let balance_before = org.credits;
        org.credits -= i64::try_from(amount).unwrap_or(i64::MAX);
        let entry = LedgerEntry::spend(org.version + 1, amount, org.credits, principal, reason.clone(), now);
        let used = drawn.as_ref().map(|(mandate, draw)| mandates::used_for(mandate, draw, now));
        let spent = Spent { balance: org.credits, spent: amount, entry: entry.clone(), mandate: used };
        let answer = Answer::fresh(serde_json::to_value(spent).map_err(|e| ApiError::internal(e.to_string())));
        let record = key.map(|k| (k.hash.as_str(), answer.record(fingerprint, now)));
        let spent = Event::CreditsSpent { entry_id: entry.id.clone(), amount, balance: org.credits };
        let low = credits_went_low(balance_before, org.credits, app.config.credits_low_level);
        let consent = drawn
            .as_ref()
            .map(|(mandate, _)| Consent::Mandate { mandate_id: mandate.mandate_id.clone(), approved_by: mandate.granted_by.clone() });
        let activities: Vec<Activity> = std::iter::once(spent)
            .chain(low)
            .map(|event| Activity::new(org_id, now, Actor::of(principal), event, current_request_id()).under(consent.clone()))
            .collect();
        let draw = drawn.as_ref().map(|(_, draw)| draw);
        match app.store.spend_credits(&org, &entry, record.as_ref().map(|(hash, r)| (*hash, r)), &activities, draw, now).await? {
            Written::Done => {
                crate::metrics::credits_spent(amount);
                Ok(answer)
            }
            Written::KeyTaken(Some(first)) => Ok(Answer::replay(&first, fingerprint)?),
            Written::KeyTaken(None) | Written::Changed => Err(Failure::Transient(ApiError::contended())),
        }
    })
    .await
}

/// The query of `GET /billing/credits`.
#[derive(Debug, PartialEq, Eq)]
pub struct LedgerQuery {
    pub limit: i32,
    pub starting_after: Option<u64>,
}

impl LedgerQuery {
    pub fn parse(limit: Option<&str>, starting_after: Option<&str>) -> Result<Self, ApiError> {
        let mut problems = Vec::new();
        let limit = match limit.map(str::parse::<i32>) {
            None => DEFAULT_PAGE,
            Some(Ok(n)) if (1..=LEDGER_PAGE_MAX).contains(&n) => n,
            Some(_) => {
                problems.push(FieldProblem::new("limit", format!("must be a whole number from 1 to {LEDGER_PAGE_MAX}")));
                DEFAULT_PAGE
            }
        };
        let starting_after = match starting_after.map(entry_version) {
            None => None,
            Some(Some(version)) => Some(version),
            Some(None) => {
                problems.push(FieldProblem::new("starting_after", "must be a ledger entry id (led_...) from a previous page"));
                None
            }
        };
        match problems.is_empty() {
            true => Ok(Self { limit, starting_after }),
            false => Err(ApiError::validation(problems)),
        }
    }
}

/// The org's balance and a page of its ledger, newest first: `{balance, data, has_more}`.
///
/// Every change of the balance writes its ledger entry in the same transaction, so the newest
/// entry's `balance_after` is the balance: the first page is one Query. A later page, or an
/// org with no entries yet, reads the org for it.
pub async fn ledger(app: &App, principal: &Principal, query: &LedgerQuery) -> Result<CreditsPage, ApiError> {
    let org_id = principal.org_id.as_str();
    let page = app.store.ledger_page(org_id, query.limit, query.starting_after);
    let (balance, page) = match (query.starting_after, page.await?) {
        (None, page) if !page.entries.is_empty() => (page.entries[0].balance_after, page),
        (_, page) => (load_org(&app.store, org_id).await?.credits, page),
    };
    Ok(CreditsPage { balance, data: page.entries, has_more: page.has_more })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_query_checks_limit_and_cursor() {
        assert_eq!(LedgerQuery::parse(None, None).unwrap(), LedgerQuery { limit: 20, starting_after: None });
        assert_eq!(LedgerQuery::parse(Some("100"), Some("led_7")).unwrap(), LedgerQuery { limit: 100, starting_after: Some(7) });
        for bad in ["0", "101", "x", ""] {
            assert!(LedgerQuery::parse(Some(bad), None).is_err(), "{bad}");
        }
        let err = LedgerQuery::parse(Some("0"), Some("in_1")).unwrap_err();
        assert_eq!(err.details.unwrap()["fields"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn insufficient_credits_carries_the_balance() {
        let err = insufficient(40, 50);
        assert_eq!((err.status(), err.kind.code()), (402, "insufficient_credits"));
        assert_eq!(err.details.as_ref().unwrap()["balance"], 40);
        assert_eq!(err.details.unwrap()["requested"], 50);
    }
}

//! `GET /billing/activity`: the org's activity history, newest first. HUMAN and ADMIN keys see
//! the whole org and may narrow it to one key (`actor`); an AGENT key sees its own actions only.
//! Each page is one DynamoDB Query (`store::activity_page`).

use serde::Serialize;
use utoipa::ToSchema;

use crate::App;
use crate::billing::credits::DEFAULT_PAGE;
use crate::domain::activity::ActivityView;
use crate::domain::invalid::FieldProblem;
use crate::domain::principal::{Principal, PrincipalKind};
use crate::error::ApiError;
use crate::store::{ACTIVITY_PAGE_MAX, ActivityFilter};

/// A page of the history, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ActivityPageView {
    pub data: Vec<ActivityView>,
    /// More records follow: ask again with `starting_after` = `next_cursor`.
    pub has_more: bool,
    pub next_cursor: Option<String>,
}

/// Where a page starts: after the record of this id, at this time. Opaque to callers
/// (`<activity id>-<epoch secs>`), it names the record's place in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub occurred_at: i64,
    pub activity_id: String,
}

impl Cursor {
    fn text(&self) -> String {
        format!("{}-{}", self.activity_id, self.occurred_at)
    }

    fn parse(text: &str) -> Option<Self> {
        let (id, at) = text.split_once('-')?;
        let hex = id.strip_prefix("act_")?;
        let well_formed = hex.len() == 24 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let occurred_at = at.parse::<i64>().ok().filter(|t| (0..=999_999_999_999).contains(t) && at.len() <= 12)?;
        well_formed.then(|| Self { occurred_at, activity_id: id.to_string() })
    }
}

/// The query of `GET /billing/activity`.
#[derive(Debug, PartialEq, Eq)]
pub struct ActivityQuery {
    pub limit: i32,
    pub starting_after: Option<Cursor>,
    /// Only this API key's records (`key_id`).
    pub actor: Option<String>,
}

impl ActivityQuery {
    pub fn parse(limit: Option<&str>, starting_after: Option<&str>, actor: Option<&str>) -> Result<Self, ApiError> {
        let mut problems = Vec::new();
        let limit = match limit.map(str::parse::<i32>) {
            None => DEFAULT_PAGE,
            Some(Ok(n)) if (1..=ACTIVITY_PAGE_MAX).contains(&n) => n,
            Some(_) => {
                problems.push(FieldProblem::new("limit", format!("must be a whole number from 1 to {ACTIVITY_PAGE_MAX}")));
                DEFAULT_PAGE
            }
        };
        let starting_after = match starting_after.map(Cursor::parse) {
            None => None,
            Some(Some(cursor)) => Some(cursor),
            Some(None) => {
                problems.push(FieldProblem::new("starting_after", "must be the next_cursor of a previous page"));
                None
            }
        };
        let key_id = |text: &str| (1..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if let Some(actor) = actor.filter(|a| !key_id(a)) {
            problems.push(FieldProblem::new("actor", format!("`{}` is not an API key id", actor.chars().take(64).collect::<String>())));
        }
        match problems.is_empty() {
            true => Ok(Self { limit, starting_after, actor: actor.map(str::to_string) }),
            false => Err(ApiError::validation(problems)),
        }
    }
}

/// A page of the caller's org's history: the whole org's, or one key's (always the caller's
/// own for an AGENT key, which may not read another key's).
pub async fn history(app: &App, principal: &Principal, query: &ActivityQuery) -> Result<ActivityPageView, ApiError> {
    let key_id = match (principal.kind, query.actor.as_deref()) {
        (PrincipalKind::Agent, Some(actor)) if actor != principal.key_id => {
            return Err(ApiError::forbidden("An AGENT key sees its own activity only: leave out `actor` or name this key's id."));
        }
        (PrincipalKind::Agent, _) => Some(principal.key_id.as_str()),
        (PrincipalKind::Human | PrincipalKind::Admin, actor) => actor,
    };
    let after = query.starting_after.as_ref().map(|c| (c.occurred_at, c.activity_id.as_str()));
    let page = app.store.activity_page(ActivityFilter { org_id: &principal.org_id, key_id, after }, query.limit).await?;
    let next_cursor = page
        .has_more
        .then(|| page.records.last().map(|last| Cursor { occurred_at: last.occurred_at, activity_id: last.id.clone() }.text()))
        .flatten();
    let currency = &app.config.catalog.currency;
    Ok(ActivityPageView { data: page.records.iter().map(|r| r.view(currency)).collect(), has_more: page.has_more, next_cursor })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_checks_limit_cursor_and_actor() {
        let query = ActivityQuery::parse(Some("5"), Some("act_0123456789abcdef01234567-1700000000"), Some("k1")).unwrap();
        assert_eq!(query.limit, 5);
        assert_eq!(query.starting_after, Some(Cursor { occurred_at: 1_700_000_000, activity_id: "act_0123456789abcdef01234567".into() }));
        assert_eq!(ActivityQuery::parse(None, None, None).unwrap().limit, DEFAULT_PAGE);
        for bad in ["0", "101", "x", "-1"] {
            assert!(ActivityQuery::parse(Some(bad), None, None).is_err(), "{bad}");
        }
        for bad in ["act_1-1", "act_0123456789abcdef01234567", "act_0123456789ABCDEF01234567-1", "led_1", "act_0123456789abcdef01234567-x"]
        {
            assert!(ActivityQuery::parse(None, Some(bad), None).is_err(), "{bad}");
        }
        assert!(ActivityQuery::parse(None, None, Some("a b")).is_err());
    }

    #[test]
    fn a_cursor_reads_back_as_written() {
        let cursor = Cursor { occurred_at: 42, activity_id: "act_0123456789abcdef01234567".into() };
        assert_eq!(Cursor::parse(&cursor.text()), Some(cursor));
    }
}

//! Limit-increase signals: what an org asked for (`POST /billing/request-limit-increase`), and
//! the admin's view of them, aggregated per kind and org.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::catalog::Resource;
use crate::domain::principal::PrincipalKind;

/// The longest reason kept; longer ones are cut, not refused.
pub const MAX_REASON_CHARS: usize = 500;
/// Signals of one principal and kind this close to the last stored one are counted on it,
/// not stored again.
pub const BURST_WINDOW_SECS: i64 = 60;
pub const OTHER_KIND: &str = "other";

/// What a signal is about: a gated resource or `other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SignalKind {
    Resource(Resource),
    Other,
}

impl SignalKind {
    pub fn all() -> impl Iterator<Item = SignalKind> {
        Resource::ALL.into_iter().map(SignalKind::Resource).chain([SignalKind::Other])
    }

    pub fn parse(text: &str) -> Option<Self> {
        if text == OTHER_KIND { Some(Self::Other) } else { Resource::parse(text).map(Self::Resource) }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resource(r) => r.as_str(),
            Self::Other => OTHER_KIND,
        }
    }

    pub fn names() -> Vec<&'static str> {
        Self::all().map(Self::as_str).collect()
    }
}

/// `reason` cut to `MAX_REASON_CHARS` characters (not bytes), surrounding space trimmed;
/// `None` when nothing is left.
pub fn clean_reason(reason: Option<&str>) -> Option<String> {
    let reason: String = reason?.trim().chars().take(MAX_REASON_CHARS).collect();
    let reason = reason.trim_end().to_string();
    (!reason.is_empty()).then_some(reason)
}

/// A stored signal, with what the org had at the moment it asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    pub signal_id: String,
    pub org_id: String,
    pub principal_id: String,
    pub principal_kind: PrincipalKind,
    pub kind: String,
    #[serde(default)]
    pub desired_value: Option<u64>,
    #[serde(default)]
    pub reason: Option<String>,
    pub created_at: i64,
    /// The effective plan then.
    pub plan: String,
    /// `active` and `cap` of the resource then (`None` for `other`; `cap: None` is unlimited).
    #[serde(default)]
    pub active: Option<u64>,
    #[serde(default)]
    pub cap: Option<u64>,
    /// How many requests it stands for (itself and a burst counted on it).
    pub repeats: u64,
    pub last_at: i64,
}

/// A principal's last stored signal of a kind, and the burst counted on it so far. It is kept
/// beside the org's count of the kind, so a repeat is one write; the signal item itself gets
/// the burst's figures when the principal's next signal is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastSignal {
    pub signal_id: String,
    /// The signal item's sort key.
    pub signal_sk: String,
    /// When it was stored: the burst window runs from here.
    pub at: i64,
    pub repeats: u64,
    pub last_at: i64,
}

impl LastSignal {
    pub fn of(signal: &Signal, signal_sk: String) -> Self {
        Self { signal_id: signal.signal_id.clone(), signal_sk, at: signal.created_at, repeats: signal.repeats, last_at: signal.last_at }
    }
}

/// `signals` with the bursts still held beside the counts (`lasts`) counted on them.
pub fn with_bursts<'a>(mut signals: Vec<Signal>, lasts: impl IntoIterator<Item = &'a LastSignal>) -> Vec<Signal> {
    let lasts: BTreeMap<&str, &LastSignal> = lasts.into_iter().map(|l| (l.signal_id.as_str(), l)).collect();
    for signal in &mut signals {
        if let Some(last) = lasts.get(signal.signal_id.as_str()) {
            signal.repeats = signal.repeats.max(last.repeats);
            signal.last_at = signal.last_at.max(last.last_at);
        }
    }
    signals
}

/// One org's requests of one kind, for the admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OrgDemand {
    pub org_id: String,
    /// Every request, bursts included.
    pub requests: u64,
    /// Requests stored as signals.
    pub signals: u64,
    pub highest_desired_value: Option<u64>,
    pub latest_reason: Option<String>,
    pub latest_at: i64,
    /// The org's effective plan and cap of the kind now (filled in from the org; the plan at
    /// the latest signal if the org is gone).
    pub plan: String,
    pub cap: Option<u64>,
    pub active: Option<u64>,
}

/// The requests of one kind, orgs asking most first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct KindDemand {
    pub kind: String,
    pub requests: u64,
    pub orgs: Vec<OrgDemand>,
}

/// Groups signals per kind and org: kinds and orgs with the most requests first (ties by
/// latest request, then name).
pub fn aggregate(signals: &[Signal]) -> Vec<KindDemand> {
    let mut kinds: BTreeMap<&str, BTreeMap<&str, OrgDemand>> = BTreeMap::new();
    let mut ordered: Vec<&Signal> = signals.iter().collect();
    ordered.sort_by_key(|s| (s.created_at, s.signal_id.as_str()));
    for signal in ordered {
        let demand = kinds.entry(&signal.kind).or_default().entry(&signal.org_id).or_insert_with(|| OrgDemand {
            org_id: signal.org_id.clone(),
            requests: 0,
            signals: 0,
            highest_desired_value: None,
            latest_reason: None,
            latest_at: 0,
            plan: signal.plan.clone(),
            cap: signal.cap,
            active: signal.active,
        });
        demand.requests += signal.repeats.max(1);
        demand.signals += 1;
        demand.highest_desired_value = demand.highest_desired_value.max(signal.desired_value);
        if signal.reason.is_some() {
            demand.latest_reason = signal.reason.clone();
        }
        demand.latest_at = demand.latest_at.max(signal.last_at);
        (demand.plan, demand.cap, demand.active) = (signal.plan.clone(), signal.cap, signal.active);
    }
    let mut report: Vec<KindDemand> = kinds
        .into_iter()
        .map(|(kind, orgs)| {
            let mut orgs: Vec<OrgDemand> = orgs.into_values().collect();
            orgs.sort_by(|a, b| b.requests.cmp(&a.requests).then(b.latest_at.cmp(&a.latest_at)).then(a.org_id.cmp(&b.org_id)));
            KindDemand { kind: kind.to_string(), requests: orgs.iter().map(|o| o.requests).sum(), orgs }
        })
        .collect();
    report.sort_by(|a, b| b.requests.cmp(&a.requests).then(a.kind.cmp(&b.kind)));
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal(org: &str, kind: &str, at: i64, repeats: u64, desired: Option<u64>, reason: Option<&str>) -> Signal {
        Signal {
            signal_id: format!("sig_{org}_{at}"),
            org_id: org.into(),
            principal_id: "bot".into(),
            principal_kind: PrincipalKind::Agent,
            kind: kind.into(),
            desired_value: desired,
            reason: reason.map(str::to_string),
            created_at: at,
            plan: "free".into(),
            active: Some(1),
            cap: Some(1),
            repeats,
            last_at: at + 10,
        }
    }

    #[test]
    fn reasons_are_cut_by_characters_not_refused() {
        assert_eq!(clean_reason(Some(&"é".repeat(10_000))).unwrap().chars().count(), MAX_REASON_CHARS);
        assert_eq!(clean_reason(Some("  ")), None);
        assert_eq!(clean_reason(None), None);
        assert_eq!(clean_reason(Some(" more agents ")).as_deref(), Some("more agents"));
    }

    #[test]
    fn kinds_parse_and_list_other_last() {
        assert_eq!(SignalKind::parse("agents"), Some(SignalKind::Resource(Resource::Agents)));
        assert_eq!(SignalKind::parse("other"), Some(SignalKind::Other));
        assert_eq!(SignalKind::parse("gold"), None);
        assert_eq!(SignalKind::names().last(), Some(&"other"));
    }

    #[test]
    fn aggregate_ranks_orgs_by_requests_with_highest_value_and_latest_reason() {
        let report = aggregate(&[
            signal("a", "agents", 100, 1, Some(5), Some("first")),
            signal("a", "agents", 200, 3, Some(2), Some("second")),
            signal("b", "agents", 150, 1, None, None),
            signal("b", "rows", 150, 10, Some(1_000_000), None),
        ]);
        assert_eq!(report[0].kind, "rows", "most requests first");
        let agents = &report[1];
        assert_eq!(agents.requests, 5);
        assert_eq!(agents.orgs[0].org_id, "a");
        assert_eq!((agents.orgs[0].requests, agents.orgs[0].signals), (4, 2));
        assert_eq!(agents.orgs[0].highest_desired_value, Some(5));
        assert_eq!(agents.orgs[0].latest_reason.as_deref(), Some("second"));
        assert_eq!(agents.orgs[0].latest_at, 210);
    }

    #[test]
    fn bursts_held_beside_the_count_are_counted_on_their_signal() {
        let stored = signal("a", "rows", 100, 1, None, None);
        let last = LastSignal { repeats: 4, last_at: 130, ..LastSignal::of(&stored, "sk".into()) };
        let other = LastSignal { signal_id: "sig_gone".into(), ..last.clone() };
        let counted = with_bursts(vec![stored.clone(), signal("b", "rows", 100, 2, None, None)], [&last, &other]);
        assert_eq!((counted[0].repeats, counted[0].last_at), (4, 130));
        assert_eq!((counted[1].repeats, counted[1].last_at), (2, 110), "no burst held for it");
    }
}

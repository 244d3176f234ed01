//! Web-mode consent as pure rules: an approval's lifetime, the status a poller sees, RFC 8628's
//! polling pace (`interval`, `slow_down`), and the binding code a human compares.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How long a human has to approve or deny.
pub const APPROVAL_TTL_SECS: i64 = 600;
/// RFC 8628's default polling interval.
pub const POLL_INTERVAL_SECS: i64 = 5;
/// What `slow_down` adds to the interval, for that poll and every later one (RFC 8628 3.5).
pub const SLOW_DOWN_STEP_SECS: i64 = 5;
/// Letters and digits a human cannot confuse (no 0/O, 1/I/L, 5/S, 2/Z, 8/B).
const BINDING_ALPHABET: &[u8] = b"ACDEFGHJKMNPQRTUVWXY34679";
pub const BINDING_CODE_LEN: usize = 6;

/// Where an approval is in its life, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    Pending,
    /// A human approved and the change is executing.
    Executing,
    Approved,
    Denied,
    Failed,
}

/// Where a web approval stands, as a poller is told: `pending` until a human decides;
/// `approved` (the change ran, `result` is its answer); `denied`; `expired` (not decided within
/// 10 minutes); `failed` (its change failed, or another change ran first and the plan it was for
/// is gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ApprovalStatus)]
pub enum PublicStatus {
    Pending,
    Approved,
    Denied,
    Expired,
    Failed,
}

impl PublicStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Expired => "expired",
            Self::Failed => "failed",
        }
    }
}

/// Approval ids are `ap_` and 32 lowercase hex digits (128 random bits).
pub fn is_approval_id(text: &str) -> bool {
    text.strip_prefix("ap_").is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// The status at `now`. An approval still pending when it lapses is `expired`; one computed
/// for a plan that has changed since (`stale`) can no longer execute, so it is `failed`. One
/// executing was approved: it never expires, and is `pending` only until its result is
/// recorded (which whoever reads it next completes).
pub fn public_status(state: ApprovalState, valid_until: i64, stale: bool, now: i64) -> PublicStatus {
    match state {
        ApprovalState::Approved => PublicStatus::Approved,
        ApprovalState::Denied => PublicStatus::Denied,
        ApprovalState::Failed => PublicStatus::Failed,
        ApprovalState::Pending if now >= valid_until => PublicStatus::Expired,
        ApprovalState::Pending if stale => PublicStatus::Failed,
        ApprovalState::Pending | ApprovalState::Executing => PublicStatus::Pending,
    }
}

/// The answer to one poll of a pending approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// On time: the next poll is welcome from `next_poll_at`.
    Ok { next_poll_at: i64 },
    /// Too early: the interval grows to `interval` and the poller waits that long.
    SlowDown { interval: i64, next_poll_at: i64 },
}

/// RFC 8628 3.5: a poll before `next_poll_at` is answered `slow_down` and raises the interval.
pub fn pace(next_poll_at: i64, interval: i64, now: i64) -> Pace {
    if now >= next_poll_at {
        return Pace::Ok { next_poll_at: now + interval };
    }
    let interval = interval + SLOW_DOWN_STEP_SECS;
    Pace::SlowDown { interval, next_poll_at: now + interval }
}

/// A short code shown both to the agent (which tells its human) and on the approval page, so
/// the human can tell the page is the request they were told about. `random` is the entropy.
pub fn binding_code(random: &[u8]) -> String {
    let code: String =
        random.iter().take(BINDING_CODE_LEN).map(|b| BINDING_ALPHABET[usize::from(*b) % BINDING_ALPHABET.len()] as char).collect();
    format!("{}-{}", &code[..3], &code[3..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_lapses_into_expired_and_decisions_stay() {
        let until = 1_000;
        assert_eq!(public_status(ApprovalState::Pending, until, false, 999), PublicStatus::Pending);
        assert_eq!(public_status(ApprovalState::Pending, until, false, 1_000), PublicStatus::Expired);
        assert_eq!(public_status(ApprovalState::Executing, until, false, 999), PublicStatus::Pending);
        assert_eq!(public_status(ApprovalState::Executing, until, true, 5_000), PublicStatus::Pending, "an approved change never expires");
        assert_eq!(public_status(ApprovalState::Pending, until, true, 999), PublicStatus::Failed, "the plan moved on");
        for (state, status) in [
            (ApprovalState::Approved, PublicStatus::Approved),
            (ApprovalState::Denied, PublicStatus::Denied),
            (ApprovalState::Failed, PublicStatus::Failed),
        ] {
            assert_eq!(public_status(state, until, false, 5_000), status, "a decision outlives the approval");
        }
    }

    #[test]
    fn polling_early_slows_the_poller_down_for_good() {
        assert_eq!(pace(100, 5, 100), Pace::Ok { next_poll_at: 105 });
        assert_eq!(pace(105, 5, 103), Pace::SlowDown { interval: 10, next_poll_at: 113 });
        assert_eq!(pace(113, 10, 113), Pace::Ok { next_poll_at: 123 }, "the raised interval stays");
    }

    #[test]
    fn binding_codes_are_short_and_unambiguous() {
        let code = binding_code(&[0, 1, 2, 250, 251, 255, 7]);
        assert_eq!(code.len(), BINDING_CODE_LEN + 1);
        assert_eq!(&code[3..4], "-");
        assert!(code.chars().filter(|c| *c != '-').all(|c| BINDING_ALPHABET.contains(&(c as u8))));
        assert!(!code.contains(['0', 'O', '1', 'I', 'L']));
        assert_ne!(binding_code(&[1; 6]), binding_code(&[2; 6]));
    }
}

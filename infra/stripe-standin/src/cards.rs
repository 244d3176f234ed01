//! Stripe's test cards, as the stand-in keeps them: a brand and the last four digits, which say
//! how the card behaves (see `payments`).

/// A test card: its brand and last four digits, which also say how it behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TestCard {
    pub(crate) brand: &'static str,
    pub(crate) last4: &'static str,
}

impl TestCard {
    /// 4242 4242 4242 4242: every charge succeeds.
    pub(crate) const VISA: TestCard = TestCard { brand: "visa", last4: "4242" };
    /// 4000 0000 0000 0002: every charge is declined (`card_declined`, `generic_decline`).
    pub(crate) const DECLINED: TestCard = TestCard { brand: "visa", last4: "0002" };
    /// 4000 0027 6000 3184: every charge needs 3-D Secure (`authentication_required` off session).
    pub(crate) const AUTHENTICATION_REQUIRED: TestCard = TestCard { brand: "visa", last4: "3184" };

    /// The card a Stripe test payment method token stands for (`pm_card_visa`...).
    pub(crate) fn of_token(token: &str) -> Option<TestCard> {
        match token {
            "pm_card_visa" => Some(Self::VISA),
            "pm_card_mastercard" => Some(TestCard { brand: "mastercard", last4: "4444" }),
            "pm_card_chargeDeclined" => Some(Self::DECLINED),
            "pm_card_authenticationRequired" => Some(Self::AUTHENTICATION_REQUIRED),
            _ => None,
        }
    }
}

//! The credits routes: buying bundles (Checkout or the card on file), spending, the ledger.

// The builders and the types the document names.
use crate::openapi::*;

pub(in crate::openapi) fn operations() -> Vec<Operation> {
    use ErrorKind::*;
    vec![
        Operation {
            method: HttpMethod::Post,
            path: "/billing/credits/checkout",
            id: "createCreditsCheckout",
            tag: "credits",
            summary: "Credit bundles: through Stripe Checkout, or at once with the card on file",
            description: "A one-time Checkout for 1 to `credits.max_bundles` bundles of the catalog. The credits land on the org \
                when Stripe confirms the payment (webhook or `GET /billing/checkout/{session_id}`).\n\nWith `\"payment\": \
                \"card_on_file\"` a HUMAN or ADMIN key buys them at once: the org's saved card is charged the catalog's price \
                (an off-session payment) and the answer is `TopUp`, the credits granted. A card that is declined or wants its \
                holder to authenticate, or no card on file, is 402 `payment_failed` with `details.reason` \
                (`card_declined`, `authentication_required`, `no_card_on_file`) and a Checkout for the same bundles in \
                `details.checkout_url`; nothing is granted. An AGENT key buys so only inside its mandate \
                (`credit_bundles_per_month`, and `max_charge_per_month` if set; the answer's `mandate` says what remains), \
                otherwise 402 `mandate_limit_reached`. Send an `Idempotency-Key` to retry safely: the same key answers the \
                first answer again and never charges (or draws from a mandate) twice. A card charged whose credits could not \
                be granted at once is 409 `change_in_progress` with `Retry-After`: do not buy again; the same key then shows \
                the balance.",
            keyless: false,
            parameters: vec![card_on_file_key()],
            body: body(
                "CreditsCheckoutBody",
                true,
                vec![("three-bundles", json!({ "quantity": 3 })), ("card-on-file", json!({ "quantity": 2, "payment": "card_on_file" }))],
            ),
            ok: with_links(
                ok(
                    "CreditsCheckoutAnswer",
                    "`checkout`: send the human to `checkout_url`. `card_on_file`: paid, the credits granted.",
                    vec![("session", value(examples::credits_checkout())), ("card-on-file", value(examples::top_up()))],
                ),
                "session_id",
                &[("syncCheckout", "session_id")],
            ),
            created: false,
            errors: kinds(&[
                &KEYED,
                &BODY,
                &[
                    NotFound,
                    Conflict,
                    ChangeInProgress,
                    PaymentFailed,
                    MandateLimitReached,
                    IdempotencyKeyReused,
                    StripeError,
                    ServiceUnavailable,
                ],
            ]),
            others: Vec::new(),
            samples: vec![
                ApiError::field("quantity", "must be 1 to 10 bundles"),
                examples::top_up_failed(),
                crate::billing::top_up::being_granted("pi_3QYhLq2eZvKYlo2C0pJ1nA8s"),
            ],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/billing/credits/spend",
            id: "spendCredits",
            tag: "credits",
            summary: "Spend bought credits",
            description: "Atomic and never below zero (402 `insufficient_credits` with the balance); each spend is a ledger \
                entry with the balance after it. An AGENT key whose active mandate has `credits_spend_per_day` spends within \
                it: the answer's `mandate` says what remains today, and a spend past it is 402 `mandate_limit_reached` \
                (`details.mandate_limit`).",
            keyless: false,
            parameters: vec![idempotency_key()],
            body: body("SpendBody", true, vec![("report", json!({ "amount": 50, "reason": "report generation" }))]),
            ok: with_replayed_header(ok("Spent", "Spent.", vec![("spent", examples::spent())])),
            created: false,
            errors: kinds(&[&KEYED, &BODY, &[InsufficientCredits, MandateLimitReached, NotFound, Conflict, IdempotencyKeyReused]]),
            others: Vec::new(),
            samples: vec![ApiError::field("amount", "must be a whole number from 1 to 1000000000")],
        },
        Operation {
            method: HttpMethod::Get,
            path: "/billing/credits",
            id: "listCredits",
            tag: "credits",
            summary: "The credits balance and ledger",
            description: "Grants (paid credits Checkouts) and spends, newest first, each with the balance after it.",
            keyless: false,
            parameters: page_parameters(
                "A ledger entry id (`led_...`) of a previous page: the page after it.",
                "^led_[0-9]{1,19}$",
                "led_37",
            ),
            body: None,
            ok: ok("CreditsPage", "The balance and a page of the ledger.", vec![("page", examples::credits_page())]),
            created: false,
            errors: kinds(&[&KEYED, &[ValidationFailed, NotFound]]),
            others: Vec::new(),
            samples: vec![ApiError::field("starting_after", "must be a ledger entry id (led_...) from a previous page")],
        },
    ]
}

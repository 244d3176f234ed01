//! The billing routes: the summary, the plans, subscription Checkout and its sync, the portal, invoices.

// The builders and the types the document names.
use crate::openapi::*;

pub(in crate::openapi) fn operations() -> Vec<Operation> {
    use ErrorKind::*;
    vec![
        Operation {
            method: HttpMethod::Get,
            path: "/billing",
            id: "getBillingSummary",
            tag: "billing",
            summary: "The org's billing summary",
            description: "Plan, effective plan (the one whose caps apply now), status, price, interval, quantity, period end, \
                scheduled change, card, credits, and `active` vs `cap` of every gated resource. One DynamoDB read.",
            keyless: false,
            parameters: Vec::new(),
            body: None,
            ok: ok("BillingSummary", "The summary.", vec![("pro", examples::summary())]),
            created: false,
            errors: kinds(&[&KEYED, &[ValidationFailed, NotFound]]),
            others: Vec::new(),
            samples: vec![ApiError::field("plan", "is not a parameter of this route")],
        },
        Operation {
            method: HttpMethod::Get,
            path: "/billing/plans",
            id: "listPlans",
            tag: "billing",
            summary: "The plan catalog",
            description: "Plans with monthly and annual amounts, caps (`null` is unlimited) and per-unit pricing, and the \
                credit bundle. Stripe price ids are never shown: prices are resolved server side.",
            keyless: false,
            parameters: Vec::new(),
            body: None,
            ok: ok("CatalogView", "The catalog.", vec![("built-in", catalog_view(&examples::catalog()))]),
            created: false,
            errors: kinds(&[&KEYED, &[ValidationFailed]]),
            others: Vec::new(),
            samples: vec![ApiError::field("plan", "is not a parameter of this route")],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/billing/checkout",
            id: "createCheckout",
            tag: "checkout",
            summary: "Stripe Checkout for a subscription",
            description: "A Checkout Session for a paid plan; the price comes from the catalog. The same request within a \
                minute, or while its session is open, gets the same session. 409 when the org has a live subscription \
                (change it with upgrade or downgrade), another open checkout, or is a design partner. An org's first \
                subscription starts with the plan's free trial (`trial_days` in the answer; one per org, ever). A \
                `promotion_code` is checked before anything is created (400 `invalid_promotion_code` with \
                `details.reason`: `unknown`, `inactive`, `expired`, `exhausted`, `first_time_only`, `minimum_amount`, \
                `not_applicable`); without one the customer may type a code on Stripe's page.",
            keyless: false,
            parameters: Vec::new(),
            body: body(
                "SubscriptionCheckoutBody",
                true,
                vec![
                    ("pro-monthly", json!({ "plan": "pro", "interval": "month" })),
                    ("with-a-code", json!({ "plan": "pro", "interval": "month", "promotion_code": "LAUNCH20" })),
                    (
                        "scale-3-servers",
                        json!({ "plan": "scale", "interval": "year", "quantity": 3, "success_url": "https://app.example.com/billing/done", "cancel_url": "https://app.example.com/billing" }),
                    ),
                ],
            ),
            ok: with_links(
                ok("CheckoutSession", "Send the human to `url`.", vec![("session", examples::checkout())]),
                "session_id",
                &[("syncCheckout", "session_id")],
            ),
            created: false,
            errors: kinds(&[
                &KEYED,
                &BODY,
                &[InvalidPromotionCode, NotFound, SubscriptionExists, CheckoutInProgress, Conflict, StripeError, ServiceUnavailable],
            ]),
            others: Vec::new(),
            samples: vec![ApiError::field("plan", "`gold` is not a plan of the catalog")],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/billing/promotion-code",
            id: "applyPromotionCode",
            tag: "checkout",
            summary: "Apply a promotion code to the subscription",
            description: "A HUMAN or ADMIN key puts a promotion code on the org's live subscription, replacing its discount; \
                the code is checked against the current plan first (400 `invalid_promotion_code` with `details.reason`, nothing \
                changed). An AGENT key is 403. 409 without a live subscription (a new one takes the code at Checkout).",
            keyless: false,
            parameters: Vec::new(),
            body: body("PromotionCodeBody", true, vec![("launch", json!({ "promotion_code": "LAUNCH20" }))]),
            ok: ok("Applied", "The billing, its `discount` set.", vec![("applied", examples::discount_applied())]),
            created: false,
            errors: kinds(&[&KEYED, &BODY, &[InvalidPromotionCode, Forbidden, NotFound, Conflict, StripeError, ServiceUnavailable]]),
            others: Vec::new(),
            samples: vec![ApiError::field("promotion_code", "must be 1 to 64 letters, digits, `-` or `_`")],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/billing/portal",
            id: "createPortalSession",
            tag: "billing",
            summary: "A Stripe Customer Portal session",
            description: "Where a human manages the card, invoices and cancellation. An AGENT key gets the link to hand to its \
                human, unless the deployment turns that off (403). 409 `no_stripe_customer` before the first checkout.",
            keyless: false,
            parameters: Vec::new(),
            body: body(
                "PortalBody",
                false,
                vec![("default-return", json!({})), ("return-url", json!({ "return_url": "https://app.example.com/settings/billing" }))],
            ),
            ok: ok("PortalSession", "Send the human to `url`.", vec![("session", examples::portal())]),
            created: false,
            errors: kinds(&[&KEYED, &BODY, &[Forbidden, NotFound, NoStripeCustomer, StripeError, ServiceUnavailable]]),
            others: Vec::new(),
            samples: vec![ApiError::field("return_url", "must be on an allowed origin (https://app.example.com)")],
        },
        Operation {
            method: HttpMethod::Get,
            path: "/billing/invoices",
            id: "listInvoices",
            tag: "billing",
            summary: "The org's invoice history",
            description: "Newest first, paged as Stripe pages it. An org without a Stripe customer has none.",
            keyless: false,
            parameters: page_parameters(
                "An invoice id (`in_...`) of a previous page: the page after it.",
                "^in_[A-Za-z0-9_]+$",
                "in_1Qb2Wc3Ed4Rf",
            ),
            body: None,
            ok: ok("InvoicePage", "A page of invoices.", vec![("page", examples::invoices())]),
            created: false,
            errors: kinds(&[&KEYED, &[ValidationFailed, NotFound, StripeError, ServiceUnavailable]]),
            others: Vec::new(),
            samples: vec![
                ApiError::field("limit", "must be a whole number from 1 to 100"),
                ApiError::not_found("`starting_after`: this org has no invoice `in_1Qb2Wc3Ed4Rf`."),
            ],
        },
        Operation {
            method: HttpMethod::Get,
            path: "/billing/checkout/{session_id}",
            id: "syncCheckout",
            tag: "checkout",
            summary: "Apply a completed Checkout at once",
            description: "The success page's call: reads the session from Stripe and, when it is complete and paid, applies it \
                now (the webhook finds it done). Idempotent.",
            keyless: false,
            parameters: vec![parameter(
                "session_id",
                ParameterIn::Path,
                true,
                "A Checkout Session of this org (`cs_...`).",
                string("^cs_[A-Za-z0-9_]+$", 255),
                json!(examples::SESSION_ID),
            )],
            body: None,
            ok: ok("CheckoutSync", "The session's state and the org's billing after the sync.", vec![("paid", examples::checkout_sync())]),
            created: false,
            errors: kinds(&[&KEYED, &[ValidationFailed, NotFound, Conflict, StripeError, ServiceUnavailable]]),
            others: Vec::new(),
            samples: vec![ApiError::field("session_id", "must be a Checkout Session id (cs_...)"), examples::not_found_session()],
        },
    ]
}

//! The usage routes: limits, reservations and releases, and limit-increase requests.

// The builders and the types the document names.
use crate::openapi::*;

pub(in crate::openapi) fn operations() -> Vec<Operation> {
    use ErrorKind::*;
    vec![
        Operation {
            method: HttpMethod::Get,
            path: "/billing/limits",
            id: "listLimits",
            tag: "usage",
            summary: "Caps vs usage of every resource",
            description: "Under the effective plan, with `can_create` (one more fits) and `over_cap`. One DynamoDB read.",
            keyless: false,
            parameters: Vec::new(),
            body: None,
            ok: ok("LimitsView", "Every resource's limit.", vec![("pro", examples::limits())]),
            created: false,
            errors: kinds(&[&KEYED, &[ValidationFailed, NotFound]]),
            others: Vec::new(),
            samples: vec![ApiError::field("resource", "is not a parameter of this route")],
        },
        Operation {
            method: HttpMethod::Get,
            path: "/billing/limits/{resource}",
            id: "getLimit",
            tag: "usage",
            summary: "\"Can I create one more?\"",
            description: "One resource's cap vs usage. One DynamoDB read.",
            keyless: false,
            parameters: vec![resource_in_path()],
            body: None,
            ok: ok("LimitStatus", "The resource's limit.", vec![("agents", examples::resource_limit())]),
            created: false,
            errors: kinds(&[&KEYED, &[ValidationFailed, NotFound]]),
            others: Vec::new(),
            samples: vec![ApiError::field("verbose", "is not a parameter of this route"), examples::not_found_resource()],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/billing/usage/{resource}/reserve",
            id: "reserveUsage",
            tag: "usage",
            summary: "Count usage within the cap",
            description: "Atomic: one conditional write against the effective cap, so concurrent reservations never pass it. \
                Past the cap: 402 `plan_limit_reached` with the next step in `details` (an upgrade, or a limit increase).",
            keyless: false,
            parameters: vec![resource_in_path(), idempotency_key()],
            body: body("CountBody", false, vec![("one", json!({})), ("five", json!({ "count": 5 }))]),
            ok: with_replayed_header(ok("Reserved", "Counted.", vec![("one-agent", examples::reserved())])),
            created: false,
            errors: kinds(&[&KEYED, &BODY, &[ErrorKind::PlanLimitReached, NotFound, Conflict, IdempotencyKeyReused]]),
            others: Vec::new(),
            samples: vec![ApiError::field("count", "must be a whole number from 1 to 1000"), examples::not_found_resource()],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/billing/usage/{resource}/release",
            id: "releaseUsage",
            tag: "usage",
            summary: "Free counted usage",
            description: "Never below 0: at most what is held is released. Not for `api_calls` (a per-period count).",
            keyless: false,
            parameters: vec![releasable_resource_in_path(), idempotency_key()],
            body: body("CountBody", false, vec![("one", json!({})), ("five", json!({ "count": 5 }))]),
            ok: with_replayed_header(ok("Released", "Freed.", vec![("one-agent", examples::released())])),
            created: false,
            errors: kinds(&[&KEYED, &BODY, &[NotFound, Conflict, IdempotencyKeyReused]]),
            others: Vec::new(),
            samples: vec![
                ApiError::field("resource", "`api_calls` counts calls per billing period; they are not released"),
                examples::not_found_resource(),
            ],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/billing/request-limit-increase",
            id: "requestLimitIncrease",
            tag: "usage",
            summary: "Ask for more than the plan gives",
            description: "Recorded and counted per org and kind (no ticket, no email); `reason` is cut to 500 characters. \
                Requests of one principal and kind within a minute are counted on the first.",
            keyless: false,
            parameters: Vec::new(),
            body: body(
                "IncreaseBody",
                false,
                vec![
                    ("rows", json!({ "kind": "rows", "desiredValue": 2_000_000, "reason": "nightly import of the CRM" })),
                    ("empty", json!({})),
                ],
            ),
            ok: ok("IncreaseRecorded", "Recorded.", vec![("recorded", examples::increase_recorded())]),
            created: false,
            errors: kinds(&[&KEYED, &BODY, &[NotFound, Conflict]]),
            others: Vec::new(),
            samples: vec![ApiError::field(
                "kind",
                "`gold` is not a kind: use one of agents, members, workspaces, rows, api_calls, webhooks, servers, other",
            )],
        },
    ]
}

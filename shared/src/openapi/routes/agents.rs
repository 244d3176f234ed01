//! The agents' routes: settings and the brake, the org's agents, mandates, the activity history, and the admin's report.

// The builders and the types the document names.
use crate::openapi::*;

pub(in crate::openapi) fn operations() -> Vec<Operation> {
    use ErrorKind::*;
    vec![
        Operation {
            method: HttpMethod::Get,
            path: "/billing/activity",
            id: "listActivity",
            tag: "activity",
            summary: "The org's activity history",
            description: "Every billing action, newest first: who did it (API key id, kind, name; `stripe` or `operator` \
                when no key did), what with, under which consent (the confirm token's hash, the approval and who \
                approved), the Stripe ids, amount and outcome, and the request id. HUMAN and ADMIN keys see the whole \
                org and may name one key in `actor`; an AGENT key sees its own actions only (another key's `actor`: \
                403). Records are kept for the deployment's `ActivityRetentionDays`. One DynamoDB Query per page.",
            keyless: false,
            parameters: {
                let mut parameters = page_parameters(
                    "The `next_cursor` of a previous page: the page after it.",
                    CURSOR_PATTERN,
                    "act_0648a1c2d3e4f5a6b7c8d9df-1767222000",
                );
                parameters.push(parameter(
                    "actor",
                    ParameterIn::Query,
                    false,
                    "Only this API key's actions (its key id).",
                    string("^[A-Za-z0-9_]{1,64}$", 64),
                    json!("8f14e45fceea167a"),
                ));
                parameters
            },
            body: None,
            ok: ok("ActivityPageView", "A page of the history.", vec![("page", examples::activity_page())]),
            created: false,
            errors: kinds(&[&KEYED, &[ValidationFailed, Forbidden]]),
            others: Vec::new(),
            samples: vec![
                ApiError::field("starting_after", "must be the next_cursor of a previous page"),
                ApiError::forbidden("An AGENT key sees its own activity only: leave out `actor` or name this key's id."),
            ],
        },
        Operation {
            method: HttpMethod::Get,
            path: "/admin/limit-signals",
            id: "listLimitSignals",
            tag: "admin",
            summary: "Limit-increase signals per kind and org",
            description: "ADMIN keys only (any other is 403): every kind's requests, the orgs asking most first, each with its \
                plan and cap now.",
            keyless: false,
            parameters: vec![signal_kind_in_query(), since_in_query()],
            body: None,
            ok: ok("SignalReport", "The report.", vec![("rows", examples::signal_report())]),
            created: false,
            errors: kinds(&[&KEYED, &[ValidationFailed, Forbidden]]),
            others: Vec::new(),
            samples: vec![ApiError::validation(vec![bad_since()]), examples::forbidden_admin()],
        },
        Operation {
            method: HttpMethod::Get,
            path: "/billing/settings",
            id: "getSettings",
            tag: "agents",
            summary: "The org's settings",
            description: "The brake for the org's AGENT keys: a key refused (402, 409, 422, 429) more than \
                `max_refusals_per_minute` times within one minute is paused for `pause_minutes`, every request of it \
                answering 429 `agent_paused` with `Retry-After` meanwhile. Automatic top-up (`null` when off): a spend \
                that takes the credits balance under `below` buys `bundles` with the card on file, shortly after (the \
                spend never waits), at most `max_per_month` times a month, inside the mandate of the AGENT key \
                `agent_key_id`. Any key of the org reads them.",
            keyless: false,
            parameters: Vec::new(),
            body: None,
            ok: ok("Settings", "The settings (defaults where the org set none).", vec![("defaults", examples::settings())]),
            created: false,
            errors: kinds(&[&KEYED, &[ValidationFailed]]),
            others: Vec::new(),
            samples: vec![ApiError::field("verbose", "is not a parameter of this route")],
        },
        Operation {
            method: HttpMethod::Patch,
            path: "/billing/settings",
            id: "changeSettings",
            tag: "agents",
            summary: "Change the org's settings (a human)",
            description: "A HUMAN or ADMIN key sets the settings it names; the others stay. `auto_top_up` is given whole \
                (it replaces the org's) or `null` (off); its `agent_key_id` must be an AGENT key of the org that is not \
                revoked. Every value is checked before any is written: one out of bounds is 400 and nothing changes. An \
                AGENT key is 403.",
            keyless: false,
            parameters: Vec::new(),
            body: body(
                "SettingsChange",
                false,
                vec![
                    ("looser", json!({ "agent_brake": { "max_refusals_per_minute": 50, "pause_minutes": 2 } })),
                    ("threshold", json!({ "agent_brake": { "max_refusals_per_minute": 30 } })),
                    (
                        "auto-top-up",
                        json!({ "auto_top_up": { "below": 100, "bundles": 1, "max_per_month": 3, "agent_key_id": examples::KEY_ID } }),
                    ),
                    ("auto-top-up-off", json!({ "auto_top_up": null })),
                ],
            ),
            ok: ok("Settings", "The settings after the change.", vec![("changed", examples::settings())]),
            created: false,
            errors: kinds(&[&KEYED, &BODY, &[Forbidden]]),
            others: Vec::new(),
            samples: vec![
                ApiError::field("agent_brake.pause_minutes", "must be from 1 to 1440, not 0"),
                ApiError::field("auto_top_up.agent_key_id", "must be the key id of one of the org's AGENT keys that is not revoked"),
                ApiError::forbidden("An agent key cannot change the org's settings: a human of the org does, with their own key."),
            ],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/billing/agents/{key_id}/resume",
            id: "resumeAgent",
            tag: "agents",
            summary: "Lift an agent key's pause (a human)",
            description: "A HUMAN or ADMIN key of the org lifts the brake's pause of one of its AGENT keys now and starts \
                its minute's count of refusals over. Idempotent: a key that is not paused answers `not_paused`. Another \
                org's key, or a key that is not an AGENT's, is 404; an AGENT key is 403.",
            keyless: false,
            parameters: vec![key_id_in_path()],
            body: body("ResumeBody", false, vec![("empty", json!({}))]),
            ok: ok("Resumed", "Resumed, or not paused.", vec![("resumed", examples::resumed())]),
            created: false,
            errors: kinds(&[&KEYED, &BODY, &[Forbidden, NotFound, Conflict]]),
            others: Vec::new(),
            samples: vec![
                ApiError::field("note", "unknown field `note`, there are none"),
                ApiError::forbidden("An agent key cannot resume an agent: a human of the org does, with their own key."),
                ApiError::not_found(format!("No agent key {} in this org.", examples::KEY_ID)),
            ],
        },
        Operation {
            method: HttpMethod::Get,
            path: "/billing/agents",
            id: "listAgents",
            tag: "agents",
            summary: "The org's agent keys (a human)",
            description: "A HUMAN or ADMIN key lists the org's live AGENT keys: each with its active `mandate` (or `null`), \
                what it drew from it (`spent_today` credits, `charged_this_month` in minor units) and `paused_until` while \
                the brake pauses it. An AGENT key is 403.",
            keyless: false,
            parameters: Vec::new(),
            body: None,
            ok: ok("AgentList", "The agent keys, by key id.", vec![("one", examples::agent_list())]),
            created: false,
            errors: kinds(&[&KEYED, &[ValidationFailed, Forbidden]]),
            others: Vec::new(),
            samples: vec![
                ApiError::field("verbose", "is not a parameter of this route"),
                ApiError::forbidden("An agent key cannot list the org's agents: a human of the org does, with their own key."),
            ],
        },
        Operation {
            method: HttpMethod::Get,
            path: "/billing/mandates",
            id: "listMandates",
            tag: "agents",
            summary: "The org's mandates",
            description: "Every mandate of the org, newest first, with `used` this month and today and what `remaining` of \
                each bounded limit; an AGENT key sees only its own. A mandate is standing consent a human gave one AGENT \
                key: inside its envelope the agent's plan changes execute without a confirmation each time, and its spends \
                are counted against `credits_spend_per_day`.",
            keyless: false,
            parameters: Vec::new(),
            body: None,
            ok: ok("MandateList", "The mandates.", vec![("one", examples::mandate_list())]),
            created: false,
            errors: kinds(&[&KEYED, &[ValidationFailed]]),
            others: Vec::new(),
            samples: vec![ApiError::field("verbose", "is not a parameter of this route")],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/billing/mandates",
            id: "grantMandate",
            tag: "agents",
            summary: "Grant an agent key a mandate (a human)",
            description: "A HUMAN or ADMIN key gives one AGENT key of the org standing consent within `limits`, until \
                `expires_at` (at most 90 days ahead). Every limit is optional: `max_plan` (and `max_quantity`, default 1) \
                covers plan changes up to that plan, `credit_bundles_per_month` covers buying credits, `credits_spend_per_day` \
                bounds its spends; `max_charge_per_month` (minor units) bounds what its actions charge in a calendar month. \
                A key holding an active mandate is 409 `mandate_exists` (revoke it first); an AGENT key is 403.",
            keyless: false,
            parameters: Vec::new(),
            body: body(
                "GrantBody",
                true,
                vec![(
                    "pro-and-credits",
                    json!({ "agent_key_id": examples::KEY_ID, "limits": { "max_plan": "pro", "max_charge_per_month": 5000, "credit_bundles_per_month": 2, "credits_spend_per_day": 500 }, "expires_at": "2027-03-01" }),
                )],
            ),
            ok: ok("MandateView", "The new mandate.", vec![("granted", examples::mandate())]),
            created: true,
            errors: kinds(&[&KEYED, &BODY, &[Forbidden, MandateExists]]),
            others: Vec::new(),
            samples: vec![
                ApiError::field("expires_at", "must be at most 90 days ahead"),
                ApiError::forbidden(
                    "An agent key cannot grant a mandate: a human of the org does, with their own key. An agent asks with POST /billing/mandates/request.",
                ),
            ],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/billing/mandates/request",
            id: "requestMandate",
            tag: "agents",
            summary: "Ask the human for a mandate (an agent)",
            description: "An AGENT key asks for standing consent within `limits` until `expires_at` (at most 90 days ahead), \
                with a `reason` for its human. Nothing is granted yet: the answer is a web approval. The human opens \
                `approval_url`, sees the envelope in words and numbers, checks `binding_code`, and approves (the mandate is \
                granted as that human, replacing the key's current one) or denies it; the agent polls `polling_url` \
                (`GET /billing/approvals/{id}`), whose `result` is then the mandate. A HUMAN or ADMIN key is 403: it grants \
                with `POST /billing/mandates`.",
            keyless: false,
            parameters: Vec::new(),
            body: body(
                "MandateRequestBody",
                true,
                vec![(
                    "pro-and-credits",
                    json!({ "limits": { "max_plan": "pro", "max_charge_per_month": 5000, "credits_spend_per_day": 500 }, "expires_at": "2027-03-01", "reason": "nightly imports need Pro's row cap" }),
                )],
            ),
            ok: ok("MandateRequested", "Asked: a human decides on the page.", vec![("asked", examples::mandate_requested())]),
            created: false,
            errors: kinds(&[&KEYED, &BODY, &[Forbidden, NotFound]]),
            others: Vec::new(),
            samples: vec![
                ApiError::field("expires_at", "must be at most 90 days ahead"),
                ApiError::forbidden("Only an agent key asks for a mandate: a human grants one directly with POST /billing/mandates."),
            ],
        },
        Operation {
            method: HttpMethod::Delete,
            path: "/billing/mandates/{mandate_id}",
            id: "revokeMandate",
            tag: "agents",
            summary: "Revoke a mandate (a human)",
            description: "A HUMAN or ADMIN key revokes a mandate of the org at once: the agent's next action is outside it. \
                Revoking a revoked mandate answers it as it is. Another org's mandate is 404; an AGENT key is 403.",
            keyless: false,
            parameters: vec![mandate_id_in_path()],
            body: None,
            ok: ok("MandateView", "The mandate, revoked.", vec![("revoked", examples::revoked_mandate())]),
            created: false,
            errors: kinds(&[&KEYED, &[ValidationFailed, Forbidden, NotFound, MethodNotAllowed]]),
            others: Vec::new(),
            samples: vec![
                ApiError::field("verbose", "is not a parameter of this route"),
                ApiError::not_found("No mandate with this id in your org."),
                // API Gateway routes DELETE /billing/mandates/request here: that path is POST's.
                ApiError::new(MethodNotAllowed, "DELETE is not a method of /billing/mandates/request: use POST.")
                    .with_details(json!({ "allow": ["POST"] })),
            ],
        },
    ]
}

fn key_id_in_path() -> Parameter {
    let description = "The id of an AGENT key of the org (what `billing-admin issue-key` prints); another org's is 404.";
    parameter("key_id", ParameterIn::Path, true, description, string("^[0-9a-f]{16}$", 16), json!(examples::KEY_ID))
}

fn mandate_id_in_path() -> Parameter {
    let description = "The `mandate_id` of a mandate of the org; another org's is 404.";
    parameter("mandate_id", ParameterIn::Path, true, description, string("^md_[0-9a-f]{32}$", 35), json!(examples::MANDATE_ID))
}

//! How one operation of the table becomes OpenAPI: its responses grouped by status, the error
//! kinds each can carry with an example of each, and the small builders the route files share
//! (bodies, parameters, links, the kinds of refusal most routes have).

use super::*;

/// One operation: a route of template.yaml, what it takes, answers and can refuse.
pub(super) struct Operation {
    pub(super) method: HttpMethod,
    pub(super) path: &'static str,
    pub(super) id: &'static str,
    pub(super) tag: &'static str,
    pub(super) summary: &'static str,
    pub(super) description: &'static str,
    /// No bearer key (`security: []`).
    pub(super) keyless: bool,
    pub(super) parameters: Vec<Parameter>,
    pub(super) body: Option<RequestBody>,
    pub(super) ok: Response,
    /// `ok` is 201 Created (a new resource), not 200.
    pub(super) created: bool,
    /// Every error it can answer, grouped by status in the document.
    pub(super) errors: Vec<ErrorKind>,
    /// The example of a kind where the generic one would mislead.
    pub(super) samples: Vec<ApiError>,
    /// Answers that are not the error envelope (`POST /mcp`'s JSON-RPC errors), by status.
    pub(super) others: Vec<(u16, Response)>,
}

impl Operation {
    pub(super) fn build(self) -> utoipa::openapi::path::Operation {
        let mut by_status: BTreeMap<u16, Vec<ApiError>> = BTreeMap::new();
        for kind in self.errors {
            let sample = self.samples.iter().find(|s| s.kind == kind).cloned().unwrap_or_else(|| examples::error(kind));
            by_status.entry(kind.status()).or_default().push(sample);
        }
        let mut op = OperationBuilder::new()
            .operation_id(Some(self.id))
            .tag(self.tag)
            .summary(Some(self.summary))
            .description(Some(self.description))
            .parameters(Some(self.parameters))
            .request_body(self.body)
            .response(if self.created { "201" } else { "200" }, self.ok);
        for (status, samples) in by_status {
            op = op.response(status.to_string(), error_response(&samples));
        }
        for (status, response) in self.others {
            op = op.response(status.to_string(), response);
        }
        if self.keyless {
            op = op.securities(Some(Vec::<SecurityRequirement>::new()));
        }
        op.build()
    }
}

/// One status's answer: the envelope, the error types it can carry, an example of each.
pub(super) fn error_response(samples: &[ApiError]) -> Response {
    let codes: Vec<String> = samples.iter().map(|s| format!("`{}`", s.kind.code())).collect();
    let content = samples.iter().fold(ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorEnvelope"))), |content, sample| {
        let example = ExampleBuilder::new().summary(sample.message.clone()).value(Some(sample.envelope(examples::REQUEST_ID)));
        content.examples_from_iter([(sample.kind.code(), example.build())])
    });
    ResponseBuilder::new().description(codes.join(", ")).content(JSON, content.build()).build()
}

pub(super) fn json_content<T: Serialize>(schema: RefOr<Schema>, examples: Vec<(&str, T)>) -> Content {
    let examples =
        examples.into_iter().map(|(name, example)| (name.to_string(), ExampleBuilder::new().value(Some(value(example))).build()));
    ContentBuilder::new().schema(Some(schema)).examples_from_iter(examples).build()
}

pub(super) fn ok<T: Serialize>(schema: &str, description: &str, examples: Vec<(&str, T)>) -> Response {
    ResponseBuilder::new().description(description).content(JSON, json_content(Ref::from_schema_name(schema).into(), examples)).build()
}

pub(super) fn body<T: Serialize>(schema: &str, required: bool, examples: Vec<(&str, T)>) -> Option<RequestBody> {
    let (required, description) = match required {
        true => (Required::True, "JSON; unknown fields are refused."),
        false => (Required::False, "JSON; unknown fields are refused. May be empty (the same as `{}`)."),
    };
    Some(
        RequestBodyBuilder::new()
            .description(Some(description))
            .required(Some(required))
            .content(JSON, json_content(Ref::from_schema_name(schema).into(), examples))
            .build(),
    )
}

pub(super) fn integer(minimum: u64, maximum: Option<u64>) -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(minimum as f64)).maximum(maximum.map(|m| m as f64)).into()
}

pub(super) fn string(pattern: &str, max_length: usize) -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(pattern)).min_length(Some(1)).max_length(Some(max_length)).into()
}

pub(super) fn parameter(
    name: &str,
    location: ParameterIn,
    required: bool,
    description: &str,
    schema: RefOr<Schema>,
    example: Value,
) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(location)
        .required(if required { Required::True } else { Required::False })
        .description(Some(description))
        .schema(Some(schema))
        .example(Some(example))
        .build()
}

pub(super) fn resource_in_path() -> Parameter {
    let description = "A gated resource; another name is 404 listing the valid ones.";
    parameter("resource", ParameterIn::Path, true, description, Ref::from_schema_name("Resource").into(), json!("agents"))
}

/// Release takes every resource but `api_calls`, a per-period count that is never given back.
pub(super) fn releasable_resource_in_path() -> Parameter {
    let description = "A gated resource but `api_calls` (400); another name is 404 listing the valid ones.";
    let names: Vec<&str> = Resource::ALL.into_iter().filter(|r| *r != Resource::ApiCalls).map(Resource::as_str).collect();
    let schema = ObjectBuilder::new().schema_type(Type::String).enum_values(Some(names));
    parameter("resource", ParameterIn::Path, true, description, schema.into(), json!("agents"))
}

/// `kind` of the signal report: one kind, no null.
pub(super) fn signal_kind_in_query() -> Parameter {
    let schema = ObjectBuilder::new().schema_type(Type::String).enum_values(Some(SignalKind::names()));
    parameter("kind", ParameterIn::Query, false, "Only this kind (a resource or `other`).", schema.into(), json!("rows"))
}

/// `since` of the signal report, the three forms `domain::calendar::parse_instant` reads. A
/// regular expression cannot say which months have a 31st: 2025-02-30T00:00:00Z matches and is 400.
pub(super) fn since_in_query() -> Parameter {
    let date_time = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z$";
    let schema = AnyOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))))
        .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some(date_time)))
        .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some(format!("^[0-9]{{1,{MAX_EPOCH_DIGITS}}}$"))));
    let description = format!("Only signals from then on: {INSTANT_FORMS}.");
    parameter("since", ParameterIn::Query, false, &description, schema.into(), json!("2025-12-01"))
}

/// The top-up's key: its retries answer the first answer again, but without the replay header.
pub(super) fn card_on_file_key() -> Parameter {
    let description = "Optional, with `\"payment\": \"card_on_file\"`: the same key of the same org within 24 hours answers the \
        first answer again and charges once; the same key with another quantity is 422.";
    let schema = string(r"^[!-+\--~]+$", MAX_KEY_LEN);
    parameter("Idempotency-Key", ParameterIn::Header, false, description, schema, json!("9f3a2c1e-top-up-2"))
}

pub(super) fn idempotency_key() -> Parameter {
    let description = "Optional: the same key of the same org within 24 hours answers the first answer again (with \
        `Idempotent-Replayed: true`) and counts once; the same key with another request is 422.";
    let schema = string(r"^[!-+\--~]+$", MAX_KEY_LEN);
    parameter("Idempotency-Key", ParameterIn::Header, false, description, schema, json!("9f3a2c1e-reserve-agent-7"))
}

pub(super) fn page_parameters(cursor: &str, pattern: &str, example: &str) -> Vec<Parameter> {
    vec![
        parameter("limit", ParameterIn::Query, false, "Page size.", integer(1, Some(100)), json!(10)),
        parameter("starting_after", ParameterIn::Query, false, cursor, string(pattern, 255), json!(example)),
    ]
}

/// Links from an answer's field to the operations that take it (OpenAPI links: clients and
/// Schemathesis' stateful phase follow them). `to` is `(operation id, its parameter)`.
pub(super) fn with_links(mut response: Response, field: &str, to: &[(&str, &str)]) -> Response {
    for (operation, parameter) in to {
        let link = LinkBuilder::new()
            .operation_id(*operation)
            .parameter(*parameter, format!("$response.body#/{field}"))
            .description(format!("`{field}` of this answer, when it has one."))
            .build();
        response.links.insert(format!("{operation}By{}", field.replace('_', "")), link.into());
    }
    response
}

pub(super) fn with_approval_links(response: Response) -> Response {
    with_links(response, "approval_id", &[("getApproval", "id"), ("approveChange", "id"), ("denyChange", "id"), ("approvalPage", "id")])
}

/// Answers replayed for an `Idempotency-Key` say so.
pub(super) fn with_replayed_header(response: Response) -> Response {
    let header = HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["true"])))
        .description(Some("Present when this is the first answer of the `Idempotency-Key` again."))
        .build();
    let mut response = response;
    response.headers.insert(REPLAYED_HEADER.to_string(), header);
    response
}

/// What every keyed route can answer before its own work: no key, the authorizer's store down,
/// an AGENT key the brake paused, a bug.
pub(super) const KEYED: [ErrorKind; 4] =
    [ErrorKind::Unauthorized, ErrorKind::StorageUnavailable, ErrorKind::AgentPaused, ErrorKind::Internal];
/// A JSON body: unparsable, of the wrong shape, too big, not JSON.
pub(super) const BODY: [ErrorKind; 4] =
    [ErrorKind::MalformedJson, ErrorKind::ValidationFailed, ErrorKind::PayloadTooLarge, ErrorKind::UnsupportedMediaType];

pub(super) fn kinds(groups: &[&[ErrorKind]]) -> Vec<ErrorKind> {
    let mut all: Vec<ErrorKind> = Vec::new();
    for kind in groups.iter().flat_map(|g| g.iter()) {
        if !all.contains(kind) {
            all.push(*kind);
        }
    }
    all
}

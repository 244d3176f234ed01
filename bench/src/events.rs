//! The events API Gateway (HTTP API, payload format 2.0) sends: a route's request, with the
//! authorizer's context on authorized routes, and the REQUEST authorizer's own event. Same shape
//! as the local gateway (`infra/src/gateway.rs`) builds. And a batch of the table's DynamoDB
//! Stream, as Lambda's event source mapping hands it to the events publisher.

use serde_json::{Value, json};

/// A request body and the headers that go with it.
pub struct Body {
    pub text: String,
    pub headers: Vec<(&'static str, String)>,
}

/// One request of a route.
pub struct Request {
    pub method: String,
    pub path: String,
    /// `GET /billing`, or `$default`.
    pub route_key: String,
    pub path_parameters: Vec<(String, String)>,
    pub body: Option<Body>,
}

/// A request as API Gateway hands it to a route's function.
pub fn http(req: &Request, token: &str) -> Value {
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let mut event = json!({
        "version": "2.0",
        "routeKey": req.route_key,
        "rawPath": req.path,
        "rawQueryString": "",
        "headers": {
            "accept": "application/json",
            "authorization": format!("Bearer {token}"),
            "host": "bench.execute-api.us-east-1.amazonaws.com",
            "user-agent": "billing-bench",
        },
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "bench",
            "domainName": "bench.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "bench",
            "http": {
                "method": req.method,
                "path": req.path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "billing-bench",
            },
            "requestId": "bench-request",
            "routeKey": req.route_key,
            "stage": "$default",
            "time": "",
            "timeEpoch": now_ms,
        },
        "isBase64Encoded": false,
    });
    if !req.path_parameters.is_empty() {
        event["pathParameters"] = req.path_parameters.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>().into();
    }
    if let Some(body) = &req.body {
        event["headers"]["content-type"] = json!("application/json");
        for (name, value) in &body.headers {
            event["headers"][*name] = json!(value);
        }
        event["body"] = json!(body.text);
    }
    event
}

/// The same request after the Lambda authorizer let it through with `context`.
pub fn authorized(mut event: Value, context: Value) -> Value {
    event["requestContext"]["authorizer"] = json!({ "lambda": context });
    event
}

/// The REQUEST authorizer's event (payload 2.0) for `req`.
pub fn authorizer(req: &Request, token: &str) -> Value {
    let mut event = http(req, token);
    event["type"] = json!("REQUEST");
    event["routeArn"] = json!(format!("arn:aws:execute-api:us-east-1:000000000000:bench/$default/{}{}", req.method, req.path));
    event["identitySource"] = json!([format!("Bearer {token}")]);
    event
}

/// A stream batch of `count` new items, cycling through `items` (DynamoDB JSON), each with a
/// sequence number of its own.
pub fn stream(items: &[Value], count: usize) -> Value {
    let records: Vec<Value> = items
        .iter()
        .cycle()
        .take(count)
        .enumerate()
        .map(|(i, item)| {
            json!({
                "eventID": format!("bench-{i}"),
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1_764_000_000,
                    "Keys": { "PK": item["PK"], "SK": item["SK"] },
                    "NewImage": item,
                    "SequenceNumber": format!("{:021}", i + 1),
                    "SizeBytes": item.to_string().len(),
                    "StreamViewType": "NEW_IMAGE",
                },
                "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/billing-bench/stream/2026-01-01T00:00:00.000",
            })
        })
        .collect();
    json!({ "Records": records })
}

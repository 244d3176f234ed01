//! template.yaml's operability: every function alarms on errors (and throttles), every
//! asynchronous function sends what fails to a queue whose depth alarms, the events publisher
//! reads only new activity records and reports failed items, every function is traced, and every
//! alarm notifies the alarm topic. Each check returns the problems it finds; the last test breaks
//! a copy of the template in each of those ways and expects each check to say so.

use billing_infra::template::TEMPLATE;
use serde_yaml::Value;

/// Events Lambda reads from a stream: their failures go to the event's own `DestinationConfig`.
const STREAM_EVENTS: [&str; 2] = ["DynamoDB", "Kinesis"];

fn template() -> Value {
    serde_yaml::from_str(TEMPLATE).expect("template.yaml parses")
}

fn untag(value: &Value) -> &Value {
    match value {
        Value::Tagged(tagged) => &tagged.value,
        other => other,
    }
}

/// `X` of `!Ref X`.
fn ref_name(value: &Value) -> Option<&str> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str(),
        _ => None,
    }
}

/// `(X, Y)` of `!GetAtt X.Y` or `!GetAtt [X, Y]`.
fn get_att(value: &Value) -> Option<(&str, &str)> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "GetAtt" => match &tagged.value {
            Value::String(text) => text.split_once('.'),
            Value::Sequence(parts) if parts.len() == 2 => Some((parts[0].as_str()?, parts[1].as_str()?)),
            _ => None,
        },
        _ => None,
    }
}

/// Follows `keys` from `value`, looking through tags.
fn at<'a>(value: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().try_fold(value, |v, key| untag(v).get(*key))
}

fn text<'a>(value: &'a Value, keys: &[&str]) -> Option<&'a str> {
    at(value, keys).map(untag).and_then(Value::as_str)
}

fn resources(root: &Value) -> impl Iterator<Item = (&str, &Value)> {
    root.get("Resources").and_then(Value::as_mapping).into_iter().flatten().filter_map(|(name, r)| Some((name.as_str()?, r)))
}

fn of_type<'a>(root: &'a Value, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a Value)> {
    resources(root).filter(move |(_, r)| text(r, &["Type"]) == Some(kind))
}

fn functions(root: &Value) -> Vec<(&str, &Value)> {
    of_type(root, "AWS::Serverless::Function").collect()
}

fn events(function: &Value) -> Vec<(&str, &Value)> {
    at(function, &["Properties", "Events"])
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten()
        .filter_map(|(name, event)| Some((name.as_str()?, event)))
        .collect()
}

/// Whether a CloudWatch alarm's dimension `name` is `value` (compared as YAML, tags included).
fn has_dimension(alarm: &Value, name: &str, value: &Value) -> bool {
    at(alarm, &["Properties", "Dimensions"])
        .and_then(Value::as_sequence)
        .is_some_and(|dims| dims.iter().any(|d| text(d, &["Name"]) == Some(name) && d.get("Value") == Some(value)))
}

fn ref_value(name: &str) -> Value {
    serde_yaml::from_str(&format!("!Ref {name}")).unwrap()
}

fn get_att_value(name: &str, attribute: &str) -> Value {
    serde_yaml::from_str(&format!("!GetAtt {name}.{attribute}")).unwrap()
}

/// The one SNS topic every alarm notifies.
fn alarm_topic(root: &Value) -> Result<&str, String> {
    let topics: Vec<_> = of_type(root, "AWS::SNS::Topic").map(|(name, _)| name).collect();
    match topics[..] {
        [topic] => Ok(topic),
        _ => Err(format!("expected exactly one AWS::SNS::Topic (the alarm topic), found {topics:?}")),
    }
}

fn notifies(alarm: &Value, topic: &str, key: &str) -> bool {
    at(alarm, &["Properties", key]).and_then(Value::as_sequence).is_some_and(|actions| actions.iter().any(|a| ref_name(a) == Some(topic)))
}

/// `<Function>ErrorsAlarm` and `<Function>ThrottlesAlarm` for every function: the AWS/Lambda
/// metric of that function, notifying the topic.
fn function_alarm_problems(root: &Value) -> Vec<String> {
    let topic = match alarm_topic(root) {
        Ok(topic) => topic,
        Err(problem) => return vec![problem],
    };
    let alarms = root.get("Resources").unwrap();
    let mut problems = Vec::new();
    for (function, _) in functions(root) {
        for metric in ["Errors", "Throttles"] {
            let name = format!("{function}{metric}Alarm");
            let Some(alarm) = alarms.get(&name).filter(|a| text(a, &["Type"]) == Some("AWS::CloudWatch::Alarm")) else {
                problems.push(format!("{function} has no AWS::CloudWatch::Alarm `{name}`"));
                continue;
            };
            if text(alarm, &["Properties", "Namespace"]) != Some("AWS/Lambda") || text(alarm, &["Properties", "MetricName"]) != Some(metric)
            {
                problems.push(format!("{name} is not on AWS/Lambda {metric}"));
            }
            if !has_dimension(alarm, "FunctionName", &ref_value(function)) {
                problems.push(format!("{name}'s FunctionName dimension is not !Ref {function}"));
            }
            if !notifies(alarm, topic, "AlarmActions") {
                problems.push(format!("{name} does not notify {topic}"));
            }
        }
    }
    problems
}

/// The queue an on-failure destination names: `!GetAtt Queue.Arn` of an AWS::SQS::Queue.
fn destination_queue<'a>(root: &'a Value, destination: Option<&'a Value>) -> Result<&'a str, String> {
    let destination = destination.ok_or("no destination")?;
    let (queue, attribute) = get_att(destination).ok_or_else(|| format!("destination {destination:?} is not !GetAtt <queue>.Arn"))?;
    let is_queue = root.get("Resources").and_then(|r| r.get(queue)).is_some_and(|q| text(q, &["Type"]) == Some("AWS::SQS::Queue"));
    if attribute != "Arn" || !is_queue {
        return Err(format!("destination !GetAtt {queue}.{attribute} is not an AWS::SQS::Queue's Arn"));
    }
    Ok(queue)
}

/// A queue with an alarm on its visible messages that notifies the topic.
fn queue_alarm_problem(root: &Value, queue: &str, topic: &str) -> Option<String> {
    let queue_name = get_att_value(queue, "QueueName");
    let alarmed = of_type(root, "AWS::CloudWatch::Alarm").any(|(_, alarm)| {
        text(alarm, &["Properties", "Namespace"]) == Some("AWS/SQS")
            && text(alarm, &["Properties", "MetricName"]) == Some("ApproximateNumberOfMessagesVisible")
            && has_dimension(alarm, "QueueName", &queue_name)
            && notifies(alarm, topic, "AlarmActions")
    });
    (!alarmed).then(|| format!("queue {queue} has no AWS/SQS ApproximateNumberOfMessagesVisible alarm notifying {topic}"))
}

/// Every function with an event other than HttpApi is invoked asynchronously (or reads a stream):
/// what fails must land in a queue whose depth alarms. Stream events name their queue in their
/// own `DestinationConfig`; the others are covered by the function's `EventInvokeConfig`.
fn on_failure_problems(root: &Value) -> Vec<String> {
    let topic = match alarm_topic(root) {
        Ok(topic) => topic,
        Err(problem) => return vec![problem],
    };
    let mut problems = Vec::new();
    let mut check_queue = |what: String, destination: Option<&Value>| match destination_queue(root, destination) {
        Ok(queue) => problems.extend(queue_alarm_problem(root, queue, topic).map(|p| format!("{what}: {p}"))),
        Err(problem) => problems.push(format!("{what} has no on-failure queue: {problem}")),
    };
    for (function, resource) in functions(root) {
        for (event, props) in events(resource) {
            let kind = text(props, &["Type"]).unwrap_or_default();
            let props = at(props, &["Properties"]).unwrap_or(&Value::Null);
            match kind {
                "HttpApi" => continue,
                "SQS" => panic!("{function}.{event}: an SQS event's failures go to its queue's RedrivePolicy; teach this test that"),
                _ if STREAM_EVENTS.contains(&kind) => {
                    check_queue(format!("{function}'s {kind} event {event}"), at(props, &["DestinationConfig", "OnFailure", "Destination"]))
                }
                _ => check_queue(
                    format!("{function} (asynchronous, {kind} event {event}) in EventInvokeConfig"),
                    at(resource, &["Properties", "EventInvokeConfig", "DestinationConfig", "OnFailure", "Destination"]),
                ),
            }
            // A schedule's own dead-letter queue (runs it could not start) must alarm as well.
            if let Some(dead_letter) = at(props, &["DeadLetterConfig", "Arn"]) {
                check_queue(format!("{function}'s {kind} event {event} DeadLetterConfig"), Some(dead_letter));
            }
        }
    }
    problems
}

/// The function built from `events-publisher` reads the table's stream: only INSERTs of
/// `ACTIVITY#` items, reporting the records it could not publish, retried in order.
fn publisher_problems(root: &Value) -> Vec<String> {
    let publisher =
        functions(root).into_iter().find(|(_, f)| text(f, &["Metadata", "BuildProperties", "Binary"]) == Some("events-publisher"));
    let Some((name, publisher)) = publisher else {
        return vec!["no function is built from the binary events-publisher".into()];
    };
    let streams: Vec<_> = events(publisher).into_iter().filter(|(_, e)| text(e, &["Type"]) == Some("DynamoDB")).collect();
    let [(event, stream)] = streams[..] else {
        return vec![format!("{name} should have exactly one DynamoDB event, has {}", streams.len())];
    };
    let props = at(stream, &["Properties"]).unwrap_or(&Value::Null);
    let mut problems = Vec::new();
    let mut expect = |ok: bool, problem: &str| {
        if !ok {
            problems.push(format!("{name}.{event}: {problem}"));
        }
    };
    expect(
        at(props, &["Stream"]).and_then(get_att).is_some_and(|(_, attribute)| attribute == "StreamArn"),
        "Stream is not a table's StreamArn",
    );
    let response_types = at(props, &["FunctionResponseTypes"]).and_then(Value::as_sequence);
    expect(
        response_types.is_some_and(|types| types.iter().any(|t| t.as_str() == Some("ReportBatchItemFailures"))),
        "FunctionResponseTypes lacks ReportBatchItemFailures",
    );
    expect(at(props, &["BisectBatchOnFunctionError"]).and_then(Value::as_bool) == Some(false), "BisectBatchOnFunctionError is not false");
    let patterns: Vec<serde_json::Value> = at(props, &["FilterCriteria", "Filters"])
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(|f| serde_json::from_str(text(f, &["Pattern"])?).ok())
        .collect();
    let activity_inserts = serde_json::json!({"eventName": ["INSERT"], "dynamodb": {"Keys": {"SK": {"S": [{"prefix": "ACTIVITY#"}]}}}});
    expect(patterns == [activity_inserts], "FilterCriteria should be the one pattern: INSERTs of items whose SK starts with ACTIVITY#");
    problems
}

/// Globals trace every function, and no function turns it off.
fn tracing_problems(root: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if text(root, &["Globals", "Function", "Tracing"]) != Some("Active") {
        problems.push("Globals.Function.Tracing is not Active".to_string());
    }
    for (function, resource) in functions(root) {
        if let Some(mode) = at(resource, &["Properties", "Tracing"]).filter(|m| m.as_str() != Some("Active")) {
            problems.push(format!("{function} sets Tracing to {mode:?}"));
        }
    }
    problems
}

/// Every alarm notifies the topic when it fires and when it is OK again; the email subscription
/// exists only with an AlarmEmail.
fn alarm_action_problems(root: &Value) -> Vec<String> {
    let topic = match alarm_topic(root) {
        Ok(topic) => topic,
        Err(problem) => return vec![problem],
    };
    let mut problems = Vec::new();
    for (name, alarm) in of_type(root, "AWS::CloudWatch::Alarm") {
        for key in ["AlarmActions", "OKActions"] {
            if !notifies(alarm, topic, key) {
                problems.push(format!("{name}'s {key} do not include !Ref {topic}"));
            }
        }
    }
    for (name, subscription) in of_type(root, "AWS::SNS::Subscription") {
        if text(subscription, &["Condition"]).is_none() {
            problems.push(format!("{name} is not conditional (AlarmEmail is optional)"));
        }
    }
    problems
}

#[test]
fn every_function_has_errors_and_throttles_alarms_notifying_the_topic() {
    let root = template();
    assert!(functions(&root).len() > 20, "the template's functions were not found");
    let problems = function_alarm_problems(&root);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn every_asynchronous_function_sends_failures_to_an_alarmed_queue() {
    let root = template();
    let asynchronous: Vec<_> =
        functions(&root).into_iter().filter(|(_, f)| events(f).iter().any(|(_, e)| text(e, &["Type"]) != Some("HttpApi"))).collect();
    assert!(asynchronous.len() >= 2, "expected the reconciler and the events publisher at least");
    let problems = on_failure_problems(&root);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_publisher_reads_only_new_activity_records_and_reports_failed_items() {
    let problems = publisher_problems(&template());
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn every_function_is_traced() {
    let problems = tracing_problems(&template());
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn every_alarm_notifies_the_alarm_topic() {
    let root = template();
    assert!(of_type(&root, "AWS::CloudWatch::Alarm").count() > 2 * functions(&root).len(), "the alarms were not found");
    let problems = alarm_action_problems(&root);
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Each check finds the fault it exists for, in a copy of the template broken that way.
#[test]
fn each_check_catches_what_it_is_for() {
    fn broken(edit: impl FnOnce(&mut serde_yaml::Mapping)) -> Value {
        let mut root = template();
        edit(root.get_mut("Resources").and_then(Value::as_mapping_mut).unwrap());
        root
    }
    fn props<'a>(resources: &'a mut serde_yaml::Mapping, name: &str) -> &'a mut serde_yaml::Mapping {
        resources.get_mut(name).and_then(|r| r.get_mut("Properties")).and_then(Value::as_mapping_mut).unwrap()
    }
    fn publisher_event(resources: &mut serde_yaml::Mapping) -> &mut serde_yaml::Mapping {
        let events = props(resources, "EventsPublisherFunction").get_mut("Events").and_then(Value::as_mapping_mut).unwrap();
        let (_, event) = events.iter_mut().find(|(_, e)| e.get("Type").and_then(Value::as_str) == Some("DynamoDB")).unwrap();
        event.get_mut("Properties").and_then(Value::as_mapping_mut).unwrap()
    }
    let caught = |problems: Vec<String>, needle: &str| {
        assert!(problems.iter().any(|p| p.contains(needle)), "expected a problem mentioning `{needle}`, got {problems:#?}");
    };

    caught(function_alarm_problems(&broken(|r| drop(r.remove("BillingSummaryFunctionErrorsAlarm")))), "BillingSummaryFunctionErrorsAlarm");
    caught(
        function_alarm_problems(&broken(|r| {
            props(r, "ReconcilerFunctionThrottlesAlarm")
                .insert("Dimensions".into(), serde_yaml::from_str("[{Name: FunctionName, Value: !Ref McpFunction}]").unwrap());
        })),
        "ReconcilerFunctionThrottlesAlarm's FunctionName",
    );

    caught(
        on_failure_problems(&broken(|r| drop(props(r, "ReconcilerFunction").remove("EventInvokeConfig")))),
        "ReconcilerFunction (asynchronous",
    );
    caught(
        on_failure_problems(&broken(|r| drop(publisher_event(r).remove("DestinationConfig")))),
        "EventsPublisherFunction's DynamoDB event",
    );
    caught(
        on_failure_problems(&broken(|r| drop(r.remove("EventsPublisherDeadLetterQueueDepthAlarm")))),
        "EventsPublisherDeadLetterQueue has no",
    );
    caught(on_failure_problems(&broken(|r| drop(r.remove("ReconcilerDeadLetterQueueDepthAlarm")))), "ReconcilerDeadLetterQueue has no");

    caught(publisher_problems(&broken(|r| drop(publisher_event(r).remove("FunctionResponseTypes")))), "ReportBatchItemFailures");
    caught(publisher_problems(&broken(|r| drop(publisher_event(r).remove("FilterCriteria")))), "ACTIVITY#");
    caught(
        publisher_problems(&broken(|r| {
            let filter = r#"{Filters: [{Pattern: '{"dynamodb": {"Keys": {"SK": {"S": [{"prefix": "ACTIVITY#"}]}}}}'}]}"#;
            publisher_event(r).insert("FilterCriteria".into(), serde_yaml::from_str(filter).unwrap());
        })),
        "INSERTs",
    );

    let mut untraced = template();
    untraced.get_mut("Globals").and_then(|g| g.get_mut("Function")).and_then(Value::as_mapping_mut).unwrap().remove("Tracing");
    caught(tracing_problems(&untraced), "Tracing");

    caught(
        alarm_action_problems(&broken(|r| drop(props(r, "StripeErrorsAlarm").remove("AlarmActions")))),
        "StripeErrorsAlarm's AlarmActions",
    );
    caught(
        alarm_action_problems(&broken(|r| {
            drop(r.get_mut("AlarmEmailSubscription").and_then(Value::as_mapping_mut).unwrap().remove("Condition"))
        })),
        "AlarmEmailSubscription",
    );
}

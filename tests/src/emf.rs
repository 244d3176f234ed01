//! What a function writes to stdout, checked: every line is JSON, either a CloudWatch Embedded
//! Metric Format document valid by the specification
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>)
//! or a log line whose fields are typed values, not Rust `Debug` text.

use serde_json::Value;

/// The units a metric definition may name.
const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];
/// The most dimensions in one dimension set (the specification's older, stricter limit).
const MAX_DIMENSIONS: usize = 9;
/// The most values of one metric in one document, and the most metrics in one directive.
const MAX_VALUES: usize = 100;

/// A process's stdout, line by line: the EMF documents and the log lines.
#[derive(Debug, Default)]
pub struct Stdout {
    pub documents: Vec<Value>,
    pub logs: Vec<Value>,
}

/// Sorts `lines` into documents and log lines, checking each; panics naming the line at fault.
pub fn read(lines: &[String]) -> Stdout {
    let mut stdout = Stdout::default();
    for line in lines {
        let value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        if value.get("_aws").is_some() {
            check_document(&value).unwrap_or_else(|problem| panic!("not a valid EMF document: {problem}: {line}"));
            stdout.documents.push(value);
        } else {
            check_log_line(&value).unwrap_or_else(|problem| panic!("not a typed log line: {problem}: {line}"));
            stdout.logs.push(value);
        }
    }
    stdout
}

fn string<'a>(value: &'a Value, what: &str) -> Result<&'a str, String> {
    value.as_str().ok_or_else(|| format!("{what} is not a string"))
}

fn array<'a>(value: &'a Value, what: &str) -> Result<&'a Vec<Value>, String> {
    value.as_array().ok_or_else(|| format!("{what} is not an array"))
}

/// One EMF document, by the specification: `_aws.Timestamp` a number, `_aws.CloudWatchMetrics`
/// directives of a namespace, dimension sets (arrays of at most 9 names, each a top-level string
/// member) and metric definitions (a name, and a unit if any), each metric's value a top-level
/// number or array of at most 100 numbers. Ids are never dimensions: `org_id` and the like would
/// make a metric per org.
pub fn check_document(doc: &Value) -> Result<(), String> {
    let aws = doc["_aws"].as_object().ok_or("`_aws` is not an object")?;
    if aws.get("Timestamp").and_then(Value::as_u64).is_none() {
        return Err("`_aws.Timestamp` is not a whole number of milliseconds".into());
    }
    let directives = array(aws.get("CloudWatchMetrics").unwrap_or(&Value::Null), "`_aws.CloudWatchMetrics`")?;
    if directives.is_empty() {
        return Err("`_aws.CloudWatchMetrics` is empty".into());
    }
    for directive in directives {
        let namespace = string(&directive["Namespace"], "`Namespace`")?;
        if namespace.is_empty() || namespace.len() > 255 {
            return Err(format!("namespace `{namespace}` is not 1 to 255 characters"));
        }
        for set in array(&directive["Dimensions"], "`Dimensions`")? {
            let set = array(set, "a dimension set")?;
            if set.len() > MAX_DIMENSIONS {
                return Err(format!("a dimension set has {} names", set.len()));
            }
            for name in set {
                let name = string(name, "a dimension name")?;
                if name == "org_id" || name.ends_with("_id") {
                    return Err(format!("`{name}` is a dimension"));
                }
                string(&doc[name], &format!("the value of dimension `{name}`"))?;
            }
        }
        let metrics = array(&directive["Metrics"], "`Metrics`")?;
        if metrics.len() > MAX_VALUES {
            return Err(format!("{} metrics in one directive", metrics.len()));
        }
        for metric in metrics {
            let name = string(&metric["Name"], "a metric's `Name`")?;
            if let Some(unit) = metric.get("Unit") {
                let unit = string(unit, "a `Unit`")?;
                if !UNITS.contains(&unit) {
                    return Err(format!("`{unit}` is not a unit"));
                }
            }
            match &doc[name] {
                Value::Number(_) => {}
                Value::Array(values) if values.len() <= MAX_VALUES && values.iter().all(Value::is_number) => {}
                other => return Err(format!("the value of metric `{name}` is {other}, not a number or at most 100 numbers")),
            }
        }
    }
    Ok(())
}

/// A log line: a JSON object with a level and a message, no value of which reads like Rust's
/// `Debug` of an `Option` (`Some(400)`).
pub fn check_log_line(line: &Value) -> Result<(), String> {
    string(&line["level"], "`level`")?;
    string(&line["fields"]["message"], "`fields.message`")?;
    fn debug_text(value: &Value) -> Option<&str> {
        match value {
            Value::String(text) if text.contains("Some(") => Some(text),
            Value::Array(values) => values.iter().find_map(debug_text),
            Value::Object(members) => members.values().find_map(debug_text),
            _ => None,
        }
    }
    match debug_text(line) {
        Some(text) => Err(format!("`{text}` is Debug text")),
        None => Ok(()),
    }
}

/// The names of the metrics a document defines.
pub fn metric_names(doc: &Value) -> Vec<&str> {
    doc["_aws"]["CloudWatchMetrics"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|directive| directive["Metrics"].as_array().into_iter().flatten())
        .filter_map(|metric| metric["Name"].as_str())
        .collect()
}

/// The documents that define metric `name`.
pub fn with_metric<'a>(docs: &'a [Value], name: &str) -> Vec<&'a Value> {
    docs.iter().filter(|doc| metric_names(doc).contains(&name)).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn document() -> Value {
        json!({
            "_aws": {"Timestamp": 1_700_000_000_000_u64, "CloudWatchMetrics": [{
                "Namespace": "StripeBilling", "Dimensions": [["function", "resource"]],
                "Metrics": [{"Name": "plan_limit_reached"}, {"Name": "stripe_call_latency", "Unit": "Milliseconds"}]}]},
            "function": "usage-reserve", "resource": "agents", "org_id": "acme",
            "plan_limit_reached": 1, "stripe_call_latency": [12.5, 30.0]
        })
    }

    #[test]
    fn a_valid_document_passes_and_each_breach_is_named() {
        assert_eq!(check_document(&document()), Ok(()));
        type Breach = fn(&mut Value);
        let breaches: [(&str, Breach); 7] = [
            ("Timestamp", |d| d["_aws"]["Timestamp"] = json!("now")),
            ("dimension set", |d| {
                d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!([["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]])
            }),
            ("`org_id` is a dimension", |d| d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!([["function", "org_id"]])),
            ("dimension `resource`", |d| d["resource"] = json!(7)),
            ("metric `plan_limit_reached`", |d| {
                d.as_object_mut().unwrap().remove("plan_limit_reached");
            }),
            ("at most 100 numbers", |d| d["stripe_call_latency"] = json!(vec![1; 101])),
            ("not a unit", |d| d["_aws"]["CloudWatchMetrics"][0]["Metrics"][1]["Unit"] = json!("Millis")),
        ];
        for (problem, breach) in breaches {
            let mut doc = document();
            breach(&mut doc);
            let found = check_document(&doc).expect_err(problem);
            assert!(found.contains(problem), "{problem}: {found}");
        }
    }

    #[test]
    fn log_lines_must_have_typed_fields() {
        let line = json!({"level": "WARN", "fields": {"message": "stripe refused the call", "status": 404}});
        assert_eq!(check_log_line(&line), Ok(()));
        let debug = json!({"level": "ERROR", "fields": {"message": "stripe call failed", "status": "Some(400)"}});
        assert!(check_log_line(&debug).unwrap_err().contains("Some(400)"));
    }
}

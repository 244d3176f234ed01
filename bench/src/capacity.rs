//! DynamoDB capacity units per request, as on-demand billing counts them. The counting proxy
//! asks DynamoDB Local for `ReturnConsumedCapacity: TOTAL` on every call and takes its figure,
//! except for `TransactWriteItems`: there DynamoDB Local reports more than AWS bills (4 units
//! for a one-item transaction of a small item, where AWS's rule gives 2), so the units are
//! computed by AWS's rule instead: 2 write units per started KB of each item, the larger of the
//! item before and after.

use serde_json::Value;

/// Operations billed in read request units; every other one in write request units.
pub const READS: [&str; 5] = ["GetItem", "Query", "Scan", "TransactGetItems", "BatchGetItem"];

/// An attribute value's size in bytes by DynamoDB's rules (strings and binaries their length,
/// numbers about one byte per two digits plus one, maps and lists 3 bytes plus one per element
/// on top of their elements).
fn value_size(value: &Value) -> usize {
    let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else { return 0 };
    let text = || inner.as_str().map_or(0, str::len);
    match kind.as_str() {
        "S" => text(),
        // Base64 in the JSON: three bytes per four characters.
        "B" => text() * 3 / 4,
        "N" => text().div_ceil(2) + 1,
        "BOOL" | "NULL" => 1,
        "SS" | "BS" => inner.as_array().map_or(0, |a| a.iter().map(|s| s.as_str().map_or(0, str::len)).sum()),
        "NS" => inner.as_array().map_or(0, |a| a.iter().map(|s| s.as_str().map_or(0, str::len).div_ceil(2) + 1).sum()),
        "L" => 3 + inner.as_array().map_or(0, |a| a.iter().map(|v| value_size(v) + 1).sum()),
        "M" => 3 + inner.as_object().map_or(0, |m| m.iter().map(|(k, v)| k.len() + value_size(v) + 1).sum()),
        _ => 0,
    }
}

/// An item's size in bytes (attribute names and values), as DynamoDB bills it.
pub fn item_size(item: &serde_json::Map<String, Value>) -> usize {
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

/// Write units of one item of a transaction whose item is `size` bytes.
pub fn transact_write_units(size: usize) -> f64 {
    2.0 * size.max(1).div_ceil(1024) as f64
}

/// The `ConsumedCapacity` of a DynamoDB answer (one object, or a list for transactions).
pub fn consumed(answer: &Value) -> f64 {
    let units = |c: &Value| c["CapacityUnits"].as_f64().unwrap_or(0.0);
    match &answer["ConsumedCapacity"] {
        Value::Array(list) => list.iter().map(units).sum(),
        one => units(one),
    }
}

/// One item of a `TransactWriteItems` request.
pub struct TransactItem {
    pub table: String,
    pub key: Value,
    /// The item a Put writes (none for an Update, Delete or ConditionCheck).
    pub put: Option<serde_json::Map<String, Value>>,
}

/// The items of a `TransactWriteItems` request.
pub fn transact_items(request: &Value) -> Vec<TransactItem> {
    let items = request["TransactItems"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .filter_map(|entry| {
            let (kind, op) = entry.as_object()?.iter().next()?;
            let table = op["TableName"].as_str()?.to_string();
            if kind == "Put" {
                let item = op["Item"].as_object()?.clone();
                let key = ["PK", "SK"].iter().filter_map(|k| Some((k.to_string(), item.get(*k)?.clone()))).collect();
                Some(TransactItem { table, key: Value::Object(key), put: Some(item) })
            } else {
                Some(TransactItem { table, key: op["Key"].clone(), put: None })
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn sizes_follow_dynamodbs_rules() {
        let item = json!({"PK": {"S": "ORG#acme"}, "n": {"N": "1234"}, "m": {"M": {"a": {"BOOL": true}}}, "l": {"L": [{"S": "xy"}]}});
        // PK 2+8, n 1+3, m 1+(3+1+1+1), l 1+(3+2+1)
        assert_eq!(item_size(item.as_object().unwrap()), 10 + 4 + 7 + 7);
    }

    #[test]
    fn a_transaction_costs_two_units_per_started_kb_of_each_item() {
        assert_eq!(transact_write_units(0), 2.0);
        assert_eq!(transact_write_units(1024), 2.0);
        assert_eq!(transact_write_units(1025), 4.0);
    }

    #[test]
    fn consumed_capacity_adds_up_lists() {
        assert_eq!(consumed(&json!({"ConsumedCapacity": {"CapacityUnits": 0.5}})), 0.5);
        assert_eq!(consumed(&json!({"ConsumedCapacity": [{"CapacityUnits": 2.0}, {"CapacityUnits": 1.0}]})), 3.0);
        assert_eq!(consumed(&json!({})), 0.0);
    }

    #[test]
    fn transaction_items_name_their_keys() {
        let request = json!({"TransactItems": [
            {"Put": {"TableName": "t", "Item": {"PK": {"S": "a"}, "SK": {"S": "b"}, "x": {"S": "y"}}}},
            {"Update": {"TableName": "t", "Key": {"PK": {"S": "c"}, "SK": {"S": "d"}}}},
        ]});
        let items = transact_items(&request);
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].key, json!({"PK": {"S": "a"}, "SK": {"S": "b"}}));
        assert!(items[0].put.is_some() && items[1].put.is_none());
    }
}

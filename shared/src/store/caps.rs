//! Materialised caps: how a reservation is checked against an org's effective cap in ONE
//! conditional write.
//!
//! A condition expression cannot do arithmetic, and the effective cap depends on the org's plan,
//! status, quantity, admin overrides, the catalog and, through the past-due grace period, on
//! time. So every write of an org also writes, beside it on the same item:
//!
//! | attribute       | what                                                                 |
//! |-----------------|----------------------------------------------------------------------|
//! | `caps`          | every resource's cap until `caps_until` (`NULL` is unlimited)        |
//! | `caps_until`    | the end of the past-due grace period (`i64::MAX` if none pending)    |
//! | `caps_then`     | every resource's cap from `caps_until` on                            |
//! | `headroom`      | `cap - usage` per resource under `caps` (may be negative: over cap)  |
//! | `headroom_then` | the same under `caps_then`                                           |
//! | `caps_rules`    | the fingerprint of the catalog and grace period they were made with  |
//!
//! A reservation of `n` is then one `UpdateItem` that adds `n` to `usage.<r>` and takes it off
//! both headrooms, on the condition `caps_rules = <ours> AND (caps_until > now AND (caps.<r> is
//! NULL OR headroom.<r> >= n) OR caps_until <= now AND (caps_then.<r> is NULL OR
//! headroom_then.<r> >= n))`: no read before, and no race, because DynamoDB evaluates the
//! condition and applies the update atomically. The schedule (`CapSchedule`) does not depend on
//! `now`, so writers need no clock; the condition picks the phase with the request's `now`.
//!
//! The other design considered, a `TransactWriteItems` of the org and the idempotency record
//! after a read, is two round trips and loses to every concurrent reservation of the same
//! resource (optimistic retries); it is what keyed requests do (`usage::count_exactly`),
//! because their stored answer must be exact, but the plain path stays at one write.
//!
//! Headroom stays true because only usage counting changes `usage` (by the same amount it
//! changes headroom), and whole-org writes never write `usage` but recompute headroom from the
//! *stored* usage in the same update (`headroom.<r> = :cap - usage.<r>`), so a concurrent
//! reservation is never lost and never has to bump the org's version. A reservation refused
//! under stale rules (a new catalog deployed) is refreshed here and retried.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::{self, Deserializer, Visitor};
use serde_dynamo::aws_sdk_dynamodb_1::to_item;

use super::expr::Expr;
use super::{GSI1_PK, GSI2_PK, GSI2_SK, INTENTS_PK, Item, StoreError};
use crate::domain::catalog::Resource;
use crate::domain::entitlements::{CapRules, CapSchedule};
use crate::domain::org::Org;

pub const USAGE: &str = "usage";
pub const USAGE_PERIOD_END: &str = "usage_period_end";
pub const CAPS: &str = "caps";
pub const CAPS_THEN: &str = "caps_then";
pub const CAPS_UNTIL: &str = "caps_until";
pub const CAPS_RULES: &str = "caps_rules";
pub const HEADROOM: &str = "headroom";
pub const HEADROOM_THEN: &str = "headroom_then";
pub const VERSION: &str = "version";

/// Org fields a whole-org write leaves alone: usage counting owns the first two, the store
/// writes the third from the rules.
const NOT_WRITTEN_WHOLE: [&str; 3] = [USAGE, USAGE_PERIOD_END, CAPS_RULES];

/// The rules and their fingerprint, computed once per cold start.
#[derive(Debug, Clone)]
pub struct Rules {
    pub rules: CapRules,
    pub fingerprint: String,
}

impl Rules {
    pub fn new(rules: CapRules) -> Self {
        let fingerprint = rules.fingerprint();
        Self { rules, fingerprint }
    }

    /// Whether the org's item carries caps materialised under these rules.
    pub fn is_current(&self, org: &Org) -> bool {
        org.caps_rules.as_deref() == Some(self.fingerprint.as_str())
    }
}

fn caps_value(caps: &BTreeMap<Resource, Option<u64>>) -> AttributeValue {
    AttributeValue::M(
        caps.iter()
            .map(|(r, cap)| (r.as_str().to_string(), cap.map_or(AttributeValue::Null(true), |c| AttributeValue::N(c.to_string()))))
            .collect(),
    )
}

fn headroom(cap: Option<u64>, usage: u64) -> i128 {
    i128::from(cap.unwrap_or(0)) - i128::from(usage)
}

fn headroom_value(caps: &BTreeMap<Resource, Option<u64>>, org: &Org) -> AttributeValue {
    AttributeValue::M(
        Resource::ALL
            .iter()
            .map(|r| (r.as_str().to_string(), AttributeValue::N(headroom(caps.get(r).copied().flatten(), org.usage_of(*r)).to_string())))
            .collect(),
    )
}

fn usage_value(org: &Org) -> AttributeValue {
    AttributeValue::M(org.usage.iter().map(|(r, n)| (r.as_str().to_string(), AttributeValue::N(n.to_string()))).collect())
}

/// The materialised caps of a new org, with headroom from its usage.
pub(super) fn new_item_attributes(org: &Org, rules: &Rules) -> Vec<(&'static str, AttributeValue)> {
    let schedule = CapSchedule::of(org, &rules.rules);
    vec![
        (CAPS, caps_value(&schedule.caps)),
        (CAPS_THEN, caps_value(&schedule.then)),
        (CAPS_UNTIL, AttributeValue::N(schedule.until.to_string())),
        (CAPS_RULES, AttributeValue::S(rules.fingerprint.clone())),
        (HEADROOM, headroom_value(&schedule.caps, org)),
        (HEADROOM_THEN, headroom_value(&schedule.then, org)),
    ]
}

/// Adds to `expr` the SETs that materialise `org`'s caps. Headroom comes from the usage stored
/// at the moment of the write, not the usage read; an item that never had materialised caps
/// gets whole maps from the usage read, on the condition that it is still the usage stored.
pub(super) fn materialise(expr: &mut Expr, org: &Org, rules: &Rules) {
    let schedule = CapSchedule::of(org, &rules.rules);
    for (name, value) in [
        (CAPS, caps_value(&schedule.caps)),
        (CAPS_THEN, caps_value(&schedule.then)),
        (CAPS_UNTIL, AttributeValue::N(schedule.until.to_string())),
        (CAPS_RULES, AttributeValue::S(rules.fingerprint.clone())),
    ] {
        let (path, value) = (expr.path(&[name]), expr.value(value));
        expr.set(format!("{path} = {value}"));
    }
    if org.caps_rules.is_some() {
        let zero = expr.num(0);
        for resource in Resource::ALL {
            let usage = expr.path(&[USAGE, resource.as_str()]);
            for (map, caps) in [(HEADROOM, &schedule.caps), (HEADROOM_THEN, &schedule.then)] {
                let path = expr.path(&[map, resource.as_str()]);
                let cap = expr.num(caps.get(&resource).copied().flatten().unwrap_or(0));
                expr.set(format!("{path} = {cap} - if_not_exists({usage}, {zero})"));
            }
        }
    } else {
        let usage = expr.path(&[USAGE]);
        let read = expr.value(usage_value(org));
        expr.set(format!("{usage} = {read}"));
        expr.condition(format!("attribute_not_exists({usage}) OR {usage} = {read}"));
        for (map, caps) in [(HEADROOM, &schedule.caps), (HEADROOM_THEN, &schedule.then)] {
            let (path, value) = (expr.path(&[map]), expr.value(headroom_value(caps, org)));
            expr.set(format!("{path} = {value}"));
        }
    }
}

/// The update that writes the whole org (every field but those usage counting owns) and its
/// materialised caps, if the stored version is still `expected`.
pub(super) fn whole_org_update(operation: &'static str, org: &Org, expected: u64, rules: &Rules) -> Result<Expr, StoreError> {
    let item: Item = to_item(org).map_err(|e| StoreError::Corrupt { operation, problem: format!("cannot encode item: {e}") })?;
    let mut expr = Expr::new();
    let mut names: Vec<&String> = item.keys().filter(|k| !NOT_WRITTEN_WHOLE.contains(&k.as_str())).collect();
    names.sort();
    for name in names {
        let (path, value) = (expr.path(&[name]), expr.value(item[name].clone()));
        expr.set(format!("{path} = {value}"));
    }
    // Fields serialized only when set (`Option`s, empty maps) are removed when they are not.
    for field in org_fields() {
        if !item.contains_key(*field) && !NOT_WRITTEN_WHOLE.contains(field) {
            let path = expr.path(&[field]);
            expr.remove(path);
        }
    }
    let gsi = expr.path(&[GSI1_PK]);
    match &org.stripe_customer_id {
        Some(customer) => {
            let value = expr.text(format!("CUS#{customer}"));
            expr.set(format!("{gsi} = {value}"));
        }
        None => expr.remove(gsi),
    }
    let (intent_pk, intent_sk) = (expr.path(&[GSI2_PK]), expr.path(&[GSI2_SK]));
    match &org.change_intent {
        Some(intent) => {
            let (pk, sk) = (expr.text(INTENTS_PK), expr.text(intent.index_key(&org.org_id)));
            expr.set(format!("{intent_pk} = {pk}"));
            expr.set(format!("{intent_sk} = {sk}"));
        }
        None => {
            expr.remove(intent_pk);
            expr.remove(intent_sk);
        }
    }
    let (version, expected) = (expr.path(&[VERSION]), expr.num(expected));
    expr.condition(format!("{version} = {expected}"));
    materialise(&mut expr, org, rules);
    Ok(expr)
}

/// The names of `Org`'s fields as stored, from its `Deserialize` impl, so a field added later
/// is cleared by a whole-org write like the others.
fn org_fields() -> &'static [&'static str] {
    static FIELDS: std::sync::OnceLock<&'static [&'static str]> = std::sync::OnceLock::new();
    FIELDS.get_or_init(|| {
        let mut fields: &'static [&'static str] = &[];
        let _ = <Org as serde::Deserialize>::deserialize(FieldNames(&mut fields));
        fields
    })
}

/// A deserializer that only records the field names a struct asks for.
struct FieldNames<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for FieldNames<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("field names only"))
    }

    fn deserialize_struct<V: Visitor<'de>>(self, _: &'static str, fields: &'static [&'static str], _: V) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("field names only"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit unit_struct
        newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

/// The stored headroom of `resource` now, as the item holds it (for checks in tests and tools).
pub fn stored_headroom(item: &HashMap<String, AttributeValue>, resource: Resource, now: i64) -> Option<i64> {
    let until: i64 = item.get(CAPS_UNTIL)?.as_n().ok()?.parse().ok()?;
    let map = if now < until { HEADROOM } else { HEADROOM_THEN };
    item.get(map)?.as_m().ok()?.get(resource.as_str())?.as_n().ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::Catalog;

    fn rules() -> Rules {
        Rules::new(CapRules { catalog: Catalog::built_in().unwrap(), grace_secs: 7 * 86_400 })
    }

    #[test]
    fn org_fields_are_read_from_serde() {
        let fields = org_fields();
        for field in ["org_id", "plan", "card", "pending_checkout", "usage", "cap_overrides", "caps_rules", "version"] {
            assert!(fields.contains(&field), "{field} in {fields:?}");
        }
    }

    #[test]
    fn whole_org_write_sets_fields_removes_unset_ones_and_leaves_usage_alone() {
        let mut org = Org::new("acme", "Acme", 0);
        org.caps_rules = Some("old".into());
        org.usage.insert(Resource::Agents, 1);
        let expr = whole_org_update("t", &org, 3, &rules()).unwrap();
        let names = expr.names().unwrap();
        let named = |placeholder: &str| names[placeholder].clone();
        let update = expr.update_expression().unwrap();
        let (set, remove) = update.split_once(" REMOVE ").unwrap();
        let removed: Vec<String> = remove.split(", ").map(named).collect();
        assert!(removed.contains(&"card".to_string()) && removed.contains(&GSI1_PK.to_string()), "{removed:?}");
        assert!(!removed.iter().any(|r| NOT_WRITTEN_WHOLE.contains(&r.as_str())), "{removed:?}");
        let set_names: Vec<String> = set
            .trim_start_matches("SET #")
            .split(", #")
            .map(|clause| {
                clause
                    .split(" = ")
                    .next()
                    .unwrap()
                    .split('.')
                    .map(|p| named(&format!("#{}", p.trim_start_matches('#'))))
                    .collect::<Vec<_>>()
                    .join(".")
            })
            .collect();
        assert!(set_names.contains(&"plan".to_string()) && set_names.contains(&"headroom.agents".to_string()));
        assert!(!set_names.contains(&"usage".to_string()) && !set_names.contains(&"usage_period_end".to_string()), "{set_names:?}");
        assert_eq!(set_names.iter().filter(|n| *n == "caps_rules").count(), 1);
        assert!(expr.condition_expression().unwrap().contains(" = "));
    }

    #[test]
    fn an_org_without_materialised_caps_gets_whole_maps_if_usage_is_unchanged() {
        let mut org = Org::new("acme", "Acme", 0);
        org.usage.insert(Resource::Agents, 3);
        let mut expr = Expr::new();
        materialise(&mut expr, &org, &rules());
        let values = expr.values().unwrap();
        // The caps map and the headroom map both have every resource: the headroom is the one with cap - usage.
        let maps: Vec<_> = values.values().filter_map(|v| v.as_m().ok().filter(|m| m.contains_key("workspaces") && m.len() == 7)).collect();
        assert!(maps.iter().any(|m| m["agents"] == AttributeValue::N("-2".into())), "free cap 1, 3 used: {maps:?}");
        assert!(expr.condition_expression().unwrap().contains("attribute_not_exists"));
    }
}

//! Builds DynamoDB update and condition expressions with every attribute name and value as a
//! placeholder (`usage`, among others, is a reserved word), so callers write paths, not
//! placeholder bookkeeping.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

#[derive(Debug, Default, Clone)]
pub struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
    set: Vec<String>,
    remove: Vec<String>,
    conditions: Vec<String>,
}

impl Expr {
    pub fn new() -> Self {
        Self::default()
    }

    /// The placeholder of a path of attribute names (`["headroom", "agents"]` -> `#n1.#n2`).
    pub fn path(&mut self, parts: &[&str]) -> String {
        parts
            .iter()
            .map(|part| {
                let next = format!("#n{}", self.names.len());
                self.names.entry((*part).to_string()).or_insert(next).clone()
            })
            .collect::<Vec<_>>()
            .join(".")
    }

    pub fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    pub fn num(&mut self, n: impl ToString) -> String {
        self.value(AttributeValue::N(n.to_string()))
    }

    pub fn text(&mut self, s: impl Into<String>) -> String {
        self.value(AttributeValue::S(s.into()))
    }

    /// `SET <clause>`, e.g. `format!("{path} = {path} - {n}")`.
    pub fn set(&mut self, clause: String) {
        self.set.push(clause);
    }

    pub fn remove(&mut self, path: String) {
        self.remove.push(path);
    }

    /// ANDed with every other condition.
    pub fn condition(&mut self, condition: String) {
        self.conditions.push(format!("({condition})"));
    }

    pub fn update_expression(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.set.is_empty() {
            parts.push(format!("SET {}", self.set.join(", ")));
        }
        if !self.remove.is_empty() {
            parts.push(format!("REMOVE {}", self.remove.join(", ")));
        }
        (!parts.is_empty()).then(|| parts.join(" "))
    }

    pub fn condition_expression(&self) -> Option<String> {
        (!self.conditions.is_empty()).then(|| self.conditions.join(" AND "))
    }

    /// The placeholder maps, `None` when empty (DynamoDB refuses empty maps).
    pub fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.iter().map(|(name, placeholder)| (placeholder.clone(), name.clone())).collect())
    }

    pub fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// Applies an `Expr` to any of the SDK's builders that take expressions (UpdateItem, Update,
/// ConditionCheck, Put...), so each call site is one line.
macro_rules! with_expr {
    ($builder:expr, $expr:expr, update) => {
        $builder
            .set_update_expression($expr.update_expression())
            .set_condition_expression($expr.condition_expression())
            .set_expression_attribute_names($expr.names())
            .set_expression_attribute_values($expr.values())
    };
    ($builder:expr, $expr:expr, condition) => {
        $builder
            .set_condition_expression($expr.condition_expression())
            .set_expression_attribute_names($expr.names())
            .set_expression_attribute_values($expr.values())
    };
}
pub(crate) use with_expr;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_shared_and_values_numbered() {
        let mut e = Expr::new();
        let usage = e.path(&["usage", "agents"]);
        let headroom = e.path(&["headroom", "agents"]);
        let n = e.num(2);
        e.set(format!("{usage} = {usage} + {n}"));
        e.set(format!("{headroom} = {headroom} - {n}"));
        let junk = e.path(&["junk"]);
        e.remove(junk);
        e.condition(format!("{headroom} >= {n}"));
        assert_eq!(e.update_expression().unwrap(), "SET #n0.#n1 = #n0.#n1 + :v0, #n2.#n1 = #n2.#n1 - :v0 REMOVE #n3");
        assert_eq!(e.condition_expression().unwrap(), "(#n2.#n1 >= :v0)");
        assert_eq!(e.names().unwrap()["#n1"], "agents");
        assert!(Expr::new().names().is_none() && Expr::new().update_expression().is_none());
    }
}

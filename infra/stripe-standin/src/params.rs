//! Typed access to parsed request parameters with Stripe's validation errors. A `Params` knows
//! its own bracketed name (`line_items[0]`), so every error names the exact parameter the way
//! Stripe does (`line_items[0][price]`).

use serde_json::{Map, Value};

use crate::error::StripeApiError;
use crate::objects;

/// Stripe's metadata limits: 50 keys, keys up to 40 characters, values up to 500.
const METADATA_MAX_KEYS: usize = 50;
const METADATA_MAX_KEY_LEN: usize = 40;
const METADATA_MAX_VALUE_LEN: usize = 500;

pub(crate) struct Params<'a> {
    map: &'a Map<String, Value>,
    /// This level's own name; empty at the top level.
    prefix: String,
}

/// A metadata parameter as Stripe applies it: an empty value unsets that key, and an empty
/// string for the whole parameter (`metadata=`) clears every key.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct MetadataUpdate {
    clear: bool,
    entries: Vec<(String, String)>,
}

impl MetadataUpdate {
    pub(crate) fn apply(&self, target: &mut Map<String, Value>) {
        if self.clear {
            target.clear();
        }
        for (key, value) in &self.entries {
            if value.is_empty() {
                target.remove(key);
            } else {
                target.insert(key.clone(), Value::String(value.clone()));
            }
        }
    }

    /// The metadata a new object starts with.
    pub(crate) fn into_map(self) -> Map<String, Value> {
        let mut map = Map::new();
        self.apply(&mut map);
        map
    }
}

impl<'a> Params<'a> {
    pub(crate) fn root(value: &'a Value) -> Result<Self, StripeApiError> {
        match value {
            Value::Object(map) => Ok(Self { map, prefix: String::new() }),
            _ => Err(StripeApiError::bad_request("Invalid request parameters.")),
        }
    }

    /// This level's own name (`line_items[0]`); empty at the top level.
    pub(crate) fn own_name(&self) -> &str {
        &self.prefix
    }

    /// The full bracketed name of one of this level's keys.
    pub(crate) fn name(&self, key: &str) -> String {
        if self.prefix.is_empty() { key.to_string() } else { format!("{}[{key}]", self.prefix) }
    }

    /// Refuses any key not in `known`, as Stripe does. Endpoints list every parameter Stripe
    /// accepts, including ones the stand-in accepts but does not model, so a typo fails here
    /// exactly as it would against Stripe while a legitimate parameter still works.
    pub(crate) fn allow_only(&self, known: &[&str]) -> Result<(), StripeApiError> {
        match self.map.keys().find(|key| !known.contains(&key.as_str())) {
            Some(key) => Err(StripeApiError::unknown_param(&self.name(key))),
            None => Ok(()),
        }
    }

    pub(crate) fn str(&self, key: &str) -> Result<Option<&'a str>, StripeApiError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(StripeApiError::invalid(self.name(key), format!("Invalid string: {}", self.name(key)))),
        }
    }

    /// A present, non-empty string (Stripe treats `param=` as not given for required ones).
    pub(crate) fn required_str(&self, key: &str) -> Result<&'a str, StripeApiError> {
        match self.str(key)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(StripeApiError::missing(&self.name(key))),
        }
    }

    pub(crate) fn u64(&self, key: &str) -> Result<Option<u64>, StripeApiError> {
        match self.str(key)? {
            None => Ok(None),
            Some(raw) => raw.parse().map(Some).map_err(|_| StripeApiError::invalid_integer(&self.name(key), raw)),
        }
    }

    pub(crate) fn bool(&self, key: &str) -> Result<Option<bool>, StripeApiError> {
        match self.str(key)? {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(raw) => Err(StripeApiError::invalid(self.name(key), format!("Invalid boolean: {raw}"))),
        }
    }

    /// One of `allowed`, or an error listing them like Stripe's enum errors.
    pub(crate) fn one_of(&self, key: &str, allowed: &[&'static str]) -> Result<Option<&'static str>, StripeApiError> {
        match self.str(key)? {
            None => Ok(None),
            Some(raw) => allowed
                .iter()
                .find(|a| **a == raw)
                .copied()
                .map(Some)
                .ok_or_else(|| StripeApiError::invalid(self.name(key), format!("Invalid {key}: must be one of {}", allowed.join(", ")))),
        }
    }

    pub(crate) fn object(&self, key: &str) -> Result<Option<Params<'a>>, StripeApiError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Params { map, prefix: self.name(key) })),
            Some(_) => Err(StripeApiError::invalid(self.name(key), format!("Invalid hash: {}", self.name(key)))),
        }
    }

    /// A list of hashes (`items[0][price]=...`). Each element knows its indexed name.
    pub(crate) fn list(&self, key: &str) -> Result<Vec<Params<'a>>, StripeApiError> {
        let Some(value) = self.map.get(key) else {
            return Ok(Vec::new());
        };
        let items = elements(value).ok_or_else(|| StripeApiError::invalid(self.name(key), format!("Invalid array: {}", self.name(key))))?;
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                let prefix = format!("{}[{i}]", self.name(key));
                match item {
                    Value::Object(map) => Ok(Params { map, prefix }),
                    _ => Err(StripeApiError::invalid(prefix, "Invalid hash")),
                }
            })
            .collect()
    }

    /// A list of strings, given as `expand[0]=a` or `expand[]=a`.
    pub(crate) fn strings(&self, key: &str) -> Result<Vec<String>, StripeApiError> {
        let Some(value) = self.map.get(key) else {
            return Ok(Vec::new());
        };
        elements(value)
            .and_then(|items| items.into_iter().map(|item| item.as_str().map(str::to_string)).collect::<Option<Vec<_>>>())
            .ok_or_else(|| StripeApiError::invalid(self.name(key), format!("Invalid array: {}", self.name(key))))
    }

    pub(crate) fn metadata(&self, key: &str) -> Result<MetadataUpdate, StripeApiError> {
        let name = self.name(key);
        let map = match self.map.get(key) {
            None => return Ok(MetadataUpdate::default()),
            Some(Value::String(s)) if s.is_empty() => {
                return Ok(MetadataUpdate { clear: true, entries: Vec::new() });
            }
            Some(Value::Object(map)) => map,
            Some(_) => return Err(StripeApiError::invalid(&name, "Invalid hash")),
        };
        if map.len() > METADATA_MAX_KEYS {
            return Err(StripeApiError::invalid(&name, format!("Metadata can have up to {METADATA_MAX_KEYS} keys.")));
        }
        let mut entries = Vec::with_capacity(map.len());
        for (k, v) in map {
            let Value::String(v) = v else {
                return Err(StripeApiError::invalid(format!("{name}[{k}]"), "Metadata values must be strings."));
            };
            if k.chars().count() > METADATA_MAX_KEY_LEN {
                return Err(StripeApiError::invalid(
                    &name,
                    format!(
                        "Metadata keys can have up to {METADATA_MAX_KEY_LEN} characters, but you passed in a key that is {} characters.",
                        k.chars().count()
                    ),
                ));
            }
            if v.chars().count() > METADATA_MAX_VALUE_LEN {
                return Err(StripeApiError::invalid(
                    format!("{name}[{k}]"),
                    format!(
                        "Metadata values can have up to {METADATA_MAX_VALUE_LEN} characters, but you passed in a value that is {} characters.",
                        v.chars().count()
                    ),
                ));
            }
            entries.push((k.clone(), v.clone()));
        }
        Ok(MetadataUpdate { clear: false, entries })
    }
}

/// The elements of a list parameter: a `[]` list, or a hash indexed `0..n` (`a[0]`, `a[1]`),
/// which Stripe reads as a list too.
fn elements(value: &Value) -> Option<Vec<&Value>> {
    match value {
        Value::Array(items) => Some(items.iter().collect()),
        Value::Object(map) => (0..map.len()).map(|i| map.get(&i.to_string())).collect(),
        _ => None,
    }
}

/// `automatic_tax[enabled]`.
pub(crate) fn automatic_tax(p: &Params) -> Result<Option<bool>, StripeApiError> {
    match p.object("automatic_tax")? {
        Some(tax) => {
            tax.allow_only(&["enabled"])?;
            tax.bool("enabled")?.ok_or_else(|| StripeApiError::missing(&tax.name("enabled"))).map(Some)
        }
        None => Ok(None),
    }
}

/// Stripe's cursor pagination over `items` (already newest first): `limit` (1-100, default
/// 10) items after `starting_after` or before `ending_before`.
pub(crate) fn paginate(items: Vec<Value>, p: &Params, resource: &str, url: &str) -> Result<Value, StripeApiError> {
    let limit = limit(p)?;
    let position = |param: &str, id: &str| {
        items.iter().position(|item| item["id"] == id).ok_or_else(|| StripeApiError::no_such(400, resource, id, param))
    };
    let (start, end, has_more) = match (text(p, "starting_after")?, text(p, "ending_before")?) {
        (Some(_), Some(_)) => {
            return Err(StripeApiError::invalid(
                "ending_before",
                "You may only specify one of these parameters: ending_before, starting_after.",
            ));
        }
        (Some(after), None) => {
            let start = position("starting_after", &after)? + 1;
            let end = (start + limit).min(items.len());
            (start, end, end < items.len())
        }
        (None, Some(before)) => {
            let end = position("ending_before", &before)?;
            let start = end.saturating_sub(limit);
            (start, end, start > 0)
        }
        (None, None) => (0, limit.min(items.len()), limit < items.len()),
    };
    Ok(objects::list(items[start..end].to_vec(), has_more, url))
}

/// A list or search page's `limit`: 1 to 100, default 10.
pub(crate) fn limit(p: &Params) -> Result<usize, StripeApiError> {
    match p.u64("limit")?.unwrap_or(10) {
        0 => Err(StripeApiError::invalid("limit", "This value must be greater than or equal to 1.")),
        101.. => Err(StripeApiError::invalid("limit", "This value must be less than or equal to 100.")),
        limit => Ok(limit as usize),
    }
}

/// An optional string where an empty value means "not given".
pub(crate) fn text(p: &Params, key: &str) -> Result<Option<String>, StripeApiError> {
    Ok(p.str(key)?.filter(|s| !s.is_empty()).map(str::to_string))
}

/// An absolute http(s) URL. Redirects put it in a `Location` header, so control characters
/// (which URL parsing would silently strip) are refused too.
pub(crate) fn url(p: &Params, key: &str) -> Result<Option<String>, StripeApiError> {
    let Some(raw) = text(p, key)? else {
        return Ok(None);
    };
    let parsed = url::Url::parse(&raw);
    let valid = parsed.is_ok_and(|u| matches!(u.scheme(), "http" | "https")) && !raw.chars().any(char::is_control);
    if valid { Ok(Some(raw)) } else { Err(StripeApiError::invalid(p.name(key), "Not a valid URL")) }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn indexed_hashes_and_lists_are_both_lists() {
        let value = json!({"line_items": {"1": {"price": "b"}, "0": {"price": "a"}}, "expand": ["x", "y"], "gappy": {"0": "a", "2": "b"}});
        let p = Params::root(&value).unwrap();
        let items = p.list("line_items").unwrap();
        assert_eq!(items[1].required_str("price").unwrap(), "b");
        assert_eq!(items[1].name("price"), "line_items[1][price]");
        assert_eq!(p.strings("expand").unwrap(), ["x", "y"]);
        assert_eq!(p.strings("gappy").unwrap_err().status, 400);
    }

    #[test]
    fn typed_values_fail_with_the_parameter_name() {
        let value = json!({"limit": "ten", "flag": "yes", "mode": "nope", "name": ""});
        let p = Params::root(&value).unwrap();
        assert_eq!(p.u64("limit").unwrap_err().body()["error"]["param"], "limit");
        assert!(p.bool("flag").is_err());
        assert!(p.one_of("mode", &["payment"]).is_err());
        assert_eq!(p.required_str("name").unwrap_err().body()["error"]["code"], "parameter_missing");
        assert_eq!(p.allow_only(&["limit", "flag", "mode"]).unwrap_err().body()["error"]["param"], "name");
    }

    #[test]
    fn metadata_sets_unsets_and_clears() {
        let mut current = serde_json::Map::new();
        current.insert("keep".into(), json!("1"));
        current.insert("drop".into(), json!("2"));
        let value = json!({"metadata": {"drop": "", "new": "3"}});
        Params::root(&value).unwrap().metadata("metadata").unwrap().apply(&mut current);
        assert_eq!(Value::Object(current.clone()), json!({"keep": "1", "new": "3"}));
        let value = json!({"metadata": ""});
        Params::root(&value).unwrap().metadata("metadata").unwrap().apply(&mut current);
        assert!(current.is_empty());
        let long = json!({"metadata": {"k": "x".repeat(501)}});
        assert!(Params::root(&long).unwrap().metadata("metadata").is_err());
    }
}

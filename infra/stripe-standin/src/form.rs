//! Stripe's form encoding: `application/x-www-form-urlencoded` pairs whose names use bracket
//! notation for nesting (`metadata[org_id]=acme`, `line_items[0][price]=price_x`,
//! `expand[]=customer`). Parsed into nested JSON the way Stripe's (Rack-style) parser reads
//! them: `a[b]` and `a[0]` are keys of a hash, `a[]` appends to a list. Every leaf stays a
//! string, as on the wire; handlers coerce types (an indexed hash is a list where a list is
//! expected) and report Stripe-style errors with the parameter's name. The request log shows
//! this same shape, so `params["line_items"]["0"]["price"]` reads as the wire did.

use serde_json::{Map, Value};

/// Deeper nesting than any Stripe parameter needs is refused, so a hostile name cannot make
/// the parser build arbitrarily deep trees.
const MAX_DEPTH: usize = 8;

/// Why a form could not be parsed; the message is shown to the client in a 400.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct FormError(pub(crate) String);

/// Parses a query string or form body. Pairs are applied in order; a repeated scalar keeps
/// its last value, like Stripe.
pub(crate) fn parse(input: &str) -> Result<Value, FormError> {
    let mut root = Map::new();
    for (name, value) in url::form_urlencoded::parse(input.as_bytes()) {
        let path = split_name(&name)?;
        insert(&mut root, &name, &path, value.into_owned())?;
    }
    Ok(Value::Object(root))
}

/// `a[b][0]` -> `["a", "b", "0"]`; `a[]` -> `["a", ""]` (append).
fn split_name(name: &str) -> Result<Vec<&str>, FormError> {
    let invalid = || FormError(format!("Invalid parameter name: {name}"));
    let (head, mut rest) = match name.find('[') {
        Some(i) => name.split_at(i),
        None => (name, ""),
    };
    if head.is_empty() {
        return Err(invalid());
    }
    let mut path = vec![head];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[').ok_or_else(invalid)?;
        let end = inner.find(']').ok_or_else(invalid)?;
        let segment = &inner[..end];
        if segment.contains('[') {
            return Err(invalid());
        }
        path.push(segment);
        rest = &inner[end + 1..];
    }
    if path.len() > MAX_DEPTH {
        return Err(FormError(format!("Parameter nesting too deep: {name}")));
    }
    // An empty segment appends to a list of scalars (`expand[]=a`); anywhere but last its
    // meaning is ambiguous, and no Stripe client sends it.
    if path[..path.len() - 1].iter().skip(1).any(|s| s.is_empty()) {
        return Err(invalid());
    }
    Ok(path)
}

fn insert(root: &mut Map<String, Value>, name: &str, path: &[&str], value: String) -> Result<(), FormError> {
    let conflict = || FormError(format!("Invalid value for {name}: it mixes a value, a hash and a list"));
    // `a[b][]=x` appends to the list `b` inside `a`; anything else sets a leaf. `split_name`
    // only lets an empty segment through in last position.
    let (parents, key, append) = match path {
        [parents @ .., key, ""] => (parents, *key, true),
        [parents @ .., key] => (parents, *key, false),
        [] => return Ok(()),
    };
    let mut node = root;
    for segment in parents {
        let child = node.entry(segment.to_string()).or_insert_with(|| Value::Object(Map::new()));
        node = child.as_object_mut().ok_or_else(conflict)?;
    }
    if append {
        let list = node.entry(key.to_string()).or_insert_with(|| Value::Array(Vec::new()));
        list.as_array_mut().ok_or_else(conflict)?.push(Value::String(value));
    } else if node.get(key).is_some_and(|existing| !existing.is_string()) {
        return Err(conflict());
    } else {
        node.insert(key.to_string(), Value::String(value));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn flat_and_nested_pairs() {
        let parsed = parse("name=Acme&email=a%40b.co&metadata[org_id]=acme&metadata[plan]=pro").unwrap();
        assert_eq!(parsed, json!({"name": "Acme", "email": "a@b.co", "metadata": {"org_id": "acme", "plan": "pro"}}));
    }

    #[test]
    fn indexes_are_hash_keys() {
        let parsed = parse("line_items[0][price]=p1&line_items[0][quantity]=2&line_items[1][price]=p2").unwrap();
        assert_eq!(parsed, json!({"line_items": {"0": {"price": "p1", "quantity": "2"}, "1": {"price": "p2"}}}));
    }

    #[test]
    fn percent_encoded_brackets_and_append_syntax() {
        // serde_qs (async-stripe's encoder) percent-encodes the brackets.
        let parsed = parse("expand%5B0%5D=subscription&expand%5B1%5D=customer").unwrap();
        assert_eq!(parsed, json!({"expand": {"0": "subscription", "1": "customer"}}));
        let parsed = parse("expand[]=a&expand[]=b&data[tags][]=x").unwrap();
        assert_eq!(parsed, json!({"expand": ["a", "b"], "data": {"tags": ["x"]}}));
        assert_eq!(parse("name=Jane+Doe").unwrap(), json!({"name": "Jane Doe"}));
    }

    #[test]
    fn repeated_scalar_keeps_last_and_empty_value_is_kept() {
        assert_eq!(parse("a=1&a=2&metadata[x]=").unwrap(), json!({"a": "2", "metadata": {"x": ""}}));
        assert_eq!(parse("").unwrap(), json!({}));
    }

    #[test]
    fn malformed_names_are_errors() {
        for bad in ["a[b=1", "[a]=1", "a[b]c=1", "a[[b]]=1", "a[][b]=1"] {
            assert!(parse(bad).is_err(), "{bad} should be rejected");
        }
        assert!(parse("a[b][c][d][e][f][g][h][i]=1").is_err());
    }

    #[test]
    fn scalar_hash_and_list_conflicts_are_errors() {
        assert!(parse("a=1&a[b]=2").is_err());
        assert!(parse("a[b]=2&a=1").is_err());
        assert!(parse("a=1&a[]=2").is_err());
        assert!(parse("a[]=1&a[b]=2").is_err());
    }
}

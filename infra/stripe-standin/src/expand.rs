//! `expand[]`: replace an id in a response with the object it names, along a dotted path
//! (`latest_invoice`, `default_payment_method`, `discounts` for a list of ids, `data.customer`
//! for lists, `subscription.latest_invoice` for nested expansion).

use serde_json::Value;

use crate::error::StripeApiError;

/// Stripe refuses expansions deeper than four levels.
const MAX_DEPTH: usize = 4;

pub(crate) fn expand(object: &mut Value, paths: &[String], find: &dyn Fn(&str) -> Option<Value>) -> Result<(), StripeApiError> {
    for path in paths {
        let segments: Vec<&str> = path.split('.').collect();
        if segments.len() > MAX_DEPTH {
            return Err(StripeApiError::invalid(
                "expand",
                format!("You cannot expand more than {MAX_DEPTH} levels of a property ({path})."),
            ));
        }
        if !expand_path(object, &segments, find) {
            return Err(StripeApiError::invalid("expand", format!("This property cannot be expanded ({path}).")));
        }
    }
    Ok(())
}

/// Follows `segments` from `value`; false when a segment names no field. Ids the stand-in
/// does not hold (e.g. the portal configuration) stay ids; null stays null, as in Stripe.
fn expand_path(value: &mut Value, segments: &[&str], find: &dyn Fn(&str) -> Option<Value>) -> bool {
    let Some((first, rest)) = segments.split_first() else {
        return true;
    };
    let Some(field) = value.as_object_mut().and_then(|map| map.get_mut(*first)) else {
        return false;
    };
    // A field holds an id, or a list of ids (a subscription's `discounts`).
    let ids: Vec<&mut Value> = match &mut *field {
        Value::Array(items) => items.iter_mut().collect(),
        single => vec![single],
    };
    for slot in ids {
        if let Value::String(id) = slot
            && let Some(found) = find(id)
        {
            *slot = found;
        }
    }
    if rest.is_empty() {
        return true;
    }
    match field {
        Value::Array(items) => items.iter_mut().all(|item| expand_path(item, rest, find)),
        Value::Object(_) => expand_path(field, rest, find),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn find(id: &str) -> Option<Value> {
        match id {
            "cus_1" => Some(json!({"id": "cus_1", "object": "customer"})),
            "in_1" => Some(json!({"id": "in_1", "object": "invoice", "customer": "cus_1"})),
            _ => None,
        }
    }

    #[test]
    fn expands_fields_lists_and_nested_paths() {
        let mut list = json!({"object": "list", "data": [{"customer": "cus_1"}, {"customer": "cus_2"}]});
        expand(&mut list, &["data.customer".into()], &find).unwrap();
        assert_eq!(list["data"][0]["customer"]["object"], "customer");
        assert_eq!(list["data"][1]["customer"], "cus_2");

        let mut ids = json!({"customers": ["cus_1", "cus_2"]});
        expand(&mut ids, &["customers".into()], &find).unwrap();
        assert_eq!((ids["customers"][0]["object"].as_str(), ids["customers"][1].as_str()), (Some("customer"), Some("cus_2")));

        let mut subscription = json!({"latest_invoice": "in_1", "schedule": null});
        expand(&mut subscription, &["latest_invoice.customer".into(), "schedule".into()], &find).unwrap();
        assert_eq!(subscription["latest_invoice"]["customer"]["id"], "cus_1");
        assert_eq!(subscription["schedule"], Value::Null);
    }

    #[test]
    fn unknown_or_too_deep_paths_are_refused() {
        let mut object = json!({"customer": "cus_1"});
        assert!(expand(&mut object, &["nope".into()], &find).is_err());
        assert!(expand(&mut object, &["a.b.c.d.e".into()], &find).is_err());
    }
}

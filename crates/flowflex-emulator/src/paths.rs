//! Payload paths as a flow names them (`invoice`, `gallery[0]`,
//! `order.receipt`; `{{trigger.<path>}}` in a flow), and the asset ids that
//! stand at them. The control API's `assets` map and the inspector's flow
//! names both come from here.

use std::collections::BTreeMap;

use serde_json::Value;

/// Whether a string is an asset reference: `^asset_[A-Za-z0-9]+$`, as the
/// events endpoint checks every string of a payload.
pub(crate) fn is_asset_id(s: &str) -> bool {
    s.strip_prefix("asset_")
        .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// `path` with an object key appended.
pub(crate) fn with_key(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// `path` with an array index appended.
pub(crate) fn with_index(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// `{{trigger.<path>}}`, the name a flow uses for the value at `path`.
pub(crate) fn flow_name(path: &str) -> String {
    if path.starts_with('[') || path.is_empty() {
        format!("{{{{trigger{path}}}}}")
    } else {
        format!("{{{{trigger.{path}}}}}")
    }
}

/// Each path of `payload` that holds an asset id, with the id. An accepted
/// event names only uploaded assets, so every such string is one.
pub(crate) fn asset_paths(payload: &Value) -> BTreeMap<String, String> {
    fn walk(value: &Value, path: &str, out: &mut BTreeMap<String, String>) {
        match value {
            Value::String(s) if is_asset_id(s) => {
                out.insert(path.to_owned(), s.clone());
            }
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    walk(item, &with_index(path, index), out);
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    walk(item, &with_key(path, key), out);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    walk(payload, "", &mut out);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn asset_ids_are_recognised_exactly() {
        assert!(is_asset_id("asset_abcDEF123"));
        assert!(!is_asset_id("asset_"));
        assert!(!is_asset_id("asset_abc-def"));
        assert!(!is_asset_id("asset_abc def"));
        assert!(!is_asset_id("Asset_abc"));
        assert!(!is_asset_id(" asset_abc"));
    }

    #[test]
    fn paths_read_as_a_flow_names_them() {
        let payload = json!({
            "invoice": "asset_a",
            "gallery": ["asset_b", "asset_c"],
            "order": {"receipt": "asset_d", "lines": [{"scan": "asset_e"}]},
            "note": "asset_ but not an id",
            "n": 1,
        });
        let paths = asset_paths(&payload);
        let listed: Vec<(&str, &str)> = paths
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            listed,
            [
                ("gallery[0]", "asset_b"),
                ("gallery[1]", "asset_c"),
                ("invoice", "asset_a"),
                ("order.lines[0].scan", "asset_e"),
                ("order.receipt", "asset_d"),
            ]
        );
        assert_eq!(flow_name("gallery[0]"), "{{trigger.gallery[0]}}");
        assert_eq!(flow_name("order.receipt"), "{{trigger.order.receipt}}");
        assert_eq!(flow_name(""), "{{trigger}}");
        assert_eq!(flow_name("[2]"), "{{trigger[2]}}");
    }
}

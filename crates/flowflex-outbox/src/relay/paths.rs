//! A payload path as a flow names it (`invoice`, `gallery[0]`,
//! `order.receipt`, `a.b[2][1].c`), set in a JSON value: where the relay
//! puts each asset id of an event enqueued through SQL
//! (`flowflex_outbox_enqueue`), whose files arrive with their paths.

use serde_json::Value;

/// One step of a path.
#[derive(Debug, PartialEq, Eq)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn parse(path: &str) -> Result<Vec<Step<'_>>, String> {
    let mut steps = Vec::new();
    for part in path.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if name.is_empty() {
            return Err(format!("the path `{path}` has an empty name"));
        }
        steps.push(Step::Key(name));
        while !rest.is_empty() {
            let close = rest
                .find(']')
                .filter(|_| rest.starts_with('['))
                .ok_or_else(|| format!("the path `{path}` has an unclosed or stray bracket"))?;
            let index = rest[1..close]
                .parse()
                .map_err(|_| format!("the path `{path}` has a bad index `{}`", &rest[1..close]))?;
            steps.push(Step::Index(index));
            rest = &rest[close + 1..];
        }
    }
    Ok(steps)
}

/// Puts `to` at `path` in `root`: a missing key is created (as an object
/// when more steps follow); an index must exist.
pub(super) fn set(root: &mut Value, path: &str, to: Value) -> Result<(), String> {
    let steps = parse(path)?;
    let mut here = root;
    for (i, step) in steps.iter().enumerate() {
        let last = i + 1 == steps.len();
        here = match step {
            Step::Key(key) => {
                let Value::Object(map) = here else {
                    return Err(format!("`{path}`: `{key}` is not in an object"));
                };
                let next = map.entry((*key).to_owned()).or_insert_with(|| {
                    if last {
                        Value::Null
                    } else {
                        Value::Object(serde_json::Map::new())
                    }
                });
                if last {
                    *next = to;
                    return Ok(());
                }
                next
            }
            Step::Index(index) => {
                let Value::Array(items) = here else {
                    return Err(format!("`{path}`: [{index}] is not in an array"));
                };
                let len = items.len();
                let next = items.get_mut(*index).ok_or_else(|| {
                    format!("`{path}`: [{index}] is past the array's end ({len})")
                })?;
                if last {
                    *next = to;
                    return Ok(());
                }
                next
            }
        };
    }
    Err(format!("the path `{path}` is empty"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::set;

    #[test]
    fn flow_names_reach_keys_indexes_and_nested_objects() {
        let mut v = json!({"invoice": null, "gallery": ["a", "b"], "order": {"id": 1}});
        set(&mut v, "invoice", json!("asset_1")).unwrap();
        set(&mut v, "gallery[1]", json!("asset_2")).unwrap();
        set(&mut v, "order.receipt", json!("asset_3")).unwrap();
        set(&mut v, "new.deep.file", json!("asset_4")).unwrap();
        assert_eq!(
            v,
            json!({
                "invoice": "asset_1",
                "gallery": ["a", "asset_2"],
                "order": {"id": 1, "receipt": "asset_3"},
                "new": {"deep": {"file": "asset_4"}},
            })
        );
        let mut nested = json!({"m": [[0, 1], [2, 3]]});
        set(&mut nested, "m[1][0]", json!("x")).unwrap();
        assert_eq!(nested, json!({"m": [[0, 1], ["x", 3]]}));
    }

    #[test]
    fn what_cannot_be_reached_is_an_error_that_names_the_path() {
        let mut v = json!({"gallery": ["a"], "n": 3});
        for (path, says) in [
            ("gallery[1]", "past the array's end"),
            ("n.x", "not in an object"),
            ("n[0]", "not in an array"),
            ("gallery[x]", "bad index"),
            ("gallery[0", "bracket"),
            ("a..b", "empty name"),
            ("", "empty name"),
        ] {
            let err = set(&mut v, path, json!(1)).unwrap_err();
            assert!(err.contains(says), "{path}: {err}");
        }
        assert_eq!(v, json!({"gallery": ["a"], "n": 3}), "nothing changed");
    }
}

//! The JSON Schemas in schemas/ and the Rust code must agree on the envelope.

use caseledger::ledger::event::{InputEvent, EVENT_TYPES};
use serde_json::Value;

fn schema(name: &str) -> Value {
    let path = format!("{}/schemas/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[test]
fn input_schema_matches_the_parser() {
    let s = schema("input-event.schema.json");
    assert_eq!(s["additionalProperties"], false);
    let enum_types: Vec<&str> =
        s["properties"]["type"]["enum"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(enum_types, EVENT_TYPES);
    // Every member the schema allows is accepted, and a member it does not name is
    // refused by the parser.
    let mut full = serde_json::json!({
        "id": "0192f3a4-5b6c-7d8e-9f01-23456789abcd", "type": "plan_set", "occurred_on": "2021-03-01",
        "recorded_at": "2021-03-01T10:00:00Z", "actor": "к-1", "data": {}
    });
    assert_eq!(keys(&full), keys(&s["properties"]));
    assert!(InputEvent::parse(full.to_string().as_bytes()).is_ok());
    full["extra"] = Value::from(1);
    assert!(InputEvent::parse(full.to_string().as_bytes()).is_err());
    // Exactly the required members may not be left out.
    let required: Vec<&str> = s["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for member in ["id", "type", "occurred_on", "recorded_at", "actor", "data"] {
        let mut v = serde_json::json!({"type": "plan_set", "occurred_on": "2021-03-01", "actor": "к-1", "data": {}, "id": "0192f3a4-5b6c-7d8e-9f01-23456789abcd"});
        v.as_object_mut().unwrap().remove(member);
        assert_eq!(InputEvent::parse(v.to_string().as_bytes()).is_ok(), !required.contains(&member), "{member}");
    }
    for (name, prop) in s["properties"].as_object().unwrap() {
        assert!(prop["description"].as_str().is_some_and(|d| !d.is_empty()), "{name} needs a Russian description");
    }
}

#[test]
fn stored_schema_names_exactly_the_exported_members() {
    let s = schema("stored-event.schema.json");
    let vector =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vectors/chain-2.jsonl")).unwrap();
    let first: Value = serde_json::from_str(vector.lines().next().unwrap()).unwrap();
    assert_eq!(keys(&s["properties"]), keys(&first));
    let mut required: Vec<String> =
        s["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    required.sort();
    assert_eq!(required, keys(&first));
}

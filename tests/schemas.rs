//! The JSON Schemas in schemas/ and the Rust code must agree on the envelope.

use caseledger::ledger::event::InputEvent;
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
    // Every type but report_published, which only publishing a report writes.
    assert_eq!(enum_types, caseledger::ledger::event::input_types().collect::<Vec<_>>());
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
    let vector = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/chain-2.jsonl")).unwrap();
    let first: Value = serde_json::from_str(vector.lines().next().unwrap()).unwrap();
    assert_eq!(keys(&s["properties"]), keys(&first));
    let mut required: Vec<String> =
        s["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    required.sort();
    assert_eq!(required, keys(&first));
}

mod data {
    //! Each type's `data` schema against the Rust payload types: the schema's example
    //! parses; exactly its required members are required; unknown members are refused;
    //! its enums are the types' vocabularies; its `anyOf` groups are enforced.

    use caseledger::domain::payload::{AidKind, Channel, Level, Outcome, Resolution, ServiceKind, Stage};
    use caseledger::domain::Payload;
    use caseledger::ledger::event::EVENT_TYPES;
    use serde_json::{Map, Value};

    fn schema(kind: &str) -> Value {
        super::schema(&format!("data/{kind}.schema.json"))
    }

    fn parses(kind: &str, v: &Value) -> bool {
        Payload::parse(kind, v.as_object().unwrap()).is_ok()
    }

    fn names(all: &[(&str, impl Copy)]) -> Vec<String> {
        all.iter().map(|(n, _)| n.to_string()).collect()
    }

    fn strings(v: &Value) -> Vec<String> {
        v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
    }

    #[test]
    fn every_type_has_a_schema_whose_example_parses() {
        for kind in EVENT_TYPES {
            let s = schema(kind);
            assert_eq!(s["additionalProperties"], false, "{kind}");
            assert!(s["description"].as_str().is_some_and(|d| !d.is_empty()), "{kind}");
            let example = &s["examples"][0];
            assert!(parses(kind, example), "{kind}: example {example} must parse");
            let props = s["properties"].as_object().unwrap();
            let mut example_keys: Vec<&String> = example.as_object().unwrap().keys().collect();
            let mut schema_keys: Vec<&String> = props.keys().collect();
            example_keys.sort();
            schema_keys.sort();
            assert_eq!(example_keys, schema_keys, "{kind}: the example uses every member");
            for (name, prop) in props {
                assert!(
                    prop["description"].as_str().is_some_and(|d| !d.is_empty()),
                    "{kind}.{name} needs a description"
                );
            }
        }
    }

    #[test]
    fn required_members_match() {
        for kind in EVENT_TYPES {
            let s = schema(kind);
            let required = strings(&s["required"]);
            for name in s["properties"].as_object().unwrap().keys() {
                let mut v = s["examples"][0].clone();
                v.as_object_mut().unwrap().remove(name);
                assert_eq!(parses(kind, &v), !required.contains(name), "{kind}: without {name}");
            }
            let mut v = s["examples"][0].clone();
            v["unknown_member"] = Value::from(1);
            assert!(!parses(kind, &v), "{kind}: unknown members are refused");
        }
    }

    #[test]
    fn any_of_groups_are_enforced() {
        for kind in EVENT_TYPES {
            let s = schema(kind);
            let Some(groups) = s["anyOf"].as_array() else { continue };
            let mut v = s["examples"][0].clone();
            for g in groups {
                for name in strings(&g["required"]) {
                    v.as_object_mut().unwrap().remove(&name);
                }
            }
            assert!(!parses(kind, &v), "{kind}: none of {groups:?}");
        }
        // signal_resolved: case_opened needs a case.
        let v = serde_json::json!({"signal": "С-1", "resolution": "case_opened"});
        assert!(!parses("signal_resolved", &v));
    }

    #[test]
    fn enums_are_the_vocabularies() {
        let pairs: [(&str, &str, Vec<String>); 7] = [
            ("signal_received", "channel", names(Channel::ALL)),
            ("signal_resolved", "resolution", names(Resolution::ALL)),
            ("efo_scored", "stage", names(Stage::ALL)),
            ("aid_issued", "kind", names(AidKind::ALL)),
            ("service_provided", "kind", names(ServiceKind::ALL)),
            ("case_closed", "outcome", names(Outcome::ALL)),
            ("efo_scored", "children", names(Level::ALL)),
        ];
        for (kind, member, vocabulary) in pairs {
            let s = schema(kind);
            let prop = &s["properties"][member];
            let listed = if member == "children" {
                strings(&prop["items"]["properties"]["level"]["enum"])
            } else {
                strings(&prop["enum"])
            };
            assert_eq!(listed, vocabulary, "{kind}.{member}");
            if member == "children" {
                continue;
            }
            for value in &listed {
                let mut v = s["examples"][0].clone();
                v[member] = Value::from(value.as_str());
                if kind == "signal_resolved" && value != "case_opened" {
                    v.as_object_mut().unwrap().remove("case");
                }
                assert!(parses(kind, &v), "{kind}.{member} = {value}");
            }
            let mut v = s["examples"][0].clone();
            v[member] = Value::from("not_in_the_list");
            assert!(!parses(kind, &v), "{kind}.{member}");
        }
    }

    #[test]
    fn efo_domains_are_the_eight() {
        let s = schema("efo_scored");
        let d = &s["properties"]["domains"];
        let required = strings(&d["required"]);
        assert_eq!(required.len(), 8);
        for name in &required {
            let mut v = s["examples"][0].clone();
            v.as_object_mut().unwrap().remove("weak_total");
            v["domains"].as_object_mut().unwrap().remove(name);
            assert!(!parses("efo_scored", &v), "domains without {name}");
        }
        let mut extra = Map::new();
        for name in &required {
            extra.insert(name.clone(), Value::from(0));
        }
        extra.insert("spirituality".into(), Value::from(1));
        let v = serde_json::json!({"case": "1", "stage": "entry", "domains": extra});
        assert!(!parses("efo_scored", &v));
    }
}

#[test]
fn the_envelope_schema_points_each_type_at_its_data_schema() {
    let s = schema("input-event.schema.json");
    let refs: Vec<(String, String)> = s["allOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["if"]["properties"]["type"]["const"].as_str().unwrap().to_string(),
                c["then"]["properties"]["data"]["$ref"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(refs.len(), caseledger::ledger::event::input_types().count());
    for (kind, r) in refs {
        assert_eq!(r, format!("data/{kind}.schema.json"));
        assert!(std::path::Path::new(&format!("{}/schemas/{r}", env!("CARGO_MANIFEST_DIR"))).exists());
    }
}

/// The schemas' string patterns say what the parser checks, for the strings a person
/// or an outside fuzzer throws at both: codes, free text and money.
#[test]
fn string_patterns_agree_with_the_parser() {
    use caseledger::domain::payload::{Money, Text};
    let pattern = |kind: &str, member: &str| {
        let s = schema(&format!("data/{kind}.schema.json"));
        let p = s["properties"][member]["pattern"].as_str().unwrap().to_string();
        regex::Regex::new(&p).unwrap()
    };
    let code = pattern("signal_received", "signal");
    for s in [
        "С-01",
        "14/2021_МР",
        "",
        "a\u{0}b",
        "a\u{7f}",
        "a\u{85}",
        "a\u{200b}b",
        "\u{feff}С1",
        "a\u{2028}b",
        "a\u{2029}",
        "a\u{202e}",
        "a\u{00ad}b",
        "x\u{2060}",
        "ок 1",
    ] {
        let parser = caseledger::ledger::event::check_code("data.signal", s).is_ok();
        assert_eq!(code.is_match(s), parser, "code {s:?}");
    }
    let text = pattern("event_voided", "reason");
    for s in ["опечатка", "строка\nвторая", "\tотступ", " ", "", "a\u{1}b", "a\u{7f}", "ок\r", "\n"]
    {
        let parser = serde_json::from_value::<Text>(Value::from(s)).is_ok();
        assert_eq!(text.is_match(s), parser, "text {s:?}");
    }
    let money = pattern("expense_recorded", "amount");
    for s in ["0", "1500", "1500.5", "1500.50", "1500.505", "1 500", "1,5", ".5", "9999999999999.99", "99999999999999"]
    {
        assert_eq!(money.is_match(s), Money::parse(s).is_some(), "money {s:?}");
    }
}

//! schemas/openapi.json is kept true against the running service: its operations are
//! exactly the router's routes, its `x-roles` are what each role is allowed, its query
//! parameters and body members are exactly what the service accepts, and answers carry
//! the members its schemas require.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::new_ledger;
use common::server::{token, Reply, Server};
use serde_json::{json, Value};

const ROLES: [&str; 4] = ["recorder", "analyst", "auditor", "admin"];

fn doc() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/openapi.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// (path, method) of every documented operation.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.insert((path.clone(), method.to_uppercase()));
        }
    }
    out
}

/// (path, method) of every route the router declares, read from its source.
fn routes() -> BTreeSet<(String, String)> {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/server/mod.rs")).unwrap();
    let mut out = BTreeSet::new();
    for line in src.lines().map(str::trim).filter(|l| l.starts_with(".route(\"")) {
        let path = line.split('"').nth(1).unwrap().to_string();
        for method in ["get", "post", "put", "patch", "delete"] {
            if line.contains(&format!("{method}(api::")) {
                out.insert((path.clone(), method.to_uppercase()));
            }
        }
    }
    assert!(out.len() >= 10, "the router's routes were found in its source: {out:?}");
    out
}

#[test]
fn documented_operations_are_exactly_the_routes() {
    assert_eq!(operations(&doc()), routes());
}

const CASE: &str = "14%2F2021_%D0%9C%D0%A0";

fn quickstart() -> String {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/samples/quickstart.jsonl")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().retain(|k, _| k != "actor" && k != "recorded_at");
            v.to_string() + "\n"
        })
        .collect()
}

/// A request that the operation should answer 200 to, for an allowed role.
fn example(path: &str, method: &str, report: &str, n: usize) -> (String, String, String) {
    let url = path.replace("{case}", CASE).replace("{id}", "reach");
    let figures = url.starts_with("/v1/indicators") || url.starts_with("/v1/explain");
    let url = if figures { format!("{url}?year=2021") } else { url };
    let url = match path {
        "/v1/proof/inclusion" => format!("{url}?seq=1"),
        "/v1/proof/consistency" => format!("{url}?old=1"),
        _ => url,
    };
    let body = match (path, method) {
        ("/v1/events", "POST") => json!({"type": "signal_received", "occurred_on": "2021-03-01",
            "data": {"signal": format!("С-oa-{n}"), "family": format!("Ф-oa-{n}"), "channel": "phone"}})
        .to_string(),
        ("/v1/indicators", "POST") => json!({"defs": [{"id": "n", "title": "t", "numerator": {"count": "family",
            "from": [{"rows": "cases", "where": {"fact": "active_in_period", "eq": true}}]}}]})
        .to_string(),
        ("/v1/reports" | "/v1/bundles", "POST") => json!({"from": "2021-01-01", "to": "2021-12-31"}).to_string(),
        ("/v1/reports/verify", "POST") => report.to_string(),
        ("/v1/mirror", "POST") => json!({"seq": 0, "head": "0".repeat(64)}).to_string(),
        _ => String::new(),
    };
    let ct = if method == "POST" { "application/json" } else { "" };
    (url, ct.to_string(), body)
}

/// Follows one local `$ref`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) if r.starts_with("#/") => doc.pointer(&r[1..]).unwrap_or_else(|| panic!("dangling $ref {r}")),
        _ => schema,
    }
}

fn check_required(doc: &Value, schema: &Value, v: &Value, what: &str) {
    let schema = resolve(doc, schema);
    let schema = if schema["type"] == "array" && v.is_array() {
        if let Some(first) = v.as_array().unwrap().first() {
            check_required(doc, &schema["items"], first, what);
        }
        return;
    } else {
        schema
    };
    for m in schema["required"].as_array().into_iter().flatten() {
        assert!(v.get(m.as_str().unwrap()).is_some(), "{what}: answer lacks required member {m}: {v}");
    }
    if schema["additionalProperties"] == json!(false) {
        let allowed: BTreeSet<&str> = schema["properties"].as_object().unwrap().keys().map(String::as_str).collect();
        for k in v.as_object().unwrap().keys() {
            assert!(allowed.contains(k.as_str()), "{what}: member {k} is not in the schema");
        }
    }
}

/// The fields serde names in "unknown field `x`, expected one of `a`, `b`".
fn expected_fields(error: &str) -> BTreeSet<String> {
    let tail = error.split("expected").nth(1).unwrap_or_else(|| panic!("no field list in: {error}"));
    tail.split('`').skip(1).step_by(2).map(String::from).collect()
}

#[test]
fn the_document_is_what_the_service_does() {
    let doc = doc();
    let (_tmp, dir) = new_ledger();
    let toks: BTreeMap<&str, String> = ROLES.iter().map(|r| (*r, token(&dir, &format!("{r}-1"), r))).collect();
    // A signing key and a first checkpoint, so that /v1/checkpoint has one to answer.
    assert_eq!(common::run(&dir, &["key", "init"], b"").code, 0);
    assert_eq!(common::run(&dir, &["checkpoint"], b"").code, 0);
    let server = Server::start(&dir);
    let r = server.call("POST", "/v1/events", Some(&toks["recorder"]), "application/x-ndjson", quickstart().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text);
    let report = server.post_json("/v1/reports", &toks["admin"], r#"{"from":"2021-01-01","to":"2021-12-31"}"#).text;
    let error_schema = &doc["components"]["schemas"]["Error"];
    let mut n = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let method = method.to_uppercase();
            let what = format!("{method} {path}");
            let roles: Vec<&str> = op["x-roles"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
            // Each role: 200 when listed, 403 when not (no x-roles: no token needed).
            for role in ROLES {
                n += 1;
                let (url, ct, body) = example(path, &method, &report, n);
                let r: Reply = server.call(&method, &url, Some(&toks[role]), &ct, body.as_bytes());
                if roles.is_empty() || roles.contains(&role) {
                    assert_eq!(r.status, 200, "{what} as {role}: {}", r.text);
                    let ok = &op["responses"]["200"]["content"];
                    let (ctype, media) = ok.as_object().unwrap().iter().next().unwrap();
                    assert!(r.content_type.starts_with(ctype.as_str()), "{what}: {} is not {ctype}", r.content_type);
                    if ctype == "application/json" {
                        check_required(&doc, &media["schema"], &r.json(), &what);
                    }
                } else {
                    assert_eq!(r.status, 403, "{what} as {role}: {}", r.text);
                    check_required(&doc, error_schema, &r.json(), &what);
                }
            }
            if !roles.is_empty() {
                let (url, ct, body) = example(path, &method, &report, 0);
                let r = server.call(&method, &url, None, &ct, body.as_bytes());
                assert_eq!(r.status, 401, "{what} without a token");
                let codes = op["responses"].as_object().unwrap();
                assert!(codes.contains_key("401") && codes.contains_key("403"), "{what} documents 401 and 403");
            }
            // Query parameters: exactly the documented ones are accepted.
            let documented: BTreeSet<String> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query")
                .map(|p| p["name"].as_str().unwrap().to_string())
                .collect();
            if !documented.is_empty() {
                let (url, ct, body) = example(path, &method, &report, 1000 + n);
                let sep = if url.contains('?') { '&' } else { '?' };
                let r = server.call(
                    &method,
                    &format!("{url}{sep}zz_unknown=1"),
                    Some(&toks["admin"]),
                    &ct,
                    body.as_bytes(),
                );
                assert_eq!(r.status, 400, "{what}: an unknown query parameter is refused");
                let v = r.json();
                check_required(&doc, error_schema, &v, &what);
                assert_eq!(expected_fields(v["error"].as_str().unwrap()), documented, "{what}: query parameters");
            }
            // Closed request bodies: exactly the documented members are accepted.
            let body_schema = &op["requestBody"]["content"]["application/json"]["schema"];
            if body_schema["additionalProperties"] == json!(false) {
                let r = server.post_json(path, &toks["admin"], r#"{"zz_unknown": 1}"#);
                assert_eq!(r.status, 400, "{what}: {}", r.text);
                let members: BTreeSet<String> =
                    body_schema["properties"].as_object().unwrap().keys().cloned().collect();
                assert_eq!(expected_fields(r.json()["error"].as_str().unwrap()), members, "{what}: body members");
            }
        }
        // Methods the document does not list are refused with 405.
        for method in ["GET", "POST", "PUT", "DELETE"] {
            if !item.as_object().unwrap().contains_key(&method.to_lowercase()) {
                let url = path.replace("{case}", CASE).replace("{id}", "reach");
                let r = server.call(method, &url, Some(&toks["admin"]), "", b"");
                assert_eq!(r.status, 405, "{method} {path}: {}", r.text);
            }
        }
    }
    let r = server.get("/v1/not-documented", &toks["admin"]);
    assert_eq!(r.status, 404);
}

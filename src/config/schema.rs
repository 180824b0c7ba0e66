//! JSON Schema of the config, for editors (taplo / Even Better TOML).
//!
//! Generated from the same types that parse the file, so it cannot drift.
//! Draft-07, the draft editors support most widely. `[nodes.NAME]` overlays
//! are partial configs: the same shape with nothing required, plus `match`.

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use super::model::{Config, NodeMatch};

/// The schema as a JSON value.
pub fn schema() -> Value {
    let generator = SchemaSettings::draft07().into_generator();
    let mut root = generator.into_root_schema_for::<Config>().to_value();
    let node_match = {
        let g = SchemaSettings::draft07().into_generator();
        let mut v = g.into_root_schema_for::<NodeMatch>().to_value();
        if let Some(o) = v.as_object_mut() {
            o.remove("$schema");
            o.remove("title");
        }
        v
    };
    let obj = root.as_object_mut().expect("a root schema is an object");
    // Partial copies of every definition, for overlays.
    let defs = obj
        .get("definitions")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut all_defs: Map<String, Value> = defs.clone();
    for (name, def) in &defs {
        all_defs.insert(format!("Partial{name}"), partial(def));
    }
    let mut overlay_props = obj
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| {
            p.iter()
                .map(|(k, v)| (k.clone(), partial(v)))
                .collect::<Map<_, _>>()
        })
        .unwrap_or_default();
    overlay_props.insert("match".into(), node_match);
    overlay_props.insert(
        "role".into(),
        json!({
            "description": "director (default) or realserver: a real server does not take the base's vrrp, sync_groups, services, ipvs and checks.",
            "enum": ["director", "realserver"]
        }),
    );
    let overlay = json!({
        "description": "A partial config deep-merged over the base for the box it matches: tables merge, values and arrays replace.",
        "type": "object",
        "properties": overlay_props,
        "additionalProperties": false
    });
    obj.insert("definitions".into(), Value::Object(all_defs));
    if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert(
            "nodes".into(),
            json!({
                "description": "Per-node overlays: one file for both directors of a pair and the real servers.",
                "type": "object",
                "additionalProperties": overlay
            }),
        );
    }
    obj.insert("title".into(), json!("pharos.toml"));
    obj.insert(
        "description".into(),
        json!("Configuration of a pharos LVS director."),
    );
    root
}

/// The same schema with no `required` keys and references to partial copies.
fn partial(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(k, _)| k.as_str() != "required")
                .map(|(k, v)| match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => match r.strip_prefix("#/definitions/") {
                        Some(name) => (k.clone(), json!(format!("#/definitions/Partial{name}"))),
                        None => (k.clone(), v.clone()),
                    },
                    _ => (k.clone(), partial(v)),
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(partial).collect()),
        other => other.clone(),
    }
}

//! Machine-readable output: one JSON object per line on stdout, each with `event` (what it
//! is), `v` (the schema version, `docs/json.md`) and `time` (Unix milliseconds).

use std::io::Write;

use serde_json::{Value, json};

/// The version of the JSON output's schema (`docs/json.schema.json`).
pub(crate) const VERSION: u32 = 1;

/// `fields` (an object) as one line, with `event`, `v` and `time` added.
pub(crate) fn line(event: &str, fields: Value) -> String {
    let mut v = match fields {
        Value::Object(_) => fields,
        Value::Null => json!({}),
        other => json!({ "value": other }),
    };
    v["event"] = json!(event);
    v["v"] = json!(VERSION);
    v["time"] = json!(crate::session::now_ms());
    v.to_string()
}

/// Writes one line on stdout and flushes it (a reader sees it at once).
pub(crate) fn emit(event: &str, fields: Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", line(event, fields));
    let _ = out.flush();
}

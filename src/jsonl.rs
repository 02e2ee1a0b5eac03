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

/// The lines kept for a report (`subscribe --report`), from when it was asked for.
static KEPT: std::sync::Mutex<Option<Vec<Value>>> = std::sync::Mutex::new(None);

/// From now on, every line is also kept for a report.
pub(crate) fn keep_for_report() {
    *KEPT.lock().expect("kept lock") = Some(Vec::new());
}

/// Whether lines are kept for a report.
pub(crate) fn reporting() -> bool {
    KEPT.lock().expect("kept lock").is_some()
}

/// The lines kept so far (taken).
pub(crate) fn kept() -> Vec<Value> {
    KEPT.lock()
        .expect("kept lock")
        .as_mut()
        .map(std::mem::take)
        .unwrap_or_default()
}

fn keep(line: &str) {
    if let Some(kept) = KEPT.lock().expect("kept lock").as_mut()
        && let Ok(v) = serde_json::from_str(line)
    {
        kept.push(v);
    }
}

/// Writes one line on stdout and flushes it (a reader sees it at once).
pub(crate) fn emit(event: &str, fields: Value) {
    let line = line(event, fields);
    keep(&line);
    out(&line);
}

/// Writes `line` on stdout and flushes it; a reader that went away (a closed pipe) loses
/// it, and the call goes on (`println!` would panic).
pub(crate) fn out(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Prints the line when `print` (`--json`), and keeps it for a report either way.
pub(crate) fn emit_or_keep(print: bool, event: &str, fields: Value) {
    match print {
        true => emit(event, fields),
        false => keep(&line(event, fields)),
    }
}

//! An error told with its causes, as one line: "what failed: why: why that".

use std::error::Error;
use std::fmt;

/// Shows an error and each of its sources, joined by ": ".
pub(crate) struct Causes<'a>(pub(crate) &'a (dyn Error + 'static));

impl fmt::Display for Causes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&told("", Some(self.0)))
    }
}

/// `context` (when there is one), then `error` and each of its sources, joined by ": "; an
/// error whose message the text so far already ends with is not said twice.
pub(crate) fn told(context: &str, error: Option<&(dyn Error + 'static)>) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !context.is_empty() {
        parts.push(context.to_owned());
    }
    let mut next = error;
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.last().is_some_and(|p| p.ends_with(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct E(&'static str, #[source] Option<Box<E>>);

    #[test]
    fn each_cause_once() {
        let inner = E("connection refused", None);
        let outer = E("cannot reach ws://x", Some(Box::new(inner)));
        assert_eq!(
            Causes(&outer).to_string(),
            "cannot reach ws://x: connection refused"
        );
        let repeated = E(
            "lost: connection refused",
            Some(Box::new(E("connection refused", None))),
        );
        assert_eq!(Causes(&repeated).to_string(), "lost: connection refused");
    }
}

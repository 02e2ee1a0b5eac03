//! Conditions a script asks for — `streams>=2`, `latency.p95<200ms`, `loss<1%` — parsed once
//! and checked against measured values (pure).

use std::fmt;

/// What a metric's values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A count or a plain number.
    Count,
    /// Milliseconds (written `200ms` or `0.2s`).
    Ms,
    /// Percent (written `1%`).
    Percent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
}

/// One condition: `metric op value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub metric: String,
    pub op: Op,
    /// In the metric's unit (ms for times, percent for ratios).
    pub value: f64,
    pub unit: Unit,
}

impl Condition {
    pub fn holds(&self, measured: f64) -> bool {
        match self.op {
            Op::Ge => measured >= self.value,
            Op::Gt => measured > self.value,
            Op::Le => measured <= self.value,
            Op::Lt => measured < self.value,
            Op::Eq => (measured - self.value).abs() < 1e-9,
        }
    }

    /// A measured value written in this condition's unit.
    pub fn show(&self, measured: f64) -> String {
        match self.unit {
            Unit::Count => format!("{measured}"),
            Unit::Ms => format!("{measured:.1}ms"),
            Unit::Percent => format!("{measured:.2}%"),
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            Op::Ge => ">=",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Lt => "<",
            Op::Eq => "==",
        };
        let unit = match self.unit {
            Unit::Count => "",
            Unit::Ms => "ms",
            Unit::Percent => "%",
        };
        write!(f, "{}{op}{}{unit}", self.metric, self.value)
    }
}

/// Parses `a>=1, b<2ms` against the metrics `known` (name, unit).
pub fn parse(text: &str, known: &[(&str, Unit)]) -> Result<Vec<Condition>, String> {
    let names = || known.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let at = part
            .find(['<', '>', '='])
            .ok_or_else(|| format!("{part:?}: expected METRIC OP VALUE, e.g. frames>=300"))?;
        let (metric, rest) = part.split_at(at);
        let metric = metric.trim();
        let (op, value) = [
            (">=", Op::Ge),
            ("<=", Op::Le),
            ("==", Op::Eq),
            (">", Op::Gt),
            ("<", Op::Lt),
            ("=", Op::Eq),
        ]
        .iter()
        .find_map(|(s, op)| rest.strip_prefix(s).map(|v| (*op, v.trim())))
        .ok_or_else(|| format!("{part:?}: unknown comparison"))?;
        let unit = known
            .iter()
            .find(|(n, _)| *n == metric)
            .map(|(_, u)| *u)
            .ok_or_else(|| format!("{part:?}: unknown metric {metric:?} (known: {})", names()))?;
        let split = value
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
            .unwrap_or(value.len());
        let (num, suffix) = value.split_at(split);
        let num: f64 = num
            .parse()
            .map_err(|_| format!("{part:?}: {value:?} is not a number"))?;
        let value = match (unit, suffix.trim()) {
            (Unit::Count, "") | (Unit::Ms, "ms") | (Unit::Percent, "%") => num,
            (Unit::Ms, "s") => num * 1000.0,
            (Unit::Ms, "") => {
                return Err(format!("{part:?}: give the unit, e.g. {metric}<200ms"));
            }
            (Unit::Percent, "") => {
                return Err(format!("{part:?}: give the unit, e.g. {metric}<1%"));
            }
            (_, s) => return Err(format!("{part:?}: unit {s:?} does not fit {metric}")),
        };
        out.push(Condition {
            metric: metric.to_owned(),
            op,
            value,
            unit,
        });
    }
    if out.is_empty() {
        return Err("no condition given".into());
    }
    Ok(out)
}

/// The metrics `--expect` knows, with their units.
pub const METRICS: &[(&str, Unit)] = &[
    ("frames", Unit::Count),
    ("audio-frames", Unit::Count),
    ("frames.lost", Unit::Count),
    ("latency.p50", Unit::Ms),
    ("latency.p95", Unit::Ms),
    ("latency.max", Unit::Ms),
    ("freeze.max", Unit::Ms),
    ("av-skew", Unit::Ms),
    ("loss", Unit::Percent),
];

/// The metrics `load-test --expect` knows: over every stream of the run.
pub const LOAD_METRICS: &[(&str, Unit)] = &[
    ("joined", Unit::Percent),
    ("streams", Unit::Percent),
    ("streams.frames", Unit::Count),
    ("streams.frames.lost", Unit::Count),
    ("loss", Unit::Percent),
    ("latency.p50", Unit::Ms),
    ("latency.p95", Unit::Ms),
    ("latency.p99", Unit::Ms),
    ("latency.max", Unit::Ms),
    ("freeze.max.p50", Unit::Ms),
    ("freeze.max.p95", Unit::Ms),
    ("freeze.max.p99", Unit::Ms),
    ("freeze.max.max", Unit::Ms),
    ("first-frame.p50", Unit::Ms),
    ("first-frame.p95", Unit::Ms),
    ("first-frame.p99", Unit::Ms),
    ("first-frame.max", Unit::Ms),
    ("identity.violations", Unit::Count),
    ("pictures.decoded", Unit::Count),
    ("pictures.bad", Unit::Count),
];

/// `--wait-for`'s conditions: on the session's streams and connections.
#[derive(Debug, Clone)]
pub struct WaitFor(pub Vec<Condition>);

pub fn parse_wait_for(s: &str) -> Result<WaitFor, String> {
    parse(s, &[("streams", Unit::Count), ("connections", Unit::Count)]).map(WaitFor)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[(&str, Unit)] = &[
        ("frames", Unit::Count),
        ("latency.p95", Unit::Ms),
        ("loss", Unit::Percent),
    ];

    #[test]
    fn the_documented_form_parses() {
        let c = parse("frames>=300, latency.p95<0.2s, loss<1%", KNOWN).unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!((c[0].op, c[0].value), (Op::Ge, 300.0));
        assert_eq!((c[1].op, c[1].value), (Op::Lt, 200.0));
        assert!(c[1].holds(150.0) && !c[1].holds(200.0));
        assert_eq!(c[2].to_string(), "loss<1%");
    }

    #[test]
    fn mistakes_are_named() {
        assert!(
            parse("fps>=30", KNOWN)
                .unwrap_err()
                .contains("unknown metric")
        );
        assert!(
            parse("latency.p95<200", KNOWN)
                .unwrap_err()
                .contains("unit")
        );
        assert!(
            parse("frames~3", KNOWN)
                .unwrap_err()
                .contains("METRIC OP VALUE")
        );
        assert!(
            parse("frames>=x", KNOWN)
                .unwrap_err()
                .contains("not a number")
        );
        assert!(parse(" , ", KNOWN).is_err());
    }
}

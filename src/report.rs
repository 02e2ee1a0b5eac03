//! A call report people look at: one self-contained HTML file (plots as inline SVG by
//! `plotters`, pictures as inline JPEG, no script, nothing loaded from elsewhere) drawn from
//! the JSON lines a run prints (`--json --stats-interval`): per stream, bit rate, frame rate,
//! freezes, latency (p50/p95 per interval), loss and retransmission requests, the congestion
//! estimate and target, the picture size and the A/V offset over time; the `--expect`
//! verdicts with what was measured; thumbnails at intervals and at each freeze's start and
//! end. Pure: events in, a page out (`vcall report` and `subscribe --report` do the I/O).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use plotters::prelude::*;
use serde_json::Value;

use crate::exit::{Exit, Failure};

/// Why no report can be drawn from the input.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReportError {
    #[error("line {line} is not JSON ({why}); the input must be the JSON lines of a run (--json)")]
    NotJson { line: usize, why: String },
    #[error(
        "the run has no per-interval figures: record it with --json --stats-interval 1s (or use --report)"
    )]
    NoStats,
}

/// One plotted line: its name and points (seconds, value).
type Series<'a> = (&'static str, &'a [(f64, f64)]);

/// `vcall report RUN.jsonl -o FILE.html`: input that is not a run's JSON lines is a usage
/// error (exit 2), a file that cannot be read or written exit 1.
pub(crate) fn command(args: crate::cli::ReportArgs) -> crate::exit::CmdResult {
    let input = args.input.display().to_string();
    let text = match input.as_str() {
        "-" => std::io::read_to_string(std::io::stdin()),
        _ => std::fs::read_to_string(&args.input),
    }
    .map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData => Failure::new(
            Exit::Usage,
            format!("{input} is not text: the input must be the JSON lines of a run (--json)"),
        ),
        _ => Failure::new(Exit::Failure, format!("reading {input}: {e}")),
    })?;
    let events = parse(&text).map_err(|e| Failure::new(Exit::Usage, format!("{input}: {e}")))?;
    let html = render(&events, &format!("vcall report: {input}"))
        .map_err(|e| Failure::new(Exit::Usage, format!("{input}: {e}")))?;
    std::fs::write(&args.output, html).map_err(|e| {
        Failure::new(
            Exit::Failure,
            format!("writing {}: {e}", args.output.display()),
        )
    })?;
    eprintln!("vcall: report written to {}", args.output.display());
    Ok(Exit::Ok)
}

/// Writes a report (`subscribe --report`, `load-test --report`) from the lines kept during
/// the run (`jsonl::keep_for_report`) and `more` (a load test's verdict, `loadVerdict`, which
/// is not printed: the exit code and stderr say it).
pub(crate) fn write_kept(
    path: &std::path::Path,
    title: &str,
    more: Option<Value>,
) -> Result<(), Failure> {
    let mut events = crate::jsonl::kept();
    events.extend(more);
    let html = render(&events, title)
        .map_err(|e| Failure::new(Exit::Failure, format!("no report: {e}")))?;
    std::fs::write(path, html).map_err(|e| {
        Failure::new(
            Exit::Failure,
            format!("writing the report to {}: {e}", path.display()),
        )
    })?;
    tracing::info!("report written to {}", path.display());
    Ok(())
}

/// Reads JSON lines (blank lines and other programs' text are refused, so a wrong file is
/// told at once).
pub(crate) fn parse(text: &str) -> Result<Vec<Value>, ReportError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| ReportError::NotJson {
                line: i + 1,
                why: e.to_string(),
            })
        })
        .collect()
}

/// What one stream's `stats` lines say over time.
#[derive(Default)]
struct Timeline {
    direction: String,
    bitrate_video: Vec<(f64, f64)>,
    bitrate_audio: Vec<(f64, f64)>,
    fps: Vec<(f64, f64)>,
    freeze_ms: Vec<(f64, f64)>,
    lost: Vec<(f64, f64)>,
    nacks: Vec<(f64, f64)>,
    height: Vec<(f64, f64)>,
    p50: Vec<(f64, f64)>,
    p95: Vec<(f64, f64)>,
    av_skew: Vec<(f64, f64)>,
    estimate: Vec<(f64, f64)>,
    target: Vec<(f64, f64)>,
    /// The cumulative counters at the previous line (lost, NACKs), for per-interval figures.
    last: (f64, f64),
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

impl Timeline {
    fn add(&mut self, stats: &Value) {
        let t = stats["elapsedMs"].as_f64().unwrap_or(0.0) / 1000.0;
        self.direction = stats["direction"].as_str().unwrap_or_default().to_owned();
        let (mut lost, mut nacks) = (0.0, 0.0);
        for track in stats["tracks"].as_array().into_iter().flatten() {
            let video = track["kind"] == "video";
            if let Some(kbps) = num(&track["bitrateKbps"]) {
                match video {
                    true => self.bitrate_video.push((t, kbps)),
                    false => self.bitrate_audio.push((t, kbps)),
                }
            }
            lost += num(&track["packetsLost"]).unwrap_or(0.0);
            nacks += num(&track["nacks"]).unwrap_or(0.0);
            if video {
                if let Some(fps) = num(&track["fps"]) {
                    self.fps.push((t, fps));
                }
                if let Some(ms) = num(&track["freezeMs"]) {
                    self.freeze_ms.push((t, ms));
                }
                if let Some(h) = num(&track["height"]) {
                    self.height.push((t, h));
                }
            }
        }
        self.lost.push((t, (lost - self.last.0).max(0.0)));
        self.nacks.push((t, (nacks - self.last.1).max(0.0)));
        self.last = (lost, nacks);
        let measured = &stats["measured"];
        if let Some(v) = num(&measured["latencyMs"]["p50"]) {
            self.p50.push((t, v));
        }
        if let Some(v) = num(&measured["latencyMs"]["p95"]) {
            self.p95.push((t, v));
        }
        if let Some(v) = num(&measured["avSkewMs"]) {
            self.av_skew.push((t, v));
        }
        let congestion = &stats["congestion"];
        if let Some(v) = num(&congestion["estimateKbps"]) {
            self.estimate.push((t, v));
        }
        if let Some(v) = num(&congestion["targetVideoKbps"]) {
            self.target.push((t, v));
        }
    }
}

/// What a load test's `loadStats` lines say over time (`load-test --report`).
#[derive(Default)]
struct LoadTimeline {
    joined: Vec<(f64, f64)>,
    failed: Vec<(f64, f64)>,
    streams: Vec<(f64, f64)>,
    expected: Vec<(f64, f64)>,
    /// Whole frames received a second, over every stream, and lost a second.
    fps: Vec<(f64, f64)>,
    lost: Vec<(f64, f64)>,
    p50: Vec<(f64, f64)>,
    p95: Vec<(f64, f64)>,
    p99: Vec<(f64, f64)>,
    freeze_p95: Vec<(f64, f64)>,
    freeze_max: Vec<(f64, f64)>,
    loss: Vec<(f64, f64)>,
    /// The previous line's time and cumulative frames and frames lost.
    last: (f64, f64, f64),
}

impl LoadTimeline {
    fn add(&mut self, s: &Value) {
        let t = num(&s["seconds"]).unwrap_or(0.0);
        let put = |v: &mut Vec<(f64, f64)>, x: &Value| {
            if let Some(x) = num(x) {
                v.push((t, x));
            }
        };
        put(&mut self.joined, &s["joined"]);
        put(&mut self.failed, &s["failed"]);
        put(&mut self.streams, &s["streams"]);
        put(&mut self.expected, &s["streamsExpected"]);
        put(&mut self.p50, &s["latencyMs"]["p50"]);
        put(&mut self.p95, &s["latencyMs"]["p95"]);
        put(&mut self.p99, &s["latencyMs"]["p99"]);
        put(&mut self.freeze_p95, &s["freezeMaxMs"]["p95"]);
        put(&mut self.freeze_max, &s["freezeMaxMs"]["max"]);
        put(&mut self.loss, &s["lossPercent"]);
        let (frames, lost) = (
            num(&s["frames"]).unwrap_or(0.0),
            num(&s["framesLost"]).unwrap_or(0.0),
        );
        let span = t - self.last.0;
        if span > 0.0 {
            self.fps.push((t, (frames - self.last.1).max(0.0) / span));
            self.lost.push((t, (lost - self.last.2).max(0.0) / span));
        }
        self.last = (t, frames, lost);
    }
}

/// A load test's part of a report: its verdict and totals, its figures over time, and its
/// worst rooms and streams; `None` for a run that is not a load test.
fn load_section(events: &[Value]) -> Option<String> {
    let mut tl = LoadTimeline::default();
    let mut any = false;
    for e in events.iter().filter(|e| e["event"] == "loadStats") {
        tl.add(e);
        any = true;
    }
    let summary = events.iter().rev().find(|e| e["event"] == "loadSummary");
    if !any && summary.is_none() {
        return None;
    }
    let mut html = String::from("<section class=\"load\">\n<h2>Load test</h2>\n");
    let verdict = events.iter().rev().find(|e| e["event"] == "loadVerdict");
    if let Some(s) = summary {
        let failures: Vec<&str> = match verdict {
            Some(v) => v["failure"].as_str().into_iter().collect(),
            None => s["failures"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect(),
        };
        let _ = writeln!(
            html,
            "<p class=\"verdict {c}\">{v}</p>",
            c = if failures.is_empty() { "pass" } else { "fail" },
            v = match failures.is_empty() {
                true => "No condition failed.".to_owned(),
                false => format!("NOT met: {}", escape(&failures.join("; "))),
            }
        );
        let q = |v: &Value| match (num(&v["p50"]), num(&v["p95"]), num(&v["max"])) {
            (Some(a), Some(b), Some(c)) => format!("{a:.0} / {b:.0} / {c:.0}"),
            _ => "—".into(),
        };
        let n = |v: &Value| num(v).map_or("—".into(), |x| format!("{x:.0}"));
        html += "<table class=\"expect\">\n";
        for (label, value) in [
            ("seconds", n(&s["seconds"])),
            (
                "participants joined / failed",
                format!("{} / {}", n(&s["joined"]), n(&s["failed"])),
            ),
            (
                "streams with frames / expected",
                format!("{} / {}", n(&s["streams"]), n(&s["streamsExpected"])),
            ),
            (
                "frames / lost",
                format!("{} / {}", n(&s["frames"]), n(&s["framesLost"])),
            ),
            ("identity violations", n(&s["identityViolations"])),
            (
                "packet loss, %",
                num(&s["lossPercent"]).map_or("—".into(), |x| format!("{x:.2}")),
            ),
            ("latency p50 / p95 / max, ms", q(&s["latencyMs"])),
            ("longest freeze p50 / p95 / max, ms", q(&s["freezeMaxMs"])),
            ("first frame p50 / p95 / max, ms", q(&s["firstFrameMs"])),
            (
                "generator limit",
                s["overloaded"].as_str().unwrap_or("none").to_owned(),
            ),
        ] {
            let _ = writeln!(
                html,
                "<tr><th>{}</th><td>{}</td></tr>",
                escape(label),
                escape(&value)
            );
        }
        html += "</table>\n";
    }
    html += "<div class=\"charts\">\n";
    html += &chart(
        "Participants",
        "count",
        &[("joined", &tl.joined), ("failed", &tl.failed)],
    );
    html += &chart(
        "Streams with frames",
        "count",
        &[("receiving", &tl.streams), ("expected", &tl.expected)],
    );
    html += &chart(
        "Frames over every stream",
        "per second",
        &[("received", &tl.fps), ("lost", &tl.lost)],
    );
    html += &chart(
        "Latency over every frame",
        "ms",
        &[("p50", &tl.p50), ("p95", &tl.p95), ("p99", &tl.p99)],
    );
    html += &chart(
        "Longest freeze of a stream",
        "ms",
        &[("p95", &tl.freeze_p95), ("max", &tl.freeze_max)],
    );
    html += &chart("Packet loss", "%", &[("lost", &tl.loss)]);
    html += "</div>\n";
    // The worst rooms and streams: most frames lost, then the highest latency.
    for (event, what, name) in [
        ("loadRoom", "rooms", "room"),
        ("loadStream", "streams", "stream"),
    ] {
        let mut rows: Vec<&Value> = events.iter().filter(|e| e["event"] == event).collect();
        if rows.is_empty() {
            continue;
        }
        let p95 = |v: &Value| {
            num(&v["latencyMs"]["p95"])
                .or(num(&v["latencyP95Ms"]))
                .unwrap_or(0.0)
        };
        rows.sort_by(|a, b| {
            let lost = |v: &Value| num(&v["framesLost"]).unwrap_or(0.0);
            lost(b).total_cmp(&lost(a)).then(p95(b).total_cmp(&p95(a)))
        });
        let _ = writeln!(
            html,
            "<h3>The worst {what} ({} of {})</h3>\n<table class=\"expect\">\n<tr><th>{name}</th><th>frames</th><th>lost</th><th>latency p95, ms</th></tr>",
            rows.len().min(WORST_LISTED),
            rows.len()
        );
        for r in rows.iter().take(WORST_LISTED) {
            let id = match &r[name] {
                Value::String(s) => s.clone(),
                Value::Null => "?".into(),
                other => other.to_string(),
            };
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.0}</td></tr>",
                escape(&id),
                num(&r["frames"]).unwrap_or(0.0),
                num(&r["framesLost"]).unwrap_or(0.0),
                p95(r)
            );
        }
        html += "</table>\n";
    }
    html += "</section>\n";
    Some(html)
}

/// Rows in a load test's tables of worst rooms and streams.
const WORST_LISTED: usize = 20;

/// The colours of a chart's lines, in order.
const COLOURS: [RGBColor; 3] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
];

/// One chart as inline SVG, or a line saying the run has no such figures.
fn chart(title: &str, unit: &str, series: &[Series<'_>]) -> String {
    let points = series.iter().flat_map(|(_, p)| p.iter());
    let (mut x1, mut y0, mut y1) = (0.0f64, 0.0f64, 0.0f64);
    let mut any = false;
    for &(x, y) in points {
        any = true;
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !any {
        return format!(
            "<p class=\"none\">{}: no figures in this run.</p>\n",
            escape(title)
        );
    }
    let x1 = x1.max(1.0);
    let pad = ((y1 - y0) * 0.1).max(1.0);
    let (y0, y1) = (if y0 < 0.0 { y0 - pad } else { 0.0 }, y1 + pad);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 220)).into_drawing_area();
        let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
            root.fill(&WHITE)?;
            let mut c = ChartBuilder::on(&root)
                .caption(format!("{title} ({unit})"), ("sans-serif", 15))
                .margin(8)
                .x_label_area_size(26)
                .y_label_area_size(52)
                .build_cartesian_2d(0.0..x1, y0..y1)?;
            c.configure_mesh()
                .x_desc("seconds")
                .light_line_style(RGBColor(235, 235, 235))
                .draw()?;
            for (i, (name, pts)) in series.iter().enumerate() {
                let colour = COLOURS[i % COLOURS.len()];
                c.draw_series(LineSeries::new(pts.iter().copied(), colour.stroke_width(2)))?
                    .label(*name)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], colour));
            }
            if series.len() > 1 {
                c.configure_series_labels()
                    .background_style(WHITE.mix(0.85))
                    .border_style(RGBColor(200, 200, 200))
                    .draw()?;
            }
            root.present()?;
            Ok(())
        })();
        if let Err(e) = drawn {
            return format!(
                "<p class=\"none\">{}: {}</p>\n",
                escape(title),
                escape(&e.to_string())
            );
        }
    }
    svg + "\n"
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The report of a run's `events`, titled `title`.
pub(crate) fn render(events: &[Value], title: &str) -> Result<String, ReportError> {
    let mut streams: BTreeMap<String, Timeline> = BTreeMap::new();
    for e in events.iter().filter(|e| e["event"] == "stats") {
        let id = e["streamId"].as_str().unwrap_or("?").to_owned();
        streams.entry(id).or_default().add(e);
    }
    let load = load_section(events);
    if streams.is_empty() && load.is_none() {
        return Err(ReportError::NoStats);
    }
    let of_stream = |name: &str, id: &str| -> Vec<&Value> {
        events
            .iter()
            .filter(|e| e["event"] == name && e["streamId"] == id)
            .collect()
    };
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\">\n<meta charset=\"utf-8\">\n<title>{t}</title>\n<style>{STYLE}</style>\n<h1>{t}</h1>\n",
        t = escape(title)
    );
    html += load.as_deref().unwrap_or_default();
    for (id, tl) in &streams {
        let _ = write!(
            html,
            "<section class=\"stream\" data-stream=\"{i}\">\n<h2>Stream {i} <span class=\"dir\">{d}</span></h2>\n",
            i = escape(id),
            d = escape(&tl.direction)
        );
        let verdicts = of_stream("expect", id);
        if !verdicts.is_empty() {
            html += "<table class=\"expect\">\n<tr><th>condition</th><th>verdict</th><th>measured</th></tr>\n";
            for v in verdicts {
                let ok = v["ok"] == true;
                let measured = match (&v["measured"], v["reason"].as_str()) {
                    (Value::Number(n), _) => match n.as_f64() {
                        Some(x) if x.fract() != 0.0 => format!("{x:.1}"),
                        _ => n.to_string(),
                    },
                    (_, Some(why)) => why.to_owned(),
                    _ => "—".into(),
                };
                let _ = writeln!(
                    html,
                    "<tr class=\"{c}\"><td>{cond}</td><td>{verdict}</td><td>{m}</td></tr>",
                    c = if ok { "pass" } else { "fail" },
                    cond = escape(v["condition"].as_str().unwrap_or("")),
                    verdict = if ok { "met" } else { "NOT met" },
                    m = escape(&measured)
                );
            }
            html += "</table>\n";
        }
        html += "<div class=\"charts\">\n";
        html += &chart(
            "Bit rate",
            "kbit/s",
            &[("video", &tl.bitrate_video), ("audio", &tl.bitrate_audio)],
        );
        html += &chart("Frame rate", "fps", &[("video", &tl.fps)]);
        html += &chart("Frozen time so far", "ms", &[("video", &tl.freeze_ms)]);
        html += &chart(
            "Latency, capture to receipt",
            "ms",
            &[("p50", &tl.p50), ("p95", &tl.p95)],
        );
        html += &chart(
            "Loss and retransmission requests per interval",
            "packets",
            &[("lost", &tl.lost), ("NACKs", &tl.nacks)],
        );
        html += &chart(
            "Congestion estimate and target",
            "kbit/s",
            &[("estimate", &tl.estimate), ("video target", &tl.target)],
        );
        html += &chart("Picture height", "pixels", &[("video", &tl.height)]);
        html += &chart("A/V offset", "ms", &[("audio after video", &tl.av_skew)]);
        html += "</div>\n";
        let thumbs = of_stream("thumbnail", id);
        if !thumbs.is_empty() {
            html += "<h3>Pictures</h3>\n<div class=\"thumbs\">\n";
            for t in thumbs {
                let (Some(jpeg), Some(at)) = (t["jpeg"].as_str(), t["atMs"].as_f64()) else {
                    continue;
                };
                let reason = t["reason"].as_str().unwrap_or("");
                let _ = writeln!(
                    html,
                    "<figure class=\"{r}\"><img alt=\"{r} at {s:.1} s\" src=\"data:image/jpeg;base64,{j}\"><figcaption>{s:.1} s {label}</figcaption></figure>",
                    r = escape(reason),
                    s = at / 1000.0,
                    j = escape(jpeg),
                    label = match reason {
                        "freezeStart" => "freeze starts",
                        "freezeEnd" => "freeze ends",
                        _ => "",
                    }
                );
            }
            html += "</div>\n";
        }
        for f in of_stream("recordingFinished", id) {
            let _ = writeln!(
                html,
                "<p class=\"finished\">Recorded to {o}: {v} video and {a} audio frames.</p>",
                o = escape(f["output"].as_str().unwrap_or("?")),
                v = f["videoFrames"].as_u64().unwrap_or(0),
                a = f["audioFrames"].as_u64().unwrap_or(0)
            );
        }
        html += "</section>\n";
    }
    html += "</html>\n";
    Ok(html)
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\
h1{font-size:1.3em}h2{font-size:1.1em;border-top:1px solid #ccc;padding-top:.6em}\
.dir{color:#777;font-weight:normal}.charts{display:flex;flex-wrap:wrap;gap:8px}\
.none{color:#777}table.expect{border-collapse:collapse;margin:.5em 0}\
.expect td,.expect th{border:1px solid #ccc;padding:2px 8px;text-align:left}\
.pass td:nth-child(2){color:#080}.fail td:nth-child(2){color:#b00;font-weight:bold}\
.thumbs{display:flex;flex-wrap:wrap;gap:6px}figure{margin:0}figcaption{font-size:.8em;color:#555}\
.freezeStart img,.freezeEnd img{outline:2px solid #b00}";

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(ms: u64, kbps: f64, lost: u64, p50: f64) -> Value {
        serde_json::json!({
            "event": "stats", "streamId": "s-1", "direction": "recv", "elapsedMs": ms,
            "tracks": [{"kind": "video", "bitrateKbps": kbps, "fps": 30.0, "packetsLost": lost,
                        "nacks": lost, "freezeMs": 0.0, "height": 240}],
            "measured": {"latencyMs": {"p50": p50, "p95": p50 * 2.0}, "avSkewMs": 3.0},
        })
    }

    #[test]
    fn a_run_becomes_charts_verdicts_and_pictures() {
        let mut events: Vec<Value> = (1..=5)
            .map(|i| stats(i * 1000, 500.0, i * 2, 40.0))
            .collect();
        events.push(serde_json::json!({"event": "expect", "streamId": "s-1",
            "condition": "frames>=100", "ok": false, "measured": 90}));
        events.push(
            serde_json::json!({"event": "thumbnail", "streamId": "s-1", "atMs": 2000,
            "reason": "freezeStart", "jpeg": "AAAA"}),
        );
        let html = render(&events, "a <call>").unwrap();
        assert!(html.contains("<title>a &lt;call&gt;</title>"));
        // Bit rate, frame rate, freezes, latency, loss, height, A/V: drawn; congestion: none.
        assert_eq!(html.matches("<svg").count(), 7, "{html}");
        assert!(html.contains("Congestion estimate and target: no figures"));
        assert!(html.contains("NOT met") && html.contains(">90<"));
        assert!(html.contains("data:image/jpeg;base64,AAAA") && html.contains("freeze starts"));
        // Nothing to fetch (the SVG namespace's URL is a name, not a request).
        for fetch in ["src=\"http", "href=\"http", "url(", "<script", "<link"] {
            assert!(!html.contains(fetch), "{fetch}");
        }
    }

    #[test]
    fn loss_is_plotted_per_interval_from_the_cumulative_counts() {
        let mut tl = Timeline::default();
        for (ms, lost) in [(1000, 0), (2000, 5), (3000, 5), (4000, 12)] {
            tl.add(&stats(ms, 1.0, lost, 1.0));
        }
        let per: Vec<f64> = tl.lost.iter().map(|p| p.1).collect();
        assert_eq!(per, [0.0, 5.0, 0.0, 7.0]);
    }

    #[test]
    fn input_that_is_not_a_run_is_refused_with_the_reason() {
        assert!(matches!(
            parse("{}\nnot json"),
            Err(ReportError::NotJson { line: 2, .. })
        ));
        let only_events = parse("{\"event\":\"published\"}").unwrap();
        assert!(matches!(
            render(&only_events, "t"),
            Err(ReportError::NoStats)
        ));
    }
}

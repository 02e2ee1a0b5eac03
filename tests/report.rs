//! The call report: made by `subscribe --report` during a real call with a broken phase (so
//! there are freezes to picture), drawn again by `vcall report` from the run's JSON lines,
//! and opened in headless Chromium: charts and pictures in the page, the page not blank,
//! nothing fetched from outside the file.

use vcall::auth::Role;

use crate::common::*;

#[test]
fn a_call_report_has_its_charts_verdicts_and_pictures_and_needs_nothing_else() {
    let ns = LoopbackOnly::create();
    let (_serve, url) = ns.serve();
    let session = fixed_session("report");
    let joined = |role: Role, args: &[&str]| {
        let token = fixed_token(&session, role);
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--url", &url, "--session", &session, "--token", &token]);
        ns.vcall(&all)
    };
    let mut publisher = Proc::spawn(joined(Role::Publisher, &publish_args("60s")));
    publisher.wait_for("stream is live");
    let dir = temp_dir();
    let (out, report) = (dir.path().join("call.mkv"), dir.path().join("call.html"));
    let (out, report_str) = (path_str(&out), path_str(&report));
    // The path goes away for a second after 3 s of media: a freeze, by construction.
    let mut args = recording_args(&out, "240", "freeze.max<300ms");
    args.extend([
        "--report",
        &report_str,
        "--json",
        "--impair",
        "outage=1s@3s",
    ]);
    let (code, run_lines, err) = run(joined(Role::Subscriber, &args));
    // The freeze fails the condition, and the report is written all the same.
    assert_eq!(code, 11, "{err}");
    drop(publisher);
    let html = std::fs::read_to_string(&report).expect("the report");
    assert!(html.len() < 2_000_000, "{} bytes", html.len());
    assert!(html.contains("freeze.max&lt;300ms") && html.contains("NOT met"));

    // Drawn again from the run's lines.
    let jsonl = dir.path().join("run.jsonl");
    std::fs::write(&jsonl, &run_lines).unwrap();
    let again = dir.path().join("again.html");
    let mut c = vcall();
    c.args(["report", &path_str(&jsonl), "-o", &path_str(&again)]);
    let (code, _, err) = run(c);
    assert_eq!(code, 0, "{err}");
    let again = std::fs::read_to_string(&again).unwrap();
    assert_eq!(again.matches("<svg").count(), html.matches("<svg").count());
    // Not a run's lines (the recording itself; a text file): usage errors saying why.
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello\n").unwrap();
    for (input, why) in [(out.as_str(), "is not text"), (&path_str(&text), "line 1")] {
        let mut c = vcall();
        c.args(["report", input, "-o", &path_str(&dir.path().join("x.html"))]);
        let (code, _, err) = run(c);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(why), "{err}");
    }

    // In Chromium, with no network at all.
    let mut open = ns.cmd(
        &path_str(&peers_python()),
        &[
            &path_str(&peer_script("open_report.py")),
            &report_str,
            &path_str(&dir.path().join("profile")),
        ],
    );
    open.stdin(std::process::Stdio::null());
    let (code, seen, err) = run(open);
    assert_eq!(code, 0, "{err}");
    let seen: serde_json::Value = serde_json::from_str(seen.trim()).expect(&seen);
    // Bit rate, frame rate, frozen time, latency, loss, picture height, A/V offset (no
    // congestion figures on a subscriber's side).
    assert_eq!(seen["charts"], 7, "{}", seen["text"]);
    assert!(seen["pictures"].as_u64().unwrap() >= 3, "{}", seen["text"]);
    assert_eq!(seen["pictures"], seen["picturesShown"]);
    assert!(
        seen["freezePictures"].as_u64().unwrap() >= 2,
        "{}",
        seen["text"]
    );
    assert_eq!(seen["verdicts"], 1);
    assert_eq!(seen["outside"], serde_json::json!([]));
    eprintln!("the report loaded in {} ms", seen["loadMs"]);
    // The page is not blank: a fair share of its pixels are not white.
    use base64::Engine;
    let png = base64::engine::general_purpose::STANDARD
        .decode(seen["screenshot"].as_str().unwrap())
        .unwrap();
    let shot = image::load_from_memory(&png).unwrap().to_rgb8();
    let inked = shot
        .pixels()
        .filter(|p| p.0.iter().any(|&c| c < 200))
        .count();
    let share = inked as f64 / (shot.width() * shot.height()) as f64;
    assert!(share > 0.02, "{share} of the screenshot inked");
}

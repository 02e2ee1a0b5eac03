//! `subscribe --expect`: every metric passing on a good call and failing where the media is
//! not what was asked (or cannot tell), each with exit 11 and the measured value.

use vcall::auth::Role;

use crate::common::*;

fn expect(server: &Server, session: &str, conditions: &str, extra: &[&str]) -> (i32, String) {
    let dir = temp_dir();
    let out = path_str(&dir.path().join("x.mkv"));
    let mut args = vec![
        "subscribe",
        "-o",
        &out,
        "--duration",
        "3s",
        "--expect",
        conditions,
    ];
    args.extend_from_slice(extra);
    let (code, _, err) = run(server.cmd(session, Role::Subscriber, &args));
    (code, err)
}

#[test]
fn every_metric_passes_on_a_good_call() {
    let server = Server::start();
    let session = server.session();
    let _p = publisher(&server, &session, "good", &[]);
    let all = "frames>=80, audio-frames>=140, frames.lost==0, latency.p50<1000ms, \
               latency.p95<2s, latency.max<3s, freeze.max<1000ms, av-skew<40ms, loss<1%";
    let (code, err) = expect(&server, &session, all, &[]);
    assert_eq!(code, 0, "{err}");
    for metric in [
        "frames>=",
        "audio-frames",
        "frames.lost",
        "latency.p50",
        "latency.p95",
        "latency.max",
        "freeze.max",
        "av-skew",
        "loss",
    ] {
        assert!(
            err.lines().any(|l| l.contains("ok ") && l.contains(metric)),
            "{metric}: {err}"
        );
    }
}

#[test]
fn a_slow_publisher_fails_frames_and_freeze() {
    let server = Server::start();
    let session = server.session();
    let _p = publisher(&server, &session, "slow", &["--fps", "5"]);
    let (code, err) = expect(&server, &session, "frames>=60, freeze.max<100ms", &[]);
    assert_eq!(code, 11, "{err}");
    assert!(err.contains("frames>=60 failed: measured 1"), "{err}");
    // 200 ms between pictures at 5 fps, up to 300 after one taken half a frame early for
    // a keyframe (a new subscriber's first: `encoding::Schedule`).
    let freeze: f64 = err
        .split("freeze.max<100ms failed: measured ")
        .nth(1)
        .and_then(|m| m.split("ms").next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no freeze measured: {err}"));
    assert!((150.0..450.0).contains(&freeze), "{freeze} ms: {err}");
}

#[test]
fn a_missing_audio_track_fails_av_skew_and_audio_frames() {
    let server = Server::start();
    let session = server.session();
    let _p = publisher(&server, &session, "mute", &["--no-audio"]);
    let (code, err) = expect(&server, &session, "av-skew<40ms, audio-frames>=1", &[]);
    assert_eq!(code, 11, "{err}");
    assert!(err.contains("av-skew<40ms cannot be measured"), "{err}");
    assert!(err.contains("audio-frames>=1 failed: measured 0"), "{err}");
}

#[test]
fn bounds_the_call_did_not_meet_fail_with_the_measured_value() {
    // The same good call, judged by bounds it cannot meet: each metric's failing path.
    let server = Server::start();
    let session = server.session();
    let _p = publisher(&server, &session, "good", &[]);
    let (code, err) = expect(
        &server,
        &session,
        "latency.p50<0ms, latency.p95<0ms, latency.max<0ms, frames.lost>=1, loss>0%, frames<1",
        &[],
    );
    assert_eq!(code, 11, "{err}");
    for failed in [
        "latency.p50<0ms failed",
        "latency.p95<0ms failed",
        "latency.max<0ms failed",
        "frames.lost>=1 failed: measured 0",
        "loss>0% failed: measured 0.00%",
        "frames<1 failed",
    ] {
        assert!(err.contains(failed), "{failed}: {err}");
    }
}

#[test]
fn what_cannot_be_measured_is_not_a_pass() {
    // VP8 from a file carries no test-pattern marks: latency cannot be measured.
    let server = Server::start();
    let session = server.session();
    let dir = temp_dir();
    let ivf = vp8_clip(dir.path());
    let mut p = Proc::spawn(server.cmd(
        &session,
        Role::Publisher,
        &[
            "publish",
            "--video",
            &path_str(&ivf),
            "--no-audio",
            "--loop",
        ],
    ));
    p.wait_for("stream is live");
    let (code, err) = expect(&server, &session, "frames>=10, latency.p95<200ms", &[]);
    assert_eq!(code, 11, "{err}");
    assert!(err.contains("ok      frames>=10"), "{err}");
    assert!(
        err.contains("latency.p95<200ms cannot be measured"),
        "{err}"
    );
}

#[test]
fn no_media_in_time_and_bad_conditions() {
    let server = Server::start();
    let session = server.session();
    // Nothing published: --timeout ends the wait with "no media".
    let (code, _, err) = run(server.cmd(
        &session,
        Role::Subscriber,
        &[
            "subscribe",
            "-o",
            "-",
            "--format",
            "h264",
            "--timeout",
            "1s",
        ],
    ));
    assert_eq!(code, 9, "{err}");
    assert!(err.contains("no media arrived within 1s"), "{err}");
    let (code, _, err) = run(server.cmd(
        &session,
        Role::Subscriber,
        &[
            "subscribe",
            "-o",
            "-",
            "--format",
            "h264",
            "--expect",
            "latency.p95<200",
        ],
    ));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("give the unit"), "{err}");
}

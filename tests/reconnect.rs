//! Joining again: `vcall serve` killed and started again on the same address while a
//! publisher and a recording subscriber are connected. Both join again and carry on; the
//! recording goes on in the same file.

use vcall::auth::Role;

use crate::common::*;

fn serve(listen: &str) -> (Proc, String) {
    serve_process(listen, &[])
}

/// A session of the key pair `k`/`s`.
fn session(nonce: &str) -> String {
    fixed_session(nonce)
}

/// `said` (a command's `--json` output) is valid and tells of joining again.
pub(crate) fn said_it_joined_again(said: &str) {
    let lines: Vec<String> = said
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(str::to_owned)
        .collect();
    let events = crate::json::validate(&lines);
    assert!(
        events.contains("reconnecting") && events.contains("reconnected"),
        "{said}"
    );
}

#[test]
fn server_restart_mid_recording_goes_on_in_the_same_file() {
    let (mut server, url) = serve("127.0.0.1:0");
    let listen = url.trim_start_matches("ws://").to_owned();
    let session = session("restart");
    let mut publisher = Proc::spawn(client(
        &url,
        &session,
        Role::Publisher,
        &[
            "publish", "--video", "testsrc", "--audio", "tone", "--width", "320", "--height",
            "240", "--json",
        ],
    ));
    publisher.wait_for("\"event\":\"published\"");
    let dir = temp_dir();
    let out = dir.path().join("restart.mp4");
    let mut subscriber = Proc::spawn(client(
        &url,
        &session,
        Role::Subscriber,
        &[
            "subscribe",
            "-o",
            &path_str(&out),
            // 8 s of frames: about 1 s comes before the kill below, the rest after the
            // server is back, however long that takes.
            "--frames",
            "240",
            "--json",
        ],
    ));
    subscriber.wait_for("firstFrame");
    wait_for_media(&out, 1.0, &subscriber);

    // Killed outright (no goodbye), and back on the same address.
    server.kill9();
    server.wait();
    let (mut again, _) = serve(&listen);

    assert_eq!(subscriber.wait(), 0, "{}", subscriber.output());
    said_it_joined_again(&subscriber.output());
    // The publisher joined again and published again (under the same stream id: the
    // recording found it).
    publisher.wait_for("\"event\":\"reconnecting\"");
    publisher.wait_for("\"event\":\"reconnected\"");
    publisher.wait_for("\"event\":\"published\"");
    // One file, every frame in order: those before the outage, a jump over the frames made
    // while the server was down, then the rest without another gap (how long the gap is
    // is the benchmarks' business).
    one_gap(&out, 15, 30);
    let (_, audio) = decode_audio(&out);
    assert!(audio.len() as f64 / 48_000.0 > 4.0);

    publisher.interrupt();
    assert_eq!(publisher.wait(), 130, "{}", publisher.output());
    again.interrupt();
    assert_eq!(again.wait(), 0);
}

#[test]
fn without_retries_a_lost_server_ends_the_call() {
    let (mut server, url) = serve("127.0.0.1:0");
    let session = session("gone");
    let mut watcher = Proc::spawn(client(
        &url,
        &session,
        Role::Subscriber,
        &[
            "connect",
            "--json",
            "--max-retries",
            "2",
            "--retry-delay",
            "200ms",
        ],
    ));
    watcher.wait_for("sessionConnected");
    server.kill9();
    server.wait();
    // Two attempts, then the session is over: exit 7, the reason as it was.
    assert_eq!(watcher.wait(), 7, "{}", watcher.output());
    let out = watcher.output();
    let lines: Vec<String> = out
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(str::to_owned)
        .collect();
    crate::json::validate(&lines);
    assert_eq!(
        out.matches("\"event\":\"reconnecting\"").count(),
        2,
        "{out}"
    );
    assert!(
        out.contains("\"event\":\"sessionDisconnected\",\"reason\":\"networkDisconnected\"")
            || out.contains("\"reason\":\"networkDisconnected\""),
        "{out}"
    );
}

/// A publisher killed outright and started again (a new process, the same token data and
/// stream name) within `vcall serve`'s grace period: the recording subscriber is told, waits,
/// and goes on in the same file — every frame of the first publisher up to its end, then
/// every frame of the second from its first, in one decodable timeline.
#[test]
fn a_publisher_killed_and_started_again_goes_on_in_the_same_recording() {
    // A grace period far longer than a starved machine needs to start a publisher: what is
    // checked is what the recording holds, not how soon the publisher came back.
    let (_server, url) = serve_process("127.0.0.1:0", &["--publisher-grace", "60s"]);
    let session = session("comeback");
    // The same token both times: its data says who publishes (a stream is resumed by name
    // only for a publisher its token names).
    let now = vcall::auth::unix_now();
    let token = fixed_keys().create_token(&vcall::auth::TokenClaims {
        iss: "k".into(),
        sid: session.clone(),
        role: Role::Publisher,
        data: "camera-1".into(),
        iat: now,
        exp: now + 600,
    });
    let publish = |url: &str| {
        let mut c = vcall();
        c.args([
            "publish",
            "--name",
            "cam",
            "--video",
            "testsrc",
            "--audio",
            "tone",
            "--width",
            "320",
            "--height",
            "240",
            "--json",
            "--url",
            url,
            "--session",
            &session,
            "--token",
            &token,
        ]);
        c
    };
    let mut first = Proc::spawn(publish(&url));
    first.wait_for("\"event\":\"published\"");
    let dir = temp_dir();
    let out = dir.path().join("comeback.mkv");
    let mut subscriber = Proc::spawn(client(
        &url,
        &session,
        Role::Subscriber,
        &["subscribe", "-o", &path_str(&out), "--json"],
    ));
    subscriber.wait_for("firstFrame");
    wait_for_media(&out, 1.0, &subscriber);
    first.kill9();
    first.wait();
    subscriber.wait_for("\"event\":\"streamInterrupted\"");
    let interrupted_at = media_end(&out);
    let mut second = Proc::spawn(publish(&url));
    second.wait_for("\"event\":\"published\"");
    subscriber.wait_for("\"event\":\"streamResumed\"");
    wait_for_media(&out, interrupted_at + 1.5, &subscriber);
    subscriber.interrupt();
    assert_eq!(subscriber.wait(), 130, "{}", subscriber.output());
    said_it_was_interrupted_and_resumed(&subscriber.output());

    // The pictures' burned-in frame numbers: one run counting up from the first
    // publisher's, then one from the second's (which counts from its own start).
    let marks = marks_at_size(&out, (320, 240));
    let numbers: Vec<u32> = marks.iter().map(|m| m.frame).collect();
    let restarts: Vec<usize> = (1..numbers.len())
        .filter(|&i| numbers[i] <= numbers[i - 1])
        .collect();
    let [restart] = restarts[..] else {
        panic!("not two runs of frame numbers: {numbers:?}");
    };
    for (name, run) in [
        ("first", &numbers[..restart]),
        ("second", &numbers[restart..]),
    ] {
        let gaps: Vec<&[u32]> = run.windows(2).filter(|w| w[1] != w[0] + 1).collect();
        assert!(
            gaps.is_empty(),
            "the {name} publisher's frames missing: {gaps:?}"
        );
    }
    assert!(numbers.len() - restart >= 30, "{numbers:?}");
    // One timeline: presentation times go on across the gap.
    let times = packet_times(&out, "v:0");
    assert!(times.windows(2).all(|w| w[1] > w[0]), "{times:?}");
    let (_, audio) = decode_audio(&out);
    assert!(!audio.is_empty());
    second.interrupt();
    assert_eq!(second.wait(), 130, "{}", second.output());
}

/// `said` (a subscribe's `--json` output) is valid and tells of its stream interrupted and
/// resumed, in that order.
fn said_it_was_interrupted_and_resumed(said: &str) {
    let lines: Vec<String> = said
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(str::to_owned)
        .collect();
    crate::json::validate(&lines);
    let at = |event: &str| said.find(&format!("\"event\":\"{event}\""));
    assert!(
        matches!((at("streamInterrupted"), at("streamResumed")), (Some(i), Some(r)) if i < r),
        "{said}"
    );
}

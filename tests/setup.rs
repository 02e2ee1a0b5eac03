//! Setting a media connection up anew: a connection whose ICE or DTLS does not complete is
//! replaced by a new one with a new offer, within the command's `--timeout`, against every
//! server kind, for publish, subscribe and echo-test. Here every datagram of a command's
//! first 12 s is dropped (`--impair outage=12s@0s`): the first attempt, negotiated within
//! the command's first seconds and given 6 s, cannot come up however slow the machine is, so
//! each command must say it set its connection up anew (`reconnecting`, reason
//! `setupFailed`), and the media must then arrive whole.

use std::path::Path;
use std::process::Command;

use vcall::auth::Role;

use crate::common::janus::{self, Janus};
use crate::common::*;

/// Nothing gets through for the first 12 s.
pub(crate) const DEAD_START: &str = "outage=12s@0s";

/// `said` (a command's `--json` output) tells of a setup made anew, then of the new one.
pub(crate) fn set_up_anew(said: &str) {
    let setup_failed = said.lines().position(|l| {
        l.contains("\"event\":\"reconnecting\"") && l.contains("\"reason\":\"setupFailed\"")
    });
    let reconnected = said
        .lines()
        .position(|l| l.contains("\"event\":\"reconnected\""));
    assert!(
        matches!((setup_failed, reconnected), (Some(a), Some(b)) if a < b),
        "{said}"
    );
}

/// The publish arguments: the test pattern and tone, set up over a dead start.
fn publish_over_a_dead_start() -> Vec<&'static str> {
    let mut args = publish_args("60s");
    args.extend(["--json", "--impair", DEAD_START, "--timeout", "40s"]);
    args
}

/// Records 60 frames over a dead start into `out`: every picture from the first on, both
/// kinds of media.
fn subscribe_over_a_dead_start(out: &Path) -> Vec<String> {
    let mut args: Vec<String> = recording_args(&path_str(out), "60", "frames>=60,frames.lost==0")
        .into_iter()
        .map(str::to_owned)
        .collect();
    args.extend(["--json", "--impair", DEAD_START, "--timeout", "40s"].map(str::to_owned));
    args
}

/// The recording has every picture from its first on, in order, and sound.
fn recorded_whole(out: &Path) {
    let pictures: Vec<_> = decode_video(out).into_iter().map(|(_, p)| p).collect();
    let marks = check_pattern(&pictures, 30.0);
    assert!(marks.len() >= 60, "{} pictures", marks.len());
    let (_, audio) = decode_audio(out);
    assert!(!audio.is_empty(), "no sound in {}", out.display());
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn publish_and_subscribe_through_vcall_serve_set_up_a_dead_connection_anew() {
    let server = Server::start();
    let session = server.session();
    let mut publisher =
        Proc::spawn(server.cmd(&session, Role::Publisher, &publish_over_a_dead_start()));
    publisher.wait_for("\"event\":\"published\"");
    set_up_anew(&publisher.output());

    let dir = temp_dir();
    let out = dir.path().join("anew.mkv");
    let args = subscribe_over_a_dead_start(&out);
    let (code, said, err) = run(server.cmd(&session, Role::Subscriber, &strs(&args)));
    assert_eq!(code, 0, "{err}");
    set_up_anew(&said);
    recorded_whole(&out);
}

#[test]
fn publish_subscribe_and_echo_test_through_janus_set_up_a_dead_connection_anew() {
    let j: &Janus = janus::shared();
    let room = "1301";
    let mut args = publish_over_a_dead_start();
    args.push("--create-room");
    let mut publisher = Proc::spawn(j.cmd(&j.ws, room, &args));
    // Janus tells the room of a publisher once its media is up.
    publisher.wait_for("\"event\":\"published\"");
    set_up_anew(&publisher.output());

    let dir = temp_dir();
    let out = dir.path().join("anew.mkv");
    let args = subscribe_over_a_dead_start(&out);
    let (code, said, err) = run(j.cmd(&j.ws, room, &strs(&args)));
    assert_eq!(code, 0, "{err}");
    set_up_anew(&said);
    recorded_whole(&out);

    // The EchoTest plugin: the attempt's session is left, a new one made.
    echo_over_a_dead_start(|args| j.cmd(&j.ws, "", args));
}

#[test]
fn echo_test_through_vcall_serve_sets_a_dead_connection_up_anew() {
    let server = Server::start();
    let session = server.session();
    echo_over_a_dead_start(|args| server.cmd(&session, Role::Publisher, args));
}

/// An echo test over a dead start (`cmd` makes the command with its arguments): it set its
/// connection up anew, and the media came back.
fn echo_over_a_dead_start(cmd: impl FnOnce(&[&str]) -> Command) {
    let (code, said, err) = run(cmd(&[
        "echo-test",
        "--json",
        "--frames",
        "60",
        "--impair",
        DEAD_START,
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("setting it up anew"), "{err}");
    let r: serde_json::Value = serde_json::from_str(said.trim()).expect("one JSON object");
    assert_echo_came_back(&r, &said, 60);
}

/// `vcall ARGS --url URL --token TOKEN`.
fn at(url: &str, token: &str, args: &[&str]) -> Command {
    let mut c = vcall();
    c.args(args).args(["--url", url, "--token", token]);
    c
}

#[test]
fn whip_and_whep_set_a_dead_connection_up_anew_as_a_new_resource() {
    let server = Server::start();
    let session = server.session();
    let base = server.url.replace("ws://", "http://");
    let whip = format!("whip+{base}/whip/{session}?name=cam");
    let token = server.token(&session, Role::Publisher);
    let mut publisher = Proc::spawn(at(&whip, &token, &publish_over_a_dead_start()));
    // The first resource is deleted, a second made (one pipe: in this order).
    publisher.wait_for("WHIP resource created");
    publisher.wait_for("WHIP resource deleted");
    publisher.wait_for("WHIP resource created");
    // WHIP has no word for the server receiving the media: the session's view says so.
    let (code, _, err) = run(server.cmd(
        &session,
        Role::Subscriber,
        &["connect", "--wait-for", "streams>=1", "--timeout", "40s"],
    ));
    assert_eq!(code, 0, "{err}");
    publisher.wait_for("\"event\":\"reconnected\"");
    set_up_anew(&publisher.output());

    let dir = temp_dir();
    let out = dir.path().join("anew.mp4");
    let whep = format!("whep+{base}/whep/{session}/cam");
    let viewer = server.token(&session, Role::Subscriber);
    let args = subscribe_over_a_dead_start(&out);
    let (code, said, err) = run(at(&whep, &viewer, &strs(&args)));
    assert_eq!(code, 0, "{err}");
    set_up_anew(&said);
    assert!(err.matches("WHEP resource created").count() >= 2, "{err}");
    recorded_whole(&out);
}

#[test]
fn a_connection_that_never_comes_up_ends_within_the_timeout_with_exit_8() {
    let server = Server::start();
    let session = server.session();
    let mut args = publish_args("60s");
    args.extend(["--json", "--impair", "outage=60s@0s", "--timeout", "14s"]);
    let (code, said, err) = run(server.cmd(&session, Role::Publisher, &args));
    assert_eq!(code, 8, "{err}");
    // Two attempts of 6 s fit in 14 s; a third would have too little time left.
    assert!(err.contains("did not come up within 14s ("), "{err}");
    assert!(said.contains("\"reason\":\"setupFailed\""), "{said}");
}

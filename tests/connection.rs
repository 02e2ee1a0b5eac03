//! One peer connection per client: every stream a subscriber records comes over one, and
//! streams that come and go join and leave it without disturbing the others.

use std::path::{Path, PathBuf};

use crate::common::*;
use vcall::auth::Role;

/// UDP sockets a process holds (a vcall peer connection binds one; no other UDP is used).
fn udp_sockets(pid: u32) -> usize {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the process's fds")
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
        })
        .collect();
    ["/proc/net/udp", "/proc/net/udp6"]
        .iter()
        .filter_map(|t| std::fs::read_to_string(t).ok())
        .flat_map(|t| t.lines().skip(1).map(str::to_owned).collect::<Vec<_>>())
        .filter(|l| {
            l.split_whitespace()
                .nth(9)
                .is_some_and(|inode| inodes.iter().any(|i| i == inode))
        })
        .count()
}

/// The recording of the stream named `name` in `dir`.
fn recording(dir: &Path, name: &str) -> PathBuf {
    std::fs::read_dir(dir)
        .expect("output dir")
        .map(|e| e.expect("entry").path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{name}-")))
        })
        .unwrap_or_else(|| panic!("no recording of {name} in {}", dir.display()))
}

fn decoded_pattern(path: &Path) -> Vec<u32> {
    let pictures: Vec<_> = decode_video(path).into_iter().map(|(_, p)| p).collect();
    assert!(
        pictures.len() >= 15,
        "{}: {} frames",
        path.display(),
        pictures.len()
    );
    check_pattern(&pictures, 30.0)
}

/// Three publishers recorded by one subscriber over one peer connection; one leaves (its
/// recording ends, the others go on without a gap), one arrives later (added to the same
/// connection). `publish` starts a publisher by name; `subscribe` is the subscriber's command
/// with the given arguments.
fn one_connection_for_streams_that_come_and_go(
    publish: impl Fn(&str) -> Proc,
    subscribe: impl Fn(&[&str]) -> std::process::Command,
) {
    let _a = publish("a");
    let _b = publish("b");
    let mut c = publish("c");
    let dir = temp_dir();
    let mut sub = Proc::spawn(subscribe(&[
        "subscribe",
        "--output-dir",
        &path_str(dir.path()),
        "--json",
    ]));
    for _ in 0..3 {
        sub.wait_for("\"firstFrame\"");
    }
    assert_eq!(udp_sockets(sub.child.id()), 1, "one peer connection");
    wait_for_media(&recording(dir.path(), "c"), 1.0, &sub);

    // One leaves: its recording ends, the others go on.
    c.interrupt();
    assert_eq!(c.wait(), 130, "{}", c.output());
    let finished = sub.wait_for("\"recordingFinished\"");
    assert!(finished.contains("\"name\":\"c\""), "{finished}");

    // One arrives later: added to the same connection.
    let _d = publish("d");
    sub.wait_for("\"firstFrame\"");
    assert_eq!(udp_sockets(sub.child.id()), 1, "still one peer connection");
    wait_for_media(&recording(dir.path(), "d"), 1.5, &sub);
    sub.interrupt();
    assert_eq!(sub.wait(), 130, "{}", sub.output());

    // All four decode to the pattern; those that stayed have every frame, without a gap.
    for name in ["a", "b", "c", "d"] {
        decoded_pattern(&recording(dir.path(), name));
    }
}

#[test]
fn streams_come_and_go_over_one_connection_to_the_embedded_server() {
    let server = Server::start();
    let session = server.session();
    one_connection_for_streams_that_come_and_go(
        |name| publisher(&server, &session, name, &[]),
        |args| server.cmd(&session, Role::Subscriber, args),
    );
}

#[test]
fn streams_come_and_go_over_one_connection_to_janus() {
    let j = crate::common::janus::shared();
    one_connection_for_streams_that_come_and_go(
        |name| crate::janus::publisher(j, &j.ws, "1201", name),
        |args| j.cmd(&j.ws, "1201", args),
    );
}

//! Peer-to-peer sessions (OpenTok's `p2p`): media directly between the two clients, the
//! server carrying signaling only; falling back to the server when the direct path cannot be
//! made or breaks, into the same recording; at most two clients with media; TURN relays.
//! The hosts that cannot reach each other are network namespaces the test makes: a server
//! host between two client hosts, which forwards between them only when told to.

use std::path::Path;
use std::process::Command;

use vcall::auth::{KeyPair, Role, SessionProps, unix_now};

use crate::common::*;

fn p2p_session(keys: &KeyPair) -> String {
    keys.create_session(&SessionProps {
        p2p: true,
        location_hint: None,
        created_at: unix_now(),
        nonce: format!("{:x}", rand::random::<u32>()),
    })
}

/// `forwardedPackets` of a session, from the session API of the server at `ws_url`.
fn forwarded(ws_url: &str, keys: &KeyPair, session: &str) -> u64 {
    let v = session_api(ws_url, keys, session);
    v["forwardedPackets"].as_u64().expect("forwardedPackets")
}

/// [`forwarded`] asked from inside network namespace `ns` (where the server is).
fn forwarded_in(ns: &str, ws_url: &str, session: &str) -> u64 {
    let (ns, url, session) = (ns.to_owned(), ws_url.to_owned(), session.to_owned());
    std::thread::spawn(move || {
        use std::os::fd::AsRawFd;
        let f = std::fs::File::open(format!("/var/run/netns/{ns}")).expect("the namespace");
        // SAFETY: setns on a valid namespace descriptor; it moves this thread only.
        let entered = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(entered, 0, "setns");
        forwarded(&url, &fixed_keys(), &session)
    })
    .join()
    .expect("asked")
}

fn json_lines(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.starts_with('{'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_p2p_session_sends_media_directly_and_the_server_forwards_none() {
    let server = Server::start();
    let session = p2p_session(&server.keys);
    let mut args = publish_args("20s");
    args.push("--json");
    let mut publisher = Proc::spawn(server.cmd(&session, Role::Publisher, &args));
    publisher.wait_for("\"event\":\"published\"");
    let dir = temp_dir();
    let out = dir.path().join("direct.mkv");
    let (code, stdout, err) = run(server.cmd(
        &session,
        Role::Subscriber,
        &[
            "subscribe",
            "-o",
            &path_str(&out),
            "--duration",
            "4s",
            "--json",
            "--stats-interval",
            "1s",
        ],
    ));
    assert_eq!(code, 0, "{err}");
    let lines = json_lines(&stdout);
    crate::json::validate(&lines);
    assert!(
        stdout.contains("\"event\":\"stats\"") && stdout.contains("\"path\":\"direct\""),
        "{stdout}"
    );
    assert!(!stdout.contains("streamPathChanged"), "{stdout}");
    crate::media::check_recording(&out, 4.0);
    assert_eq!(forwarded(&server.url, &server.keys, &session), 0);
    publisher.interrupt();
    assert_eq!(publisher.wait(), 130, "{}", publisher.output());
    let said = publisher.output();
    assert!(said.contains("\"path\":\"direct\""), "{said}");

    // The same server does forward in a session without p2p: the count is real.
    let routed = server.session();
    let _p = crate::common::publisher(&server, &routed, "src", &[]);
    let out = dir.path().join("routed.mkv");
    let (code, _, err) = run(server.cmd(
        &routed,
        Role::Subscriber,
        &["subscribe", "-o", &path_str(&out), "--duration", "2s"],
    ));
    assert_eq!(code, 0, "{err}");
    assert!(forwarded(&server.url, &server.keys, &routed) > 50);
}

#[test]
fn a_third_client_with_media_is_refused_and_one_that_watches_is_not() {
    let server = Server::start();
    let session = p2p_session(&server.keys);
    let mut args = publish_args("30s");
    args.push("--json");
    let mut publisher = Proc::spawn(server.cmd(&session, Role::Publisher, &args));
    publisher.wait_for("\"event\":\"published\"");
    let dir = temp_dir();
    let out = dir.path().join("second.mkv");
    let mut subscriber = Proc::spawn(server.cmd(
        &session,
        Role::Subscriber,
        &["subscribe", "-o", &path_str(&out), "--json"],
    ));
    subscriber.wait_for("firstFrame");
    // Watching takes no place: it sees the direct stream.
    let (code, stdout, err) = run(server.cmd(&session, Role::Subscriber, &["list-streams"]));
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains(" direct "), "{stdout}");
    // A third client with media is refused, with the reason.
    let third = dir.path().join("third.mkv");
    let (code, _, err) = run(server.cmd(
        &session,
        Role::Subscriber,
        &["subscribe", "-o", &path_str(&third), "--duration", "1s"],
    ));
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("2 clients with media"), "{err}");
    assert!(!third.exists() || std::fs::metadata(&third).unwrap().len() == 0);
    // A place is free again once one leaves.
    subscriber.interrupt();
    assert_eq!(subscriber.wait(), 130, "{}", subscriber.output());
    let (code, _, err) = run(server.cmd(
        &session,
        Role::Subscriber,
        &["subscribe", "-o", &path_str(&third), "--duration", "1s"],
    ));
    assert_eq!(code, 0, "{err}");
    publisher.interrupt();
    publisher.wait();
}

/// Three hosts: the server's, between two clients' (`a`, `b`), each client joined to it by a
/// veth pair. The clients reach the server; each other only while the server's host
/// forwards.
struct Hosts {
    server: String,
    a: String,
    b: String,
    server_ip: String,
}

impl Hosts {
    fn create() -> Hosts {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = (std::process::id() + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
            % 200
            + 20;
        let (s, a, b) = (
            format!("vcall-s{n}"),
            format!("vcall-p{n}"),
            format!("vcall-q{n}"),
        );
        let (sa, as_, sb, bs) = (
            format!("vps{n}a"),
            format!("vpa{n}"),
            format!("vps{n}b"),
            format!("vpb{n}"),
        );
        let net_a = format!("10.215.{n}");
        let net_b = format!("10.216.{n}");
        let hosts = Hosts {
            server: s.clone(),
            a: a.clone(),
            b: b.clone(),
            server_ip: format!("{net_a}.1"),
        };
        let steps: Vec<Vec<String>> = vec![
            vec!["netns".into(), "add".into(), s.clone()],
            vec!["netns".into(), "add".into(), a.clone()],
            vec!["netns".into(), "add".into(), b.clone()],
        ];
        let mut steps = steps;
        for (ns, here, there, net) in [(&a, &as_, &sa, &net_a), (&b, &bs, &sb, &net_b)] {
            let cmd = |s: &str| s.split(' ').map(str::to_owned).collect::<Vec<_>>();
            steps.push(cmd(&format!(
                "-n {s} link add {there} type veth peer name {here}"
            )));
            steps.push(cmd(&format!("-n {s} link set {here} netns {ns}")));
            steps.push(cmd(&format!("-n {s} addr add {net}.1/24 dev {there}")));
            steps.push(cmd(&format!("-n {s} link set {there} up")));
            steps.push(cmd(&format!("-n {ns} addr add {net}.2/24 dev {here}")));
            steps.push(cmd(&format!("-n {ns} link set {here} up")));
            steps.push(cmd(&format!("-n {ns} link set lo up")));
            steps.push(cmd(&format!("-n {ns} route add default via {net}.1")));
        }
        steps.push(vec![
            "-n".into(),
            s.clone(),
            "link".into(),
            "set".into(),
            "lo".into(),
            "up".into(),
        ]);
        for step in &steps {
            let step: Vec<&str> = step.iter().map(String::as_str).collect();
            assert!(
                ip(&step),
                "ip {step:?} failed (this test needs root and iproute2)"
            );
        }
        hosts.forwarding(false);
        hosts
    }

    /// Whether the server's host forwards between the clients: their direct path.
    fn forwarding(&self, on: bool) {
        let value = format!("net.ipv4.ip_forward={}", u8::from(on));
        let ok = Command::new("ip")
            .args(["netns", "exec", &self.server, "sysctl", "-qw", &value])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "sysctl in the server's namespace failed");
    }

    /// `vcall serve` on the server's host (key pair `k`/`s`), and its URL.
    fn serve(&self) -> (Proc, String) {
        let listen = format!("{}:0", self.server_ip);
        let mut serve = Proc::spawn(on_host(
            &self.server,
            &[
                "serve",
                "--listen",
                &listen,
                "--udp-port",
                "0",
                "--api-key",
                "k",
                "--api-secret",
                "s",
            ],
        ));
        let url = serve_url(&mut serve);
        (serve, url)
    }

    /// `vcall args --url .. --session .. --token ..` on host `ns`.
    fn client(ns: &str, url: &str, session: &str, role: Role, args: &[&str]) -> Command {
        let mut cmd = on_host(ns, args);
        let token = fixed_token(session, role);
        cmd.args(["--url", url, "--session", session, "--token", &token]);
        cmd
    }

    /// The server on its host, a p2p session, and a publisher (JSON lines) on host `a`, live.
    fn call(&self) -> (Proc, String, String, Proc) {
        let (serve, url) = self.serve();
        let session = p2p_session(&fixed_keys());
        let mut args = publish_args("30s");
        args.push("--json");
        let mut publisher = Proc::spawn(Hosts::client(
            &self.a,
            &url,
            &session,
            Role::Publisher,
            &args,
        ));
        publisher.wait_for("\"event\":\"published\"");
        (serve, url, session, publisher)
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b, &self.server] {
            ip(&["netns", "del", ns]);
        }
    }
}

#[test]
fn without_a_direct_path_a_p2p_call_goes_through_the_server() {
    let hosts = Hosts::create();
    let (mut serve, url, session, mut publisher) = hosts.call();
    // One that watches the session hears of the change too.
    let mut watcher = Proc::spawn(Hosts::client(
        &hosts.a,
        &url,
        &session,
        Role::Subscriber,
        &["connect", "--json"],
    ));
    watcher.wait_for("sessionConnected");
    let dir = temp_dir();
    let out = dir.path().join("fallback.mkv");
    let mut sub_cmd = Hosts::client(
        &hosts.b,
        &url,
        &session,
        Role::Subscriber,
        &[
            "subscribe",
            "-o",
            &path_str(&out),
            "--duration",
            "4s",
            "--json",
        ],
    );
    sub_cmd.stdin(std::process::Stdio::null());
    let (code, stdout, err) = run(sub_cmd);
    assert_eq!(code, 0, "{err}");
    let lines = json_lines(&stdout);
    crate::json::validate(&lines);
    let changed = lines
        .iter()
        .find(|l| l.contains("streamPathChanged"))
        .unwrap_or_else(|| panic!("no streamPathChanged: {stdout}\n{err}"));
    assert!(
        changed.contains("\"reason\":\"directFailed\"") && changed.contains("\"path\":\"routed\""),
        "{changed}"
    );
    // The first frame came through the server, after the direct path's 3 s (how soon after
    // is the benchmarks' business: BENCHMARKS.md, "Peer-to-peer sessions").
    let at = |what: &str| lines.iter().position(|l| l.contains(what));
    let first = at("firstFrame").expect("firstFrame");
    assert!(at("streamPathChanged") < Some(first), "{stdout}");
    let first: serde_json::Value = serde_json::from_str(&lines[first]).unwrap();
    let after = first["afterMs"].as_u64().unwrap();
    assert!(after >= 3000, "first frame after {after} ms");
    crate::media::check_recording(&out, 4.0);
    assert!(forwarded_in(&hosts.server, &url, &session) > 50);
    publisher.wait_for("\"event\":\"streamPathChanged\"");
    let seen = watcher.wait_for("\"event\":\"streamPathChanged\"");
    assert!(seen.contains("directFailed"), "{seen}");
    watcher.interrupt();
    watcher.wait();
    publisher.interrupt();
    assert_eq!(publisher.wait(), 130, "{}", publisher.output());
    serve.interrupt();
    serve.wait();
}

#[test]
fn a_direct_path_that_breaks_mid_call_goes_on_through_the_server_in_the_same_file() {
    let hosts = Hosts::create();
    hosts.forwarding(true);
    let (mut serve, url, session, mut publisher) = hosts.call();
    let dir = temp_dir();
    let out = dir.path().join("broken.mkv");
    let mut subscriber = Proc::spawn(Hosts::client(
        &hosts.b,
        &url,
        &session,
        Role::Subscriber,
        &[
            "subscribe",
            "-o",
            &path_str(&out),
            // 8 s of frames: about 2 s come before the break below, the rest after it,
            // however long the way through the server takes.
            "--frames",
            "240",
            "--json",
            "--stats-interval",
            "1s",
        ],
    ));
    subscriber.wait_for("\"path\":\"direct\"");
    wait_for_media(&out, 2.0, &subscriber);
    assert_eq!(forwarded_in(&hosts.server, &url, &session), 0);
    hosts.forwarding(false);
    let changed = subscriber.wait_for("\"event\":\"streamPathChanged\"");
    assert!(changed.contains("\"reason\":\"directLost\""), "{changed}");
    assert_eq!(subscriber.wait(), 0, "{}", subscriber.output());
    // One file: the frames before the break, one gap (1 s of silence, then the server's
    // path: how long is the benchmarks' business), then the rest in order.
    one_gap(&out, 30, 30);
    let (_, audio) = decode_audio(&out);
    assert!(audio.len() as f64 / 48_000.0 > 4.0);
    assert!(forwarded_in(&hosts.server, &url, &session) > 50);
    publisher.interrupt();
    assert_eq!(publisher.wait(), 130, "{}", publisher.output());
    serve.interrupt();
    serve.wait();
}

/// coturn on loopback with one user, `alice`/`wonder`; its log on stdout.
fn coturn(port: u16, dir: &Path) -> Proc {
    let relay_lo = 50_000 + (port % 100) * 100;
    let mut cmd = Command::new("turnserver");
    cmd.args([
        "-n",
        "--listening-ip=127.0.0.1",
        "--relay-ip=127.0.0.1",
        &format!("--listening-port={port}"),
        &format!("--min-port={relay_lo}"),
        &format!("--max-port={}", relay_lo + 99),
        "--lt-cred-mech",
        "--user=alice:wonder",
        "--realm=vcall.test",
        "--allow-loopback-peers",
        "--no-cli",
        "--no-tls",
        "--no-dtls",
        "--log-file=stdout",
        "--simple-log",
        "--verbose",
        &format!("--pidfile={}", dir.join("turn.pid").display()),
        &format!("--userdb={}", dir.join("turn.db").display()),
    ]);
    let mut p = Proc::spawn(cmd);
    p.wait_for("UDP listener opened on: 127.0.0.1");
    p
}

#[test]
fn media_goes_through_a_turn_relay_and_wrong_credentials_are_said_plainly() {
    let server = Server::start();
    let session = p2p_session(&server.keys);
    let dir = temp_dir();
    let port = 30_000 + (std::process::id() % 5_000) as u16;
    let mut turn = coturn(port, dir.path());
    let good = format!("turn:alice:wonder@127.0.0.1:{port}");
    let relay = ["--ice-transport", "relay", "--ice-server", &good];
    let mut args = publish_args("20s");
    args.push("--json");
    args.extend(relay);
    let mut publisher = Proc::spawn(server.cmd(&session, Role::Publisher, &args));
    publisher.wait_for("\"event\":\"published\"");
    let out = dir.path().join("relayed.mkv");
    let mut sub = vec!["subscribe", "-o", out.to_str().unwrap(), "--duration", "3s"];
    sub.extend(relay);
    let (code, _, err) = run(server.cmd(&session, Role::Subscriber, &sub));
    assert_eq!(code, 0, "{err}");
    assert!(decode_video(&out).len() > 45);
    assert_eq!(forwarded(&server.url, &server.keys, &session), 0);
    publisher.interrupt();
    assert_eq!(publisher.wait(), 130, "{}", publisher.output());
    // coturn relayed media between peers (its count when an allocation ends).
    let usage = turn.wait_for("peer usage");
    let received: u64 = usage
        .split("rp=")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(received > 20, "{usage}");

    let wrong = format!("turn:alice:nope@127.0.0.1:{port}");
    let mut args = publish_args("2s");
    args.extend(["--ice-transport", "relay", "--ice-server", &wrong]);
    let (code, _, err) = run(server.cmd(&session, Role::Publisher, &args));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("refused the credentials"), "{err}");
    let mut args = publish_args("2s");
    args.extend(["--ice-transport", "relay"]);
    let (code, _, err) = run(server.cmd(&session, Role::Publisher, &args));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("needs a TURN server"), "{err}");
}

//! The server's media engine: every client's media on one UDP port, and what else arrives on
//! that port (garbage, checks for connections that do not exist) changes nothing for them.

use crate::common::*;
use vcall::auth::Role;

/// The server's media address, from its "serving" line.
fn media_addr(serve: &Proc) -> std::net::SocketAddr {
    let line = serve
        .seen
        .iter()
        .find(|l| l.contains("serving on"))
        .expect("the serving line");
    let at = line.find("media on UDP ").expect("the media address") + "media on UDP ".len();
    line[at..]
        .split([';', ',', ' '])
        .next()
        .unwrap()
        .parse()
        .expect("an address")
}

/// A STUN Binding request naming `ufrag` (no valid integrity: nobody's password is known).
fn binding_request(ufrag: &str, n: u8) -> Vec<u8> {
    let name = format!("{ufrag}:zzzz");
    let mut attrs = vec![0x00, 0x06, 0x00, name.len() as u8];
    attrs.extend_from_slice(name.as_bytes());
    attrs.resize(attrs.len().next_multiple_of(4), 0);
    attrs.extend_from_slice(&[0x00, 0x08, 0x00, 0x14]);
    attrs.extend_from_slice(&[n; 20]);
    let mut d = vec![0x00, 0x01];
    d.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    d.extend_from_slice(&[0x21, 0x12, 0xA4, 0x42]);
    d.extend_from_slice(&[n; 12]);
    d.extend_from_slice(&attrs);
    d
}

#[test]
fn every_client_shares_the_one_media_port_and_strangers_on_it_change_nothing() {
    let (serve, url) = serve_process("127.0.0.1:0", &[]);
    let media = media_addr(&serve);
    let session = fixed_session("one-port");
    let on = |role: Role, args: &[&str]| client(&url, &session, role, args);
    let mut publisher = Proc::spawn(on(Role::Publisher, &publish_args("12s")));
    publisher.wait_for("stream is live");
    let dir = temp_dir();
    let mut subscribers: Vec<Proc> = (0..4)
        .map(|i| {
            let out = path_str(&dir.path().join(format!("{i}.mkv")));
            Proc::spawn(on(
                Role::Subscriber,
                &recording_args(&out, "150", "frames.lost==0"),
            ))
        })
        .collect();
    for s in &mut subscribers {
        s.wait_for("first frame");
    }
    // One socket, on the port the server named, for the publisher and four subscribers.
    assert_eq!(udp_ports_of(serve.child.id()), vec![media.port()]);
    // Strangers on the shared port while the media flows: datagrams of every kind that
    // route nowhere (unknown ufrags, garbage, something shaped like SRTP).
    let stranger = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for n in 0..=255u8 {
        let _ = stranger.send_to(&binding_request("nobody", n), media);
        let _ = stranger.send_to(&[n; 37], media);
        let mut srtp = vec![0x80, 0x60, 0, n, 0, 0, 0, n, 1, 2, 3, 4];
        srtp.extend_from_slice(&[n; 100]);
        let _ = stranger.send_to(&srtp, media);
    }
    // Nobody answers a stranger.
    stranger
        .set_read_timeout(Some(std::time::Duration::from_millis(300)))
        .unwrap();
    assert!(stranger.recv_from(&mut [0u8; 1500]).is_err());
    // Strangers over TCP on the same port (ICE-TCP's passive candidate), each keeping its
    // end open: the server closes, unanswered, a stream whose first frame is not STUN,
    // names no connection, is longer than a STUN request, or does not come whole in time.
    let frame = |d: &[u8]| [&(d.len() as u16).to_be_bytes()[..], d].concat();
    let strangers: Vec<Vec<u8>> = vec![
        frame(&[0x80; 40]),
        frame(&binding_request("nobody", 1)),
        [frame(&binding_request("nobody", 2)), frame(&[7; 1200])].concat(),
        vec![0xff, 0xff, 0, 1, 2],
        frame(&[0x00; 40])[..20].to_vec(),
        vec![],
    ];
    let closed: Vec<_> = strangers
        .into_iter()
        .map(|bytes| {
            std::thread::spawn(move || {
                use std::io::{Read, Write};
                let mut tcp = std::net::TcpStream::connect(media).expect("ICE-TCP on the port");
                tcp.set_read_timeout(Some(std::time::Duration::from_secs(30)))
                    .unwrap();
                tcp.write_all(&bytes).unwrap();
                let mut answer = Vec::new();
                let read = tcp.read_to_end(&mut answer);
                let closed = match &read {
                    Ok(_) => true,
                    Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
                };
                (
                    closed && answer.is_empty(),
                    format!("{bytes:02x?}: {read:?} {answer:02x?}"),
                )
            })
        })
        .collect();
    for stranger in closed {
        let (closed, what) = stranger.join().unwrap();
        assert!(
            closed,
            "a stranger's TCP stream not closed unanswered: {what}"
        );
    }
    // Each was dropped and counted (most of them: the kernel may drop some before the
    // engine reads them).
    let metrics = format!("{}/metrics", url.replacen("ws://", "http://", 1));
    let unrouted = || -> u64 {
        let text = ureq::get(&metrics)
            .call()
            .expect("/metrics answers")
            .body_mut()
            .read_to_string()
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("vcall_dropped_packets_total{reason=\"unrouted\"} "))
            .and_then(|n| n.trim().parse().ok())
            .expect("the unrouted count")
    };
    poll_until("strangers' datagrams counted", || {
        (unrouted() >= 100).then_some(())
    });
    for mut s in subscribers {
        assert_eq!(s.wait(), 0, "{}", s.output());
    }
    drop(publisher);
}

/// NAT rebinding: one end's media socket moves to a new port mid-call, so the server sees
/// the same peer come from another address. The server follows it on the same connection
/// (no ICE restart, no new call): the recording goes on, its frames in order.
fn rebinding_keeps_the_media(publisher_impair: &str, subscriber_impair: &str) {
    let (mut serve, url) = serve_process("127.0.0.1:0", &[]);
    let session = fixed_session("moving");
    let on = |role: Role, args: &[&str], impair: &str| {
        let mut c = client(&url, &session, role, args);
        if !impair.is_empty() {
            c.args(["--impair", impair]);
        }
        c
    };
    let mut publisher = Proc::spawn(on(Role::Publisher, &publish_args("14s"), publisher_impair));
    publisher.wait_for("stream is live");
    let dir = temp_dir();
    let out = dir.path().join("moving.mkv");
    let out_arg = path_str(&out);
    let args = ["subscribe", "-o", &out_arg, "--duration", "9s", "--json"];
    let (code, stdout, err) = run(on(Role::Subscriber, &args, subscriber_impair));
    publisher.interrupt();
    publisher.wait();
    let published = publisher.output();
    assert_eq!(code, 0, "{err}");
    for log in [&err, &published] {
        assert!(!log.contains("restarting ICE"), "an ICE restart: {log}");
    }
    assert!(!stdout.contains("reconnect"), "a new call: {stdout}");
    let moved = [&err, &published]
        .iter()
        .any(|l| l.contains("moved to a new port"));
    assert!(moved, "no socket moved: {err}");
    // The server followed the peer to its new address (the move came mid-call, after the
    // connection was set up from the old one).
    serve.wait_for("its media follows it");
    // Every frame recorded is the publisher's next one or a later one; after the longest
    // gap (the move) the picture went on for at least a second, every frame of it there:
    // losses on the moved end's path were repaired, so its feedback (NACKs, keyframe
    // requests) reached it at its new address.
    let numbers: Vec<u32> = decode_video(&out)
        .iter()
        .map(|(_, p)| vcall::media::testsrc::read_marks(p).expect("marks").frame)
        .collect();
    assert!(
        numbers.windows(2).all(|w| w[1] > w[0]),
        "frames out of order: {numbers:?}"
    );
    let gap = numbers
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[1] - w[0] > 1)
        .max_by_key(|(_, w)| w[1] - w[0])
        .map_or(0, |(i, _)| i + 1);
    assert!(
        numbers.len() - gap >= 30,
        "{} frames after the move at frame {}: {numbers:?}",
        numbers.len() - gap,
        numbers.get(gap).copied().unwrap_or_default()
    );
    assert!(
        numbers[gap..].windows(2).all(|w| w[1] == w[0] + 1),
        "frames missing after the move: {numbers:?}"
    );
}

#[test]
fn a_subscriber_whose_address_changes_mid_call_keeps_its_media() {
    rebinding_keeps_the_media("", "rebind=3s,loss=3%,seed=7");
}

#[test]
fn a_publisher_whose_address_changes_mid_call_keeps_its_media() {
    rebinding_keeps_the_media("rebind=4s,loss=3%,seed=7", "");
}

/// The key log lines in `path`: (client random, master secret), each in hex of its length.
fn key_log(path: &std::path::Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).expect("the key log file");
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            assert_eq!(f.len(), 3, "{l:?}");
            assert_eq!(f[0], "CLIENT_RANDOM", "{l:?}");
            let hex = |s: &str, bytes: usize| {
                assert!(
                    s.len() == bytes * 2 && s.bytes().all(|b| b.is_ascii_hexdigit()),
                    "{l:?}"
                );
                s.to_owned()
            };
            (hex(f[1], 32), hex(f[2], 48))
        })
        .collect()
}

/// `SSLKEYLOGFILE`: each end of a connection writes its DTLS handshake's master secret there,
/// in the NSS key log format Wireshark reads. The two ends of one handshake came to it each
/// on its own (ECDHE), so the subscriber's line is one of the server's two (its connection and
/// the publisher's, which was given no file). From those secrets the server derived each
/// connection's SRTP keys itself, and they opened its packets both ways.
#[test]
fn both_ends_of_a_connection_log_the_same_dtls_secret() {
    let dir = temp_dir();
    let (serve_keys, sub_keys) = (dir.path().join("serve.keys"), dir.path().join("sub.keys"));
    let mut serve = Proc::spawn({
        let mut c = vcall();
        c.args(["serve", "--listen", "127.0.0.1:0", "--udp-port", "0", "-v"])
            .args(["--api-key", "k", "--api-secret", "s"])
            .env("SSLKEYLOGFILE", &serve_keys);
        c
    });
    let url = serve_url(&mut serve);
    let session = fixed_session("keylog");
    let on = |role: Role, args: &[&str]| client(&url, &session, role, args);
    let mut publisher = Proc::spawn(on(Role::Publisher, &publish_args("60s")));
    publisher.wait_for("stream is live");
    let out = dir.path().join("sub.mkv");
    let mut sub = on(
        Role::Subscriber,
        &["subscribe", "-o", &path_str(&out), "--frames", "10"],
    );
    sub.env("SSLKEYLOGFILE", &sub_keys);
    let (code, _, err) = run(sub);
    assert_eq!(code, 0, "{err}");
    let (served, subscribed) = (key_log(&serve_keys), key_log(&sub_keys));
    assert_eq!(
        (served.len(), subscribed.len()),
        (2, 1),
        "{served:?} {subscribed:?}"
    );
    assert!(served.contains(&subscribed[0]), "{served:?} {subscribed:?}");
    assert_ne!(served[0], served[1]);
    for _ in 0..2 {
        serve.wait_for(
            "SRTP keys derived by vcall (SRTP_AEAD_AES_128_GCM) opened a packet each way",
        );
    }
    publisher.interrupt();
    assert_eq!(publisher.wait(), 130, "{}", publisher.output());
}

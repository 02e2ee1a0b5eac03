//! Across machines and over a lossy network: clients in a network namespace of their own
//! (another host, as far as ICE can tell) reach the server over a veth link; iptables drops
//! packets at random inside that namespace to stand in for a lossy path.

use std::process::Command;

use vcall::auth::Role;

use crate::common::*;

/// A network namespace joined to this one by a veth pair; removed on drop.
struct Netns {
    name: String,
    host_if: String,
    pub host_ip: String,
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

impl Netns {
    fn create() -> Netns {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = (std::process::id() + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
            % 200
            + 20;
        let name = format!("vcall-t{n}");
        let (host_if, peer_if) = (format!("vct{n}a"), format!("vct{n}b"));
        let (host_ip, peer_ip) = (format!("10.213.{n}.1"), format!("10.213.{n}.2"));
        let ns = Netns {
            name: name.clone(),
            host_if: host_if.clone(),
            host_ip: host_ip.clone(),
        };
        let steps: [&[&str]; 8] = [
            &["netns", "add", &name],
            &[
                "link", "add", &host_if, "type", "veth", "peer", "name", &peer_if,
            ],
            &["link", "set", &peer_if, "netns", &name],
            &["addr", "add", &format!("{host_ip}/24"), "dev", &host_if],
            &["link", "set", &host_if, "up"],
            &[
                "-n",
                &name,
                "addr",
                "add",
                &format!("{peer_ip}/24"),
                "dev",
                &peer_if,
            ],
            &["-n", &name, "link", "set", &peer_if, "up"],
            &["-n", &name, "link", "set", "lo", "up"],
        ];
        for step in steps {
            assert!(
                ip(step),
                "ip {step:?} failed (this test needs root and iproute2)"
            );
        }
        ns
    }
}

impl Netns {
    /// Drops `percent` of UDP packets in and out of the namespace, at random.
    fn lossy(&self, percent: u32) {
        let p = format!("{:.3}", percent as f64 / 100.0);
        for chain in ["INPUT", "OUTPUT"] {
            let ok = Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &self.name,
                    "iptables",
                    "-A",
                    chain,
                    "-p",
                    "udp",
                    "-m",
                    "statistic",
                    "--mode",
                    "random",
                    "--probability",
                    &p,
                    "-j",
                    "DROP",
                ])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "iptables failed (this test needs root and iptables)");
        }
    }

    /// `vcall args` inside the namespace, against `server`.
    fn vcall(&self, server: &Server, session: &str, role: Role, args: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, env!("CARGO_BIN_EXE_vcall")])
            .args(args);
        cmd.args([
            "--url",
            &server.url,
            "--session",
            session,
            "--token",
            &server.token(session, role),
        ]);
        cmd
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        ip(&["link", "del", &self.host_if]);
        ip(&["netns", "del", &self.name]);
    }
}

#[test]
fn a_publisher_on_another_host_is_recorded() {
    let ns = Netns::create();
    let server = Server::start_on(&ns.host_ip);
    let session = server.session();
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &ns.name, env!("CARGO_BIN_EXE_vcall")]);
    cmd.args([
        "publish", "--video", "testsrc", "--audio", "tone", "--width", "320", "--height", "240",
    ]);
    cmd.args([
        "--url",
        &server.url,
        "--session",
        &session,
        "--token",
        &server.token(&session, Role::Publisher),
    ]);
    let mut publisher = Proc::spawn(cmd);
    publisher.wait_for("stream is live");
    let dir = temp_dir();
    let out = dir.path().join("remote.mp4");
    let (code, _, err) = run(server.cmd(
        &session,
        Role::Subscriber,
        &["subscribe", "-o", &path_str(&out), "--duration", "2s"],
    ));
    assert_eq!(code, 0, "{err}");
    let pictures: Vec<_> = decode_video(&out).into_iter().map(|(_, p)| p).collect();
    assert!(
        (pictures.len() as i64 - 60).abs() <= 3,
        "{} frames",
        pictures.len()
    );
    check_pattern(&pictures, 30.0);
    publisher.interrupt();
    assert_eq!(publisher.wait(), 130, "{}", publisher.output());
}

#[test]
fn retransmissions_repair_a_lossy_path_on_both_legs() {
    // 3% of UDP lost each way on both the publisher's and the subscriber's leg. Without NACK
    // about a tenth of the video frames would be damaged and the recording would skip to
    // keyframes; with it, nearly every frame arrives.
    let ns = Netns::create();
    let server = Server::start_on(&ns.host_ip);
    let session = server.session();
    ns.lossy(3);
    let args = [
        "publish",
        "--video",
        "testsrc",
        "--no-audio",
        "--width",
        "320",
        "--height",
        "240",
        "--keyframe-interval",
        "100000",
    ];
    let mut publisher = Proc::spawn(ns.vcall(&server, &session, Role::Publisher, &args));
    publisher.wait_for("stream is live");
    let dir = temp_dir();
    let out = dir.path().join("lossy.mkv");
    let (code, _, err) = run(ns.vcall(
        &server,
        &session,
        Role::Subscriber,
        &["subscribe", "-o", &path_str(&out), "--duration", "4s"],
    ));
    assert_eq!(code, 0, "{err}");
    let pictures: Vec<_> = decode_video(&out).into_iter().map(|(_, p)| p).collect();
    let numbers: Vec<u32> = pictures
        .iter()
        .map(|p| vcall::media::testsrc::read_marks(p).expect("marks").frame)
        .collect();
    let span = numbers.last().unwrap() - numbers.first().unwrap() + 1;
    let present = numbers.len() as f64 / span as f64;
    assert!(
        present >= 0.97,
        "only {:.1}% of frames {}..{} arrived",
        present * 100.0,
        numbers[0],
        numbers.last().unwrap()
    );
    assert!(span >= 100, "{span} frames in 4 s");
    publisher.interrupt();
    publisher.wait();
}

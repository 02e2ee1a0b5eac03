//! Across machines: a publisher in a network namespace of its own (another host, as far as
//! ICE can tell) reaches the server over a veth link, and a subscriber records it.

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
        let n = std::process::id() % 200 + 20;
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

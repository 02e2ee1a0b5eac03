//! A real Janus (Debian's `janus` package) for the tests: configured from `tests/janus/`,
//! loopback only, stored-token auth, the VideoRoom and EchoTest plugins, WebSocket and HTTP
//! transports on free ports. Janus skips loopback interfaces when it gathers ICE candidates;
//! `tests/janus/loopback_shim.c`, preloaded, makes `lo` look like an ordinary interface so
//! that `ice_enforce_list = "lo"` keeps all media on 127.0.0.1.
//!
//! One instance is shared by the tests of a run (`shared()`); a test that disturbs its media
//! starts its own (`Janus::start()`). Either dies with the test process (parent-death signal).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU16, Ordering};

use super::LIMIT;

pub const TOKEN: &str = "vcall-test-token";
const ADMIN_SECRET: &str = "vcall-test-admin";

pub struct Janus {
    pub ws: String,
    pub http: String,
    pub wss: String,
    pub https: String,
    /// The UDP ports its media uses.
    pub rtp_ports: (u16, u16),
    pid: u32,
    pub dir: tempfile::TempDir,
}

static SHARED: OnceLock<Janus> = OnceLock::new();

/// The run's shared Janus.
pub fn shared() -> &'static Janus {
    SHARED.get_or_init(Janus::start)
}

/// Distinct free ports (held together while chosen, so they differ).
fn free_ports<const N: usize>() -> [u16; N] {
    let held: Vec<std::net::TcpListener> = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    std::array::from_fn(|i| held[i].local_addr().expect("address").port())
}

/// A range of media ports of its own for each instance (per process and per instance).
fn rtp_range() -> (u16, u16) {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let slot = (std::process::id() as u16 % 50) * 4 + NEXT.fetch_add(1, Ordering::Relaxed) % 4;
    let start = 20_000 + slot * 200;
    (start, start + 199)
}

fn shim(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/janus/loopback_shim.c");
    let out = dir.join("loopback_shim.so");
    let ok = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&out)
        .arg(&src)
        .arg("-ldl")
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "cannot build {} (needs a C compiler)", src.display());
    out
}

impl Janus {
    /// Starts a Janus of its own and waits until its transports listen.
    pub fn start() -> Janus {
        let which = Command::new("janus").arg("--version").output();
        assert!(
            which.is_ok(),
            "the `janus` executable is missing: scripts/test.sh installs Debian's janus package"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let [ws_port, http_port, admin_port, wss_port, https_port] = free_ports();
        let rtp = rtp_range();
        let lib = Path::new("/usr/lib/x86_64-linux-gnu/janus");
        let lib = if lib.exists() {
            lib.to_owned()
        } else {
            // Other architectures: ask the package where its plugins are.
            let out = Command::new("dpkg")
                .args(["-L", "janus"])
                .output()
                .expect("dpkg");
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let plugins = text
                .lines()
                .find(|l| l.ends_with("/janus/plugins"))
                .expect("janus plugins folder");
            Path::new(plugins).parent().expect("janus lib").to_owned()
        };
        for sub in ["plugins", "transports", "none"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        for (sub, name) in [
            ("plugins", "libjanus_videoroom.so"),
            ("plugins", "libjanus_echotest.so"),
            ("transports", "libjanus_websockets.so"),
            ("transports", "libjanus_http.so"),
        ] {
            std::os::unix::fs::symlink(lib.join(sub).join(name), dir.path().join(sub).join(name))
                .expect("symlink");
        }
        let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/janus");
        for entry in std::fs::read_dir(&templates).expect("tests/janus") {
            let path = entry.expect("entry").path();
            if path.extension().and_then(|e| e.to_str()) != Some("jcfg") {
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .expect("config")
                .replace("@DIR@", &dir.path().display().to_string())
                .replace("@WS_PORT@", &ws_port.to_string())
                .replace("@HTTP_PORT@", &http_port.to_string())
                .replace("@WSS_PORT@", &wss_port.to_string())
                .replace("@HTTPS_PORT@", &https_port.to_string())
                .replace("@ADMIN_PORT@", &admin_port.to_string())
                .replace("@ADMIN_SECRET@", ADMIN_SECRET)
                .replace("@RTP_PORTS@", &format!("{}-{}", rtp.0, rtp.1));
            std::fs::write(dir.path().join(path.file_name().expect("name")), text)
                .expect("write config");
        }
        let shim = shim(dir.path());
        // TLS: a certificate for 127.0.0.1 that clients trust through SSL_CERT_FILE.
        let cert =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).expect("certificate");
        std::fs::write(dir.path().join("cert.pem"), cert.cert.pem()).expect("write cert");
        std::fs::write(dir.path().join("key.pem"), cert.signing_key.serialize_pem())
            .expect("write key");

        // Line-buffered, so that readiness shows as it happens (Janus's stdio is buffered).
        let mut cmd = Command::new("stdbuf");
        cmd.args(["-oL", "janus", "-F"])
            .arg(dir.path())
            .arg("-C")
            .arg(dir.path().join("janus.jcfg"))
            .env("LD_PRELOAD", &shim)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        // Janus dies with the thread that started it; that thread lives as long as Janus.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<u32, String>>();
        let log_path = dir.path().join("janus.log");
        std::thread::spawn(move || {
            let mut child = match cmd.spawn() {
                Ok(c) => c,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("cannot start janus: {e}")));
                    return;
                }
            };
            let mut log = std::fs::File::create(&log_path).expect("log file");
            let mut waiting = vec![
                "Websockets server started",
                "HTTP webserver started",
                "Admin/monitor HTTP webserver started",
                "Secure Websockets server started",
                "HTTPS webserver started",
                "EchoTest plugin initialized",
                "VideoRoom plugin initialized",
            ];
            let stdout = child.stdout.take().expect("stdout");
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(log, "{line}");
                if !waiting.is_empty() {
                    waiting.retain(|w| !line.contains(w));
                    if waiting.is_empty() {
                        let _ = ready_tx.send(Ok(child.id()));
                    }
                }
            }
            let status = child.wait();
            let _ = ready_tx.send(Err(format!("janus exited: {status:?}")));
        });
        let log = dir.path().join("janus.log");
        let pid = match ready_rx.recv_timeout(LIMIT) {
            Ok(Ok(pid)) => pid,
            other => panic!(
                "Janus did not start ({other:?}); its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ),
        };
        let janus = Janus {
            ws: format!("janus+ws://127.0.0.1:{ws_port}"),
            http: format!("janus+http://127.0.0.1:{http_port}/janus"),
            wss: format!("janus+wss://127.0.0.1:{wss_port}"),
            https: format!("janus+https://127.0.0.1:{https_port}/janus"),
            rtp_ports: rtp,
            pid,
            dir,
        };
        // Stored-token auth: the tests' token is added through the admin API.
        let add_token = || -> Result<serde_json::Value, ureq::Error> {
            ureq::post(&format!("http://127.0.0.1:{admin_port}/admin"))
                .send_json(serde_json::json!({
                    "janus": "add_token", "token": TOKEN, "transaction": "t", "admin_secret": ADMIN_SECRET
                }))?
                .body_mut()
                .read_json()
        };
        let answer = add_token()
            .or_else(|_| {
                // The listener may need a moment after its log line on a loaded machine.
                std::thread::sleep(std::time::Duration::from_secs(1));
                add_token()
            })
            .unwrap_or_else(|e| panic!("Janus's admin API: {e}; its log:\n{}", janus.log()));
        assert_eq!(answer["janus"], "success", "add_token: {answer}");
        janus
    }

    /// `vcall ARGS` against this Janus (`url` is `self.ws` or `self.http`), in `room`.
    pub fn cmd(&self, url: &str, room: &str, args: &[&str]) -> Command {
        let mut c = super::vcall();
        c.args(args)
            .args(["--url", url, "--session", room, "--token", TOKEN]);
        c
    }

    /// The certificate its TLS transports present (for SSL_CERT_FILE).
    pub fn cert(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("janus.log")).unwrap_or_default()
    }
}

impl Drop for Janus {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.pid.to_string()])
            .status();
    }
}

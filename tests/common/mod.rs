//! The shared harness: an in-process server on 127.0.0.1:0, the real `vcall` executable as a
//! child process with a cleared environment, waiting on output lines (never on the clock),
//! and decoding with ffmpeg to check what came out.

#![allow(dead_code)]

pub mod janus;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use vcall::auth::{KeyPair, Role, SessionProps, TokenClaims, unix_now};
use vcall::server::{self, ServerConfig};
use vcall::vocab::I420;

/// Generous limits: tests run on a loaded 2-core machine. They bound a wait; they time nothing.
pub const LIMIT: Duration = Duration::from_secs(60);

pub struct Server {
    pub url: String,
    pub keys: KeyPair,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub fn start() -> Server {
        Server::start_on("127.0.0.1")
    }

    /// A server listening (and sending media) on `ip`.
    pub fn start_on(ip: &str) -> Server {
        Server::start_with(ip, None)
    }

    /// A server that commits `fault` (what a check of servers must catch).
    pub fn faulty(fault: server::Fault) -> Server {
        Server::start_with("127.0.0.1", Some(fault))
    }

    fn start_with(ip: &str, fault: Option<server::Fault>) -> Server {
        let bind = format!("{ip}:0");
        let keys = KeyPair::generate();
        let (addr_tx, addr_rx) = mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let k = keys.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(bind).await.expect("bind");
                let addr = listener.local_addr().expect("addr");
                addr_tx.send(addr).expect("send addr");
                let mut config = ServerConfig::new(k, addr.ip());
                if let Some(fault) = fault {
                    config = config.with_fault(fault);
                }
                server::run(listener, config, async {
                    let _ = stopped.await;
                })
                .await
                .expect("server runs");
            });
        });
        let addr = addr_rx.recv_timeout(LIMIT).expect("server started");
        Server {
            url: format!("ws://{addr}"),
            keys,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn session(&self) -> String {
        self.keys.create_session(&SessionProps {
            p2p: false,
            location_hint: None,
            created_at: unix_now(),
            nonce: format!("{:x}", rand::random::<u32>()),
        })
    }

    pub fn token(&self, session: &str, role: Role) -> String {
        self.token_with(session, role, "", unix_now() + 3600)
    }

    pub fn token_with(&self, session: &str, role: Role, data: &str, exp: u64) -> String {
        self.keys.create_token(&TokenClaims {
            iss: self.keys.key.clone(),
            sid: session.into(),
            role,
            data: data.into(),
            iat: unix_now(),
            exp,
        })
    }

    /// Shuts the server down (clients are told) and waits for it.
    pub fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// `vcall <args> --url .. --session .. --token ..`
    pub fn cmd(&self, session: &str, role: Role, args: &[&str]) -> Command {
        let mut c = vcall();
        c.args(args).args([
            "--url",
            &self.url,
            "--session",
            session,
            "--token",
            &self.token(session, role),
        ]);
        c
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The real executable, with no VCALL_*, RUST_LOG or SSLKEYLOGFILE from the outside.
pub fn vcall() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vcall"));
    for (k, _) in std::env::vars() {
        if k.starts_with("VCALL_") || k == "RUST_LOG" || k == "SSLKEYLOGFILE" {
            c.env_remove(k);
        }
    }
    // Nobody's own configuration file.
    c.env("XDG_CONFIG_HOME", "/nonexistent/vcall-tests");
    c.stdin(Stdio::null());
    c
}

/// A running child with its stdout and stderr lines readable as they come.
pub struct Proc {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Proc {
    pub fn spawn(mut cmd: Command) -> Proc {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("vcall starts");
        let (tx, lines) = mpsc::channel();
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Proc {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `needle`; panics with what was seen if none comes.
    pub fn wait_for(&mut self, needle: &str) -> String {
        self.wait_for_within(needle, LIMIT)
    }

    /// A line containing `needle` that came already or comes within `LIMIT`.
    pub fn said(&mut self, needle: &str) -> String {
        self.drain();
        match self.seen.iter().find(|l| l.contains(needle)) {
            Some(line) => line.clone(),
            None => self.wait_for(needle),
        }
    }

    /// The lines that came so far, kept in `seen` without waiting for more.
    pub fn drain(&mut self) {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
    }

    /// `wait_for` with a bound of its own, for what the far end does only after a while.
    pub fn wait_for_within(&mut self, needle: &str, limit: Duration) -> String {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {needle:?} (the process: {:?}); saw:\n{}",
                    self.child.try_wait(),
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// The next line within `limit` (kept in `seen`), or `None`.
    pub fn next_line(&mut self, limit: Duration) -> Option<String> {
        let line = self.lines.recv_timeout(limit).ok()?;
        self.seen.push(line.clone());
        Some(line)
    }

    pub fn interrupt(&self) {
        unsafe_kill(self.child.id(), "INT");
    }

    pub fn kill9(&self) {
        unsafe_kill(self.child.id(), "KILL");
    }

    /// Waits for the exit and returns the code, with all output kept in `seen`.
    pub fn wait(&mut self) -> i32 {
        let deadline = std::time::Instant::now() + LIMIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                // Collect what is left of the output.
                while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
                    self.seen.push(line);
                }
                return status.code().unwrap_or(-1);
            }
            match self.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => self.seen.push(line),
                Err(_) if std::time::Instant::now() > deadline => {
                    let _ = self.child.kill();
                    panic!("process did not exit; saw:\n{}", self.seen.join("\n"));
                }
                Err(_) => {}
            }
        }
    }

    pub fn output(&self) -> String {
        self.seen.join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unsafe_kill(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

/// Runs a command to the end: (exit code, stdout, stderr).
/// Runs a command to the end: (exit code, stdout, stderr).
pub fn run(cmd: Command) -> (i32, String, String) {
    let (code, out, err) = run_bytes(cmd);
    (code, String::from_utf8_lossy(&out).into_owned(), err)
}

/// Runs a command to the end, within a bound (killed and reported past it): (exit code,
/// stdout bytes, stderr).
pub fn run_bytes(mut cmd: Command) -> (i32, Vec<u8>, String) {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("vcall starts");
    let read_all = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    };
    let out = read_all(Box::new(child.stdout.take().expect("stdout")));
    let err = read_all(Box::new(child.stderr.take().expect("stderr")));
    let deadline = std::time::Instant::now() + 2 * LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let err = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
            panic!("{cmd:?} did not finish in {:?}; stderr:\n{err}", 2 * LIMIT);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = out.join().unwrap_or_default();
    let err = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
    (status.code().unwrap_or(-1), out, err)
}

/// A publisher of the test pattern and tone at a small size, until interrupted or --duration.
pub fn publisher(server: &Server, session: &str, name: &str, extra: &[&str]) -> Proc {
    let mut args = vec![
        "publish", "--name", name, "--video", "testsrc", "--audio", "tone",
    ];
    // Small pictures keep a loaded machine's encoders ahead; `extra` may choose others.
    for (flag, value) in [
        ("--width", "320"),
        ("--height", "240"),
        ("--video-bitrate", "600k"),
    ] {
        if !extra.contains(&flag) {
            args.extend([flag, value]);
        }
    }
    args.extend_from_slice(extra);
    let mut p = Proc::spawn(server.cmd(session, Role::Publisher, &args));
    p.wait_for("stream is live");
    p
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// ffprobe's view of a file's streams.
pub fn probe(path: &Path) -> serde_json::Value {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-show_streams",
            "-show_format",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs (installed by the test command)");
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

/// `entries` (e.g. `pts_time`, `width,height`) of each frame of a file's video, as ffprobe
/// prints them (comma-separated), decoding every frame; and what ffprobe said on stderr.
pub fn video_frame_entries(path: &Path, entries: &str) -> (Vec<String>, String) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .arg(format!("frame={entries}"))
        .args(["-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().trim_end_matches(',').to_owned())
        .collect();
    (lines, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Decoded pictures of a file's video, in decode order, with their presentation times (s).
pub fn decode_video(path: &Path) -> Vec<(f64, I420)> {
    let times: Vec<f64> = video_frame_entries(path, "pts_time")
        .0
        .iter()
        .filter_map(|l| l.parse().ok())
        .collect();
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args([
            "-map",
            "0:v:0",
            "-fps_mode",
            "passthrough",
            "-f",
            "yuv4mpegpipe",
            "-pix_fmt",
            "yuv420p",
            "-",
        ])
        .output()
        .expect("ffmpeg runs");
    let pictures = parse_y4m(&out.stdout);
    assert_eq!(
        times.len(),
        pictures.len(),
        "ffprobe and ffmpeg disagree on the frame count of {}",
        path.display()
    );
    times.into_iter().zip(pictures).collect()
}

/// Every picture of a recording at one size, `(width, height)`, and the marks burned into
/// each (the test pattern's frame number and capture time).
pub fn marks_at_size(path: &Path, size: (u32, u32)) -> Vec<vcall::media::testsrc::Marks> {
    let (sizes, err) = video_frame_entries(path, "width,height");
    let want = format!("{},{}", size.0, size.1);
    let other: Vec<&String> = sizes.iter().filter(|s| **s != want).collect();
    assert!(
        !sizes.is_empty(),
        "no pictures in {}: {err}",
        path.display()
    );
    assert!(
        other.is_empty(),
        "{} of {} pictures not {want}: {:?}",
        other.len(),
        sizes.len(),
        &other[..other.len().min(5)]
    );
    decode_video(path)
        .iter()
        .map(|(_, p)| vcall::media::testsrc::read_marks(p).expect("marks"))
        .collect()
}

/// A recording of vcall's 320x240 test pattern in `codec` (ffprobe's name): `frames` pictures
/// as ffmpeg decodes them, with no frame missing by their marks.
pub fn assert_whole_pattern_in(out: &Path, codec: &str, frames: usize) {
    let probe = probe(out);
    assert_eq!(probe["streams"][0]["codec_name"], codec, "{probe}");
    let marks = marks_at_size(out, (320, 240));
    assert_eq!(marks.len(), frames);
    assert_no_frame_missing(&marks);
}

/// No frame of a test pattern missing, by its burned-in numbers (they count the pictures
/// sent: one the machine was too busy to make is missing from the capture times, not from
/// the numbers). Whether adaptation lowered the frame rate is in the publisher's stats
/// (`targetFps`), not in how far apart a busy machine made the pictures.
pub fn assert_no_frame_missing(marks: &[vcall::media::testsrc::Marks]) {
    assert!(!marks.is_empty(), "no marked frames");
    let gaps: Vec<(u32, u32)> = marks
        .windows(2)
        .filter(|w| w[1].frame != w[0].frame + 1)
        .map(|w| (w[0].frame, w[1].frame))
        .collect();
    assert!(gaps.is_empty(), "frames missing between {gaps:?}");
}

/// The test pattern's frames in `out` (320x240), checked to be in order, and where the
/// numbers jump (indexes of the frames after a jump).
fn jumps_in_order(out: &Path) -> (usize, Vec<usize>) {
    let marks = marks_at_size(out, (320, 240));
    for w in marks.windows(2) {
        assert!(
            w[1].frame > w[0].frame,
            "frames in order: {} then {}",
            w[0].frame,
            w[1].frame
        );
    }
    let jumps = marks
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[1].frame != w[0].frame + 1)
        .map(|(i, _)| i + 1)
        .collect();
    (marks.len(), jumps)
}

/// The frames in `out` (320x240) are in order with exactly one gap (an outage's), at least
/// `before` frames before it and `after` after it.
pub fn one_gap(out: &Path, before: usize, after: usize) {
    let (n, jumps) = jumps_in_order(out);
    assert_eq!(jumps.len(), 1, "one gap, the outage's: at {jumps:?}");
    assert!(jumps[0] >= before, "{} frames before the outage", jumps[0]);
    assert!(
        n - jumps[0] >= after,
        "{} frames after the outage",
        n - jumps[0]
    );
}

/// The same for a recording that may have started after the outage began: in order, at most
/// one gap, and at least `after` frames after it (or in all, without one).
pub fn at_most_one_gap(out: &Path, after: usize) {
    let (n, jumps) = jumps_in_order(out);
    assert!(
        jumps.len() <= 1,
        "one gap at most, the outage's: at {jumps:?}"
    );
    let from = jumps.first().copied().unwrap_or(0);
    assert!(n - from >= after, "{} frames after the outage", n - from);
}

/// Decoded audio of a file as 48 kHz mono, and the audio stream's start time (s).
pub fn decode_audio(path: &Path) -> (f64, Vec<i16>) {
    let start = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "a:0",
            "-show_entries",
            "stream=start_time",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    let start: f64 = String::from_utf8_lossy(&start.stdout)
        .trim()
        .parse()
        .unwrap_or(0.0);
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args([
            "-map", "0:a:0", "-ac", "1", "-ar", "48000", "-f", "s16le", "-",
        ])
        .output()
        .expect("ffmpeg runs");
    (
        start,
        out.stdout
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect(),
    )
}

pub fn parse_y4m(data: &[u8]) -> Vec<I420> {
    let Some(nl) = data.iter().position(|&b| b == b'\n') else {
        return Vec::new();
    };
    let header = String::from_utf8_lossy(&data[..nl]);
    let field = |tag: char| {
        header
            .split(' ')
            .find_map(|p| p.strip_prefix(tag))
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0)
    };
    let (w, h) = (field('W'), field('H'));
    let size = w * h * 3 / 2;
    let mut pictures = Vec::new();
    let mut at = nl + 1;
    while at < data.len() {
        let Some(nl) = data[at..].iter().position(|&b| b == b'\n') else {
            break;
        };
        at += nl + 1;
        if at + size > data.len() {
            break;
        }
        pictures.push(I420 {
            width: w,
            height: h,
            data: data[at..at + size].to_vec(),
        });
        at += size;
    }
    pictures
}

/// Checks decoded test-pattern video: marks readable, numbers consecutive, PSNR above `min_psnr`.
/// Returns the frame numbers.
pub fn check_pattern(pictures: &[I420], min_psnr: f64) -> Vec<u32> {
    let mut numbers = Vec::new();
    let mut worst = f64::INFINITY;
    for (i, p) in pictures.iter().enumerate() {
        let marks = vcall::media::testsrc::read_marks(p)
            .unwrap_or_else(|| panic!("frame {i}: marks unreadable"));
        let mut source = I420::new(p.width, p.height);
        vcall::media::testsrc::render(&mut source, marks);
        worst = worst.min(vcall::media::testsrc::psnr_y(&source, p));
        numbers.push(marks.frame);
    }
    for w in numbers.windows(2) {
        assert_eq!(w[1], w[0] + 1, "frame numbers not consecutive: {numbers:?}");
    }
    assert!(
        worst >= min_psnr,
        "worst PSNR {worst:.1} dB is below {min_psnr} dB"
    );
    numbers
}

pub fn path_str(p: &Path) -> String {
    p.to_str().expect("utf-8 path").to_owned()
}

pub fn file(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

/// Waits (on the file, polling ffprobe) until `seconds` of media are on disk.
pub fn wait_for_media(path: &Path, seconds: f64, proc: &Proc) {
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        if media_end(path) >= seconds {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} did not grow to {seconds} s; {}",
            path.display(),
            proc.output()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The presentation time of the last packet in a file (0 when none is readable).
pub fn media_end(path: &Path) -> f64 {
    stream_end(path, "")
}

/// The presentation time of the last packet of the streams `select` picks (`a:0`; all when
/// empty).
pub fn stream_end(path: &Path, select: &str) -> f64 {
    packet_times(path, select).into_iter().fold(0.0, f64::max)
}

/// The presentation times (seconds) of the packets of the streams `select` picks (all when
/// empty), in file order.
pub fn packet_times(path: &Path, select: &str) -> Vec<f64> {
    let mut cmd = Command::new("ffprobe");
    if !select.is_empty() {
        cmd.args(["-select_streams", select]);
    }
    let out = cmd
        .args([
            "-v",
            "quiet",
            "-show_entries",
            "packet=pts_time",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse::<f64>().ok())
        .collect()
}

/// The URL a starting `vcall serve` prints.
/// The UDP ports process `pid` has sockets on (from `ss`).
pub fn udp_ports_of(pid: u32) -> Vec<u16> {
    let out = Command::new("ss")
        .args(["-uanpH"])
        .output()
        .expect("ss (iproute2) runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(&format!("pid={pid},")))
        .filter_map(|l| {
            l.split_whitespace()
                .nth(3)?
                .rsplit(':')
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

pub fn serve_url(serve: &mut Proc) -> String {
    let line = serve.wait_for("serving on ws://");
    line.split_whitespace()
        .find(|w| w.starts_with("ws://"))
        .expect("a ws:// URL")
        .to_owned()
}

/// Six seconds of VP8 in IVF, as browsers send it, made by ffmpeg (libvpx).
pub fn vp8_clip(dir: &Path) -> PathBuf {
    let ivf = dir.join("clip.ivf");
    let made = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=25",
            "-t",
            "6",
            "-c:v",
            "libvpx",
            "-g",
            "10",
            "-b:v",
            "500k",
        ])
        .arg(&ivf)
        .status()
        .expect("ffmpeg runs");
    assert!(made.success());
    ivf
}

/// The `echoTest` result of `echo-test --frames N`: at least N frames sent (N once the way
/// back was up), and every one after the first that came back came back too (their numbers
/// are burned in: none lost, the last waited for); audio came back, and the round trip was
/// measured.
pub fn assert_echo_came_back(r: &serde_json::Value, out: &str, frames: u64) {
    assert!(
        r["sent"]["videoFrames"].as_u64().unwrap() >= frames,
        "{out}"
    );
    assert!(r["sent"]["audioFrames"].as_u64().unwrap() > 0, "{out}");
    for kind in ["videoFrames", "audioFrames"] {
        assert!(r["received"][kind].as_u64().unwrap() > 0, "{out}");
    }
    assert_eq!(r["received"]["lostVideoFrames"], 0, "{out}");
    let p95 = r["rttMs"]["p95"].as_f64().expect("round trip measured");
    assert!(p95 > 0.0, "{out}");
}

/// `vcall serve` as a process on `listen` with the key pair `k`/`s` and `extra` flags, and
/// the URL it serves on.
pub fn serve_process(listen: &str, extra: &[&str]) -> (Proc, String) {
    let mut serve = Proc::spawn({
        let mut c = vcall();
        c.args([
            "serve",
            "--listen",
            listen,
            "--api-key",
            "k",
            "--api-secret",
            "s",
        ])
        .args(extra);
        // Any free media port, so that servers of tests running at once do not meet.
        if !extra.contains(&"--udp-ports") && !extra.contains(&"--udp-port") {
            c.args(["--udp-port", "0"]);
        }
        c
    });
    let url = serve_url(&mut serve);
    (serve, url)
}

/// The key pair `k`/`s`, which `serve_process` serves with.
pub fn fixed_keys() -> KeyPair {
    KeyPair {
        key: "k".into(),
        secret: "s".into(),
    }
}

/// A session of the key pair `k`/`s`.
pub fn fixed_session(nonce: &str) -> String {
    fixed_keys().create_session(&SessionProps {
        p2p: false,
        location_hint: None,
        created_at: 0,
        nonce: nonce.into(),
    })
}

/// A token of the key pair `k`/`s` for `session`, valid for ten minutes.
pub fn fixed_token(session: &str, role: Role) -> String {
    let now = unix_now();
    fixed_keys().create_token(&TokenClaims {
        iss: "k".into(),
        sid: session.into(),
        role,
        data: String::new(),
        iat: now,
        exp: now + 600,
    })
}

/// `publish` of the test pattern (small) and tone for `duration`.
/// A vcall command (`args`) in `session` (of the fixed key pair) on the server at `url`, as
/// `role`.
pub fn client(url: &str, session: &str, role: Role, args: &[&str]) -> Command {
    let mut cmd = vcall();
    cmd.args(args).args([
        "--url",
        url,
        "--session",
        session,
        "--token",
        &fixed_token(session, role),
    ]);
    cmd
}

pub fn publish_args(duration: &str) -> Vec<&str> {
    vec![
        "publish",
        "--video",
        "testsrc",
        "--audio",
        "tone",
        "--width",
        "320",
        "--height",
        "240",
        "--duration",
        duration,
    ]
}

/// `vcall publish`'s options for three simulcast layers of a 1280x720 1.5 Mbit/s picture.
pub const SIMULCAST_720P: [&str; 8] = [
    "--width",
    "1280",
    "--height",
    "720",
    "--video-bitrate",
    "1.5M",
    "--simulcast",
    "3",
];

/// Asks `probe` until it gives a value or [`LIMIT`] has passed (then fails, saying `what`).
pub fn poll_until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within {LIMIT:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `subscribe -o OUT --frames FRAMES --expect EXPECT`: a recording checked as it is made.
pub fn recording_args<'a>(out: &'a str, frames: &'a str, expect: &'a str) -> Vec<&'a str> {
    vec![
        "subscribe",
        "-o",
        out,
        "--frames",
        frames,
        "--expect",
        expect,
    ]
}

/// The Python of `target/test-peers/venv` (scripts/test-peers.sh): aiortc, imageio-ffmpeg
/// (ffmpeg 9), LiveKit's SDK, aiohttp, prometheus-client.
pub fn peers_python() -> PathBuf {
    let python =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-peers/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/test.sh (scripts/test-peers.sh installs the test peers)",
        python.display()
    );
    python
}

/// `tests/peers/{name}`.
pub fn peer_script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers")
        .join(name)
}

/// `GET /v1/sessions/{session}` of the server at `ws_url` (Basic auth with `keys`).
pub fn session_api(ws_url: &str, keys: &KeyPair, session: &str) -> serde_json::Value {
    use base64::Engine;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let auth =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", keys.key, keys.secret));
    let url = format!(
        "{}/v1/sessions/{session}",
        ws_url.replacen("ws://", "http://", 1)
    );
    let mut r = agent
        .get(url)
        .header("Authorization", format!("Basic {auth}"))
        .call()
        .expect("session API answers");
    serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
}

/// `ip ARGS` (iproute2), whether it succeeded.
pub fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

/// `vcall ARGS` run in network namespace `ns` (another host, as far as ICE can tell).
pub fn on_host(ns: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_vcall")])
        .args(args)
        .env_remove("RUST_LOG")
        .env("XDG_CONFIG_HOME", "/nonexistent/vcall-tests");
    cmd
}

/// A network namespace with nothing but its own loopback; removed on drop.
pub struct LoopbackOnly(String);

impl LoopbackOnly {
    pub fn create() -> LoopbackOnly {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("vcall-lo{}-{n}", std::process::id());
        for args in [
            vec!["netns", "add", &name],
            vec!["-n", &name, "link", "set", "lo", "up"],
        ] {
            let ok = Command::new("ip")
                .args(&args)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "ip {args:?} failed (this test needs root and iproute2)");
        }
        LoopbackOnly(name)
    }

    /// `program args` inside the namespace, with vcall's test environment.
    pub fn cmd(&self, program: &str, args: &[&str]) -> Command {
        let mut ip = Command::new("ip");
        ip.args(["netns", "exec", &self.0, program]).args(args);
        for (k, v) in vcall().get_envs() {
            match v {
                Some(v) => ip.env(k, v),
                None => ip.env_remove(k),
            };
        }
        ip.stdin(std::process::Stdio::null());
        ip
    }

    pub fn vcall(&self, args: &[&str]) -> Command {
        self.cmd(env!("CARGO_BIN_EXE_vcall"), args)
    }

    /// `vcall serve` inside the namespace with the key pair `k`/`s`, and its URL.
    pub fn serve(&self) -> (Proc, String) {
        let mut serve = Proc::spawn(self.vcall(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--udp-port",
            "0",
            "--api-key",
            "k",
            "--api-secret",
            "s",
            "-v",
        ]));
        let url = serve_url(&mut serve);
        (serve, url)
    }

    /// Chromium, headless, on the test page `tests/peers/{page}` with `query`; the page's one
    /// RESULT line.
    pub fn chromium(&self, page: &str, query: &str, profile: &Path) -> serde_json::Value {
        chromium_result(&mut self.chromium_proc(page, query, profile))
    }

    /// Chromium, headless, on the test page `tests/peers/{page}` with `query`, running (its
    /// console on stderr; [`chromium_result`] waits for the page's RESULT line).
    pub fn chromium_proc(&self, page: &str, query: &str, profile: &Path) -> Proc {
        self.chromium_as(&["chromium"], page, query, profile)
    }

    /// [`Self::chromium`] in its own group, [`NO_UDP_GROUP`], whose UDP the namespace's
    /// firewall drops from now on: a browser behind a firewall that lets only TCP through.
    /// The number of UDP packets the firewall has dropped so far comes with its result.
    pub fn chromium_without_udp(
        &self,
        page: &str,
        query: &str,
        profile: &Path,
    ) -> (serde_json::Value, u64) {
        let group = NO_UDP_GROUP.to_string();
        let rule = [
            "-p",
            "udp",
            "-m",
            "owner",
            "--gid-owner",
            &group,
            "-j",
            "DROP",
        ];
        for tables in ["iptables", "ip6tables"] {
            let listed = self.cmd(tables, &["-C", "OUTPUT"]).args(rule).status();
            if listed.is_ok_and(|s| s.success()) {
                continue;
            }
            let added = self.cmd(tables, &["-A", "OUTPUT"]).args(rule).status();
            assert!(
                added.is_ok_and(|s| s.success()),
                "{tables} -A OUTPUT {rule:?}"
            );
        }
        let regid = format!("--regid={NO_UDP_GROUP}");
        let wrap = ["setpriv", &regid, "--clear-groups", "chromium"];
        let result = chromium_result(&mut self.chromium_as(&wrap, page, query, profile));
        let dropped = ["iptables", "ip6tables"]
            .into_iter()
            .map(|tables| {
                let out = self
                    .cmd(tables, &["-nvx", "-L", "OUTPUT"])
                    .output()
                    .expect("iptables runs");
                let listing = String::from_utf8_lossy(&out.stdout).into_owned();
                listing
                    .lines()
                    .filter(|l| l.contains(&format!("owner GID match {NO_UDP_GROUP}")))
                    .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
                    .sum::<u64>()
            })
            .sum();
        (result, dropped)
    }

    /// Chromium as `program` (its first word; the rest its arguments before Chromium's).
    fn chromium_as(&self, program: &[&str], page: &str, query: &str, profile: &Path) -> Proc {
        let page = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/peers")
            .join(page);
        let url = format!("file://{}?{query}", page.display());
        let mut args = program[1..].to_vec();
        args.extend([
            "--headless=new",
            "--no-sandbox",
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            "--allow-loopback-in-peer-connection",
            // Host candidates as addresses, not mDNS names nobody here resolves.
            "--disable-features=WebRtcHideLocalIpsWithMdns",
            // Simulcast with as many layers as asked for, whatever the camera's size.
            "--force-fieldtrials=WebRTC-LegacySimulcastLayerLimit/Disabled/",
            "--enable-logging=stderr",
            "--v=0",
        ]);
        let profile = format!("--user-data-dir={}", profile.display());
        args.extend([profile.as_str(), &url]);
        Proc::spawn(self.cmd(program[0], &args))
    }
}

/// The group [`LoopbackOnly::chromium_without_udp`] runs Chromium in.
pub const NO_UDP_GROUP: u32 = 4711;

/// The RESULT line of a Chromium test page ([`LoopbackOnly::chromium_proc`]).
pub fn chromium_result(chromium: &mut Proc) -> serde_json::Value {
    let line = chromium.wait_for("\"RESULT ");
    let json = line.split("\"RESULT ").nth(1).unwrap();
    let json = &json[..json.rfind("\", source:").unwrap()];
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {line}"))
}

impl Drop for LoopbackOnly {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

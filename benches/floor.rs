//! The floor under a forwarding server on this machine.
//!
//! One thread receives a 640x480 30 fps 500 kbit/s stream with 50 audio packets a second
//! (110 datagrams a second; the test pattern and the tone send 107) on a loopback UDP
//! socket. For each of N subscribers it encrypts every packet with that subscriber's own SRTP
//! context (AES-128-GCM, rtc's `srtp`, the code a WebRTC connection here encrypts with) and
//! sends every subscriber's copy of one packet in one `sendmmsg` (64 at a time), as
//! `vcall serve`'s engine does. Nothing else: no RTCP read, no retransmission history, no
//! congestion control, no signaling, no async runtime. Its CPU per subscriber is what no
//! forwarding server can go below on this machine, with these crates.
//!
//! `cargo bench --bench floor -- [--subscribers 30] [--seconds 10]` prints one JSON line:
//! the forwarding thread's CPU (user + system, `CLOCK_THREAD_CPUTIME_ID`) per second and per
//! subscriber over the window, and the datagrams the subscribers' sockets received against
//! those sent (the receivers run on a thread of their own, which is not counted; loopback
//! delivery into their sockets is charged to the sender, as it is to a server).
//! `scripts/bench_fanout.py --servers vcall,janus,floor` runs it beside the two servers.

mod common;

#[cfg(target_os = "linux")]
mod floor {
    use std::net::{SocketAddr, UdpSocket};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    use super::common::thread_cpu;
    use bytes::BytesMut;
    use rtc::srtp::context::Context;
    use rtc::srtp::protection_profile::ProtectionProfile;

    const FPS: u32 = 30;
    const VIDEO_BPS: u32 = 500_000;
    const MTU_PAYLOAD: usize = 1100;
    const AUDIO_PAYLOAD: usize = 100;

    fn rtp(ssrc: u32, seq: u16, ts: u32, pt: u8, payload: usize) -> Vec<u8> {
        let mut p = vec![0u8; 12 + payload];
        p[0] = 0x80;
        p[1] = pt;
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p[4..8].copy_from_slice(&ts.to_be_bytes());
        p[8..12].copy_from_slice(&ssrc.to_be_bytes());
        for (i, b) in p[12..].iter_mut().enumerate() {
            *b = i as u8;
        }
        p
    }

    /// The publisher: a video frame every 1/30 s in packets of at most 1100 bytes, an audio
    /// packet every 20 ms, until `stop`. Returns the datagrams sent.
    fn publish(to: SocketAddr, stop: Arc<AtomicBool>) -> u64 {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let frame_bytes = (VIDEO_BPS / 8 / FPS) as usize;
        let (mut vseq, mut aseq, mut sent) = (0u16, 0u16, 0u64);
        let start = Instant::now();
        let (mut next_video, mut next_audio) = (0u32, 0u32);
        while !stop.load(Ordering::Relaxed) {
            let video_at = Duration::from_micros(next_video as u64 * 1_000_000 / FPS as u64);
            let audio_at = Duration::from_millis(next_audio as u64 * 20);
            let at = video_at.min(audio_at);
            if let Some(wait) = at.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
            if video_at <= audio_at {
                let mut left = frame_bytes;
                while left > 0 {
                    let n = left.min(MTU_PAYLOAD);
                    let p = rtp(1, vseq, next_video * 3000, 96, n);
                    sock.send_to(&p, to).expect("send");
                    (vseq, left, sent) = (vseq.wrapping_add(1), left - n, sent + 1);
                }
                next_video += 1;
            } else {
                let p = rtp(2, aseq, next_audio * 960, 111, AUDIO_PAYLOAD);
                sock.send_to(&p, to).expect("send");
                (aseq, sent) = (aseq.wrapping_add(1), sent + 1);
                next_audio += 1;
            }
        }
        sent
    }

    /// Every subscriber's copy of one packet, `sendmmsg` 64 at a time, as the engine sends.
    fn send_all(fd: i32, out: &[(SocketAddr, BytesMut)]) {
        let mut rest = out;
        while !rest.is_empty() {
            match vcall::peer::send_many(fd, rest) {
                Ok(n) if n > 0 => rest = &rest[n..],
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => panic!("sendmmsg: {other:?}"),
            }
        }
    }

    /// One packet to every subscriber: a copy sealed with each one's keys, then sent.
    fn forward(
        contexts: &mut [Context],
        addrs: &[SocketAddr],
        out: &mut Vec<(SocketAddr, BytesMut)>,
        fd: i32,
        packet: &[u8],
    ) {
        out.clear();
        for (ctx, addr) in contexts.iter_mut().zip(addrs) {
            out.push((*addr, ctx.encrypt_rtp(packet).expect("encrypt")));
        }
        send_all(fd, out);
    }

    pub fn run(subscribers: usize, seconds: u64) {
        let crypto = rtc::crypto::default_provider().expect("a crypto provider");
        // The subscribers: a socket each, drained by one thread that is not measured.
        let sinks: Vec<UdpSocket> = (0..subscribers)
            .map(|_| {
                let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
                s.set_nonblocking(true).expect("nonblocking");
                s
            })
            .collect();
        let addrs: Vec<SocketAddr> = sinks
            .iter()
            .map(|s| s.local_addr().expect("addr"))
            .collect();
        let received = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let drained = Arc::new(AtomicBool::new(false));
        let drain = {
            let (received, drained) = (received.clone(), drained.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 2048];
                loop {
                    let done = drained.load(Ordering::Relaxed);
                    for s in &sinks {
                        while s.recv(&mut buf).is_ok() {
                            received.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    if done {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        let mut contexts: Vec<Context> = (0..subscribers)
            .map(|i| {
                let key = [i as u8; 16];
                let salt = [(i >> 8) as u8; 12];
                Context::new(
                    &key,
                    &salt,
                    ProtectionProfile::AeadAes128Gcm,
                    None,
                    None,
                    crypto.crypto(),
                )
                .expect("an SRTP context")
            })
            .collect();

        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let fd = std::os::fd::AsRawFd::as_raw_fd(&sock);
        let publisher = {
            let (to, stop) = (sock.local_addr().expect("addr"), stop.clone());
            std::thread::spawn(move || publish(to, stop))
        };

        let warmup = Duration::from_secs(2);
        let window = Duration::from_secs(seconds);
        let start = Instant::now();
        let mut buf = [0u8; 2048];
        let mut out: Vec<(SocketAddr, BytesMut)> = Vec::with_capacity(subscribers);
        let mut forwarded = 0u64;
        // Where the window began: (when, this thread's CPU, packets forwarded).
        let mut window_start: Option<(Instant, Duration, u64)> = None;
        loop {
            let elapsed = start.elapsed();
            if window_start.is_none() && elapsed >= warmup {
                window_start = Some((Instant::now(), thread_cpu(), forwarded));
            }
            if elapsed >= warmup + window {
                break;
            }
            let n = match sock.recv(&mut buf) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue;
                }
                Err(e) => panic!("recv: {e}"),
            };
            forward(&mut contexts, &addrs, &mut out, fd, &buf[..n]);
            forwarded += 1;
        }
        let (began, cpu_from, forwarded_before) = window_start.expect("a window");
        let (cpu, wall) = (thread_cpu() - cpu_from, began.elapsed());
        let forwarded_in_window = forwarded - forwarded_before;
        stop.store(true, Ordering::Relaxed);
        let published = publisher.join().expect("publisher");
        // The rest of what was published, then the sinks' last datagrams.
        sock.set_nonblocking(true).expect("nonblocking");
        while let Ok(n) = sock.recv(&mut buf) {
            forward(&mut contexts, &addrs, &mut out, fd, &buf[..n]);
            forwarded += 1;
        }
        // Loopback delivers within the send call: the sinks hold everything now.
        drained.store(true, Ordering::Relaxed);
        drain.join().expect("drain");
        let ms_per_s = cpu.as_secs_f64() * 1000.0 / wall.as_secs_f64();
        println!(
            "{{\"subscribers\":{subscribers},\"seconds\":{:.2},\"cpuMsPerS\":{ms_per_s:.2},\
             \"cpuMsPerSPerSubscriber\":{:.3},\"datagramsPerS\":{:.1},\"published\":{published},\
             \"forwarded\":{forwarded},\"received\":{},\"expected\":{}}}",
            wall.as_secs_f64(),
            ms_per_s / subscribers as f64,
            forwarded_in_window as f64 / wall.as_secs_f64(),
            received.load(Ordering::Relaxed),
            forwarded * subscribers as u64,
        );
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut subscribers, mut seconds) = (30usize, 10u64);
    while let Some(a) = args.next() {
        let mut value = || args.next().and_then(|v| v.parse().ok());
        match a.as_str() {
            "--subscribers" => subscribers = value().expect("--subscribers N"),
            "--seconds" => seconds = value().expect("--seconds N") as u64,
            "--bench" => {}
            other => {
                eprintln!("floor: unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    #[cfg(target_os = "linux")]
    floor::run(subscribers, seconds);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (subscribers, seconds);
        eprintln!("floor: sendmmsg is Linux only");
    }
}

#!/usr/bin/env python3
"""What a client costs: the CPU of one `vcall subscribe` recording one stream, and of the
`vcall publish` sending it, through `vcall serve` on loopback, with the client's connection
on vcall's media engine, without ICE servers and with a STUN server given (a responder on
loopback: the engine asks it from its socket; a TURN server would put the connection on
webrtc-rs's own driver instead).

Usage: scripts/bench_client.py [--runs 3] [--window 10] [--against OTHER_VCALL]
(builds the release binary first). Prints a Markdown table: the median over --runs of each
process's CPU (user + system, from /proc) per second of a --window-second window, the
variants alternating run by run; at 640x480 500 kbit/s and 1280x720 1.5 Mbit/s, with audio.
--against runs every variant with a second binary too (an earlier build, say), alternating
with this one run by run, for a ratio the machine's noise does not move: both clients and
the server are that binary's.
"""
import argparse, os, socket, statistics, struct, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VCALL = os.path.join(ROOT, "target", "release", "vcall")
KEYS = ["--api-key", "bench", "--api-secret", "bench-secret"]


def cpu_ms(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def stun_responder():
    """A STUN server on loopback that answers every Binding request (XOR-MAPPED-ADDRESS)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))

    def serve():
        while True:
            data, (ip, port) = sock.recvfrom(2048)
            if len(data) < 20 or data[:2] != b"\x00\x01":
                continue
            xport = port ^ 0x2112
            xip = struct.unpack("!I", socket.inet_aton(ip))[0] ^ 0x2112A442
            attr = struct.pack("!HHBBHI", 0x0020, 8, 0, 1, xport, xip)
            sock.sendto(struct.pack("!HH", 0x0101, len(attr)) + data[4:20] + attr, (ip, port))

    threading.Thread(target=serve, daemon=True).start()
    return f"stun:127.0.0.1:{sock.getsockname()[1]}"


def one_run(vcall, url, size, bitrate, extra, window, tmp):
    env = dict(os.environ, VCALL_URL=url, VCALL_API_KEY="bench", VCALL_API_SECRET="bench-secret")
    session = subprocess.run([vcall, "session", "create"], env=env, capture_output=True, text=True,
                             check=True).stdout.strip()

    def token(role):
        return subprocess.run([vcall, "token", "create", "--session", session, "--role", role],
                              env=env, capture_output=True, text=True, check=True).stdout.strip()

    w, h = size
    seconds = window + 12
    pub = subprocess.Popen([vcall, "-q", "publish", "--session", session, "--token", token("publisher"),
                            "--video", "testsrc", "--audio", "tone", "--width", str(w), "--height", str(h),
                            "--video-bitrate", bitrate, "--duration", f"{seconds + 5}s", *extra],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2)
    sub = subprocess.Popen([vcall, "-q", "subscribe", "--session", session, "--token", token("subscriber"),
                            "-o", os.path.join(tmp, "rec.mkv"), "--duration", f"{seconds}s", *extra],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(6)
    s0, p0, t0 = cpu_ms(sub.pid), cpu_ms(pub.pid), time.monotonic()
    time.sleep(window)
    s1, p1, t1 = cpu_ms(sub.pid), cpu_ms(pub.pid), time.monotonic()
    for p in (sub, pub):
        p.terminate()
        p.wait(timeout=10)
    return (s1 - s0) / (t1 - t0), (p1 - p0) / (t1 - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--window", type=int, default=10)
    ap.add_argument("--against", help="a second vcall binary, run alternately with this build")
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)
    builds = {"": VCALL}
    if a.against:
        builds = {" (this build)": VCALL, f" ({a.against})": os.path.abspath(a.against)}
    servers, rows = {}, []
    stun = stun_responder()
    try:
        for label, vcall in builds.items():
            port = socket.socket()
            port.bind(("127.0.0.1", 0))
            listen = f"127.0.0.1:{port.getsockname()[1]}"
            port.close()
            servers[label] = (f"ws://{listen}", subprocess.Popen(
                [vcall, "serve", "--listen", listen, "--udp-port", "0", *KEYS],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(1)
        variants = {"media engine": [], "media engine, a STUN server given": ["--ice-server", stun]}
        with tempfile.TemporaryDirectory() as tmp:
            for size, bitrate in [((640, 480), "500k"), ((1280, 720), "1500k")]:
                got = {(name, label): [] for name in variants for label in builds}
                for _ in range(a.runs):
                    for name, extra in variants.items():
                        for label, vcall in builds.items():
                            url = servers[label][0]
                            got[name, label].append(
                                one_run(vcall, url, size, bitrate, extra, a.window, tmp))
                for name, label in got:
                    sub = statistics.median(r[0] for r in got[name, label])
                    pub = statistics.median(r[1] for r in got[name, label])
                    rows.append((f"{size[0]}x{size[1]} {bitrate}bit/s", name + label, sub, pub))
    finally:
        for _, serve in servers.values():
            serve.terminate()
            serve.wait(timeout=10)
    print("| stream | client connection | `subscribe` recording, CPU ms/s | `publish`, CPU ms/s |")
    print("|---|---|---|---|")
    for stream, name, sub, pub in rows:
        print(f"| {stream} | {name} | {sub:.1f} | {pub:.1f} |")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Time to media and SFU cost, through `vcall serve` (routed; in a peer-to-peer session, where
media goes directly between the two clients; and with every client speaking LiveKit's protocol
to it) and through Janus side by side, in one run.

Usage: scripts/bench_call.py [--runs 20] [--subscribers 30] [--window 10] [--only NAME]
                             [--servers vcall,p2p,livekit,janus]
(builds the release binary first; needs Debian's `janus` package and a C compiler, as the
tests do: scripts/setup.sh janus; the LiveKit column's SDK row needs scripts/test-peers.sh).

Measured, for each server (the machine is noisy, so compare the columns, not the runs):
  subscribe --frames 1        wall time of `vcall subscribe -o f.mkv --frames 1`, start to exit
  first decoded frame         from starting `vcall subscribe -o - --format y4m` to the first
                              decoded picture on its stdout
  second stream               a subscriber already receiving one stream: from the request for a
                              stream published later to that stream's first frame
                              (`firstFrame` in --json)
  publish to published        from starting `vcall publish` to its `published` event
  SFU CPU per subscriber      the server's CPU time (from /proc) over --window seconds while
                              --subscribers processes record one 640x480 500 kbit/s stream with
                              audio, per second and per subscriber
  LiveKit SDK first frame     (LiveKit column) LiveKit's Python SDK subscribing to the live
                              stream: from the start of `Room.connect()` to its first decoded
                              frame (tests/peers/livekit_peer.py; the interpreter's start is not
                              counted)
A peer-to-peer session takes two clients with media, so the second-stream and SFU rows are
"–" there (and the server forwards nothing: `forwardedPackets` stays 0). Over LiveKit's
protocol each track is a stream of its own: its subscribers record both tracks
(`--output-dir`), so every column's SFU row forwards the same packets.
Prints a Markdown table (median and p90 of --runs runs); BENCHMARKS.md records one run.
"""
import argparse, json, os, shutil, socket, statistics, subprocess, sys, tempfile, threading, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VCALL = os.path.join(ROOT, "target", "release", "vcall")
JANUS_TOKEN = "bench-token"
# Between two subscribers' runs: Janus asks a publisher for a keyframe at most once a second
# (janus_videoroom_reqpli), so subscribers closer together than that measure Janus's throttle
# instead of the client. Both servers get the same pause.
PAUSE = 1.1
ADMIN_SECRET = "bench-admin"


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def cpu_ms(pid):
    """User + system CPU time of a process so far, ms (from /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def quantiles(xs):
    xs = sorted(xs)
    return statistics.median(xs), xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))]


class Vcall:
    """`vcall serve` on a free port, with a session and tokens."""

    name = "vcall serve"
    p2p = False
    serve_flags = []

    def __init__(self):
        port = free_ports(1)[0]
        self.env = dict(os.environ, VCALL_API_KEY="bench", VCALL_API_SECRET="bench-secret", RUST_LOG="error",
                        VCALL_URL=f"ws://127.0.0.1:{port}")
        self.proc = subprocess.Popen([VCALL, "serve", "--listen", f"127.0.0.1:{port}", *self.serve_flags], env=self.env,
                                     stderr=subprocess.PIPE, text=True)
        for line in self.proc.stderr:
            if "serving on" in line:
                break
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()
        self.env["VCALL_SESSION"] = self.run("session", "create", *(["--p2p"] if self.p2p else []))

    def record_args(self, path):
        return ["-o", path]

    def run(self, *args):
        return subprocess.run([VCALL, *args], env=self.env, capture_output=True, text=True, check=True).stdout.strip()

    def args(self, role):
        return ["--token", self.run("token", "create", "--role", role)]

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


class VcallLiveKit(Vcall):
    """`vcall serve` with every client speaking LiveKit's protocol (`livekit+ws://`, LiveKit
    tokens): its room is a session like any other."""

    name = "vcall serve, LiveKit clients"

    def __init__(self):
        super().__init__()
        self.url = self.env["VCALL_URL"].replace("ws://", "livekit+ws://")
        self.env["VCALL_URL"] = self.url
        del self.env["VCALL_SESSION"]
        self.ids = 0

    def args(self, role):
        self.ids += 1
        grant = ["--can-subscribe"] if role == "subscriber" else []
        return ["--token", self.run("token", "create", "--livekit", "--room", "bench", "--identity",
                                    f"{role}{self.ids}", *grant)]

    def record_args(self, path):
        return ["--output-dir", path]


class VcallP2p(Vcall):
    """`vcall serve` with a peer-to-peer session: media directly from publisher to subscriber."""

    name = "vcall serve, p2p session"
    p2p = True


class Janus:
    """Debian's Janus on free loopback ports, configured as the tests configure it."""

    name = "Janus 1.1.2"

    def record_args(self, path):
        return ["-o", path]

    def __init__(self):
        if not shutil.which("janus"):
            sys.exit("janus is not installed: scripts/setup.sh janus")
        self.dir = tempfile.mkdtemp(prefix="vcall-bench-janus-")
        ws, http, admin, wss, https = free_ports(5)
        lib = "/usr/lib/x86_64-linux-gnu/janus"
        for sub in ("plugins", "transports", "none"):
            os.makedirs(os.path.join(self.dir, sub))
        for sub, name in (("plugins", "libjanus_videoroom.so"), ("transports", "libjanus_websockets.so"),
                          ("transports", "libjanus_http.so")):
            os.symlink(os.path.join(lib, sub, name), os.path.join(self.dir, sub, name))
        templates = os.path.join(ROOT, "tests", "janus")
        subst = {"@DIR@": self.dir, "@WS_PORT@": ws, "@HTTP_PORT@": http, "@WSS_PORT@": wss,
                 "@HTTPS_PORT@": https, "@ADMIN_PORT@": admin, "@ADMIN_SECRET@": ADMIN_SECRET,
                 "@RTP_PORTS@": "40000-40999"}
        for name in os.listdir(templates):
            if not name.endswith(".jcfg"):
                continue
            text = open(os.path.join(templates, name)).read()
            for k, v in subst.items():
                text = text.replace(k, str(v))
            # Quieter logging than the tests' (its cost is the server's cost), and no TLS.
            text = text.replace("debug_level = 4", "debug_level = 2")
            text = text.replace("wss = true", "wss = false").replace("https = true", "https = false")
            text = "\n".join(l for l in text.splitlines() if "cert_pem" not in l and "cert_key" not in l)
            open(os.path.join(self.dir, name), "w").write(text)
        shim = os.path.join(self.dir, "shim.so")
        subprocess.run(["cc", "-shared", "-fPIC", "-o", shim, os.path.join(templates, "loopback_shim.c"), "-ldl"], check=True)
        self.proc = subprocess.Popen(["janus", "-F", self.dir, "-C", os.path.join(self.dir, "janus.jcfg")],
                                     env=dict(os.environ, LD_PRELOAD=shim), stdout=subprocess.DEVNULL)
        # Ready once the admin API takes the token and the WebSocket port accepts.
        body = json.dumps({"janus": "add_token", "token": JANUS_TOKEN, "transaction": "t", "admin_secret": ADMIN_SECRET})
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{admin}/admin", body.encode()).read()
                socket.create_connection(("127.0.0.1", ws)).close()
                break
            except OSError:
                if self.proc.poll() is not None:
                    sys.exit("janus exited at start")
                time.sleep(0.1)
        else:
            sys.exit("janus did not start within 10 s")
        self.http = f"http://127.0.0.1:{http}/janus"
        self.env = dict(os.environ, RUST_LOG="error", VCALL_URL=f"janus+ws://127.0.0.1:{ws}", VCALL_SESSION="7001",
                        VCALL_TOKEN=JANUS_TOKEN, VCALL_CREATE_ROOM="true")

    def args(self, role):
        return []

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def publisher(server, name, seconds, extra=()):
    return subprocess.Popen([VCALL, "-q", "publish", *server.args("publisher"), "--name", name, "--video", "testsrc",
                             "--audio", "tone", "--duration", f"{seconds}s", "--json", *extra],
                            env=server.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def wait_event(proc, event, limit=20):
    """Reads JSON lines from proc until `event`; returns (line, seconds waited)."""
    start = time.monotonic()
    for line in proc.stdout:
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if obj.get("event") == event:
            return obj, time.monotonic() - start
        if time.monotonic() - start > limit:
            break
    raise RuntimeError(f"no {event} event")


def bench_frames1(server, runs, tmp):
    times = []
    for i in range(runs):
        out = os.path.join(tmp, f"f{i}.mkv")
        # The token is made before the clock starts (`vcall token create` is a process too).
        args = server.args("subscriber")
        t = time.monotonic()
        subprocess.run([VCALL, "-q", "subscribe", *args, "-o", out, "--frames", "1"],
                       env=server.env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        times.append((time.monotonic() - t) * 1000)
        time.sleep(PAUSE)
    return times


def bench_first_decoded(server, runs):
    times = []
    for _ in range(runs):
        args = server.args("subscriber")
        t = time.monotonic()
        p = subprocess.Popen([VCALL, "-q", "subscribe", *args, "-o", "-", "--format", "y4m",
                              "--frames", "1"], env=server.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        seen = b""
        while b"FRAME" not in seen:
            chunk = p.stdout.read1(65536)
            if not chunk:
                raise RuntimeError("subscribe ended without a frame")
            seen = (seen + chunk)[-65536:]
        times.append((time.monotonic() - t) * 1000)
        p.stdout.read()
        p.wait(timeout=30)
        time.sleep(PAUSE)
    return times


def bench_second_stream(server, runs, tmp):
    times = []
    for i in range(runs):
        first = publisher(server, f"a{i}", 30)
        wait_event(first, "published")
        sub = subprocess.Popen([VCALL, "-q", "subscribe", *server.args("subscriber"), "--output-dir",
                                os.path.join(tmp, f"d{i}"), "--json", "--duration", "30s"],
                               env=server.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        wait_event(sub, "firstFrame")
        second = publisher(server, f"b{i}", 30)
        frame, _ = wait_event(sub, "firstFrame")
        times.append(frame["afterMs"])
        for p in (sub, first, second):
            p.terminate()
        for p in (sub, first, second):
            p.wait(timeout=10)
    return times


def bench_publish(server, runs):
    times = []
    for i in range(runs):
        p = publisher(server, f"p{i}", 10)
        _, waited = wait_event(p, "published")
        times.append(waited * 1000)
        p.terminate()
        p.wait(timeout=10)
    return times


def bench_sfu_cpu(server, subscribers, window, tmp):
    seconds = window + 25
    pub = publisher(server, "load", seconds, ["--width", "640", "--height", "480", "--video-bitrate", "500k"])
    wait_event(pub, "published")
    subs = [subprocess.Popen([VCALL, "-q", "subscribe", *server.args("subscriber"),
                              *server.record_args(os.path.join(tmp, f"s{i}.mkv")),
                              "--duration", f"{seconds}s"], env=server.env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL) for i in range(subscribers)]
    time.sleep(8)  # every subscriber connected and receiving
    pid = server.proc.pid
    c0, t0 = cpu_ms(pid), time.monotonic()
    time.sleep(window)
    c1, t1 = cpu_ms(pid), time.monotonic()
    alive = sum(p.poll() is None for p in subs)
    for p in subs + [pub]:
        p.terminate()
    for p in subs + [pub]:
        p.wait(timeout=10)
    if alive != subscribers:
        raise RuntimeError(f"only {alive} of {subscribers} subscribers were still recording")
    return (c1 - c0) / (t1 - t0) / subscribers


def bench_sdk_first_frame(server, runs):
    """LiveKit's Python SDK: `connect()` to its first decoded frame of the live stream."""
    python = os.path.join(ROOT, "target", "test-peers", "venv", "bin", "python")
    peer = os.path.join(ROOT, "tests", "peers", "livekit_peer.py")
    url = server.url.replace("livekit+", "")
    times = []
    for _ in range(runs):
        token = server.args("subscriber")[1]
        out = subprocess.run([python, peer, "subscribe", url, token, "--frames", "1"], capture_output=True,
                             text=True, timeout=60, check=True).stdout
        times.append(json.loads(out.strip().splitlines()[-1])["firstFrameMs"])
        time.sleep(PAUSE)
    return times


SERVERS = {"vcall": Vcall, "p2p": VcallP2p, "livekit": VcallLiveKit, "janus": Janus}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--subscribers", type=int, default=30)
    ap.add_argument("--window", type=int, default=10)
    ap.add_argument("--only", choices=["frames1", "decoded", "sdk", "second", "publish", "cpu"])
    ap.add_argument("--servers", default=",".join(SERVERS), help="which columns, comma-separated")
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--locked", "-q"], cwd=ROOT, check=True)
    results = {}
    for kind in (SERVERS[n] for n in a.servers.split(",")):
        server = kind()
        tmp = tempfile.mkdtemp(prefix="vcall-bench-")
        try:
            r = results[server.name] = {}
            live = publisher(server, "live", 3600)
            wait_event(live, "published")
            time.sleep(1)
            if a.only in (None, "frames1"):
                r["`subscribe --frames 1` wall time"] = quantiles(bench_frames1(server, a.runs, tmp))
            if a.only in (None, "decoded"):
                r["first decoded frame after `subscribe` starts"] = quantiles(bench_first_decoded(server, a.runs))
            if a.only in (None, "sdk") and isinstance(server, VcallLiveKit):
                r["LiveKit's Python SDK: `connect()` to first decoded frame"] = quantiles(
                    bench_sdk_first_frame(server, a.runs))
            live.terminate()
            live.wait(timeout=10)
            two_clients = getattr(server, "p2p", False)
            if a.only in (None, "second") and not two_clients:
                r["second stream on a connected subscriber: request to first frame"] = quantiles(
                    bench_second_stream(server, max(3, a.runs // 4), tmp))
            if a.only in (None, "publish"):
                r["`publish` start to `published`"] = quantiles(bench_publish(server, max(3, a.runs // 2)))
            if a.only in (None, "cpu") and not two_clients:
                r[f"server CPU per subscriber, {a.subscribers} subscribers of 640x480 500 kbit/s + audio"] = (
                    bench_sfu_cpu(server, a.subscribers, a.window, tmp), None)
        finally:
            server.stop()
            shutil.rmtree(tmp, ignore_errors=True)
    names = list(results)
    print(f"| what | {' | '.join(names)} |")
    print("|---|" + "---|" * len(names))
    for what in max(results.values(), key=len):
        cells = []
        for n in names:
            med, p90 = results[n].get(what, (None, None))
            if med is None:
                cells.append("–")
            elif p90 is None:
                cells.append(f"{med:.2f} ms/s")
            else:
                cells.append(f"{med:.0f} ms (p90 {p90:.0f})")
        print(f"| {what} | {' | '.join(cells)} |")


if __name__ == "__main__":
    sys.exit(main())

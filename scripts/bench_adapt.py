#!/usr/bin/env python3
"""Adaptation drills, measured: does a publisher send the picture it was asked for on a good
path and under random loss? vcall's test patterns beside Chromium publishing its fake camera
over WHIP, through the same `vcall serve` on the same path.

Usage: scripts/bench_adapt.py [--seconds 12] [--only clean|loss] [--no-chromium]
(builds the release binary first; needs root, for the network namespace Chromium runs in,
and Debian's chromium: scripts/setup.sh chromium).

Drills (each a publisher and a recording `vcall subscribe`, in a network namespace with
nothing but its loopback):
  clean   nothing impaired: vcall's `testsrc` and `testsrc:calm` and Chromium's fake camera at
          1280x720 and 1920x1080, `--video-bitrate 2M` (Chromium: maxBitrate 2 Mbit/s)
  loss    `vcall serve --impair loss=5%`: 5 % of the datagrams lost each way on both legs,
          no queue; 640x480 at 1 Mbit/s (and Chromium's camera at 640x480)
Per run, from the recording (ffprobe): the pictures at the requested size from the third
second on, the frame rate from the third second on; the subscriber's longest wait between
pictures as they arrived (`--expect freeze.max`); for
vcall, frames missing by the burned-in numbers (`--expect frames.lost`) and when the estimate
first reached its ceiling; for Chromium, what its getStats said at the end (size, frame rate,
qualityLimitationReason, availableOutgoingBitrate). Prints a Markdown table; BENCHMARKS.md
records one run.
"""
import argparse, json, os, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_call import VCALL, ROOT, free_ports  # noqa: E402

TMP = tempfile.mkdtemp(prefix="vcall-bench-adapt-")
NS = f"vcall-bench-adapt-{os.getpid()}"
PAGE = os.path.join(ROOT, "tests", "peers", "whip.html")
KEY, SECRET = "bench", "bench-secret"
FREEZE = "freeze.max<5000ms"


def in_ns(*args):
    return ["ip", "netns", "exec", NS, *args]


class Serve:
    """`vcall serve` in the namespace, with a session and tokens."""

    def __init__(self, impair=None):
        port = free_ports(1)[0]
        self.url = f"ws://127.0.0.1:{port}"
        self.env = dict(os.environ, VCALL_API_KEY=KEY, VCALL_API_SECRET=SECRET, RUST_LOG="error",
                        VCALL_URL=self.url)
        args = [VCALL, "serve", "--listen", f"127.0.0.1:{port}"] + (["--impair", impair] if impair else [])
        self.proc = subprocess.Popen(in_ns(*args), env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        for line in self.proc.stderr:
            if "serving on" in line:
                break
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()
        try:
            self.session = self.vcall("session", "create")
        except subprocess.CalledProcessError:
            self.stop()
            raise
        self.env["VCALL_SESSION"] = self.session

    def vcall(self, *args):
        return subprocess.run(in_ns(VCALL, *args), env=self.env, capture_output=True, text=True,
                              check=True).stdout.strip()

    def token(self, role):
        return self.vcall("token", "create", "--role", role)

    def spawn(self, role, args):
        return subprocess.Popen(in_ns(VCALL, "-q", *args, "--token", self.token(role)), env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def json_lines(text):
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def recording(path, size):
    """(share of pictures at `size` from 3 s on, frame rate from 3 s on)."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "frame=pts_time,width,height", "-of", "json", path],
                         capture_output=True, text=True).stdout
    frames = [(float(f["pts_time"]), f["width"], f["height"])
              for f in json.loads(out or "{}").get("frames", []) if "pts_time" in f]
    if not frames:
        return 0.0, 0.0
    t0 = frames[0][0]
    late = [f for f in frames if f[0] - t0 >= 3]
    span = late[-1][0] - late[0][0] if len(late) > 1 else 0
    fps = (len(late) - 1) / span if span > 0 else 0.0
    at_size = sum(1 for f in late if (f[1], f[2]) == size) / max(len(late), 1)
    return at_size, fps


def measured(events, condition):
    return next((e["measured"] for e in events if e.get("event") == "expect" and e["condition"] == condition),
                None)


def subscriber(serve, name, seconds, expect):
    path = os.path.join(TMP, f"{name}.mkv")
    proc = serve.spawn("subscriber", ["subscribe", "-o", path, "--duration", f"{seconds}s", "--json",
                                      "--timeout", "30s", "--expect", expect])
    return proc, path


def vcall_run(source, size, bitrate, seconds, impair=None):
    serve = Serve(impair)
    try:
        pub = serve.spawn("publisher", ["publish", "--video", source, "--audio", "tone", "--width", str(size[0]),
                                        "--height", str(size[1]), "--video-bitrate", bitrate, "--json",
                                        "--stats-interval", "1s", "--duration", f"{seconds + 3}s"])
        time.sleep(0.5)
        sub, path = subscriber(serve, f"vcall-{source}-{size[0]}", seconds, f"frames.lost==0,{FREEZE}")
        sub_events = json_lines(sub.communicate()[0])
        pub_events = json_lines(pub.communicate()[0])
    finally:
        serve.stop()
    lost = measured(sub_events, "frames.lost==0")
    stats = [e for e in pub_events if e.get("event") == "stats" and e.get("congestion")]
    ceiling = next((e["elapsedMs"] / 1000 for e in stats if e["congestion"]["reason"] == "ceiling"), None)
    last = stats[-1]["congestion"] if stats else {}
    at_size, fps = recording(path, size)
    return {
        "at_size": at_size, "fps": fps, "freeze": measured(sub_events, FREEZE),
        "lost": "?" if lost is None else f"{lost:.0f}",
        "note": ("estimate at the ceiling from " + (f"{ceiling:.0f} s" if ceiling else "never")
                 + f"; QP {last.get('qp')}, {last.get('targetWidth')}x{last.get('targetHeight')} at "
                 f"{last.get('targetFps')} fps at the end"),
    }


def chromium_run(size, bitrate, seconds, impair=None):
    serve = Serve(impair)
    profile = tempfile.mkdtemp(prefix="profile-", dir=TMP)
    try:
        sub, path = subscriber(serve, f"chromium-{size[0]}", seconds, FREEZE)
        query = (f"mode=whip&url={serve.url.replace('ws://', 'http://')}/whip/{serve.session}"
                 f"&token={serve.token('publisher')}&seconds={seconds + 2}&width={size[0]}&height={size[1]}"
                 f"&fps=30&maxbitrate={bitrate}")
        chromium = subprocess.Popen(in_ns(
            "chromium", "--headless=new", "--no-sandbox", "--use-fake-device-for-media-stream=fps=30",
            "--use-fake-ui-for-media-stream", "--allow-loopback-in-peer-connection",
            "--disable-features=WebRtcHideLocalIpsWithMdns", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--enable-logging=stderr",
            "--v=0", f"--user-data-dir={profile}", f"file://{PAGE}?{query}"),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        result = {}
        for line in chromium.stderr:
            if '"RESULT ' in line:
                text = line.split('"RESULT ', 1)[1]
                result = json.loads(text[:text.rfind('", source:')])
                break
        chromium.terminate()
        chromium.wait()
        sub_events = json_lines(sub.communicate()[0])
    finally:
        serve.stop()
    at_size, fps = recording(path, size)
    aob = result.get("availableOutgoingBitrate")
    return {
        "at_size": at_size, "fps": fps, "freeze": measured(sub_events, FREEZE), "lost": "—",
        "note": (f"getStats: {result.get('frameWidth')}x{result.get('frameHeight')} at "
                 f"{result.get('framesPerSecond')} fps, limited by {result.get('qualityLimitationReason')}, "
                 f"estimate {aob / 1000:.0f} kbit/s" if aob else f"getStats: {result}"),
    }


def row(name, r):
    freeze = "?" if r["freeze"] is None else f"{r['freeze']:.0f} ms"
    return f"| {name} | {r['at_size'] * 100:.0f} % | {r['fps']:.1f} | {freeze} | {r['lost']} | {r['note']} |"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=12)
    ap.add_argument("--only", choices=["clean", "loss"])
    ap.add_argument("--no-chromium", action="store_true")
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--locked", "-q"], cwd=ROOT, check=True)
    subprocess.run(["ip", "netns", "add", NS], check=True)
    subprocess.run(["ip", "-n", NS, "link", "set", "lo", "up"], check=True)
    rows = []
    try:
        s = args.seconds
        if args.only in (None, "clean"):
            for size in ((1280, 720), (1920, 1080)):
                for source in ("testsrc", "testsrc:calm"):
                    rows.append(row(f"clean, vcall `{source}` {size[0]}x{size[1]}",
                                    vcall_run(source, size, "2M", s)))
                if not args.no_chromium:
                    rows.append(row(f"clean, Chromium fake camera {size[0]}x{size[1]}",
                                    chromium_run(size, 2_000_000, s)))
        if args.only in (None, "loss"):
            for source in ("testsrc", "testsrc:calm"):
                rows.append(row(f"5 % loss each way, vcall `{source}` 640x480",
                                vcall_run(source, (640, 480), "1M", s, "loss=5%")))
            if not args.no_chromium:
                rows.append(row("5 % loss each way, Chromium fake camera 640x480",
                                chromium_run((640, 480), 1_000_000, s, "loss=5%")))
    finally:
        subprocess.run(["ip", "netns", "del", NS])
    print("| run | pictures at the size asked for (from 3 s) | fps (from 3 s) | longest freeze | frames missing | |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()

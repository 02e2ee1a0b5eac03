#!/usr/bin/env python3
"""Simulcast, measured: what three layers cost the publisher, and what subscribers on
different paths get through `vcall serve`.

Usage: scripts/bench_simulcast.py [--seconds 30] [--runs 3] [--only cpu|slow|narrow]
       [--video-codec h264|vp8]
(builds nothing: run `cargo build --release` first).

Drills, on loopback through one `vcall serve`, the publisher a 1280x720 busy test pattern at
30 fps and `--video-bitrate 1.5M`:
  cpu     published alone and as three layers (`--simulcast 3`), one `--layer high`
          subscriber each, runs alternating: the publisher's CPU (user + system, from its
          rusage) per second of run; medians and their ratio
  slow    three layers; one subscriber unlimited and one behind `--impair rate=400kbit`, both
          `auto`: each one's picture size and kbit/s over the second half, and its longest
          freeze over the whole run (WebRTC's freeze: three mean frame times and 150 ms over
          one), from its `--json` stats
  narrow  three layers; one `auto` subscriber whose path narrows to 400 kbit/s at 10 s and
          widens again at 20 s: seconds from the narrowing to its first smaller picture, the
          longest freeze between 9 and 15 s, seconds from the widening to the full size again
Prints a Markdown table per drill; BENCHMARKS.md records one run.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_call import VCALL, free_ports  # noqa: E402

KEY, SECRET = "bench", "bench-secret"
TMP = tempfile.mkdtemp(prefix="vcall-bench-simulcast-")
PUBLISH = ["publish", "--video", "testsrc:busy", "--audio", "tone", "--width", "1280",
           "--height", "720", "--video-bitrate", "1.5M"]


class Serve:
    def __init__(self):
        port = free_ports(1)[0]
        self.env = dict(os.environ, VCALL_API_KEY=KEY, VCALL_API_SECRET=SECRET,
                        RUST_LOG="error", VCALL_URL=f"ws://127.0.0.1:{port}")
        self.proc = subprocess.Popen([VCALL, "serve", "--listen", f"127.0.0.1:{port}"],
                                     env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        for line in self.proc.stderr:
            if "serving on" in line:
                break

    def session(self):
        s = subprocess.check_output([VCALL, "session", "create"], env=self.env, text=True).strip()
        env = dict(self.env, VCALL_SESSION=s)
        for role in ("publisher", "subscriber"):
            env[f"TOKEN_{role}"] = subprocess.check_output(
                [VCALL, "token", "create", "--session", s, "--role", role], env=env,
                text=True).strip()
        return env

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def spawn(env, role, args, **kw):
    return subprocess.Popen([VCALL, *args, "--token", env[f"TOKEN_{role}"]], env=env, **kw)


def subscriber(env, name, extra, seconds):
    out = open(os.path.join(TMP, f"{name}.jsonl"), "w")
    args = ["subscribe", "-o", os.path.join(TMP, f"{name}.mkv"), "--no-audio", "--json",
            "--stats-interval", "250ms", "--duration", f"{seconds}s", *extra]
    return spawn(env, "subscriber", args, stdout=out, stderr=subprocess.DEVNULL), out.name


def video_stats(path):
    """(seconds since the first, the video track) of each `stats` line."""
    rows, t0 = [], None
    for line in open(path):
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("event") != "stats":
            continue
        t = ev["time"] / 1000 if ev["time"] > 1e11 else ev["time"]
        t0 = t if t0 is None else t0
        for track in ev["tracks"]:
            if track["kind"] == "video":
                rows.append((t - t0, track))
    return rows


def cpu(serve, seconds, runs):
    per = {"one layer": [], "three layers": []}
    for _ in range(runs):
        for name, extra in (("one layer", []), ("three layers", ["--simulcast", "3"])):
            env = serve.session()
            p = spawn(env, "publisher", [*PUBLISH, *extra, "--duration", f"{seconds + 2}s"],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
            s, _ = subscriber(env, "cpu", ["--layer", "high"], seconds)
            start = time.time()
            _, _, usage = os.wait4(p.pid, 0)
            s.wait()
            per[name].append((usage.ru_utime + usage.ru_stime) / (time.time() - start + 1) * 1000)
    print("\n| publisher, 1280x720 busy 1.5 Mbit/s | CPU ms/s (median of %d) | runs |" % runs)
    print("|---|---|---|")
    for name, v in per.items():
        print(f"| {name} | {statistics.median(v):.0f} | {', '.join(f'{x:.0f}' for x in v)} |")
    ratio = statistics.median(per["three layers"]) / statistics.median(per["one layer"])
    print(f"\nthree layers / one layer: {ratio:.2f}x")


def slow(serve, seconds):
    env = serve.session()
    p = spawn(env, "publisher", [*PUBLISH, "--simulcast", "3", "--duration", f"{seconds + 3}s"],
              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    subs = [("unlimited", *subscriber(env, "unlimited", [], seconds)),
            ("rate=400kbit", *subscriber(env, "slow", ["--impair", "rate=400kbit"], seconds))]
    print("\n| subscriber (auto) | size, second half | kbit/s, second half | longest freeze |")
    print("|---|---|---|---|")
    for name, proc, path in subs:
        proc.wait()
        rows = video_stats(path)
        late = [t for s, t in rows if s >= seconds / 2 and t.get("width")]
        sizes = sorted({f"{t['width']}x{t['height']}" for t in late})
        kbps = statistics.mean(t["bitrateKbps"] for t in late) if late else 0
        freeze = longest_freeze(rows, 0, seconds)
        print(f"| {name} | {', '.join(sizes)} | {kbps:.0f} | {freeze} |")
    p.wait()


def longest_freeze(rows, start, end):
    """The longest freeze that ended between `start` and `end` s, in ms (from the growth of
    `freezeMs` between two lines, one freeze each: an upper bound when two fall in one)."""
    worst, last = 0, (0, 0)
    for s, t in rows:
        n, ms = t.get("freezes") or 0, t.get("freezeMs") or 0
        if start <= s <= end and n > last[0]:
            worst = max(worst, (ms - last[1]) / (n - last[0]))
        last = (n, ms)
    return f"{worst:.0f} ms"


def narrow(serve, seconds):
    env = serve.session()
    p = spawn(env, "publisher", [*PUBLISH, "--simulcast", "3", "--duration", f"{seconds + 3}s"],
              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    proc, path = subscriber(env, "narrow",
                            ["--impair", "rate=400kbit@10s,rate=1000mbit@20s"], seconds)
    proc.wait()
    p.wait()
    rows = video_stats(path)
    first = next((s for s, t in rows if t.get("width") == 1280), None)
    down = next((s for s, t in rows if s >= 10 and (t.get("width") or 0) < 1280), None)
    up = next((s for s, t in rows if s >= 20 and t.get("width") == 1280), None)
    fmt = lambda x, at: "never" if x is None else f"{x - at:.1f} s"  # noqa: E731
    print("\n| path 400 kbit/s from 10 s to 20 s | |")
    print("|---|---|")
    print(f"| first 1280x720 picture | {fmt(first, 0)} after the start |")
    print(f"| down after the narrowing | {fmt(down, 10)} |")
    print(f"| longest freeze, 9–15 s | {longest_freeze(rows, 9, 15)} |")
    print(f"| back on 1280x720 after the widening | {fmt(up, 20)} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", choices=["cpu", "slow", "narrow"])
    ap.add_argument("--video-codec", choices=["h264", "vp8"], default="h264")
    a = ap.parse_args()
    PUBLISH.extend(["--video-codec", a.video_codec])
    serve = Serve()
    try:
        if a.only in (None, "cpu"):
            cpu(serve, min(a.seconds, 20), a.runs)
        if a.only in (None, "slow"):
            slow(serve, a.seconds)
        if a.only in (None, "narrow"):
            narrow(serve, max(a.seconds, 30))
    finally:
        serve.stop()


if __name__ == "__main__":
    main()

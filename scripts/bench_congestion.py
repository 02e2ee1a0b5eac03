#!/usr/bin/env python3
"""Congestion control drills, measured: a `--video testsrc:busy` publisher at 1280x720 and
`--video-bitrate 2M` on a narrowed path, into a Janus room with a bitrate cap, and through
`vcall serve` with one slow subscriber.

Usage: scripts/bench_congestion.py [--only narrow|size|janus|slow] [--video testsrc|testsrc:calm]
(builds the release binary first; the Janus drill needs Debian's `janus` package and a C
compiler, as the tests do: scripts/setup.sh janus).

Drills (the path is `--impair`'s bottleneck in the publisher's or subscriber's own process):
  narrow   500 kbit/s for 20 s, then 3 Mbit/s: when the send rate settles under the path, the
           loss and the send rate once settled (5-20 s), a subscriber's latency p95 and longest
           freeze (it joins at 5 s, for 14 s), and when the target is back at the ceiling
  size     300 kbit/s for 15 s: the picture size and send rate once settled (5-15 s), a
           subscriber's latency p95 and longest freeze (it joins at 5 s, for 9 s)
  janus    a Janus VideoRoom room with `bitrate = 300000`: the video rate once settled (6-14 s)
  slow     vcall serve, one subscriber behind 400 kbit/s and one without a limit, joining 2 s
           after the publisher, three runs: each one's longest freeze and the publisher's send
           rate once settled (8-16 s); then one run where they join 10 s after the publisher
`--video` runs the drills with another pattern (the plain one, or the calm camera-like one,
which need a fraction of the ceiling). Prints a Markdown table; BENCHMARKS.md records runs.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_call import JANUS_TOKEN, VCALL, ROOT, Janus, Vcall  # noqa: E402

AIORTC = os.path.join(ROOT, "target", "test-peers", "venv", "bin", "python")

TMP = tempfile.mkdtemp(prefix="vcall-bench-congestion-")
BUSY = ["--video", "testsrc:busy", "--audio", "tone", "--width", "1280", "--height", "720",
        "--video-bitrate", "2M", "--json", "--stats-interval", "1s"]


def lines_of(proc, into):
    for line in proc.stdout:
        try:
            into.append(json.loads(line))
        except ValueError:
            pass


def start(server, role, args):
    proc = subprocess.Popen([VCALL, "-q", *args, *server.args(role)], env=server.env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    events = []
    reader = threading.Thread(target=lines_of, args=(proc, events), daemon=True)
    reader.start()
    return proc, events, reader


def finish(run):
    proc, events, reader = run
    proc.wait()
    reader.join()
    return events


def stats(events):
    return [e for e in events if e.get("event") == "stats"]


def sent_kbps(line):
    return sum(t.get("bitrateKbps") or 0 for t in line["tracks"])


def video_kbps(line):
    return next(t["bitrateKbps"] for t in line["tracks"] if t["kind"] == "video")


def t(line):
    return line["elapsedMs"] / 1000


def measured(events, condition):
    """What an `--expect` condition measured, "?" when it was not."""
    value = next((e["measured"] for e in events if e.get("event") == "expect" and e["condition"] == condition),
                 None)
    return "?" if value is None else f"{value:.0f}"


def mean(xs):
    return statistics.mean(xs) if xs else float("nan")


def narrow():
    server = Vcall()
    try:
        pub = start(server, "publisher", ["publish", *BUSY, "--duration", "40s",
                                          "--impair", "rate=500kbit,rate=3mbit@20s"])
        time.sleep(5)
        sub = finish(start(server, "subscriber", [
            "subscribe", "-o", os.path.join(TMP, "narrow.mkv"), "--duration", "14s", "--json",
            "--expect", "latency.p95<200ms,freeze.max<500ms"]))
        lines = stats(finish(pub))
    finally:
        server.stop()
    over = [t(l) for l in lines if t(l) < 20 and sent_kbps(l) >= 500]
    settled = [l for l in lines if 5 < t(l) < 20]
    back = next((t(l) - 20 for l in lines if t(l) > 20 and l["congestion"]["targetVideoKbps"] >= 2000), None)
    return [
        ("narrow: send rate under 500 kbit/s from", f"{max(over, default=0):.0f} s"),
        ("narrow: send rate once settled", f"{mean([sent_kbps(l) for l in settled]):.0f} kbit/s"),
        ("narrow: loss once settled (transport feedback)",
         f"{mean([l['congestion']['lossPercent'] or 0 for l in settled]):.2f} %"),
        ("narrow: subscriber latency p95", f"{measured(sub, 'latency.p95<200ms')} ms"),
        ("narrow: subscriber longest freeze", f"{measured(sub, 'freeze.max<500ms')} ms"),
        ("narrow: back at the 2 Mbit/s ceiling after the path widens",
         "not within 20 s" if back is None else f"{back:.0f} s"),
    ]


def size():
    server = Vcall()
    try:
        pub = start(server, "publisher", ["publish", *BUSY, "--duration", "15s", "--impair", "rate=300kbit"])
        time.sleep(5)
        sub = finish(start(server, "subscriber", [
            "subscribe", "-o", os.path.join(TMP, "size.mkv"), "--duration", "9s", "--json",
            "--expect", "latency.p95<200ms,freeze.max<500ms"]))
        lines = stats(finish(pub))
    finally:
        server.stop()
    settled = [l["congestion"] for l in lines if 5 < t(l) < 15]
    sizes = sorted({f"{c['targetWidth']}x{c['targetHeight']} at {c['targetFps']} fps" for c in settled})
    return [
        ("size (300 kbit/s): picture once settled", ", ".join(sizes) or "?"),
        ("size: send rate once settled", f"{mean([sent_kbps(l) for l in lines if 5 < t(l) < 15]):.0f} kbit/s"),
        ("size: subscriber latency p95", f"{measured(sub, 'latency.p95<200ms')} ms"),
        ("size: subscriber longest freeze", f"{measured(sub, 'freeze.max<500ms')} ms"),
    ]


def janus():
    """vcall, then aiortc (scripts/aiortc_janus_publisher.py), publishing into the capped room;
    aiortc's rate is what a vcall subscriber receives from Janus."""
    server = Janus()
    try:
        server.env = dict(server.env, VCALL_SESSION="3000")
        lines = stats(finish(start(server, "publisher", ["publish", *BUSY, "--duration", "14s"])))
        aiortc_kbps = None
        if os.path.exists(AIORTC):
            pub = subprocess.Popen([AIORTC, os.path.join(ROOT, "scripts", "aiortc_janus_publisher.py"), server.http,
                                    JANUS_TOKEN, "3000", "16"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                   text=True)
            if "published" in pub.stdout.readline():
                sub = stats(finish(start(server, "subscriber", [
                    "subscribe", "-o", os.path.join(TMP, "aiortc.mkv"), "--duration", "13s", "--json",
                    "--stats-interval", "1s"])))
                aiortc_kbps = mean([video_kbps(l) for l in sub if t(l) > 5])
            pub.wait()
    finally:
        server.stop()
    settled = [l for l in lines if 6 < t(l) < 14]
    rows = [("janus room bitrate = 300000: vcall's video once settled",
             f"{mean([video_kbps(l) for l in settled]):.0f} kbit/s (REMB "
             f"{settled[-1]['congestion']['rembKbps'] if settled else '?'} kbit/s)")]
    rows.append(("janus room bitrate = 300000: aiortc 1.16's video once settled",
                 "not run (scripts/test-peers.sh installs aiortc)" if aiortc_kbps is None
                 else f"{aiortc_kbps:.0f} kbit/s"))
    return rows


def slow_run(join_at=2):
    server = Vcall()
    try:
        pub = start(server, "publisher", ["publish", *BUSY, "--duration", f"{join_at + 20}s"])
        time.sleep(join_at)
        subs = [start(server, "subscriber", ["subscribe", "-o", os.path.join(TMP, f"{name}.mkv"), "--duration",
                                             "15s", "--json", "--expect", "freeze.max<500ms", *extra])
                for name, extra in (("slow", ["--impair", "rate=400kbit"]), ("fast", []))]
        slow_events, fast_events = (finish(s) for s in subs)
        lines = stats(finish(pub))
    finally:
        server.stop()
    settled = [l for l in lines if join_at + 6 < t(l) < join_at + 14]
    return (measured(slow_events, "freeze.max<500ms"), measured(fast_events, "freeze.max<500ms"),
            f"{mean([sent_kbps(l) for l in settled]):.0f}")


def slow():
    runs = [slow_run() for _ in range(3)]
    late = slow_run(join_at=10)
    return [
        ("slow: subscriber behind 400 kbit/s, longest freeze (3 runs)", " / ".join(r[0] for r in runs) + " ms"),
        ("slow: subscriber without a limit, longest freeze", " / ".join(r[1] for r in runs) + " ms"),
        ("slow: publisher's send rate once settled", " / ".join(r[2] for r in runs) + " kbit/s"),
        ("late: the subscribers join 10 s after the publisher, the slow one's longest freeze",
         late[0] + " ms"),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["narrow", "size", "janus", "slow"])
    ap.add_argument("--video", default="testsrc:busy", choices=["testsrc:busy", "testsrc", "testsrc:calm"])
    args = ap.parse_args()
    BUSY[1] = args.video
    subprocess.run(["cargo", "build", "--release", "--locked", "-q"], cwd=ROOT, check=True)
    rows = []
    for name, drill in (("narrow", narrow), ("size", size), ("janus", janus), ("slow", slow)):
        if args.only in (None, name):
            rows += drill()
    print("| drill | measured |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()

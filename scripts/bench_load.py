#!/usr/bin/env python3
"""`vcall load-test` against `vcall serve` and Janus side by side, in one run.

Usage: scripts/bench_load.py [--rooms 4] [--publishers 1] [--subscribers 50] [--hold 30]
                             [--join-subscribers 200] [--join-rate 20] [--servers vcall,janus]
(builds the release binary first; Janus needs Debian's `janus` package and a C compiler, as
the tests do: scripts/setup.sh janus).

Two scenarios per server, 320x240 30 fps 300 kbit/s test pattern with the tone:
  hold   --rooms x (--publishers + --subscribers), joined at 50/s, held --hold seconds
         with every check asked for (joined, streams, frames lost, identity, the pictures of
         the 1 % of streams decoded); the
         generator's CPU per subscribed stream (its own figure, from its loadSummary), what
         that makes per generator core, and the server's CPU per subscribed stream (from
         /proc over the run) and its peak RSS
  join   one room, one publisher, --join-subscribers subscribers joined at --join-rate:
         first-frame p95 (from asking for the subscription to the first whole frame)
Both run on this machine: the generator and the server share its cores, so compare the
columns (one run), not runs. Prints a Markdown table; BENCHMARKS.md records one run.
"""
import argparse, json, os, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_call  # noqa: E402  (its servers: vcall serve and Janus on free ports)

VCALL = bench_call.VCALL


class Vcall(bench_call.Vcall):
    """`vcall serve` taking every connection of the run from one address."""

    serve_flags = ["--max-connections", "100000", "--max-connections-per-ip", "100000"]


def rss_peak_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def load_test(server, args):
    """Runs one load test against `server`; returns (loadSummary, server CPU ms, wall s)."""
    env = dict(server.env, VCALL_API_KEY="bench", VCALL_API_SECRET="bench-secret")
    env.pop("VCALL_SESSION", None)
    if isinstance(server, bench_call.Janus):
        env["VCALL_TOKEN"] = bench_call.JANUS_TOKEN
    pid = server.proc.pid
    c0, t0 = bench_call.cpu_ms(pid), time.monotonic()
    out = subprocess.run([VCALL, "-q", "load-test", "--json", "--stats-interval", "0", *args],
                         env=env, capture_output=True, text=True)
    c1, t1 = bench_call.cpu_ms(pid), time.monotonic()
    summary = next((json.loads(l) for l in out.stdout.splitlines() if '"loadSummary"' in l), None)
    if summary is None:
        raise RuntimeError(f"no summary (exit {out.returncode}): {out.stderr[-2000:]}")
    if out.returncode != 0:
        print(f"  ({server.name}: exit {out.returncode}: {out.stderr.strip()[-400:]})", file=sys.stderr)
    return summary, c1 - c0, t1 - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rooms", type=int, default=4)
    ap.add_argument("--publishers", type=int, default=1)
    ap.add_argument("--subscribers", type=int, default=50)
    ap.add_argument("--hold", type=int, default=30)
    ap.add_argument("--join-subscribers", type=int, default=200)
    ap.add_argument("--join-rate", type=float, default=20)
    ap.add_argument("--servers", default="vcall,janus")
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--locked", "-q"], cwd=bench_call.ROOT, check=True)
    kinds = {"vcall": Vcall, "janus": bench_call.Janus}
    expect = "joined==100%, streams==100%, streams.frames.lost==0, identity, pictures.bad==0"
    rows = {}
    for name in a.servers.split(","):
        server = kinds[name]()
        try:
            streams = a.rooms * a.publishers * a.subscribers
            hold, cpu, wall = load_test(server, [
                "--rooms", str(a.rooms), "--publishers", str(a.publishers), "--subscribers",
                str(a.subscribers), "--join-rate", "50/s", "--duration", f"{a.hold}s",
                "--expect", expect])
            gen = hold["generators"][0][1]
            gen_ms = gen["cpu"] * 1000 / max(hold["streams"], 1)
            join, _, _ = load_test(server, [
                "--rooms", "1", "--publishers", "1", "--subscribers", str(a.join_subscribers),
                "--join-rate", f"{a.join_rate}/s", "--duration", "5s", "--expect", expect])
            rows[server.name] = [
                f"{hold['streams']}/{streams}",
                f"{hold['framesLost']}, {hold['identityViolations']}",
                f"{hold['picturesDecoded']} in {hold['streamsDecoded']}, {hold['picturesBad']}",
                f"{hold['stepsDown']}, {hold['stepsUp']}",
                f"{hold['latencyMs']['p95']:.1f}" if hold['latencyMs']['p95'] is not None else "–",
                f"{gen_ms:.2f}",
                f"{1000 / gen_ms:.0f}" if gen_ms > 0 else "–",
                f"{cpu / wall / max(hold['streams'], 1):.2f}",
                f"{rss_peak_kb(server.proc.pid) / 1024:.0f}",
                f"{join['streams']}/{a.join_subscribers}",
                f"{join['firstFrameMs']['p95']:.0f}" if join['firstFrameMs']['p95'] is not None else "–",
                "yes" if (hold["overloaded"] or join["overloaded"]) else "no",
            ]
        finally:
            server.stop()
    labels = [
        f"hold: streams received ({a.rooms} rooms x {a.publishers} x {a.subscribers})",
        "hold: frames lost, identity violations",
        "hold: pictures decoded (in streams), bad (--decode 1%)",
        "hold: publishers' rate-tier steps down, up",
        "hold: latency p95, ms",
        "hold: generator CPU per stream, ms/s",
        "hold: streams per generator core",
        "hold: server CPU per stream, ms/s",
        "server peak RSS, MB",
        f"join {a.join_subscribers} at {a.join_rate:g}/s: streams received",
        "join: first-frame p95, ms",
        "generator overloaded",
    ]
    names = list(rows)
    print("| | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for i, label in enumerate(labels):
        print(f"| {label} | " + " | ".join(rows[n][i] for n in names) + " |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""One stream to many subscribers: the forwarding server's CPU per subscriber and its memory,
`vcall serve` beside Janus, at several room sizes, in one run.

Usage: scripts/bench_fanout.py [--subscribers 30,100,300] [--window 10] [--servers vcall,janus,floor]
(builds the release binary first; Janus needs Debian's `janus` package and a C compiler, as
the tests do: scripts/setup.sh janus).

For each size N and each server: one `vcall load-test` process holds one publisher of the
640x480 30 fps 500 kbit/s test pattern with the tone (one rate, no tiers) and N subscribers
of it, joined at 100/s and held. Once all have joined (and 3 s more), the server's CPU
(user + system, from /proc) is read over --window seconds: per second and per subscriber.
Also the server's peak RSS (VmHWM) and the run's frames lost (every frame of every stream
is checked by the generator). The generator shares the machine's two cores with the server,
so read the ratio in each row; absolute figures move with the machine's load.
"floor" is no server but `cargo bench --bench floor` (benches/floor.rs): one thread that
receives a stream like it (110 datagrams a second) and does only what no forwarding server can
leave out, an SRTP encryption per subscriber and a share of one `sendmmsg`; its CPU per
subscriber is the machine's floor, and its "lost" cell counts datagrams, not frames.
Prints a Markdown table; BENCHMARKS.md records one run.
"""
import argparse, json, os, subprocess, sys, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_call  # noqa: E402  (its servers: vcall serve and Janus on free ports)
import bench_load  # noqa: E402

VCALL = bench_call.VCALL


def fanout(server, n, window):
    """One run of n subscribers on `server`: (CPU ms/s per subscriber, peak RSS MB, summary)."""
    env = dict(server.env, VCALL_API_KEY="bench", VCALL_API_SECRET="bench-secret")
    env.pop("VCALL_SESSION", None)
    if isinstance(server, bench_call.Janus):
        env["VCALL_TOKEN"] = bench_call.JANUS_TOKEN
    settle = n / 100 + 3
    hold = settle + window + 3
    proc = subprocess.Popen(
        [VCALL, "-q", "load-test", "--json", "--stats-interval", "0", "--rooms", "1",
         "--publishers", "1", "--subscribers", str(n), "--join-rate", "100/s",
         "--duration", f"{hold:.0f}s", "--width", "640", "--height", "480",
         "--video-bitrate", "500k", "--rate-tiers", "1", "--expect", "joined==100%"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err = []
    threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True).start()
    pid = server.proc.pid
    time.sleep(settle + 1)  # the process's start and the publisher's join, then the joins
    c0, t0 = bench_call.cpu_ms(pid), time.monotonic()
    time.sleep(window)
    c1, t1 = bench_call.cpu_ms(pid), time.monotonic()
    out, _ = proc.communicate()
    summary = next((json.loads(l) for l in out.splitlines() if '"loadSummary"' in l), None)
    if summary is None:
        raise RuntimeError(f"no summary (exit {proc.returncode}): {''.join(err)[-2000:]}")
    if proc.returncode != 0:
        print(f"  ({server.name}, {n}: exit {proc.returncode}: {''.join(err).strip()[-400:]})",
              file=sys.stderr)
    per_sub = (c1 - c0) / (t1 - t0) / n
    return per_sub, bench_load.rss_peak_kb(pid) / 1024, summary


def floor(n, window):
    """The floor forwarder at n subscribers: (CPU ms/s per subscriber, peak RSS MB, summary)."""
    run = subprocess.run(["cargo", "bench", "-q", "--locked", "--bench", "floor", "--",
                          "--subscribers", str(n), "--seconds", str(window)],
                         cwd=bench_call.ROOT, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"the floor bench failed (exit {run.returncode}): {run.stderr[-2000:]}")
    r = json.loads(run.stdout.strip().splitlines()[-1])
    lost = r["expected"] - r["received"]
    return r["cpuMsPerSPerSubscriber"], None, {"streams": n, "framesLost": f"{lost} datagrams"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--subscribers", default="30,100,300")
    ap.add_argument("--window", type=int, default=10)
    ap.add_argument("--servers", default="vcall,janus")
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--locked", "-q"], cwd=bench_call.ROOT, check=True)
    kinds = {"vcall": bench_load.Vcall, "janus": bench_call.Janus}
    names = a.servers.split(",")
    unknown = [k for k in names if k not in kinds and k != "floor"]
    if unknown:
        sys.exit(f"bench_fanout: unknown --servers {','.join(unknown)} (vcall, janus, floor)")
    label = {k: kinds[k].name if k in kinds else k for k in names}
    if "floor" in names:
        subprocess.run(["cargo", "bench", "--locked", "--bench", "floor", "--no-run", "-q"],
                       cwd=bench_call.ROOT, check=True)
    # With two or more columns, each one's CPU against the second's (Janus by default).
    ratios = len(names) >= 2
    print("| subscribers | " + " | ".join(
        f"{label[k]}: CPU per subscriber, ms/s | {label[k]}: peak RSS, MB | "
        f"{label[k]}: streams, lost" for k in names)
        + "".join(f" | {label[k]} / {label[names[1]]}" for k in names if ratios and k != names[1])
        + " |")
    print("|---|" + "---|---|---|" * len(names) + "---|" * ((len(names) - 1) if ratios else 0))
    for n in [int(x) for x in a.subscribers.split(",")]:
        cells, cpus = [], {}
        for k in names:
            if k == "floor":
                cpu, rss, s = floor(n, a.window)
            else:
                # A fresh server for each size: its peak RSS is that size's.
                server = kinds[k]()
                try:
                    cpu, rss, s = fanout(server, n, a.window)
                finally:
                    server.stop()
            cpus[k] = cpu
            cells += [f"{cpu:.2f}", "-" if rss is None else f"{rss:.0f}",
                      f"{s['streams']}/{n}, {s['framesLost']}"]
        base = cpus[names[1]] if ratios else 0
        ratio = "".join(f" | {cpus[k] / base:.2f}x" if base > 0 else " | -" for k in names
                        if ratios and k != names[1])
        print(f"| {n} | " + " | ".join(cells) + ratio + " |", flush=True)


if __name__ == "__main__":
    main()

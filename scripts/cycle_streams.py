#!/usr/bin/env python3
"""Thousands of streams through one subscriber: do its connection and memory stay bounded?

Usage: scripts/cycle_streams.py [--streams 5000] [--parallel 3] [--seconds 0.4]
(builds the binary first, `cargo build`'s profile, which is optimized).

One `vcall subscribe --output-dir` records every stream of a session through a `vcall serve`
on loopback while --streams publishers (160x120 test pattern and tone, --seconds each) come
and go, --parallel at a time. Every ended stream's sections are reused by the next ones, so
the subscriber's offers should keep as many sections as streams ever overlapped. Prints a
Markdown table: per sample, the streams recorded so far, the sections of the subscriber's
last offer (the most so far), and the resident memory (VmRSS) and open file descriptors of
serve and subscriber, and the subscriber's CPU while no stream is published (what it spends
on the streams it has seen: reports, timers). Exits 1 when a stream was not recorded whole (no frames) or the
sections grew with the streams.
"""
import argparse, json, os, re, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor

from soak import free_port, rss_mb, wait_listening

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VCALL = os.path.join(ROOT, "target", "debug", "vcall")


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_s(pid):
    """User and system CPU time of `pid` so far, seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu_ms(pid, seconds=3.0):
    """CPU `pid` uses per second while no stream is published, ms/s."""
    before = cpu_s(pid)
    time.sleep(seconds)
    return (cpu_s(pid) - before) * 1000 / seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--streams", type=int, default=5000)
    ap.add_argument("--parallel", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=0.4)
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "--locked", "--quiet"], cwd=ROOT, check=True)
    listen = f"127.0.0.1:{free_port()}"
    env = dict(os.environ, VCALL_URL=f"ws://{listen}", VCALL_API_KEY="cycle",
               VCALL_API_SECRET="cycle-secret")
    tmp = tempfile.mkdtemp(prefix="vcall-cycle-")
    serve = subprocess.Popen([VCALL, "serve", "--listen", listen, "--udp-port", "0"], env=env,
                             stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(tmp, "serve.log"), "w"))
    procs = [serve]
    try:
        wait_listening(listen)
        run = lambda *args: subprocess.run([VCALL, *args], env=env, capture_output=True,
                                           text=True, check=True).stdout.strip()
        session = run("session", "create")
        env["VCALL_SESSION"] = session
        sub_log = os.path.join(tmp, "subscribe.log")
        sub_env = dict(env, RUST_LOG=os.environ.get("SUB_LOG", "info,vcall::signaling::negotiate=debug"))
        sub = subprocess.Popen(
            [VCALL, "subscribe", "--token", run("token", "create", "--role", "subscriber"),
             "--output-dir", os.path.join(tmp, "rec"), "--json", "--stats-interval", "0"],
            env=sub_env, stdout=subprocess.PIPE, stderr=open(sub_log, "w"), text=True)
        procs.append(sub)
        token = run("token", "create", "--role", "publisher")
        publish = [VCALL, "-q", "publish", "--token", token, "--video", "testsrc",
                   "--audio", "tone", "--width", "160", "--height", "120",
                   "--duration", f"{a.seconds}s"]
        finished = []

        def read_events():
            for line in sub.stdout:
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if ev.get("event") == "recordingFinished":
                    finished.append(ev)

        import threading
        threading.Thread(target=read_events, daemon=True).start()
        time.sleep(1)

        def sections():
            with open(sub_log, errors="replace") as f:
                found = re.findall(r"sections=(\d+)", f.read())
            return [int(n) for n in found]

        samples = []
        sample_at = sorted({min(250, a.streams)} | set(range(1000, a.streams + 1, 1000))
                           | {a.streams})
        failed = 0
        started = time.time()
        with ThreadPoolExecutor(a.parallel) as pool:
            done = 0
            for lo in sample_at:
                batch = lo - done
                results = list(pool.map(lambda _: subprocess.run(
                    publish, env=env, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL).returncode, range(batch)))
                failed += sum(1 for rc in results if rc != 0)
                done = lo
                time.sleep(2)  # the last streams' recordings finish
                s = sections()
                samples.append((done, len(finished), s[-1] if s else 0, max(s, default=0),
                                rss_mb(serve.pid), rss_mb(sub.pid), fds(serve.pid),
                                fds(sub.pid), idle_cpu_ms(sub.pid)))
                print(f"{done} streams, {time.time() - started:.0f} s", file=sys.stderr)
        print(f"{a.streams} streams, {a.parallel} at a time, {a.seconds} s each\n")
        print("| streams published | recordings finished | sections (last offer) | sections (most) "
              "| serve RSS MB | subscriber RSS MB | serve fds | subscriber fds "
              "| subscriber idle CPU ms/s |")
        print("|---|---|---|---|---|---|---|---|---|")
        for d, f, last, most, rs, rc, fs, fc, idle in samples:
            print(f"| {d} | {f} | {last} | {most} | {rs:.1f} | {rc:.1f} | {fs} | {fc} "
                  f"| {idle:.0f} |")
        empty = [ev for ev in finished if not ev.get("videoFrames")]
        print(f"\npublishers that failed: {failed}; recordings without video frames: "
              f"{len(empty)} of {len(finished)}")
        first, last = samples[0], samples[-1]
        print(f"growth from {first[0]} to {last[0]} streams: serve {last[4] - first[4]:+.1f} MB, "
              f"subscriber {last[5] - first[5]:+.1f} MB")
        bounded = last[3] <= 4 * a.parallel  # two a stream: live ones and finishing ones
        return 0 if bounded and not empty and not failed else 1
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            p.wait()
        if not os.environ.get("KEEP"):
            subprocess.run(["rm", "-rf", tmp])
        else:
            print(tmp, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

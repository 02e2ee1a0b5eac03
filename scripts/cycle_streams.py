#!/usr/bin/env python3
"""Thousands of streams through one subscriber: do its connection and memory stay bounded?

Usage: scripts/cycle_streams.py [--streams 5000] [--parallel 3] [--seconds 0.4]
                                [--join-rate N] [--vcall PATH]
(builds the binary first, `cargo build`'s profile, which is optimized; --vcall: another build,
to compare).

One `vcall subscribe --output-dir` records every stream of a session through a `vcall serve`
on loopback while --streams publishers (160x120 test pattern and tone, --seconds each) come
and go, --parallel at a time; or, with --join-rate, the publishers of one `vcall load-test
--publish-for` (--seconds each), N joining a second, so that many more streams overlap (the
subscriber's description then holds ~4 × N × --seconds sections). Every ended stream's sections are reused by the next ones, so
the subscriber's offers should keep as many sections as streams ever overlapped. Prints a
Markdown table: per sample, the streams recorded so far, the sections of the subscriber's
last offer (the most so far), and the resident memory (VmRSS) and open file descriptors of
serve and subscriber, the subscriber's CPU while no stream is published (what it spends
on the streams it has seen: reports, timers), and the CPU serve and subscriber spent per
stream since the last sample; then how many subscriptions needed an offer and how many came
in kept sections with no exchange. Exits 1 when a stream was not recorded whole (no frames) or the
sections grew with the streams.
"""
import argparse, json, os, re, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor

from soak import free_port, rss_mb, wait_listening

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
    ap.add_argument("--join-rate", type=int,
                    help="publishers of one load-test, this many joining a second")
    ap.add_argument("--vcall", help="the binary to run (default: build this tree's)")
    a = ap.parse_args()
    global VCALL
    VCALL = a.vcall or os.path.join(ROOT, "target", "debug", "vcall")
    if not a.vcall:
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
        # The load generator's publishers join the room `cycle-r0`: its session.
        session = run("session", "create", *(["--room", "cycle-r0"] if a.join_rate else []))
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
        cpu_before = (cpu_s(serve.pid), cpu_s(sub.pid))
        sample_at = sorted({min(250, a.streams)} | set(range(1000, a.streams + 1, 1000))
                           | {a.streams})
        failed = 0
        started = time.time()

        def sample(done, batch, idle):
            nonlocal cpu_before
            s = sections()
            cpu_now = (cpu_s(serve.pid), cpu_s(sub.pid))
            per_stream = [(n - b) * 1000 / batch for n, b in zip(cpu_now, cpu_before)]
            samples.append((done, len(finished), s[-1] if s else 0, max(s, default=0),
                            rss_mb(serve.pid), rss_mb(sub.pid), fds(serve.pid),
                            fds(sub.pid), idle, *per_stream))
            cpu_before = cpu_now
            print(f"{done} streams, {time.time() - started:.0f} s", file=sys.stderr)

        if a.join_rate:
            # Streams are published throughout: no idle CPU to read, and a sample is taken
            # once that many recordings have finished.
            gen = subprocess.Popen(
                [VCALL, "load-test", "--run-id", "cycle", "--publishers", str(a.streams),
                 "--subscribers", "0", "--join-rate", f"{a.join_rate}/s",
                 "--publish-for", f"{a.seconds}s", "--duration", "1s", "--width", "160",
                 "--height", "120", "--fps", "15", "--video-bitrate", "100k",
                 "--stats-interval", "0", "--generator-cpu-limit", "100%",
                 "--generator-lag-limit", "60s"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(gen)
            done = 0
            for lo in sample_at:
                while len(finished) < lo and gen.poll() is None:
                    time.sleep(0.2)
                if len(finished) < lo:
                    time.sleep(3)  # the generator is done: the last recordings finish
                sample(len(finished), max(len(finished) - done, 1), None)
                done = len(finished)
            failed = int(gen.wait() != 0)
        else:
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
                    sample(done, batch, idle_cpu_ms(sub.pid))
        how = (f"{a.join_rate} joining a second" if a.join_rate
               else f"{a.parallel} at a time")
        print(f"{a.streams} streams, {how}, {a.seconds} s each\n")
        print("| streams published | recordings finished | sections (last offer) | sections (most) "
              "| serve RSS MB | subscriber RSS MB | serve fds | subscriber fds "
              "| subscriber idle CPU ms/s | serve CPU ms/stream | subscriber CPU ms/stream |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for d, f, last, most, rs, rc, fs, fc, idle, cs, cc in samples:
            idle = "-" if idle is None else f"{idle:.0f}"
            print(f"| {d} | {f} | {last} | {most} | {rs:.1f} | {rc:.1f} | {fs} | {fc} "
                  f"| {idle} | {cs:.1f} | {cc:.1f} |")
        with open(sub_log, errors="replace") as f:
            kept = f.read().count("subscribed in kept sections")
        print(f"\nsubscriptions: {len(sections())} with an offer, {kept} in kept sections")
        empty = [ev for ev in finished if not ev.get("videoFrames")]
        print(f"\npublishers that failed: {failed}; recordings without video frames: "
              f"{len(empty)} of {len(finished)}")
        first, last = samples[0], samples[-1]
        print(f"growth from {first[0]} to {last[0]} streams: serve {last[4] - first[4]:+.1f} MB, "
              f"subscriber {last[5] - first[5]:+.1f} MB")
        # Two sections a stream, for live ones and finishing ones.
        overlap = a.join_rate * (a.seconds + 2) if a.join_rate else a.parallel
        bounded = last[3] <= 4 * overlap
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

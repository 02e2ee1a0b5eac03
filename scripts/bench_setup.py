#!/usr/bin/env python3
"""How long connection setup takes over a lossy path, and how often it fails.

Usage: scripts/bench_setup.py [--runs 100] [--losses 0,5,10,20] [--vcall PATH]
(builds the release binary first unless --vcall is given).

Through a `vcall serve` on loopback, for each loss level: --runs publishes one after the
other, each behind `--impair loss=L%,handshake` (its datagrams dropped at random both ways,
ICE's STUN and DTLS included), timed from the process's start to its `published` line (the
server receives its media); and as many subscribes (`--frames 1`, the same impairment, a
clean publisher live) timed from start to exit. A run that has not got there within 10 s
counts as failed; its log (stderr) is kept and named. Prints a Markdown table;
BENCHMARKS.md records one run.
"""
import argparse, os, select, signal, socket, subprocess, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIMIT = 10.0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(proc, needle, limit):
    """Seconds until `proc` prints a line with `needle` on stdout, or None past `limit`."""
    start = time.monotonic()
    buf = b""
    while True:
        left = limit - (time.monotonic() - start)
        if left <= 0:
            return None
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if not ready:
            return None
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            return None
        buf += chunk
        if needle in buf:
            return time.monotonic() - start


def stop(proc):
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def quantile(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--losses", default="0,5,10,20")
    ap.add_argument("--vcall", help="this binary instead of building the release one")
    a = ap.parse_args()
    vcall = a.vcall
    if not vcall:
        subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)
        vcall = os.path.join(ROOT, "target", "release", "vcall")
    listen = f"127.0.0.1:{free_port()}"
    env = dict(os.environ, VCALL_URL=f"ws://{listen}", VCALL_API_KEY="bench",
               VCALL_API_SECRET="bench-secret")
    tmp = tempfile.mkdtemp(prefix="vcall-setup-")
    serve = subprocess.Popen([vcall, "serve", "--listen", listen, "--udp-port", "0",
                              "--api-key", "bench", "--api-secret", "bench-secret"],
                             stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "serve.log"), "w"),
                             env=env)
    procs = [serve]
    try:
        host, port = listen.split(":")
        for _ in range(100):
            try:
                socket.create_connection((host, int(port)), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        session = subprocess.run([vcall, "session", "create"], env=env, check=True,
                                 capture_output=True, text=True).stdout.strip()
        env["VCALL_SESSION"] = session
        token = lambda role: subprocess.run([vcall, "token", "create", "--role", role], env=env,
                                            check=True, capture_output=True,
                                            text=True).stdout.strip()
        pub_token, sub_token = token("publisher"), token("subscriber")
        media = ["--video", "testsrc", "--audio", "tone", "--width", "320", "--height", "240"]
        source = subprocess.Popen([vcall, "publish", "--token", pub_token, "--name", "source",
                                   *media, "--json"], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, env=env)
        procs.append(source)
        if wait_for(source, b'"event":"published"', 20) is None:
            raise SystemExit("the clean publisher did not go live")
        rows = []
        for loss in [float(x) for x in a.losses.split(",")]:
            impair = f"loss={loss:g}%,handshake"
            pub_times, sub_times = [], []
            for i in range(a.runs):
                log = os.path.join(tmp, f"publish-{loss:g}-{i}.log")
                p = subprocess.Popen([vcall, "publish", "--token", pub_token, "--name",
                                      f"setup-{i}", *media, "--json", "--impair", impair],
                                     stdout=subprocess.PIPE, stderr=open(log, "w"), env=env)
                t = wait_for(p, b'"event":"published"', LIMIT)
                stop(p)
                if t is not None:
                    pub_times.append(t)
                    os.remove(log)
                else:
                    print(f"publish failed at {loss:g} %: {log}", flush=True)
                start = time.monotonic()
                out = os.path.join(tmp, "one.mkv")
                log = os.path.join(tmp, f"subscribe-{loss:g}-{i}.log")
                s = subprocess.Popen([vcall, "subscribe", "--token", sub_token, "--stream",
                                      "source", "-o", out, "--frames", "1", "--impair", impair],
                                     stdout=subprocess.DEVNULL, stderr=open(log, "w"), env=env)
                try:
                    code = s.wait(timeout=LIMIT)
                except subprocess.TimeoutExpired:
                    stop(s)
                    code = None
                if code == 0:
                    sub_times.append(time.monotonic() - start)
                    os.remove(log)
                else:
                    print(f"subscribe failed at {loss:g} %: {log}", flush=True)
            for what, times in (("publish", pub_times), ("subscribe --frames 1", sub_times)):
                ok = len(times)
                cells = ([f"{quantile(times, 0.5):.2f}", f"{quantile(times, 0.9):.2f}",
                          f"{max(times):.2f}"] if times else ["–"] * 3)
                rows.append(f"| {loss:g} % | {what} | {ok}/{a.runs} ({100 * ok / a.runs:.0f} %) | "
                            + " | ".join(cells) + " |")
            print(f"loss {loss:g} %: done", flush=True)
        print()
        print("| loss each way (handshakes too) | command | set up within 10 s | p50 s | p90 s | max s |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            print(r)
    finally:
        for p in reversed(procs):
            stop(p)


if __name__ == "__main__":
    main()

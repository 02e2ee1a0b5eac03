#!/usr/bin/env python3
"""A long call through `vcall serve`: does anything grow or drift?

Usage: scripts/soak.py [--seconds 3600] [--loss 1%] [--keep DIR]
(builds the release binary first; ffmpeg/ffprobe must be installed, as the tests need).

One publisher (640x480 30 fps test pattern with the tone) and one subscriber recording it to
Matroska with `--expect 'frames.lost==0, av-skew<40ms'`, both behind `--impair loss=…`,
through a `vcall serve` on loopback, for --seconds. The resident memory (VmRSS) of the
three processes is read at 5 minutes (or a twelfth of a shorter run) and 10 s before the
end. Afterwards the recording is checked with ffmpeg: its duration as players read it, a
seek to the middle landing on a decodable picture, and a full decode without errors.
Prints a Markdown table; BENCHMARKS.md records one run. Exits 1 when a check fails.
"""
import argparse, json, os, socket, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VCALL = os.path.join(ROOT, "target", "release", "vcall")


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_listening(listen, tries=50):
    """Waits (a tenth of a second at a time) until something listens on `listen`."""
    host, port = listen.split(":")
    for _ in range(tries):
        try:
            socket.create_connection((host, int(port)), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=3600)
    ap.add_argument("--loss", default="1%")
    ap.add_argument("--keep", help="keep the recording in this directory")
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)
    listen = f"127.0.0.1:{free_port()}"
    keys = ["--api-key", "soak", "--api-secret", "soak-secret"]
    env = dict(os.environ, VCALL_URL=f"ws://{listen}", VCALL_API_KEY="soak",
               VCALL_API_SECRET="soak-secret")
    tmp = tempfile.mkdtemp(prefix="vcall-soak-")
    out_dir = a.keep or tmp
    rec = os.path.join(out_dir, "soak.mkv")
    serve = subprocess.Popen([VCALL, "serve", "--listen", listen, *keys],
                             stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "serve.log"), "w"))
    procs = [serve]
    try:
        wait_listening(listen)
        run = lambda *args: subprocess.run([VCALL, *args], env=env, capture_output=True, text=True,
                                           check=True).stdout.strip()
        session = run("session", "create")
        impair = ["--impair", f"loss={a.loss}"]
        pub = subprocess.Popen(
            [VCALL, "-q", "publish", "--session", session, "--token",
             run("token", "create", "--session", session, "--role", "publisher"),
             "--video", "testsrc", "--audio", "tone", "--width", "640", "--height", "480",
             "--duration", f"{a.seconds + 30}s", *impair],
            env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "publish.log"), "w"))
        procs.append(pub)
        time.sleep(2)
        sub = subprocess.Popen(
            [VCALL, "subscribe", "--session", session, "--token",
             run("token", "create", "--session", session, "--role", "subscriber"),
             "-o", rec, "--duration", f"{a.seconds}s", "--json", "--stats-interval", "0",
             "--expect", "frames.lost==0, av-skew<40ms", *impair],
            env=env, stdout=subprocess.PIPE, stderr=open(os.path.join(tmp, "subscribe.log"), "w"),
            text=True)
        procs.append(sub)
        early_at = min(300, a.seconds / 12)
        late_at = a.seconds - 10
        start = time.monotonic()
        names = ["serve", "publish", "subscribe"]
        samples = {}
        for label, at in [("early", early_at), ("late", late_at)]:
            time.sleep(max(0, start + at - time.monotonic()))
            samples[label] = [rss_mb(p.pid) for p in procs]
            print(f"# {label} ({at:.0f} s): " + ", ".join(
                f"{n} {m:.1f} MB" for n, m in zip(names, samples[label])), file=sys.stderr, flush=True)
        lines = sub.communicate(timeout=a.seconds + 120)[0].splitlines()
        code = sub.returncode
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=10)
    events = [json.loads(l) for l in lines if l.startswith("{")]
    expects = [f"{e['condition']}: {e['measured']}" for e in events if e.get("event") == "expect"]
    finished = next((e for e in events if e.get("event") == "recordingFinished"), {})
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                            "-of", "csv=p=0", rec], capture_output=True, text=True).stdout.strip()
    middle = a.seconds / 2
    seek = subprocess.run(["ffmpeg", "-v", "error", "-ss", str(middle), "-i", rec,
                           "-frames:v", "1", "-f", "null", "-"], capture_output=True, text=True)
    decode = subprocess.run(["ffmpeg", "-v", "error", "-i", rec, "-f", "null", "-"],
                            capture_output=True, text=True)
    checks = [
        ("subscribe's --expect (frames.lost==0, av-skew<40ms)", code == 0,
         "; ".join(expects) or f"exit {code}"),
        ("recording's duration (ffprobe)", probe not in ("", "N/A") and abs(float(probe) - a.seconds) < 5,
         f"{probe} s"),
        (f"seek to {middle:.0f} s decodes", seek.returncode == 0 and not seek.stderr.strip(),
         seek.stderr.strip()[:200] or "ok"),
        ("full decode without errors", decode.returncode == 0 and not decode.stderr.strip(),
         decode.stderr.strip()[:200] or "ok"),
    ]
    for n, e, l in zip(names, samples["early"], samples["late"]):
        checks.append((f"{n} RSS at {early_at:.0f} s and {late_at:.0f} s", abs(l - e) < 1.0,
                       f"{e:.1f} MB, {l:.1f} MB ({l - e:+.2f})"))
    print(f"| check ({a.seconds} s call, loss={a.loss} each way) | result | measured |")
    print("|---|---|---|")
    for name, ok, measured in checks:
        print(f"| {name} | {'pass' if ok else 'FAIL'} | {measured} |")
    print(f"\nvideo frames recorded: {finished.get('videoFrames')}, audio frames: "
          f"{finished.get('audioFrames')}, bytes: {finished.get('bytes')}")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Benchmarks that need whole processes: CPU time per second and peak memory of publish and
subscribe, end-to-end latency and time to first frame through the embedded server.

Usage: scripts/bench.py [--seconds 10]  (builds the release binary first)
Prints a Markdown table; BENCHMARKS.md records one run.
"""
import argparse, os, re, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VCALL = os.path.join(ROOT, "target", "release", "vcall")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--locked", "-q"], cwd=ROOT, check=True)
    env = dict(os.environ, VCALL_API_KEY="bench", VCALL_API_SECRET="bench-secret", RUST_LOG="error")
    port = 17880
    env["VCALL_URL"] = f"ws://127.0.0.1:{port}"
    serve = subprocess.Popen([VCALL, "serve", "--listen", f"127.0.0.1:{port}"], env=env, stderr=subprocess.PIPE, text=True)
    for line in serve.stderr:
        if "serving on" in line:
            break
    try:
        session = subprocess.run([VCALL, "session", "create"], env=env, capture_output=True, text=True, check=True).stdout.strip()
        env["VCALL_SESSION"] = session
        tok = lambda role: subprocess.run([VCALL, "token", "create", "--role", role], env=env, capture_output=True, text=True, check=True).stdout.strip()
        rows = []
        # Publish 720p30 + tone, with a recording subscriber, each measured with wait4.
        pub = subprocess.Popen([VCALL, "-q", "publish", "--token", tok("publisher"), "--video", "testsrc", "--width", "1280",
                                "--height", "720", "--fps", "30", "--video-bitrate", "2500k", "--audio", "tone",
                                "--duration", f"{a.seconds + 4}s"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2)
        out = os.path.join(ROOT, "target", "bench-recording.mp4")
        sub = subprocess.Popen([VCALL, "-q", "subscribe", "--token", tok("subscriber"), "-o", out, "--duration", f"{a.seconds}s"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, sub_ru = os.wait4(sub.pid, 0)
        _, status, pub_ru = os.wait4(pub.pid, 0)
        pub_secs = a.seconds + 4
        rows.append(("publish 720p30 + tone: CPU time per second of publishing", f"{(pub_ru.ru_utime + pub_ru.ru_stime) / pub_secs * 1000:.0f} ms/s"))
        rows.append(("publish 720p30 + tone: peak memory", f"{pub_ru.ru_maxrss / 1024:.0f} MiB"))
        rows.append(("subscribe to .mp4 (720p): CPU time per second", f"{(sub_ru.ru_utime + sub_ru.ru_stime) / a.seconds * 1000:.0f} ms/s"))
        rows.append(("subscribe to .mp4 (720p): peak memory", f"{sub_ru.ru_maxrss / 1024:.0f} MiB"))
        # End-to-end latency and first frame, from the demo's decoded marks (640x480).
        demo = subprocess.run([VCALL, "-q", "demo", "--duration", f"{a.seconds}s", "-o", os.path.join(ROOT, "target", "bench-demo.mp4")],
                              env=env, capture_output=True, text=True)
        m = re.search(r"p50 ([\d.]+) ms, p95 ([\d.]+) ms", demo.stdout)
        f = re.search(r"first decoded frame (\d+) ms", demo.stdout)
        if m:
            rows.append(("end-to-end latency through the embedded server (640x480), p50", f"{m.group(1)} ms"))
            rows.append(("end-to-end latency through the embedded server (640x480), p95", f"{m.group(2)} ms"))
        if f:
            rows.append(("time from subscribe to first decoded frame", f"{f.group(1)} ms"))
        print("| what | result |")
        print("|---|---|")
        for k, v in rows:
            print(f"| {k} | {v} |")
    finally:
        serve.terminate()
        serve.wait()


if __name__ == "__main__":
    sys.exit(main())

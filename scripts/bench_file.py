#!/usr/bin/env python3
"""What publishing a media file costs, sent as it is and encoded again, and whether every
frame of it arrives in step.

Usage: scripts/bench_file.py [--minutes 10] [--size 1920x1080] [--transcode-seconds 60]
                             [--vcall PATH] [--keep DIR]
(builds the release binary and the marked_clip example first unless --vcall is given).

Makes a --minutes long H.264 (x264 ultrafast: no B-frames; a keyframe every 2 s, 4 Mbit/s) and AAC MP4
at --size and 30 fps with Debian's ffmpeg, from vcall's marked test pattern and tone (every
picture carries its number and time, every second of sound a silent mark). Then, through a
`vcall serve` on loopback, with a `vcall subscribe` recording it (--expect frames.lost=0,
av-skew<40ms: the pictures' numbers and the tone's marks):

- `vcall publish --file` (auto: sent as it is) for the whole file;
- `vcall publish --file --transcode always` for --transcode-seconds of it;
- ffmpeg 9's WHIP muxer (target/test-peers, scripts/test-peers.sh) publishing the same file
  with its video copied and its sound encoded to Opus, for --transcode-seconds, to vcall
  serve's WHIP endpoint: another tool doing the same job, side by side.

Each publisher's CPU (user + system, from /proc at its exit via /usr/bin/time) over its wall
time is printed as a share of one core, with the recording's frame count against the
file's, its length against the file's, and its A/V offset. Prints a Markdown table;
BENCHMARKS.md records one run.
"""
import argparse, json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_file(clip, path, size, minutes):
    """The marked pattern and tone, --minutes long, as an H.264/AAC MP4."""
    seconds = int(round(minutes * 60))
    wav = path + ".wav"
    # The busy pattern: noise under the marks fills the bitrate, as a camera's picture does.
    y4m = subprocess.Popen([clip, size, "30", str(seconds), "-", wav, "busy"], stdout=subprocess.PIPE)
    # The WAV is written before the pictures start.
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "yuv4mpegpipe", "-i", "-", "-i", wav,
                    "-c:v", "libx264", "-preset", "ultrafast", "-g", "60",
                    "-b:v", "4M", "-maxrate", "4M", "-bufsize", "4M", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", path],
                   stdin=y4m.stdout, check=True)
    y4m.wait()
    os.remove(wav)


def timed(cmd, env, log):
    """Runs `cmd` under /usr/bin/time: (wall s, CPU s, exit code)."""
    timing = log + ".time"
    start = time.monotonic()
    code = subprocess.run(["/usr/bin/time", "-f", "%U %S", "-o", timing] + cmd, env=env,
                          stdout=subprocess.DEVNULL, stderr=open(log, "w")).returncode
    wall = time.monotonic() - start
    user, system = open(timing).read().split()[-2:]
    return wall, float(user) + float(system), code


def recording(vcall, env, out, log):
    return subprocess.Popen([vcall, "subscribe", "--stream", "file", "-o", out, "--json",
                             "--expect", "frames.lost=0,av-skew<40ms"],
                            env=env, stdout=subprocess.PIPE, stderr=open(log, "w"))


def finish(sub, out):
    """The recording's expect results and its video frames and length."""
    try:
        stdout, _ = sub.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        sub.send_signal(signal.SIGINT)
        stdout, _ = sub.communicate()
    measured = {}
    for line in stdout.decode().splitlines():
        ev = json.loads(line)
        if ev.get("event") == "expect":
            measured[ev["condition"].split("<")[0].split("=")[0]] = ev.get("measured")
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-count_packets",
                            "-show_entries", "stream=nb_read_packets:format=duration",
                            "-of", "json", out], capture_output=True, text=True)
    p = json.loads(probe.stdout or "{}")
    frames = int(p.get("streams", [{}])[0].get("nb_read_packets", 0))
    length = float(p.get("format", {}).get("duration", 0))
    return measured, frames, length


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--transcode-seconds", type=int, default=60)
    ap.add_argument("--vcall")
    ap.add_argument("--keep")
    a = ap.parse_args()
    if a.vcall:
        vcall = a.vcall
        clip = os.path.join(os.path.dirname(vcall), "examples", "marked_clip")
    else:
        subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "vcall",
                        "--example", "marked_clip"], cwd=ROOT, check=True)
        vcall = os.path.join(ROOT, "target/release/vcall")
        clip = os.path.join(ROOT, "target/release/examples/marked_clip")
    tmp = a.keep or tempfile.mkdtemp(prefix="bench-file-")
    os.makedirs(tmp, exist_ok=True)
    name = f"marked-{a.size}-{a.minutes:g}min.mp4"
    path = os.path.join(tmp, name)
    if not os.path.exists(path):
        print(f"making {name} ...", file=sys.stderr)
        make_file(clip, path, a.size, a.minutes)
    file_frames = int(round(a.minutes * 60 * 30))

    port = free_port()
    listen = f"127.0.0.1:{port}"
    env = dict(os.environ, VCALL_URL=f"ws://{listen}", VCALL_API_KEY="bench",
               VCALL_API_SECRET="bench-secret-bench-secret-bench-secret")
    serve = subprocess.Popen([vcall, "serve", "--listen", listen, "--udp-port", "0"],
                             stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(tmp, "serve.log"), "w"), env=env)
    rows = []
    try:
        time.sleep(1)
        ffmpeg9 = os.path.join(ROOT, "target/test-peers/venv/bin/python")
        runs = [("vcall publish --file (sent as it is)", [], None),
                ("vcall publish --file --transcode always", ["--transcode", "always"],
                 a.transcode_seconds)]
        if os.path.exists(ffmpeg9):
            runs.append(("ffmpeg 9 WHIP (video copied, AAC to Opus)", None, a.transcode_seconds))
        for label, extra, seconds in runs:
            session = subprocess.run([vcall, "session", "create"], env=env, check=True,
                                     capture_output=True, text=True).stdout.strip()
            e = dict(env, VCALL_SESSION=session)
            token = lambda role: subprocess.run([vcall, "token", "create", "--role", role],
                                                env=e, check=True, capture_output=True,
                                                text=True).stdout.strip()
            out = os.path.join(tmp, f"rec-{len(rows)}.mkv")
            sub = recording(vcall, dict(e, VCALL_TOKEN=token("subscriber")), out,
                            os.path.join(tmp, f"sub-{len(rows)}.log"))
            time.sleep(1)
            log = os.path.join(tmp, f"pub-{len(rows)}.log")
            if extra is not None:
                cmd = [vcall, "publish", "--token", token("publisher"), "--name", "file",
                       "--file", path] + extra
                if seconds:
                    cmd += ["--duration", f"{seconds}s"]
            else:
                exe = subprocess.run([ffmpeg9, "-c", "import imageio_ffmpeg as f; print(f.get_ffmpeg_exe())"],
                                     check=True, capture_output=True, text=True).stdout.strip()
                url = f"http://{listen}/whip/{session}?name=file"
                cmd = [exe, "-v", "error", "-re", "-i", path, "-t", str(seconds), "-c:v", "copy",
                       "-c:a", "libopus", "-b:a", "48k", "-ar", "48000", "-ac", "2", "-f", "whip",
                       "-authorization", token("publisher"), url]
            wall, cpu, code = timed(cmd, e, log)
            if extra is None:
                # ffmpeg ends without unpublishing at once: the recording ends with the stream.
                time.sleep(2)
            measured, frames, length = finish(sub, out)
            expected = seconds * 30 if seconds else file_frames
            rows.append((label, code, wall, cpu, frames, expected, length, measured))
            print(f"{label}: exit {code}, {wall:.1f} s, CPU {cpu:.2f} s, "
                  f"{frames}/{expected} frames, {length:.2f} s, {measured}", file=sys.stderr)
    finally:
        serve.send_signal(signal.SIGINT)
        serve.wait()
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    print(f"| publisher ({a.size}, 30 fps, 4 Mbit/s H.264 + AAC) | exit | wall s | CPU, % of a core "
          f"| recorded frames / sent | frames lost (marks) | A/V offset, ms |")
    print("|---|---|---|---|---|---|---|")
    for label, code, wall, cpu, frames, expected, length, m in rows:
        skew = m.get("av-skew")
        lost = m.get("frames.lost")
        print(f"| {label} | {code} | {wall:.1f} | {100 * cpu / wall:.1f} | {frames} / {expected} "
              f"| {'' if lost is None else int(lost)} "
              f"| {'' if skew is None else f'{skew:.1f}'} |")


if __name__ == "__main__":
    main()

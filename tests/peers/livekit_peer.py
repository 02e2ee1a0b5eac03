"""A LiveKit participant on LiveKit's official Python SDK (its FFI library carries Google's
libwebrtc), for the tests of `vcall serve`'s LiveKit endpoint.

  livekit_peer.py publish URL TOKEN --seconds S [--codec h264|vp8] [--no-audio]
          [--size WxH] [--simulcast]
      publishes a moving picture (320x240 unless --size) at 30 fps (and a 440 Hz tone) for S
      seconds, with --simulcast in the SDK's layers; prints {"published": [track sids]} once
      its tracks are published, {"done": true} at the end.
  livekit_peer.py subscribe URL TOKEN --frames N [--timeout S] [--quality low|medium|high]
      subscribes to every track (a simulcast video track at that quality), counts decoded
      video frames and audio frames; prints
      {"frames": n, "audioFrames": m, "firstFrameMs": t, "width": w, "height": h,
       "widths": [w of each frame], "participant": identity, "trackSid": sid} once N video
      frames have been decoded (or the timeout passed), time measured from the start of
      connect().

Exit status: 0 when done (subscribe: N frames decoded), 1 otherwise, with the reason on stderr.
"""

import argparse
import asyncio
import json
import math
import os
import sys
import time

import numpy as np
from livekit import rtc


def say(obj):
    print(json.dumps(obj), flush=True)


async def publish(args):
    room = rtc.Room()
    await room.connect(args.url, args.token, rtc.RoomOptions(auto_subscribe=False))
    w, h = (int(x) for x in args.size.split("x"))
    video = rtc.VideoSource(w, h)
    vtrack = rtc.LocalVideoTrack.create_video_track("camera", video)
    codec = {"h264": rtc.VideoCodec.H264, "vp8": rtc.VideoCodec.VP8}[args.codec]
    opts = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA, video_codec=codec)
    opts.video_encoding.max_bitrate = 1_500_000 if args.simulcast else 500_000
    opts.video_encoding.max_framerate = 30
    opts.simulcast = args.simulcast
    sids = []
    pub = await room.local_participant.publish_track(vtrack, opts)
    sids.append(pub.sid)
    audio = None
    if not args.no_audio:
        audio = rtc.AudioSource(48000, 1)
        atrack = rtc.LocalAudioTrack.create_audio_track("microphone", audio)
        aopts = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        pub = await room.local_participant.publish_track(atrack, aopts)
        sids.append(pub.sid)
    say({"published": sids})

    async def video_loop():
        frame = np.zeros((h, w, 4), dtype=np.uint8)
        start = time.monotonic()
        n = 0
        while time.monotonic() - start < args.seconds:
            x = (n * 4) % w
            frame[:] = 40
            frame[:, x : x + 40, 0] = 230
            frame[:, x : x + 40, 1] = 120
            frame[(n * 2) % h : (n * 2) % h + 20, :, 2] = 250
            video.capture_frame(rtc.VideoFrame(w, h, rtc.VideoBufferType.RGBA, frame.tobytes()))
            n += 1
            await asyncio.sleep(max(0.0, start + n / 30 - time.monotonic()))

    async def audio_loop():
        n = 0
        start = time.monotonic()
        samples = 480
        while time.monotonic() - start < args.seconds:
            t = (np.arange(samples) + n * samples) / 48000
            pcm = (np.sin(2 * math.pi * 440 * t) * 8000).astype(np.int16)
            f = rtc.AudioFrame.create(48000, 1, samples)
            np.copyto(np.frombuffer(f.data, dtype=np.int16), pcm)
            await audio.capture_frame(f)
            n += 1

    tasks = [video_loop()] + ([audio_loop()] if audio else [])
    await asyncio.gather(*tasks)
    await room.disconnect()
    say({"done": True})
    return 0


async def subscribe(args):
    room = rtc.Room()
    # "subscribed" lists the kinds of the tracks subscribed to, so a run without video says
    # whether the track never came or came and decoded nothing.
    result = {"frames": 0, "audioFrames": 0, "firstFrameMs": None, "subscribed": [], "widths": []}
    got_all = asyncio.Event()
    start = time.monotonic()

    async def read_video(track, participant, sid):
        async for ev in rtc.VideoStream(track):
            if result["frames"] == 0:
                result["firstFrameMs"] = round((time.monotonic() - start) * 1000)
                result["width"] = ev.frame.width
                result["height"] = ev.frame.height
                result["participant"] = participant.identity
                result["trackSid"] = sid
            result["frames"] += 1
            result["widths"].append(ev.frame.width)
            if result["frames"] >= args.frames:
                got_all.set()
                return

    async def read_audio(track):
        async for _ in rtc.AudioStream(track, sample_rate=48000, num_channels=1):
            result["audioFrames"] += 1

    tasks = []

    @room.on("track_subscribed")
    def on_track(track, publication, participant):
        result["subscribed"].append("video" if track.kind == rtc.TrackKind.KIND_VIDEO else "audio")
        if track.kind == rtc.TrackKind.KIND_VIDEO:
            if args.quality:
                quality = {
                    "low": rtc.VideoQuality.VIDEO_QUALITY_LOW,
                    "medium": rtc.VideoQuality.VIDEO_QUALITY_MEDIUM,
                    "high": rtc.VideoQuality.VIDEO_QUALITY_HIGH,
                }[args.quality]
                publication.set_video_quality(quality)
            tasks.append(asyncio.ensure_future(read_video(track, participant, publication.sid)))
        elif track.kind == rtc.TrackKind.KIND_AUDIO:
            tasks.append(asyncio.ensure_future(read_audio(track)))

    await room.connect(args.url, args.token, rtc.RoomOptions(auto_subscribe=True))
    try:
        await asyncio.wait_for(got_all.wait(), args.timeout)
    except asyncio.TimeoutError:
        pass
    await room.disconnect()
    for t in tasks:
        t.cancel()
    say(result)
    if result["frames"] < args.frames:
        print(f"only {result['frames']} of {args.frames} frames decoded", file=sys.stderr)
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["publish", "subscribe"])
    ap.add_argument("url")
    ap.add_argument("token")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--codec", default="h264", choices=["h264", "vp8"])
    ap.add_argument("--no-audio", action="store_true")
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("--size", default="320x240")
    ap.add_argument("--simulcast", action="store_true")
    ap.add_argument("--quality", choices=["low", "medium", "high"])
    args = ap.parse_args()
    run = publish if args.mode == "publish" else subscribe
    code = asyncio.run(run(args))
    # The SDK's native runtime sometimes aborts while the interpreter tears it down at exit
    # ("panic in a function that cannot unwind", seen under load after a clean disconnect):
    # the result is out by then, so the process ends here without that teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()

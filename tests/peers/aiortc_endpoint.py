#!/usr/bin/env python3
"""A WHIP and WHEP endpoint on another WebRTC stack (aiortc), for vcall's interop tests.

POST /whip takes a publisher's offer and decodes what arrives; GET /stats says how many
frames of each kind were decoded and whether the resource was deleted. POST /whep plays a
moving test picture (and silence) to a viewer. DELETE on a resource closes it.

--dtls ecdsa|rsa: the certificate's key, and only the DTLS cipher suites that go with it (as
stacks that offer one kind only do); aiortc's own default is ECDSA with both kinds offered.

aioice leaves 127.0.0.1 out of its host candidates; the tests run on loopback only, so it is
put back (nothing else of aiortc is changed). Prints "listening on http://127.0.0.1:PORT".
"""

import argparse
import asyncio
import fractions
import json
import sys
import uuid

import aioice.ice

aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

import av  # noqa: E402
from aiohttp import web  # noqa: E402
from aiortc import (  # noqa: E402
    AudioStreamTrack,
    MediaStreamTrack,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc import rtcdtlstransport  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402

SUITES = {
    "ecdsa": b"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-SHA",
    "rsa": b"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-SHA",
}


def only(kind):
    """Certificates with `kind` keys, and only that kind's cipher suites."""
    cls = rtcdtlstransport.RTCCertificate

    def generate(cls_):
        if kind == "rsa":
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            key = ec.generate_private_key(ec.SECP256R1())
        return cls_(key=key, cert=rtcdtlstransport.generate_certificate(key))

    cls.generateCertificate = classmethod(generate)
    original = cls._create_ssl_context

    def context(self, *args, **kwargs):
        ctx = original(self, *args, **kwargs)
        ctx.set_cipher_list(SUITES[kind])
        return ctx

    cls._create_ssl_context = context

resources = {}
stats = {"video": 0, "audio": 0, "deleted": 0, "codecs": []}
# The only video codec /whip takes (`--video-codec`), as a media type in lower case.
video_codec = None


class Pattern(MediaStreamTrack):
    """320x240 at 30 fps, every frame different."""

    kind = "video"

    def __init__(self):
        super().__init__()
        self.n = 0
        self.start = None

    async def recv(self):
        loop = asyncio.get_event_loop()
        if self.start is None:
            self.start = loop.time()
        self.n += 1
        wait = self.start + self.n / 30 - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        frame = av.VideoFrame(320, 240, "yuv420p")
        y = bytes((x + self.n * 4) % 256 for x in range(320)) * 240
        frame.planes[0].update(y)
        frame.planes[1].update(bytes([128]) * (160 * 120))
        frame.planes[2].update(bytes([(self.n * 8) % 256]) * (160 * 120))
        frame.pts = self.n * 3000
        frame.time_base = fractions.Fraction(1, 90000)
        return frame


async def consume(track):
    while True:
        try:
            await track.recv()
        except Exception:
            return
        stats[track.kind] += 1


def created(request, pc, answer):
    rid = uuid.uuid4().hex
    resources[rid] = pc
    return web.Response(
        status=201,
        text=answer,
        content_type="application/sdp",
        headers={"Location": f"/resource/{rid}", "ETag": f'"{rid}"'},
    )


async def whip(request):
    offer = await request.text()
    pc = RTCPeerConnection()

    @pc.on("track")
    def on_track(track):
        asyncio.ensure_future(consume(track))

    await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
    if video_codec:
        # An endpoint that takes one video codec answers with that one only, whatever else
        # the offer lists.
        for t in pc.getTransceivers():
            if t.kind == "video":
                t._codecs = [c for c in t._codecs if c.mimeType.lower() == video_codec]
    await pc.setLocalDescription(await pc.createAnswer())
    for t in pc.getTransceivers():
        if t.receiver and t._codecs:
            stats["codecs"].append(t._codecs[0].mimeType)
    return created(request, pc, pc.localDescription.sdp)


async def whep(request):
    offer = await request.text()
    pc = RTCPeerConnection()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
    for t in pc.getTransceivers():
        if t.kind == "video":
            t.sender.replaceTrack(Pattern())
            t.direction = "sendonly"
        elif t.kind == "audio":
            t.sender.replaceTrack(AudioStreamTrack())
            t.direction = "sendonly"
    await pc.setLocalDescription(await pc.createAnswer())
    return created(request, pc, pc.localDescription.sdp)


async def delete(request):
    pc = resources.pop(request.match_info["rid"], None)
    if pc is None:
        return web.Response(status=404)
    stats["deleted"] += 1
    await pc.close()
    return web.Response(status=200)


async def get_stats(request):
    return web.json_response(stats)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--dtls", choices=["ecdsa", "rsa"])
    parser.add_argument("--video-codec", choices=["VP8", "H264"], help="the only one /whip takes")
    args = parser.parse_args()
    global video_codec
    video_codec = args.video_codec and f"video/{args.video_codec.lower()}"
    if args.dtls:
        only(args.dtls)
    app = web.Application()
    app.router.add_post("/whip", whip)
    app.router.add_post("/whep", whep)
    app.router.add_delete("/resource/{rid}", delete)
    app.router.add_get("/stats", get_stats)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.port)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)

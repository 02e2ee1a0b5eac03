#!/usr/bin/env python3
"""Publishes moving noise (1280x720, 30 fps) into a Janus VideoRoom room with aiortc, for
scripts/bench_congestion.py's side-by-side drill: aiortc is another stack's publisher, which
follows the room's REMB.

Usage: aiortc_janus_publisher.py HTTP_URL TOKEN ROOM SECONDS
(run with the aiortc of target/test-peers/venv: scripts/test-peers.sh installs it).
Prints "published" once Janus has answered.
"""

import asyncio
import fractions
import os
import sys
import uuid

import aioice.ice

# aioice leaves 127.0.0.1 out of its host candidates; the drill runs on loopback only.
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

import aiohttp  # noqa: E402
import av  # noqa: E402
from aiortc import RTCPeerConnection, RTCSessionDescription, VideoStreamTrack  # noqa: E402

# Noise of +-4 around mid-grey, as vcall's testsrc:busy has under its pattern.
NOISE = bytes(124 + (b & 7) for b in range(256))


class Noise(VideoStreamTrack):
    async def recv(self):
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame(1280, 720, "yuv420p")
        for plane in frame.planes:
            plane.update(os.urandom(plane.buffer_size).translate(NOISE))
        frame.pts, frame.time_base = pts, time_base or fractions.Fraction(1, 90000)
        return frame


async def main(url, token, room, seconds):
    async with aiohttp.ClientSession() as http:

        async def post(path, body):
            body = dict(body, transaction=uuid.uuid4().hex, token=token)
            async with http.post(url + path, json=body) as r:
                return await r.json()

        async def event(session):
            while True:
                async with http.get(f"{url}/{session}?maxev=1&token={token}") as r:
                    ev = await r.json()
                if ev.get("janus") == "event":
                    return ev

        session = (await post("", {"janus": "create"}))["data"]["id"]
        handle = (await post(f"/{session}", {"janus": "attach", "plugin": "janus.plugin.videoroom"}))["data"]["id"]
        await post(f"/{session}/{handle}", {"janus": "message",
                                            "body": {"request": "join", "ptype": "publisher", "room": int(room)}})
        await event(session)
        pc = RTCPeerConnection()
        pc.addTrack(Noise())
        await pc.setLocalDescription(await pc.createOffer())
        await post(f"/{session}/{handle}", {
            "janus": "message", "body": {"request": "configure", "audio": False, "video": True},
            "jsep": {"type": "offer", "sdp": pc.localDescription.sdp}})
        while True:
            ev = await event(session)
            if "jsep" in ev:
                break
        await pc.setRemoteDescription(RTCSessionDescription(**ev["jsep"]))
        print("published", flush=True)
        await asyncio.sleep(seconds)
        await pc.close()
        await post(f"/{session}", {"janus": "destroy"})


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))

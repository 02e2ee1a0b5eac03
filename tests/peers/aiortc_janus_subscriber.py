#!/usr/bin/env python3
"""Subscribes with aiortc to the first publisher of a Janus VideoRoom room and decodes its
video, for vcall's interop tests: another stack's receiver and decoder of what vcall sends.

Usage: aiortc_janus_subscriber.py HTTP_URL TOKEN ROOM FRAMES
(run with the aiortc of target/test-peers/venv: scripts/test-peers.sh installs it).
Prints one line `RESULT {json}`: the codec Janus offered, the frames decoded and the first
picture's size; or `{"error": ...}`.
"""

import asyncio
import json
import re
import sys
import uuid

import aioice.ice

# aioice leaves 127.0.0.1 out of its host candidates; the tests run on loopback only.
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

import aiohttp  # noqa: E402
from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: E402


async def main(url, token, room, want):
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
        feed = None
        for _ in range(100):
            listed = await post(f"/{session}/{handle}", {
                "janus": "message", "body": {"request": "listparticipants", "room": int(room)}})
            people = listed["plugindata"]["data"].get("participants", [])
            feed = next((p["id"] for p in people if p.get("publisher")), None)
            if feed is not None:
                break
            await asyncio.sleep(0.1)
        if feed is None:
            return {"error": "no publisher in the room"}
        await post(f"/{session}/{handle}", {"janus": "message", "body": {
            "request": "join", "ptype": "subscriber", "room": int(room), "streams": [{"feed": feed}]}})
        while True:
            ev = await event(session)
            if "jsep" in ev:
                break
        offer = ev["jsep"]["sdp"]
        video = offer[offer.index("m=video"):]
        codec = re.search(r"a=rtpmap:\d+ ([A-Za-z0-9]+)/", video).group(1)
        pc = RTCPeerConnection()
        tracks = asyncio.Queue()
        pc.on("track", lambda t: tracks.put_nowait(t) if t.kind == "video" else None)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        await post(f"/{session}/{handle}", {
            "janus": "message", "body": {"request": "start"},
            "jsep": {"type": "answer", "sdp": pc.localDescription.sdp}})
        track = await tracks.get()
        frames, size = 0, None
        while frames < want:
            frame = await track.recv()
            size = size or (frame.width, frame.height)
            frames += 1
        await pc.close()
        await post(f"/{session}", {"janus": "destroy"})
        return {"codec": codec, "frames": frames, "width": size[0], "height": size[1]}


if __name__ == "__main__":
    try:
        result = asyncio.run(asyncio.wait_for(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])), 30))
    except Exception as e:  # noqa: BLE001 - any failure is the test's to report
        result = {"error": repr(e)}
    print("RESULT " + json.dumps(result), flush=True)

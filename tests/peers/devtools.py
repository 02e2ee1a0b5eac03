"""Headless Chromium driven over the DevTools protocol, for the tests' page scripts: starts it
(its DevTools port from its own log line), opens a page target, and gives its WebSocket."""

import asyncio
import contextlib
import ctypes
import os
import re
import signal

import aiohttp


@contextlib.asynccontextmanager
async def page(profile, *flags):
    """Chromium with `flags`, and the WebSocket of a new blank page in it."""
    chromium = await asyncio.create_subprocess_exec(
        "chromium", "--headless=new", "--no-sandbox", "--remote-debugging-port=0",
        "--user-data-dir=" + profile, *flags, "about:blank",
        stderr=asyncio.subprocess.PIPE,
        # Chromium goes when this script goes, however it ends (a test's kill included),
        # and its own children with it (its process group).
        preexec_fn=_die_with_parent, start_new_session=True,
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
        with contextlib.suppress(ProcessLookupError):
            os.killpg(chromium.pid, signal.SIGKILL)
        await chromium.wait()


def _die_with_parent():
    """In the child before exec: SIGKILL when the parent dies (PR_SET_PDEATHSIG)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)

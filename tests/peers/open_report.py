"""Opens a report file in headless Chromium over the DevTools protocol and prints one line of
JSON: how long it took to load and render (ms, from navigation start to the load event),
the charts and pictures in its DOM, every request it made that is not the file itself or
inline data, and a screenshot (PNG, base64).

usage: open_report.py FILE.html PROFILE_DIR
"""

import asyncio
import json
import sys

import devtools


async def main():
    path, profile = sys.argv[1:3]
    async with devtools.page(profile) as ws:
        print(json.dumps(await inspect(ws, "file://" + path)), flush=True)


async def inspect(ws, url):
    ids = iter(range(1, 1 << 30))
    requests = []
    loaded = asyncio.Event()

    async def call(method, params=None):
        n = next(ids)
        await ws.send_json({"id": n, "method": method, "params": params or {}})
        while True:
            msg = await ws.receive_json()
            if msg.get("method") == "Network.requestWillBeSent":
                requests.append(msg["params"]["request"]["url"])
            if msg.get("method") == "Page.loadEventFired":
                loaded.set()
            if msg.get("id") == n:
                return msg.get("result", {})

    await call("Network.enable")
    await call("Page.enable")
    await call("Page.navigate", {"url": url})
    while not loaded.is_set():
        await call("Runtime.evaluate", {"expression": "1"})
    value = lambda r: r.get("result", {}).get("value")
    facts = value(await call("Runtime.evaluate", {"returnByValue": True, "expression": """({
        loadMs: performance.getEntriesByType('navigation')[0].loadEventEnd,
        charts: document.querySelectorAll('svg').length,
        pictures: document.querySelectorAll('img').length,
        picturesShown: [...document.images].filter((i) => i.complete && i.naturalWidth > 0).length,
        freezePictures: document.querySelectorAll('figure.freezeStart img, figure.freezeEnd img').length,
        verdicts: document.querySelectorAll('table.expect tr').length - 1,
        text: document.body.innerText.slice(0, 400),
    })"""}))
    shot = await call("Page.captureScreenshot", {"format": "png"})
    facts["outside"] = [u for u in requests if not (u.startswith("file:") or u.startswith("data:"))]
    facts["screenshot"] = shot.get("data")
    return facts


asyncio.run(main())

"""Drives vcall serve's page (`/`) in headless Chromium over the DevTools protocol, as a person
would: waits for a stream named NAME in the list, presses its Play, waits for decoded frames,
then publishes the (fake) camera and microphone into that stream's session as CAMERA.
Prints one line per step, `LISTED {json}`, `PLAYED {json}`, `PUBLISHED {json}` (or `FAILED
{json}`), and keeps publishing for SECONDS.

usage: drive_page.py PAGE_URL NAME CAMERA SECONDS PROFILE_DIR
"""

import asyncio
import json
import sys

import devtools


def say(step, what):
    print(step + " " + json.dumps(what), flush=True)


async def main():
    url, name, camera, seconds, profile = sys.argv[1:6]
    flags = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
             "--allow-loopback-in-peer-connection",
             "--disable-features=WebRtcHideLocalIpsWithMdns")
    async with devtools.page(profile, *flags) as ws:
        await ws.send_json({"id": 0, "method": "Page.navigate", "params": {"url": url}})
        await drive(ws, name, camera, float(seconds))


async def drive(ws, name, camera, seconds):
    ids = iter(range(1, 1 << 30))

    async def js(expression):
        n = next(ids)
        await ws.send_json({"id": n, "method": "Runtime.evaluate", "params": {
            "expression": expression, "awaitPromise": True, "returnByValue": True}})
        while True:
            msg = await ws.receive_json()
            if msg.get("id") == n:
                result = msg.get("result", {})
                if "exceptionDetails" in result:
                    raise RuntimeError(json.dumps(result["exceptionDetails"]))
                return result.get("result", {}).get("value")

    async def until(expression, limit):
        for _ in range(int(limit * 10)):
            value = await js(expression)
            if value:
                return value
            await asyncio.sleep(0.1)
        return None

    row = f'document.querySelector(\'.stream[data-name="{name}"]\')'
    listed = await until(f"{row} && {{stream: {row}.dataset.stream, session: {row}.closest('.session').dataset.session, "
                         f"text: document.getElementById('sessions').innerText}}", 30)
    if not listed:
        say("FAILED", {"step": "listed", "page": await js("document.body.innerText")})
        return
    say("LISTED", listed)
    await js(f"{row}.querySelector('button.play').click()")
    played = await until("window.vcall.player && window.vcall.player.stats.framesDecoded > 30 && window.vcall.player.stats", 30)
    if not played:
        say("FAILED", {"step": "played", "stats": await js("window.vcall.player && window.vcall.player.stats"),
                       "error": await js("document.getElementById('error').innerText")})
        return
    say("PLAYED", played)
    await js(f"document.getElementById('publish-session').value = {json.dumps(listed['session'])};"
             f"document.getElementById('publish-name').value = {json.dumps(camera)};"
             "document.getElementById('publish').click()")
    published = await until("window.vcall.publisher && window.vcall.publisher.state === 'connected' && "
                            "{resource: window.vcall.publisher.resource}", 30)
    if not published:
        say("FAILED", {"step": "published", "error": await js("document.getElementById('error').innerText")})
        return
    say("PUBLISHED", published)
    await asyncio.sleep(seconds)


asyncio.run(main())

"""Scrapes a /metrics URL as Prometheus does and parses it with the Prometheus project's own
Python client: prints {"status": N} and, for 200, {"samples": {"name{label=value,...}": value}}.

usage: scrape_metrics.py URL [USER PASSWORD]
"""

import base64
import json
import sys
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def main():
    url = sys.argv[1]
    request = urllib.request.Request(url)
    if len(sys.argv) == 4:
        pair = f"{sys.argv[2]}:{sys.argv[3]}".encode()
        request.add_header("Authorization", "Basic " + base64.b64encode(pair).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, kind, text = response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as e:
        print(json.dumps({"status": e.code}))
        return
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            samples[f"{s.name}{{{labels}}}"] = s.value
    print(json.dumps({"status": status, "contentType": kind, "samples": samples}))


main()

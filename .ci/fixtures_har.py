"""Writes the lint corpus (tests/fixtures/requests.jsonl) as one HAR 1.2 file,
so a binary built for another system (.ci/cross) lints the very requests the
Linux tests judge. Each line becomes one entry, with the headers tests/corpus
adds for a `base` line and a plain 200 answer (the corpus is about requests).

Usage: python3 .ci/fixtures_har.py FIXTURES.jsonl OUT.har
"""

import json
import sys

CLIENT_ID = "0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b"
TOKEN = "5c0ae0a3f6dc4d3a0a94d5f7e4d5a7a1b4c5d6e7f8091a2b3c4d5e6f70819a2b"


def entry(fixture):
    body = fixture.get("body")
    if body is None:
        text = ""
    elif isinstance(body, str):
        text = body
    else:
        text = json.dumps(body, separators=(",", ":"))
    headers = []
    if fixture.get("base"):
        headers += [
            ("user-agent", "StremioTraktAddon/1.4.0"),
            ("trakt-api-key", CLIENT_ID),
            ("trakt-api-version", "2"),
            ("authorization", f"Bearer {TOKEN}"),
        ]
        if text:
            headers.append(("content-type", "application/json"))
    for name, value in (fixture.get("headers") or {}).items():
        headers = [(n, v) for n, v in headers if n != name]
        if isinstance(value, str):
            headers.append((name, value))
        elif isinstance(value, list):
            headers += [(name, str(v)) for v in value]
    request = {
        "method": fixture["method"],
        "url": fixture["url"],
        "httpVersion": "HTTP/1.1",
        "headers": [{"name": n, "value": v} for n, v in headers],
    }
    if text:
        mime = next((v for n, v in headers if n.lower() == "content-type"), "")
        request["postData"] = {"mimeType": mime, "text": text}
    return {
        "startedDateTime": "2026-11-24T12:00:00.000Z",
        "time": 1,
        "request": request,
        "response": {
            "status": 200,
            "httpVersion": "HTTP/1.1",
            "headers": [],
            "content": {"size": 0},
        },
    }


def main():
    source, out = sys.argv[1], sys.argv[2]
    with open(source, encoding="utf-8") as f:
        fixtures = [json.loads(line) for line in f if line.strip()]
    har = {
        "log": {
            "version": "1.2",
            "creator": {"name": "trakt-doctor .ci/fixtures_har.py", "version": "1"},
            "entries": [entry(f) for f in fixtures],
        }
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(har, f)
    print(len(fixtures))


if __name__ == "__main__":
    main()

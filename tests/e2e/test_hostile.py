"""Hostile input in a real browser (issue 21 item 9): a class name is text, never Markdown.

A class named `![b](http://127.0.0.1:PORT/x.png)` made the browser fetch that URL. Here the URL
points at a local server that counts requests: after the task is built and solved, it must have
seen none.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from e2e_support import bars

pytestmark = pytest.mark.e2e


@pytest.fixture()
def tracker():
    """A local HTTP server that records every path a browser asks it for."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            seen.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    httpd.shutdown()


def test_a_class_named_like_a_markdown_image_fetches_nothing(app, tracker):
    url, seen = tracker
    evil = f"![b]({url}/x.png)"
    app.open()
    app.wait_text("Task: 5-way", 180_000)
    app.radio("Upload")
    app.add_class(evil)  # waits for "Added class '<name>'.": the name shows as text
    app.upload(f"Images for class '{evil}'", [(f"up{s}.png", bars(s, True), "image/png") for s in range(2)])
    app.add_class("flat")
    app.upload("Images for class 'flat'", [(f"flat{s}.png", bars(s, False), "image/png") for s in range(10, 12)])
    app.select("Label of the next query images", f"Query labelled {evil}")
    app.upload("Query images", [("query.png", bars(99, True), "image/png")])
    app.wait_text("Task accuracy")
    app.idle()
    assert seen == [], seen  # the old page rendered the name as an image and fetched it
    assert evil in app.main_text()

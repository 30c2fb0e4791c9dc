"""What Slack sends the approval endpoint, for the tests: a signed interactivity request for a button of an
AWAITING_APPROVAL message, the function URL event carrying it, and a loopback stand-in for response_url."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

from pushdeploy.domain.slack import SLACK
from pushdeploy.domain.slack_actions import slack_signature


class SlackResponses:
    """A loopback stand-in for Slack's response_url: records each JSON body POSTed to it, answers "ok"."""

    def __init__(self) -> None:
        self.posted: list[dict[str, Any]] = []
        responses = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                responses.posted.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/actions/T0123ABCD/1234567890/r3sp0ns3T0k3n"


@contextmanager
def serving_slack_responses() -> Iterator[SlackResponses]:
    """A SlackResponses served from a thread of its own until the block ends (the approval function accepts
    a loopback response_url only with SLACK_ALLOW_LOOPBACK=true, which the caller sets)."""
    responses = SlackResponses()
    thread = threading.Thread(target=responses.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield responses
    finally:
        responses.server.shutdown()
        responses.server.server_close()


def slack_request(
    message: dict[str, Any], action_id: str, user: str, response_url: str, signing_secret: str
) -> tuple[str, dict[str, str]]:
    """The interactivity request Slack sends when ``user`` clicks a button of the AWAITING_APPROVAL message as
    pushdeploy's Slack renderer made it, signed with the app's signing secret (headers as a function URL
    gives them, lower-cased)."""
    rendered = SLACK.render(message, "us-east-1")
    [button] = [
        element
        for block in rendered["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element.get("action_id") == action_id
    ]
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": "bob", "team_id": "T0123ABCD"},
        "team": {"id": "T0123ABCD", "domain": "example"},
        "response_url": response_url,
        "actions": [{"type": "button", "action_id": action_id, "value": button["value"]}],
        "message": {"type": "message", "text": rendered["text"], "blocks": rendered["blocks"]},
    }
    body = urlencode({"payload": json.dumps(payload)})
    timestamp = str(int(time.time()))
    signature = slack_signature(signing_secret.encode(), timestamp, body)
    return body, {"x-slack-request-timestamp": timestamp, "x-slack-signature": signature}


def function_url_event(body: str, headers: dict[str, str]) -> dict[str, Any]:
    """A Lambda function URL's event (payload format 2.0) for a form POST."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": {
            "content-type": "application/x-www-form-urlencoded",
            "user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            **headers,
        },
        "requestContext": {"http": {"method": "POST", "path": "/", "sourceIp": "3.3.3.3"}},
        "body": body,
        "isBase64Encoded": False,
    }

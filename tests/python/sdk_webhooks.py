"""Drives Plugboard's webhook routes and the Meta ads connect start with the official Zernio
Python SDK (`zernio-sdk`), exactly as an integrator would: only the base URL differs from
production. Deliveries go to a receiver this script runs on loopback (the server under
test allows private targets), and are verified the way docs/webhooks.md tells receivers to.

Run by tests/e2e/python_sdk_webhooks.rs, which starts the server. Input comes from the
environment:

  PLUGBOARD_BASE      e.g. http://127.0.0.1:PORT (no trailing slash)
  PLUGBOARD_KEY       a full-access API key
  PLUGBOARD_SEED      JSON: {"defaultProfile"}

Every check raises AssertionError with a message; any failure exits non-zero with a
traceback. On success the last line of stdout is `SDK_SUMMARY <json>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from late import LateAPIError, LateNotFoundError, Zernio

OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
BASE = os.environ["PLUGBOARD_BASE"].rstrip("/")
KEY = os.environ["PLUGBOARD_KEY"]
SEED = json.loads(os.environ["PLUGBOARD_SEED"])
PROFILE = SEED["defaultProfile"]
SECRET = "sdk-webhook-secret"

checks = 0


def check(condition: object, message: str) -> None:
    global checks
    checks += 1
    if not condition:  # not `assert`: these checks must survive python -O
        raise AssertionError(message)


received: list[tuple[dict[str, str], bytes]] = []
lock = threading.Lock()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


def wait_for(n: int) -> list[tuple[dict[str, str], bytes]]:
    deadline = time.time() + 20
    while time.time() < deadline:
        with lock:
            if len(received) >= n:
                return list(received)
        time.sleep(0.05)
    raise AssertionError(f"the receiver got {len(received)} of {n} deliveries")


def verified(headers: dict[str, str], body: bytes) -> bool:
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers.get("x-zernio-signature", ""))


server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()
RECEIVER = f"http://127.0.0.1:{server.server_address[1]}/hooks"

client = Zernio(api_key=KEY, base_url=BASE)
hooks = client.webhooks

created = hooks.create_webhook_settings(
    name="SDK hook",
    url=RECEIVER,
    events=["account.connected", "account.disconnected"],
    secret=SECRET,
    custom_headers={"X-Integrator": "sdk"},
)
check(created.get("success") is True, f"created: {created}")
hook = created["webhook"]
hook_id = hook["_id"]
check(OBJECT_ID.match(hook_id), f"the webhook id is an ObjectId: {hook_id}")
check(hook["isActive"] is True, f"isActive defaults to true: {hook}")
check("secret" not in hook, f"the secret is never sent back: {hook}")

listed = hooks.get_webhook_settings()
check([w["_id"] for w in listed["webhooks"]] == [hook_id], f"listed: {listed}")

renamed = hooks.update_webhook_settings(webhook_id=hook_id, name="SDK hook renamed")
check(renamed["webhook"]["name"] == "SDK hook renamed", f"renamed: {renamed}")
# The SDK serializes `_id` as "Id"; it must still reach the webhook.
paused = hooks.update_webhook_settings(_id=hook_id, is_active=False)
check(paused["webhook"]["isActive"] is False, f"paused via _id: {paused}")
hooks.update_webhook_settings(webhook_id=hook_id, is_active=True)

fired = hooks.test_webhook(hook_id)
check(fired.get("success") is True, f"test fired: {fired}")
headers, body = wait_for(1)[0]
check(verified(headers, body), "X-Zernio-Signature verifies with the secret")
check(headers.get("x-integrator") == "sdk", f"custom header sent: {headers}")
plain = json.loads(body)
check(plain["event"] == "webhook.test", f"plain test event: {plain}")
check(headers.get("x-zernio-event-id") == plain["id"], "the event id header is the body id")

sample = hooks.test_webhook(hook_id, event="account.connected")
check(sample.get("success") is True, f"sample fired: {sample}")
headers, body = wait_for(2)[1]
sample_body = json.loads(body)
check(sample_body.get("test") is True and sample_body["event"] == "account.connected", f"{sample_body}")

logs = hooks.get_webhook_logs(webhook_id=hook_id)
check(logs["pagination"]["total"] == 2, f"two logged attempts: {logs}")
check(logs["logs"][0]["eventId"] == sample_body["id"], f"newest first: {logs}")
check(logs["logs"][0]["status"] == "success", f"{logs}")
only_failed = hooks.get_webhook_logs(webhook_id=hook_id, status="failed")
check(only_failed["pagination"]["total"] == 0, f"no failures: {only_failed}")

again = hooks.redeliver_webhook_event(hook_id, sample_body["id"])
check(again.get("success") is True, f"redelivered: {again}")
headers, replay = wait_for(3)[2]
check(replay == body, "redelivery sends the logged bytes")
check(verified(headers, replay), "the redelivery is signed too")

try:
    hooks.create_webhook_settings(name="bad", url="ftp://hooks.example.com/", events=["account.connected"])
    raise AssertionError("an ftp URL was accepted")
except LateAPIError as e:
    check(e.status_code == 400 and e.details.get("code") == "invalid_webhook_url", f"{e} {e.details}")
try:
    hooks.test_webhook("0123456789abcdef01234567")
    raise AssertionError("an unknown webhook was tested")
except LateNotFoundError as e:
    check(e.details.get("code") == "webhook_not_found", f"{e.details}")

# The ads connect start, with the SDK's defaults (loginMode=classic, permissionLevel=full,
# headless=false, force=false) and its camel-cased redirectUrl.
ads = client.connect.connect_ads(
    "facebook",
    PROFILE,
    redirect_url="https://app.example/ads-connected",
    ad_account_ids=["act_1", "act_2"],
)
check("authUrl" in ads and "state" in ads, f"an authorization URL: {ads}")
scope = urllib.parse.parse_qs(urllib.parse.urlparse(ads["authUrl"]).query)["scope"][0].split(",")
check("ads_read" in scope and "ads_management" in scope, f"ads permissions asked: {scope}")
try:
    client.connect.connect_ads("facebook", PROFILE, ad_account_id="not-an-account")
    raise AssertionError("a malformed ad account id was accepted")
except LateAPIError as e:
    check(e.status_code == 400 and e.details.get("code") == "invalid_field_value", f"{e.details}")

deleted = hooks.delete_webhook_settings(webhook_id=hook_id)
check(deleted.get("success") is True, f"deleted: {deleted}")
check(hooks.get_webhook_settings()["webhooks"] == [], "nothing left")
try:
    hooks.delete_webhook_settings(webhook_id=hook_id)
    raise AssertionError("a deleted webhook was deleted again")
except LateNotFoundError:
    checks += 1

server.shutdown()
print("SDK_SUMMARY " + json.dumps({"checks": checks, "webhookId": hook_id, "deliveries": len(received)}), flush=True)
sys.exit(0)

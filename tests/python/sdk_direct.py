"""Drives Plugboard's connects without an OAuth redirect (Bluesky app passwords, Telegram bot
codes and direct links, WhatsApp Cloud API credentials) with the official Zernio Python SDK
(`zernio-sdk`), used exactly as an integrator would: only the base URL differs from
production. The fake world (a Bluesky account and its app password, Telegram chats with the
bot as administrator, a WhatsApp Business Account) is made by the Rust side through the
sandbox's admin endpoints; the one thing a person does in the Telegram app while the SDK
polls, sending the bot the code, the script plays with httpx (which the SDK depends on)
against the sandbox's fake Bot API.

Run by tests/e2e/python_sdk_direct.rs, which starts the servers. Input comes from the
environment:

  PLUGBOARD_BASE      e.g. http://127.0.0.1:PORT (no trailing slash)
  PLUGBOARD_KEY       a full-access API key
  PLUGBOARD_SEED      JSON: {"owner", "defaultProfile", "bluesky", "telegram", "whatsapp"}

Every check raises AssertionError with a message; any failure exits non-zero with a
traceback. On success the last line of stdout is `SDK_SUMMARY <json>`, listing every
account the script connected, which the Rust test compares with the store.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time

import httpx
import late
from late import (
    LateAPIError,
    LateAuthenticationError,
    LateNotFoundError,
    Zernio,
    ZernioAuthenticationError,
)

SDK_VERSION = "1.4.1385"
OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
UNKNOWN_ID = "0123456789abcdef01234567"
APP_REDIRECT = "https://app.example/sdk/bluesky-connected"

BASE = os.environ["PLUGBOARD_BASE"].rstrip("/")
KEY = os.environ["PLUGBOARD_KEY"]
SEED = json.loads(os.environ["PLUGBOARD_SEED"])
OWNER = SEED["owner"]
DEFAULT_PROFILE = SEED["defaultProfile"]
BSKY = SEED["bluesky"]
TG = SEED["telegram"]
WA = SEED["whatsapp"]

checks = 0
connected: list[dict] = []


def check(condition: object, message: str) -> None:
    global checks
    checks += 1
    if not condition:  # not `assert`: these checks must survive python -O
        raise AssertionError(message)


def expect_error(call, cls: type, status: int, *, code: str | None = None, param: str | None = None):
    """Runs `call`, which must raise exactly `cls` with `status`; returns the exception."""
    try:
        result = call()
    except LateAPIError as e:
        check(
            type(e) is cls,
            f"expected {cls.__name__}, got {type(e).__name__}: {e} (details={e.details})",
        )
        check(e.status_code == status, f"expected status {status}, got {e.status_code}: {e}")
        check(str(e).startswith(f"[{status}] "), f"str(e) starts with the status: {e!s}")
        check(e.message and e.message != f"HTTP {status}", f"message comes from body.error: {e!s}")
        if code is not None:
            check(e.details.get("code") == code, f"code {code!r} expected: {e.details}")
            check(f"code: {code}" in str(e), f"str(e) names the code {code!r}: {e!s}")
        if param is not None:
            check(e.details.get("param") == param, f"param {param!r} expected: {e.details}")
        return e
    raise AssertionError(f"expected {cls.__name__} ({status}), call returned {result!r}")


def record(account_id: str, platform: str, profile_id: str, via: str, **extra) -> None:
    check(OBJECT_ID.match(account_id or ""), f"{platform}: the account id is an ObjectId: {account_id!r}")
    check(
        all(a["id"] != account_id for a in connected),
        f"{platform}: a new account, not one connected earlier: {account_id}",
    )
    connected.append({"id": account_id, "platform": platform, "profileId": profile_id, "via": via, **extra})


def account_count() -> int:
    return len(api.accounts.list().accounts)


# --- the package as an integrator imports it --------------------------------------------

check(late.__version__ == SDK_VERSION, f"zernio-sdk {SDK_VERSION} expected, got {late.__version__}")
api = Zernio(api_key=KEY, base_url=BASE + "/api")

who = api.api_keys.verify_credential()
check(who.get("valid") is True and who.get("userId") == OWNER, f"verify names the owner: {who}")
user_id = who["userId"]

brand = api.profiles.create(name="SDK direct brand").profile.field_id
check(OBJECT_ID.match(brand), f"a second profile: {brand}")

# --- Bluesky: handle + app password, the SDK's `{userId}-{profileId}` state --------------

state = f"{user_id}-{brand}"
done = api.connect.connect_bluesky_credentials(BSKY["handle"], BSKY["appPassword"], state)
account = done.get("account") or {}
check(account.get("platform") == "bluesky", f"connect_bluesky_credentials connects bluesky: {done}")
check(account.get("username") == BSKY["handle"], f"the handle: {done}")
check(account.get("platformUserId") == BSKY["did"], f"the DID is the account's id on the platform: {done}")
check(account.get("profileId") == brand, f"the profile named by the state: {done}")
check(account.get("isActive") is True, f"active: {done}")
check(BSKY["appPassword"] not in json.dumps(done), f"the app password is never echoed: {done}")
check("eyJ" not in json.dumps(done), f"no session JWT in the answer: {done}")
bluesky_id = account.get("_id") or account.get("accountId")
record(bluesky_id, "bluesky", brand, "credentials", username=BSKY["handle"])

# The DID as identifier, with the redirect the SDK sends as `redirectUrl`: the same account,
# updated in place.
again = api.connect.connect_bluesky_credentials(
    BSKY["did"], BSKY["appPassword"], state, redirect_url=APP_REDIRECT
)
again_id = (again.get("account") or {}).get("_id") or (again.get("account") or {}).get("accountId")
check(again_id == bluesky_id, f"reconnecting updates the account in place: {again}")

expect_error(
    lambda: api.connect.connect_bluesky_credentials(BSKY["handle"], "wxyz-wxyz-wxyz-wxyz", state),
    LateAPIError,
    400,
    code="invalid_credentials",
)
e = expect_error(
    lambda: api.connect.connect_bluesky_credentials(BSKY["handle"], BSKY["accountPassword"], state),
    LateAPIError,
    400,
    code="app_password_required",
)
check("app password" in e.message, f"the refusal tells the user to make an app password: {e!s}")
expect_error(
    lambda: api.connect.connect_bluesky_credentials(BSKY["handle"], BSKY["appPassword"], "not-a-state"),
    LateAPIError,
    400,
    code="validation_error",
    param="state",
)
expect_error(
    lambda: api.connect.connect_bluesky_credentials(BSKY["handle"], BSKY["appPassword"], f"{user_id}-{UNKNOWN_ID}"),
    LateNotFoundError,
    404,
    code="profile_not_found",
)
check(account_count() == 1, "the refused Bluesky logins created nothing")

# --- Telegram: a code the chat's administrator sends the bot ----------------------------

# The person's Telegram app: the sandbox's fake Bot API (never the SDK's business).
telegram_app = httpx.Client(base_url=TG["sandbox"], trust_env=False, timeout=30.0)
code_chat = TG["codeChat"]
direct_chat = TG["directChat"]

start = api.connect.get_telegram_connect_status(brand)
code = start.get("code")
check(isinstance(code, str) and code.startswith("PB-"), f"a code: {start}")
check(start.get("botUsername") == TG["botUsername"], f"the server's bot: {start}")
check(isinstance(start.get("expiresIn"), int) and 800 < start["expiresIn"] <= 900, f"15 minutes: {start}")
check(isinstance(start.get("expiresAt"), str) and start["expiresAt"].endswith("Z"), f"expiresAt: {start}")
instructions = start.get("instructions")
check(
    isinstance(instructions, list) and len(instructions) >= 2 and all(isinstance(i, str) for i in instructions),
    f"instructions: {start}",
)
check(any(TG["botUsername"] in i for i in instructions), f"the instructions name the bot: {instructions}")

status = api.connect.complete_telegram_connect(code)
check(status.get("status") == "pending", f"pending before anyone sends the code: {status}")
check(isinstance(status.get("expiresIn"), int) and status["expiresIn"] > 0, f"pending expiresIn: {status}")
check(isinstance(status.get("expiresAt"), str), f"pending expiresAt: {status}")

dm = telegram_app.post(
    f"/_bots/{TG['botToken']}/dm",
    json={
        "fromUserId": code_chat["adminUserId"],
        "firstName": "Channel Owner",
        "text": f"{code} @{code_chat['username']}",
    },
)
check(dm.status_code == 200, f"the administrator writes to the bot: {dm.status_code} {dm.text}")

# As a client would: poll until connected, bounded (Zernio suggests every 3 s; the local
# server answers at once, so the pace here is faster, the bound 30 s).
deadline = time.monotonic() + 30
polls = 0
while True:
    status = api.connect.complete_telegram_connect(code)
    polls += 1
    if status.get("status") != "pending":
        break
    check(time.monotonic() < deadline, f"connected within 30 s ({polls} polls): {status}")
    time.sleep(0.2)
check(status.get("status") == "connected", f"the code links the chat: {status}")
check(status.get("chatId") == str(code_chat["id"]), f"chatId is the chat's id as a string: {status}")
check(status.get("chatType") == "channel", f"chatType: {status}")
check(status.get("chatTitle") == code_chat["title"], f"chatTitle: {status}")
linked = status.get("account") or {}
check(linked.get("platform") == "telegram", f"a telegram account: {status}")
check(linked.get("username") == code_chat["username"], f"the channel's username: {status}")
check(TG["botToken"] not in json.dumps(status), f"the bot token is never shown: {status}")
record(linked.get("_id"), "telegram", brand, "code", username=code_chat["username"], chatId=str(code_chat["id"]))
check(api.connect.complete_telegram_connect(code) == status, "polling again still says connected, the same")

# The bot tells the person it worked.
deadline = time.monotonic() + 20
while True:
    bot = telegram_app.get(f"/_bots/{TG['botToken']}").json()
    replies = [
        m.get("text", "")
        for m in bot.get("directMessages") or []
        if m.get("userId") == code_chat["adminUserId"] and m.get("sentByBot") is True
    ]
    if replies:
        break
    check(time.monotonic() < deadline, f"the bot answered the administrator: {bot}")
    time.sleep(0.1)
check(replies[0].startswith("Connected"), f"the bot says connected: {replies}")

expect_error(
    lambda: api.connect.complete_telegram_connect("PB-00000000"),
    LateNotFoundError,
    404,
    code="code_not_found",
)
expect_error(
    lambda: api.connect.get_telegram_connect_status(UNKNOWN_ID),
    LateNotFoundError,
    404,
    code="profile_not_found",
)

# --- Telegram: a chat where the bot already is an administrator -------------------------

done = api.connect.initiate_telegram_connect(str(direct_chat["id"]), DEFAULT_PROFILE)
account = done.get("account") or {}
check(account.get("platform") == "telegram", f"initiate_telegram_connect links a telegram chat: {done}")
check(account.get("chatType") == "channel", f"chatType: {done}")
check(account.get("username") == direct_chat["username"], f"the channel's username: {done}")
check(account.get("displayName") == direct_chat["title"], f"the channel's title: {done}")
check(account.get("isActive") is True, f"active: {done}")
direct_id = account.get("_id")
record(direct_id, "telegram", DEFAULT_PROFILE, "direct", username=direct_chat["username"],
       chatId=str(direct_chat["id"]))
again = api.connect.initiate_telegram_connect("@" + direct_chat["username"], DEFAULT_PROFILE)
check((again.get("account") or {}).get("_id") == direct_id, f"@username names the same chat, in place: {again}")

expect_error(
    lambda: api.connect.initiate_telegram_connect("@" + TG["noBotChat"]["username"], DEFAULT_PROFILE),
    LateAPIError,
    400,
    code="bot_not_admin",
)
expect_error(
    lambda: api.connect.initiate_telegram_connect("@nobody_has_this_name_sdk", DEFAULT_PROFILE),
    LateAPIError,
    400,
    code="chat_not_found",
)
check(account_count() == 3, "the refused Telegram links created nothing")

# --- WhatsApp: Cloud API credentials ------------------------------------------------------

phone = WA["phoneNumbers"][1]
done = api.connect.connect_whats_app_credentials(DEFAULT_PROFILE, WA["accessToken"], WA["wabaId"], phone["id"])
account = done.get("account") or {}
check(account.get("platform") == "whatsapp", f"connect_whats_app_credentials connects whatsapp: {done}")
check(account.get("phoneNumber") == phone["displayPhoneNumber"], f"phoneNumber: {done}")
check(account.get("verifiedName") == phone["verifiedName"], f"verifiedName: {done}")
check(account.get("qualityRating") == "GREEN", f"qualityRating: {done}")
check(account.get("isActive") is True, f"active: {done}")
check(account.get("profileId") in (None, DEFAULT_PROFILE), f"on the profile sent: {done}")
check(WA["accessToken"] not in json.dumps(done), f"the Meta token is never echoed: {done}")
check("registrationWarning" not in done, f"no registration warning without a pin: {done}")
whatsapp_id = account.get("accountId") or account.get("_id")
record(whatsapp_id, "whatsapp", DEFAULT_PROFILE, "credentials", phoneNumber=phone["displayPhoneNumber"])

e = expect_error(
    lambda: api.connect.connect_whats_app_credentials(DEFAULT_PROFILE, WA["accessToken"], WA["wabaId"], "999999999999999"),
    LateAPIError,
    400,
    code="phone_number_not_in_waba",
)
# Zernio puts the WABA's numbers in the error body; Plugboard under `details`.
available = e.details.get("availablePhoneNumbers") or (e.details.get("details") or {}).get("availablePhoneNumbers")
check(isinstance(available, list) and len(available) == len(WA["phoneNumbers"]), f"availablePhoneNumbers: {e.details}")

# Zernio answers a token Meta refuses with 401, so the SDK raises its authentication error
# although the caller's own API key is fine (the message and code tell the two apart).
e = expect_error(
    lambda: api.connect.connect_whats_app_credentials(
        DEFAULT_PROFILE, WA["revokedToken"], WA["wabaId"], WA["phoneNumbers"][0]["id"]
    ),
    LateAuthenticationError,
    401,
    code="whatsapp_token_invalid",
)
check(isinstance(e, ZernioAuthenticationError), "the Zernio* alias names the same class")
expect_error(
    lambda: api.connect.connect_whats_app_credentials(
        DEFAULT_PROFILE, WA["accessToken"], WA["wabaId"], phone["id"], pin="12"
    ),
    LateAPIError,
    400,
    code="validation_error",
    param="pin",
)
check(api.api_keys.verify_credential().get("valid") is True, "the API key still works after the 401")

# --- the listing: exactly what the script connected, no secrets --------------------------

listing = api.accounts.list()
listed = sorted(a.field_id for a in listing.accounts)
check(listed == sorted(a["id"] for a in connected), f"listed accounts {listed} vs connected {connected}")
for a in listing.accounts:
    want = next(c for c in connected if c["id"] == a.field_id)
    check(a.platform.value == want["platform"], f"listed platform: {a.platform} vs {want}")
    check(a.profileId == want["profileId"], f"listed profile: {a.profileId} vs {want}")
    check(a.isActive is True, f"connected accounts are active: {a}")
raw = json.dumps(api.accounts.list_accounts())
for secret in (BSKY["appPassword"], BSKY["accountPassword"], WA["accessToken"], WA["revokedToken"], TG["botToken"]):
    check(secret not in raw, "no credential in the account listing")
check("eyJ" not in raw, "no JWT in the account listing")

summary = {
    "ok": True,
    "sdkVersion": late.__version__,
    "checks": checks,
    "owner": OWNER,
    "brandProfile": brand,
    "telegramPolls": polls,
    "accounts": connected,
}
print("SDK_SUMMARY " + json.dumps(summary), flush=True)
sys.exit(0)

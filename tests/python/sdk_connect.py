"""Drives Plugboard's connect and selection endpoints with the official Zernio Python SDK
(`zernio-sdk`), used exactly as an integrator would: only the base URL differs from
production. Between SDK calls the script plays the user's browser on the built-in sandbox:
it fetches the authUrl, posts the fake platform's consent form and reads the redirects
(never following them automatically), with httpx, which the SDK already depends on.

Run by tests/e2e/python_sdk_connect.rs, which starts the server. Input comes from the
environment:

  PLUGBOARD_BASE      e.g. http://127.0.0.1:PORT (no trailing slash)
  PLUGBOARD_KEY       a full-access API key
  PLUGBOARD_SEED      JSON: {"owner", "defaultProfile"}

Every check raises AssertionError with a message; any failure exits non-zero with a
traceback. On success the last line of stdout is `SDK_SUMMARY <json>`, listing every
account the script connected, which the Rust test compares with the store.
"""

from __future__ import annotations

import html
import json
import os
import re
import sys
from urllib.parse import parse_qs, unquote, urljoin, urlsplit

import httpx
import late
from late import (
    LateAPIError,
    LateAuthenticationError,
    LateNotFoundError,
    Zernio,
    ZernioNotFoundError,
)

SDK_VERSION = "1.4.1385"
OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
UNKNOWN_ID = "0123456789abcdef01234567"

BASE = os.environ["PLUGBOARD_BASE"].rstrip("/")
KEY = os.environ["PLUGBOARD_KEY"]
SEED = json.loads(os.environ["PLUGBOARD_SEED"])
OWNER = SEED["owner"]
DEFAULT_PROFILE = SEED["defaultProfile"]

# The integrator's page: its own query must survive the hand-over.
APP_REDIRECT = "https://app.example/sdk/connected?from=sdk"

# The 11 OAuth platforms Plugboard connects through the sandbox.
OAUTH_PLATFORMS = [
    "twitter",
    "instagram",
    "facebook",
    "linkedin",
    "tiktok",
    "youtube",
    "pinterest",
    "reddit",
    "threads",
    "googlebusiness",
    "snapchat",
]

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


def query_of(url: str) -> dict[str, str]:
    """The query of `url`, decoded once, one value per key (the last wins)."""
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def record(account_id: str, platform: str, profile_id: str, via: str, **extra) -> None:
    check(OBJECT_ID.match(account_id or ""), f"{platform}: accountId is an ObjectId: {account_id!r}")
    check(
        all(a["id"] != account_id for a in connected),
        f"{platform}: a new account, not one connected earlier: {account_id}",
    )
    connected.append({"id": account_id, "platform": platform, "profileId": profile_id, "via": via, **extra})


# --- the browser ------------------------------------------------------------------------

# Redirects are never followed: each hop is read like a browser's address bar would show it.
browser = httpx.Client(follow_redirects=False, trust_env=False, timeout=30.0)

FORM = re.compile(r'<form\b[^>]*\bmethod="post"[^>]*\baction="([^"]*)"', re.I)
REQUEST_FIELD = re.compile(r'<input\b[^>]*\bname="_request"[^>]*\bvalue="([^"]*)"', re.I)


def consent(auth_url: str, username: str, destinations: int | None = None) -> str:
    """Approves the sandbox consent form as `username` (offering `destinations` Pages,
    organizations, boards… when the form asks); returns where the fake platform sends the
    browser back (Plugboard's callback, with code and state)."""
    check(auth_url.startswith(BASE + "/sandbox/"), f"the authUrl is on the built-in sandbox: {auth_url}")
    page = browser.get(auth_url)
    check(page.status_code == 200, f"consent page {auth_url}: {page.status_code} {page.text[:500]}")
    text = page.text
    check("sandbox" in text.lower(), "the consent page says it is the sandbox")
    action = FORM.search(text)
    request = REQUEST_FIELD.search(text)
    check(action and request, f"the consent page has the form and its _request field: {text[:2000]}")
    form = {
        "_request": html.unescape(request.group(1)),
        "username": username,
        "decision": "approve",
    }
    # Like a browser, only fields the form has are sent: platforms without destinations
    # (Pages, organizations, boards…) have no such field.
    if destinations is not None and 'name="destinations"' in text:
        form["destinations"] = str(destinations)
    answer = browser.post(urljoin(auth_url, html.unescape(action.group(1))), data=form)
    check(answer.status_code == 302, f"consent answers with a redirect: {answer.status_code} {answer.text[:500]}")
    callback = answer.headers["location"]
    check(
        callback.startswith(BASE + "/"),
        f"the fake platform sends the browser back to Plugboard: {callback}",
    )
    q = query_of(callback)
    check(q.get("code") and q.get("state"), f"the callback carries code and state: {callback}")
    return callback


def land(callback: str) -> dict[str, str]:
    """Follows Plugboard's callback once; returns the query of the integrator's page it
    redirects to."""
    r = browser.get(callback)
    check(r.status_code in (302, 303), f"the callback redirects: {r.status_code} {r.text[:500]}")
    landed = r.headers["location"]
    check(landed.startswith(APP_REDIRECT.split("?")[0] + "?"), f"lands on the app's page: {landed}")
    q = query_of(landed)
    check(q.get("from") == "sdk", f"the app's own query is kept: {landed}")
    check("error" not in q, f"no error on the hand-over: {landed}")
    return q


def double_decoded_json(raw: str) -> dict:
    """`userProfile` is percent-encoded once more than the URL needs (Zernio's shape)."""
    value = json.loads(unquote(raw))
    check(isinstance(value, dict), f"userProfile is a JSON object: {raw}")
    return value


def headless(client: Zernio, platform: str, profile_id: str, username: str, **kwargs) -> dict[str, str]:
    start = client.connect.get_connect_url(
        platform, profile_id, headless=True, redirect_url=APP_REDIRECT, **kwargs
    )
    check(isinstance(start.get("authUrl"), str), f"{platform}: authUrl: {start}")
    return land(consent(start["authUrl"], username, destinations=3))


def expect_gone(client: Zernio, token: str) -> None:
    """Completing a selection deletes its pending data."""
    expect_error(
        lambda: client.connect.get_pending_o_auth_data(token),
        LateNotFoundError,
        404,
        code="pending_selection_not_found",
    )


# --- the package as an integrator imports it --------------------------------------------

check(late.__version__ == SDK_VERSION, f"zernio-sdk {SDK_VERSION} expected, got {late.__version__}")

# Zernio's base URL shape: https://zernio.com/api
api = Zernio(api_key=KEY, base_url=BASE + "/api")
check(api.connect is not None, "the client has the connect resource")

brand = api.profiles.create(name="SDK connect brand").profile.field_id
check(OBJECT_ID.match(brand), f"a second profile for the selection flows: {brand}")

# --- get_connect_url: every OAuth platform, with the defaults the SDK always sends -------
# (forceReauth=false&headless=false&loginMethod=instagram_login&handoff=false)

for platform in OAUTH_PLATFORMS:
    for kwargs in ({}, {"redirect_url": APP_REDIRECT}, {"headless": True, "redirect_url": APP_REDIRECT}):
        start = api.connect.get_connect_url(platform, DEFAULT_PROFILE, **kwargs)
        auth_url = start.get("authUrl")
        check(isinstance(auth_url, str), f"{platform} {kwargs}: an authUrl: {start}")
        parts = urlsplit(auth_url)
        check(parts.scheme in ("http", "https") and parts.netloc, f"{platform}: authUrl is absolute: {auth_url}")
        check(
            auth_url.startswith(f"{BASE}/sandbox/{platform}/"),
            f"{platform}: the authUrl is the platform's sandbox: {auth_url}",
        )
        check(isinstance(start.get("state"), str) and start["state"], f"{platform}: a state: {start}")
        check("handoff" not in start, f"{platform}: no handoff link unless asked: {start}")
        q = query_of(auth_url)
        redirect_uri = q.get("redirect_uri") or q.get("redirect_url") or ""
        check(
            redirect_uri.startswith(BASE + "/"),
            f"{platform}: the platform returns to Plugboard, never to the app directly: {auth_url}",
        )

start = api.connect.get_connect_url("instagram", DEFAULT_PROFILE, login_method="facebook_login")
check(
    start["authUrl"].startswith(f"{BASE}/sandbox/facebook/"),
    f"instagram with facebook_login goes through Facebook's consent: {start}",
)
start = api.connect.get_connect_url("instagram", DEFAULT_PROFILE, force_reauth=True)
check(start["authUrl"].startswith(f"{BASE}/sandbox/instagram/"), f"force_reauth=True is accepted: {start}")
start = api.connect.get_connect_url("youtube", DEFAULT_PROFILE, scopes="posting,analytics")
check(isinstance(start.get("authUrl"), str), f"scopes is accepted: {start}")

# --- standard mode: the browser ends on the app's page with connected= -------------------

for platform in ("tiktok", "youtube", "reddit", "threads"):
    username = f"sdk_std_{platform}"
    start = api.connect.get_connect_url(platform, DEFAULT_PROFILE, redirect_url=APP_REDIRECT)
    q = land(consent(start["authUrl"], username))
    check(q.get("connected") == platform, f"{platform}: connected={platform}: {q}")
    check(q.get("profileId") == DEFAULT_PROFILE, f"{platform}: profileId: {q}")
    check(q.get("username"), f"{platform}: username: {q}")
    check("step" not in q and "tempToken" not in q, f"{platform}: standard mode hands over nothing: {q}")
    record(q.get("accountId"), platform, DEFAULT_PROFILE, "standard", username=q["username"])

# Instagram Login needs no selection: headless connects directly, like standard mode.
q = headless(api, "instagram", DEFAULT_PROFILE, "sdk_hl_instagram")
check(q.get("connected") == "instagram" and "step" not in q, f"instagram_login headless connects: {q}")
record(q["accountId"], "instagram", DEFAULT_PROFILE, "headless", username=q["username"], loginMethod="instagram_login")

# --- handle_o_auth_callback: the app receives code and state itself ----------------------

start = api.connect.get_connect_url("twitter", DEFAULT_PROFILE)
callback = consent(start["authUrl"], "sdk_code_twitter")
q = query_of(callback)
done = api.connect.handle_o_auth_callback("twitter", q["code"], q["state"], DEFAULT_PROFILE)
check(done.get("message"), f"handle_o_auth_callback has a message: {done}")
account = done.get("account") or {}
check(account.get("platform") == "twitter", f"the twitter account: {done}")
check(account.get("profileId") == DEFAULT_PROFILE, f"on the profile sent: {done}")
record(account.get("_id") or account.get("accountId"), "twitter", DEFAULT_PROFILE, "callback",
       username=account.get("username"))
expect_error(
    lambda: api.connect.handle_o_auth_callback("twitter", q["code"], q["state"], DEFAULT_PROFILE),
    LateAPIError,
    400,
    code="invalid_state",
)
expect_error(
    lambda: api.connect.handle_o_auth_callback("tiktok", "made-up-code", "made-up-state", DEFAULT_PROFILE),
    LateAPIError,
    400,
    code="invalid_state",
)
expect_error(
    lambda: api.connect.handle_o_auth_callback("facebook", "c", "s", DEFAULT_PROFILE),
    LateAPIError,
    400,
    code="unsupported_platform",
)

# --- headless + selection: Facebook Page --------------------------------------------------

q = headless(api, "facebook", brand, "sdk_hl_facebook")
check(q.get("step") == "select_page", f"facebook hands over step=select_page: {q}")
check(q.get("profileId") == brand and q.get("tempToken") and q.get("connect_token"), f"facebook hand-over: {q}")
user = double_decoded_json(q["userProfile"])
check(user.get("id"), f"facebook userProfile has an id: {user}")
temp = q["tempToken"]
pages = api.connect.list_facebook_pages(profile_id=brand, temp_token=temp).get("pages")
check(isinstance(pages, list) and len(pages) == 3, f"three Pages listed: {pages}")
check(all(p.get("id") and p.get("name") for p in pages), f"Pages have ids and names: {pages}")
check(all("access_token" not in p for p in pages), f"Page tokens never leave the server: {pages}")
again = api.connect.list_facebook_pages(profile_id=brand, x_temp_token=temp).get("pages")
check([p["id"] for p in again] == [p["id"] for p in pages], f"X-Temp-Token lists the same Pages: {again}")
page = pages[1]
done = api.connect.select_facebook_page(
    {"profileId": brand, "pageId": page["id"], "tempToken": temp, "userProfile": user, "redirect_url": APP_REDIRECT}
)
account = done.get("account") or {}
check(account.get("platform") == "facebook", f"select_facebook_page connects a facebook account: {done}")
check(account.get("selectedPageName") == page["name"], f"the chosen Page: {done}")
check(account.get("isActive") is True, f"the Page account is active: {done}")
check("connected=facebook" in (done.get("redirect_url") or ""), f"redirect_url says connected: {done}")
check((done.get("redirect_url") or "").startswith(APP_REDIRECT.split("?")[0]), f"redirect_url is the app's: {done}")
record(account.get("accountId"), "facebook", brand, "selection", destination=page["id"])
expect_error(
    lambda: api.connect.list_facebook_pages(profile_id=brand, temp_token=temp),
    LateNotFoundError,
    404,
)

# --- headless + selection: Instagram through Facebook Login --------------------------------

q = headless(api, "instagram", brand, "sdk_hl_igfb", login_method="facebook_login")
check(q.get("step") == "select_account" and q.get("platform") == "instagram", f"instagram hand-over: {q}")
check(q.get("profileId") == brand and q.get("tempToken") and q.get("connect_token"), f"instagram hand-over: {q}")
double_decoded_json(q["userProfile"])
temp = q["tempToken"]
pages = api.connect.list_instagram_pages(brand, x_temp_token=temp).get("pages")
check(isinstance(pages, list) and pages, f"Pages with Instagram accounts listed: {pages}")
with_ig = [p for p in pages if isinstance(p.get("instagram_business_account"), dict)]
check(with_ig, f"at least one Page has a linked Instagram account: {pages}")
check(all("access_token" not in p for p in pages), f"Page tokens never leave the server: {pages}")
same = api.connect.list_instagram_pages(brand, temp_token=temp).get("pages")
check([p["id"] for p in same] == [p["id"] for p in pages], "tempToken in the query lists the same Pages")
page = with_ig[0]
done = api.connect.select_instagram_account(brand, page_id=page["id"], temp_token=temp, redirect_url=APP_REDIRECT)
account = done.get("account") or {}
check(account.get("platform") == "instagram", f"select_instagram_account connects instagram: {done}")
check(account.get("loginMethod") == "facebook_login", f"through Facebook Login: {done}")
check(account.get("username") == page["instagram_business_account"].get("username"), f"the Page's IG account: {done}")
check("connected=instagram" in (done.get("redirect_url") or ""), f"redirect_url says connected: {done}")
record(account.get("accountId"), "instagram", brand, "selection", username=account.get("username"),
       loginMethod="facebook_login", destination=page["id"])

# --- headless + selection: LinkedIn organization ----------------------------------------

q = headless(api, "linkedin", brand, "sdk_hl_linkedin")
check(q.get("step") == "select_organization", f"linkedin hand-over step: {q}")
check(q.get("profileId") == brand and q.get("pendingDataToken") and q.get("connect_token"), f"linkedin: {q}")
token = q["pendingDataToken"]
pending = api.connect.get_pending_o_auth_data(token)
check(pending.get("platform") == "linkedin" and pending.get("profileId") == brand, f"pending linkedin: {pending}")
check(pending.get("selectionType") == "organizations", f"selectionType organizations: {pending}")
orgs = pending.get("organizations")
check(isinstance(orgs, list) and len(orgs) == 3, f"three organizations pending: {pending}")
check(isinstance(pending.get("userProfile"), dict) and pending["userProfile"].get("id"), f"userProfile: {pending}")
check(pending.get("tempToken"), f"pending data carries the tempToken: {pending}")
check(isinstance(pending.get("expiresIn"), int) and 0 < pending["expiresIn"] <= 3600, f"expiresIn: {pending}")
check(api.connect.get_pending_o_auth_data(token) == pending, "reading pending data does not consume it")
temp = pending["tempToken"]
details = api.connect.list_linked_in_organizations(temp, ",".join(o["id"] for o in orgs[:2]))
listed = details.get("organizations")
check(
    isinstance(listed, list) and sorted(o["id"] for o in listed) == sorted(o["id"] for o in orgs[:2]),
    f"list_linked_in_organizations details the asked ids: {details}",
)
org = orgs[0]
done = api.connect.select_linked_in_organization(
    brand,
    temp,
    pending["userProfile"],
    account_type="organization",
    selected_organization={"id": org["id"], "urn": org.get("urn"), "name": org.get("name")},
    redirect_url=APP_REDIRECT,
)
account = done.get("account") or {}
check(account.get("platform") == "linkedin", f"select_linked_in_organization connects linkedin: {done}")
check(account.get("accountType") == "organization", f"an organization account: {done}")
check("connected=linkedin" in (done.get("redirect_url") or ""), f"redirect_url says connected: {done}")
record(account.get("accountId"), "linkedin", brand, "selection", destination=org["id"])
expect_gone(api, token)

# --- headless + selection: Pinterest board (X-Connect-Token and Bearer together) ---------

q = headless(api, "pinterest", brand, "sdk_hl_pinterest")
check(q.get("step") == "select_board", f"pinterest hand-over step: {q}")
check(q.get("pendingDataToken") and q.get("connect_token"), f"pinterest hand-over: {q}")
token, connect_token = q["pendingDataToken"], q["connect_token"]
pending = api.connect.get_pending_o_auth_data(token)
check(pending.get("platform") == "pinterest" and pending.get("selectionType") == "boards", f"pending: {pending}")
check(isinstance(pending.get("boards"), list) and len(pending["boards"]) == 3, f"three boards pending: {pending}")
temp = pending["tempToken"]
boards = api.connect.list_pinterest_boards_for_selection(connect_token, brand, temp).get("boards")
check(isinstance(boards, list) and len(boards) == 3, f"three boards listed: {boards}")
check([b["id"] for b in boards] == [b["id"] for b in pending["boards"]], f"the pending boards: {boards}")
board = boards[2]
done = api.connect.select_pinterest_board(
    brand,
    board["id"],
    temp,
    board_name=board.get("name"),
    user_profile=pending.get("userProfile"),
    refresh_token=pending.get("refreshToken"),
    expires_in=pending.get("expiresIn"),
    redirect_url=APP_REDIRECT,
)
account = done.get("account") or {}
check(account.get("platform") == "pinterest", f"select_pinterest_board connects pinterest: {done}")
check(account.get("defaultBoardName") == board.get("name"), f"the chosen board: {done}")
check("connected=pinterest" in (done.get("redirect_url") or ""), f"redirect_url says connected: {done}")
record(account.get("accountId"), "pinterest", brand, "selection", destination=board["id"])
expect_gone(api, token)

# --- headless + selection: Snapchat public profile ----------------------------------------

q = headless(api, "snapchat", brand, "sdk_hl_snapchat")
check(q.get("step") == "select_profile", f"snapchat hand-over step: {q}")
check(q.get("pendingDataToken") and q.get("connect_token"), f"snapchat hand-over: {q}")
token, connect_token = q["pendingDataToken"], q["connect_token"]
pending = api.connect.get_pending_o_auth_data(token)
check(pending.get("platform") == "snapchat" and pending.get("selectionType") == "profiles", f"pending: {pending}")
temp = pending["tempToken"]
profiles = api.connect.list_snapchat_profiles(connect_token, brand, temp).get("publicProfiles")
check(isinstance(profiles, list) and len(profiles) == 3, f"three public profiles listed: {profiles}")
check(all(p.get("id") and p.get("display_name") for p in profiles), f"id and display_name: {profiles}")
chosen = profiles[0]
done = api.connect.select_snapchat_profile(
    brand,
    chosen,
    temp,
    pending["userProfile"],
    x_connect_token=connect_token,
    redirect_url=APP_REDIRECT,
)
account = done.get("account") or {}
check(account.get("platform") == "snapchat", f"select_snapchat_profile connects snapchat: {done}")
check(account.get("publicProfileName") == chosen["display_name"], f"the chosen public profile: {done}")
check("connected=snapchat" in (done.get("redirect_url") or ""), f"redirect_url says connected: {done}")
record(account.get("accountId"), "snapchat", brand, "selection", destination=chosen["id"])
expect_gone(api, token)

# --- headless + selection: Google Business location ---------------------------------------

q = headless(api, "googlebusiness", brand, "sdk_hl_gbp")
check(q.get("step") == "select_location" and q.get("profileId") == brand, f"googlebusiness hand-over: {q}")
token = q.get("pendingDataToken")
check(token, f"googlebusiness hands over a pendingDataToken: {q}")
pending = api.connect.get_pending_o_auth_data(token)
check(pending.get("platform") == "googlebusiness" and pending.get("selectionType") == "locations", f"{pending}")
listing = api.connect.list_google_business_locations(profile_id=brand, pending_data_token=token)
locations = listing.get("locations")
check(isinstance(locations, list) and len(locations) == 3, f"three locations listed: {listing}")
check(listing.get("hasMore") is False, f"hasMore: {listing}")
check(all(str(l.get("accountId", "")).startswith("accounts/") for l in locations), f"accountIds: {locations}")
location = locations[1]
found = api.connect.list_google_business_locations(
    profile_id=brand, pending_data_token=token, search=location["name"].upper()
).get("locations")
check(location["id"] in [l["id"] for l in found], f"search finds the location by name: {found}")
check(len(found) < len(locations) or len({l["name"] for l in locations}) == 1, f"search filters: {found}")
done = api.connect.select_google_business_location(
    brand, token, location_id=location["id"], account_id=location["accountId"], redirect_url=APP_REDIRECT
)
account = done.get("account") or {}
check(account.get("platform") == "googlebusiness", f"select_google_business_location connects gbp: {done}")
check(account.get("selectedLocationName") == location["name"], f"the chosen location: {done}")
check(
    account.get("selectedLocationId") == location["id"].rsplit("/", 1)[-1],
    f"selectedLocationId is the bare id: {done}",
)
check("connected=googlebusiness" in (done.get("redirect_url") or ""), f"redirect_url says connected: {done}")
record(account.get("accountId"), "googlebusiness", brand, "selection",
       destination=location["id"].rsplit("/", 1)[-1])
expect_gone(api, token)

# --- error paths as the SDK's exceptions --------------------------------------------------

expect_error(
    lambda: api.connect.get_connect_url("twitter", DEFAULT_PROFILE, redirect_url="/relative/callback"),
    LateAPIError,
    400,
    code="INVALID_REDIRECT_URL",
)
expect_error(
    lambda: api.connect.get_connect_url("tiktok", DEFAULT_PROFILE, redirect_url="not a url"),
    LateAPIError,
    400,
    code="INVALID_REDIRECT_URL",
)
expect_error(
    lambda: api.connect.get_connect_url("tiktok", UNKNOWN_ID),
    LateNotFoundError,
    404,
    code="profile_not_found",
)
expect_error(
    lambda: api.connect.get_connect_url("youtube", UNKNOWN_ID, headless=True, redirect_url=APP_REDIRECT),
    ZernioNotFoundError,
    404,
    code="profile_not_found",
)
expect_error(lambda: api.connect.get_connect_url("tiktok", "not-an-id"), LateAPIError, 400)
expect_error(
    lambda: api.connect.get_connect_url("myspace", DEFAULT_PROFILE), LateAPIError, 400, code="unsupported_platform"
)
expect_error(
    lambda: api.connect.get_pending_o_auth_data("no-such-token"),
    LateNotFoundError,
    404,
    code="pending_selection_not_found",
)
expect_error(
    lambda: api.connect.list_pinterest_boards_for_selection("no-such-connect-token", brand, "no-such-token"),
    LateNotFoundError,
    404,
)
stranger = Zernio(api_key="sk_" + "0" * 64, base_url=BASE + "/api")
expect_error(lambda: stranger.connect.get_connect_url("twitter", DEFAULT_PROFILE), LateAuthenticationError, 401)

# Nothing above created an account: the listing is exactly what the script connected.
listing = api.accounts.list()
listed = sorted(a.field_id for a in listing.accounts)
check(listed == sorted(a["id"] for a in connected), f"listed accounts {listed} vs connected {connected}")
for a in listing.accounts:
    want = next(c for c in connected if c["id"] == a.field_id)
    check(a.platform.value == want["platform"], f"listed platform: {a.platform} vs {want}")
    check(a.profileId == want["profileId"], f"listed profile: {a.profileId} vs {want}")
    check(a.isActive is True, f"connected accounts are active: {a}")

summary = {
    "ok": True,
    "sdkVersion": late.__version__,
    "checks": checks,
    "owner": OWNER,
    "brandProfile": brand,
    "accounts": connected,
}
print("SDK_SUMMARY " + json.dumps(summary), flush=True)
sys.exit(0)

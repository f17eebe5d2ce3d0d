"""Drives a running Plugboard with the official Zernio Python SDK (`zernio-sdk`), used
exactly as an integrator would: only the base URL differs from production.

Run by tests/e2e/python_sdk.rs, which starts the server and seeds the accounts. Input
comes from the environment:

  PLUGBOARD_BASE      e.g. http://127.0.0.1:PORT (no trailing slash)
  PLUGBOARD_KEY       a full-access API key
  PLUGBOARD_SEED      JSON: {"owner", "defaultProfile", "secondProfile",
                       "accounts": [{"id", "platform", "profileId", "platformUserId",
                                     "username", "displayName", "profilePicture"}]}

Every check raises AssertionError with a message; any failure (including a pydantic validation
error raised by the SDK's typed responses) exits non-zero with a traceback. On success
the last line of stdout is `SDK_SUMMARY <json>`, which the Rust test compares with the
store.
"""

from __future__ import annotations

import json
import os
import re
import sys
import uuid
from datetime import datetime, timedelta, timezone

import late
import zernio
from late import (
    Late,
    LateAPIError,
    LateAuthenticationError,
    LateForbiddenError,
    LateNotFoundError,
    Zernio,
    ZernioAPIError,
    ZernioAuthenticationError,
    ZernioNotFoundError,
)
from late.models import (
    AccountsListResponse,
    ProfileCreateResponse,
    ProfileDeleteResponse,
    ProfileGetResponse,
    ProfilesListResponse,
    ProfileUpdateResponse,
)

SDK_VERSION = "1.4.1385"
OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
UNKNOWN_ID = "0123456789abcdef01234567"

BASE = os.environ["PLUGBOARD_BASE"].rstrip("/")
KEY = os.environ["PLUGBOARD_KEY"]
SEED = json.loads(os.environ["PLUGBOARD_SEED"])
OWNER = SEED["owner"]
DEFAULT_PROFILE = SEED["defaultProfile"]
SECOND_PROFILE = SEED["secondProfile"]
SEEDED = {a["id"]: a for a in SEED["accounts"]}


def seeded(platform: str) -> dict:
    [account] = [a for a in SEED["accounts"] if a["platform"] == platform]
    return account


TWITTER = seeded("twitter")["id"]
INSTAGRAM = seeded("instagram")["id"]
LINKEDIN = seeded("linkedin")["id"]
YOUTUBE = seeded("youtube")["id"]

checks = 0


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
            check(f"field: {param}" in str(e), f"str(e) names the field {param!r}: {e!s}")
        return e
    raise AssertionError(f"expected {cls.__name__} ({status}), call returned {result!r}")


def aware(value: datetime | None, what: str) -> None:
    check(isinstance(value, datetime), f"{what} is a datetime: {value!r}")
    check(value.tzinfo is not None, f"{what} carries a timezone: {value!r}")


def parse_time(raw: str, what: str) -> datetime:
    value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    aware(value, what)
    return value


def account_ids(listing) -> list[str]:
    if isinstance(listing, AccountsListResponse):
        return [a.field_id for a in listing.accounts]
    return [a["_id"] for a in listing["accounts"]]


# --- the package as an integrator imports it -------------------------------------------

check(late.__version__ == SDK_VERSION, f"zernio-sdk {SDK_VERSION} expected, got {late.__version__}")
check(zernio.Zernio is Zernio and Late is Zernio, "Zernio, zernio.Zernio and Late are one class")
check(ZernioNotFoundError is LateNotFoundError, "Zernio* exceptions alias Late*")

# The production base is https://zernio.com/api; a self-hosted one is either form.
api = Zernio(api_key=KEY, base_url=BASE + "/api")
root = Zernio(api_key=KEY, base_url=BASE)
both = {"/api": api, "/": root}

# --- api_keys.verify_credential ---------------------------------------------------------

for label, client in both.items():
    who = client.api_keys.verify_credential()
    check(who.get("valid") is True, f"{label}: verify says valid: {who}")
    check(who.get("userId") == OWNER, f"{label}: verify names the owner: {who}")
    check(who.get("authType") == "api_key", f"{label}: authType api_key: {who}")
    check("scope" in who and who["scope"] is None, f"{label}: scope is null for keys: {who}")
    check("name" in who and "email" in who, f"{label}: name and email are present: {who}")

# --- accounts.list (typed: validates every SocialAccount) --------------------------------

for label, client in both.items():
    listing = client.accounts.list()
    check(isinstance(listing, AccountsListResponse), f"{label}: typed listing")
    check(isinstance(listing.hasAnalyticsAccess, bool), f"{label}: hasAnalyticsAccess bool")
    check(listing.pagination is None, f"{label}: no pagination without page/limit: {listing.pagination}")
    check(
        sorted(account_ids(listing)) == sorted(SEEDED),
        f"{label}: every seeded account listed: {account_ids(listing)} vs {sorted(SEEDED)}",
    )
    for account in listing.accounts:
        want = SEEDED[account.field_id]
        check(OBJECT_ID.match(account.field_id), f"_id is an ObjectId: {account.field_id}")
        check(account.platform.value == want["platform"], f"platform: {account.platform} vs {want}")
        check(account.profileId == want["profileId"], f"profileId: {account.profileId} vs {want}")
        check(account.isActive is True, f"seeded accounts are active: {account}")
        check(account.enabled is not False, f"seeded accounts are enabled: {account}")
        check(not account.needsReconnection, f"seeded accounts need no reconnection: {account}")
        check(account.username == want["username"], f"username: {account.username} vs {want}")
        check(account.displayName == want["displayName"], f"displayName: {account}")
        check(account.platformUserId == want["platformUserId"], f"platformUserId: {account}")
        check(account.profilePicture == want["profilePicture"], f"profilePicture: {account}")
        check(account.parentAccountId is None, f"no parent account: {account}")
        if account.followersLastUpdated is not None:
            aware(account.followersLastUpdated, "followersLastUpdated")

for profile_id, platforms in ((DEFAULT_PROFILE, {"twitter", "instagram"}), (SECOND_PROFILE, {"linkedin", "youtube"})):
    for label, client in both.items():
        listing = client.accounts.list(profile_id=profile_id)
        check(
            {a.platform.value for a in listing.accounts} == platforms,
            f"{label}: accounts of {profile_id}: {[a.platform for a in listing.accounts]}",
        )
        check(all(a.profileId == profile_id for a in listing.accounts), f"{label}: filtered by profile")

# --- accounts.list_accounts: offset and cursor paging, filters ---------------------------

pages = []
for page in (1, 2):
    raw = api.accounts.list_accounts(page=page, limit=2)
    AccountsListResponse.model_validate(raw)
    check(
        raw.get("pagination") == {"page": page, "limit": 2, "total": 4, "pages": 2},
        f"offset pagination of page {page}: {raw.get('pagination')}",
    )
    check(len(raw["accounts"]) == 2, f"page {page} holds 2 accounts: {account_ids(raw)}")
    pages.append(account_ids(raw))
check(sorted(pages[0] + pages[1]) == sorted(SEEDED), f"two pages cover every account once: {pages}")

raw = root.accounts.list_accounts(page=1, limit=2, profile_id=SECOND_PROFILE)
check(
    raw.get("pagination") == {"page": 1, "limit": 2, "total": 2, "pages": 1},
    f"pagination within a profile: {raw.get('pagination')}",
)
check(sorted(account_ids(raw)) == sorted([LINKEDIN, YOUTUBE]), f"second profile page: {account_ids(raw)}")

raw = api.accounts.list_accounts(page=3, limit=2)
check(raw["accounts"] == [], f"a page past the end is empty: {raw}")
check(raw.get("pagination", {}).get("total") == 4, f"total on an empty page: {raw.get('pagination')}")

first = api.accounts.list_accounts(limit=3)
AccountsListResponse.model_validate(first)
cursor = first.get("pagination", {}).get("nextCursor")
check(first["pagination"].get("limit") == 3, f"cursor paging echoes limit: {first['pagination']}")
check(isinstance(cursor, str) and cursor, f"a next cursor after 3 of 4: {first['pagination']}")
check(len(first["accounts"]) == 3, f"first cursor page holds 3: {account_ids(first)}")
rest = root.accounts.list_accounts(limit=3, cursor=cursor)
AccountsListResponse.model_validate(rest)
check(rest["pagination"].get("nextCursor") is None, f"no cursor after the last page: {rest['pagination']}")
check(
    sorted(account_ids(first) + account_ids(rest)) == sorted(SEEDED),
    f"cursor pages cover every account once: {account_ids(first)} + {account_ids(rest)}",
)

raw = api.accounts.list_accounts(platform="twitter")
check(account_ids(raw) == [TWITTER], f"platform filter: {account_ids(raw)}")
raw = api.accounts.list_accounts(search=seeded("instagram")["platformUserId"].upper())
check(account_ids(raw) == [INSTAGRAM], f"search by platform user id: {account_ids(raw)}")
raw = api.accounts.list_accounts(search=YOUTUBE)
check(account_ids(raw) == [YOUTUBE], f"search by account id: {account_ids(raw)}")
raw = api.accounts.list_accounts(include_status_counts=True)
check(raw.get("statusCounts") == {"all": 4, "disconnected": 0}, f"statusCounts: {raw.get('statusCounts')}")
AccountsListResponse.model_validate(raw)

# --- profiles: typed and raw -------------------------------------------------------------

listing = api.profiles.list()
check(isinstance(listing, ProfilesListResponse), "typed profile listing")
ids = [p.field_id for p in listing.profiles]
check(ids == [DEFAULT_PROFILE, SECOND_PROFILE], f"default first, then by creation: {ids}")
check(listing.total is None and listing.skip is None, f"no paging fields unless asked: {listing}")
for p in listing.profiles:
    check(p.userId == OWNER, f"profile userId is the owner: {p}")
    check(p.accountCount == 2, f"accountCount counts the seeded accounts: {p}")
    check(p.isDefault is (p.field_id == DEFAULT_PROFILE), f"isDefault only on the default: {p}")
    aware(p.createdAt, f"profile {p.field_id} createdAt")

created = api.profiles.create(name="SDK Typed Brand", description="made by profiles.create", color="#4CAF50")
check(isinstance(created, ProfileCreateResponse), "typed create")
check(created.message, f"create has a message: {created}")
typed = created.profile
TYPED = typed.field_id
check(OBJECT_ID.match(TYPED), f"new profile id is an ObjectId: {TYPED}")
check(
    (typed.name, typed.description, typed.color, typed.isDefault, typed.userId)
    == ("SDK Typed Brand", "made by profiles.create", "#4CAF50", False, OWNER),
    f"created profile echoes its fields: {typed}",
)
aware(typed.createdAt, "created profile createdAt")

raw = root.profiles.create_profile(
    "SDK Raw Brand",
    external_id="crm-42",
    timezone="Europe/Paris",
    color="#2196F3",
    idempotency_key=str(uuid.uuid4()),
)
ProfileCreateResponse.model_validate(raw)
RAW = raw["profile"]["_id"]
check(
    (raw["profile"]["name"], raw["profile"]["externalId"], raw["profile"]["timezone"])
    == ("SDK Raw Brand", "crm-42", "Europe/Paris"),
    f"create_profile echoes externalId and timezone: {raw}",
)

raw = api.profiles.list_profiles(limit=2, skip=1)
ProfilesListResponse.model_validate(raw)
check((raw.get("total"), raw.get("skip"), raw.get("limit")) == (4, 1, 2), f"profile paging fields: {raw}")
check([p["_id"] for p in raw["profiles"]] == [SECOND_PROFILE, TYPED], f"profile page 2-3: {raw}")
raw = root.profiles.list_profiles(limit=10, skip=0)
check(
    [p["_id"] for p in raw["profiles"]] == [DEFAULT_PROFILE, SECOND_PROFILE, TYPED, RAW],
    f"full ordered listing: {raw}",
)
raw = api.profiles.list_profiles(external_id="crm-42")
check([p["_id"] for p in raw["profiles"]] == [RAW], f"externalId filter: {raw}")
raw = api.profiles.list_profiles(name="SDK Typed Brand")
check([p["_id"] for p in raw["profiles"]] == [TYPED], f"name filter: {raw}")

got = root.profiles.get(TYPED)
check(isinstance(got, ProfileGetResponse) and got.profile.field_id == TYPED, f"typed get: {got}")
check(got.profile.name == "SDK Typed Brand", f"typed get name: {got}")
raw = api.profiles.get_profile(RAW)
check(raw["profile"]["externalId"] == "crm-42", f"get_profile: {raw}")

updated = api.profiles.update(TYPED, name="SDK Typed Brand v2", description="updated by profiles.update")
check(isinstance(updated, ProfileUpdateResponse) and updated.message, f"typed update: {updated}")
check(
    (updated.profile.name, updated.profile.description, updated.profile.color)
    == ("SDK Typed Brand v2", "updated by profiles.update", "#4CAF50"),
    f"update changes only what was sent: {updated.profile}",
)
raw = root.profiles.update_profile(RAW, timezone="America/New_York", external_id="crm-43")
ProfileUpdateResponse.model_validate(raw)
check(
    (raw["profile"]["timezone"], raw["profile"]["externalId"], raw["profile"]["name"])
    == ("America/New_York", "crm-43", "SDK Raw Brand"),
    f"update_profile: {raw}",
)

moved_default = api.profiles.update(RAW, is_default=True)
check(moved_default.profile.isDefault is True, f"is_default=True: {moved_default.profile}")
listing = root.profiles.list()
check(listing.profiles[0].field_id == RAW, f"the new default lists first: {[p.field_id for p in listing.profiles]}")
check(
    [p.field_id for p in listing.profiles if p.isDefault] == [RAW],
    f"exactly one default: {[(p.field_id, p.isDefault) for p in listing.profiles]}",
)
restored = root.profiles.update_profile(DEFAULT_PROFILE, is_default=True)
check(restored["profile"]["isDefault"] is True, f"default restored: {restored}")

deleted = api.profiles.delete(TYPED)
check(isinstance(deleted, ProfileDeleteResponse) and deleted.message, f"typed delete: {deleted}")
expect_error(lambda: root.profiles.get(TYPED), LateNotFoundError, 404, code="profile_not_found")
expect_error(lambda: api.profiles.get(UNKNOWN_ID), ZernioNotFoundError, 404, code="profile_not_found")
expect_error(lambda: api.profiles.get_profile(UNKNOWN_ID), LateNotFoundError, 404, code="profile_not_found")
expect_error(lambda: root.profiles.delete(UNKNOWN_ID), LateNotFoundError, 404, code="profile_not_found")
e = expect_error(
    lambda: api.profiles.create_profile("Bad TZ", timezone="Mars/Olympus_Mons"),
    LateAPIError,
    400,
    param="timezone",
)
check(isinstance(e, ZernioAPIError), "the 400 is a ZernioAPIError too")
expect_error(
    lambda: root.profiles.update_profile(RAW, timezone="Not/AZone"), LateAPIError, 400, param="timezone"
)
expect_error(lambda: api.profiles.delete(SECOND_PROFILE), LateAPIError, 400)
check(len(api.profiles.list().profiles) == 3, "failed calls changed nothing")

# --- accounts: update, move, delete ------------------------------------------------------

raw = api.accounts.update_account(TWITTER, display_name="Renamed via SDK")
check(raw.get("message"), f"update_account has a message: {raw}")
check(raw.get("displayName") == "Renamed via SDK", f"update_account echoes displayName: {raw}")
raw = root.accounts.move_account_to_profile(INSTAGRAM, SECOND_PROFILE)
check(raw.get("message") and raw.get("profileId") == SECOND_PROFILE, f"move_account_to_profile: {raw}")
raw = api.accounts.delete_account(YOUTUBE)
check(raw.get("message"), f"delete_account has a message: {raw}")
expect_error(lambda: root.accounts.delete_account(YOUTUBE), ZernioNotFoundError, 404, code="account_not_found")
expect_error(
    lambda: api.accounts.update_account(YOUTUBE, display_name="ghost"), LateNotFoundError, 404, code="account_not_found"
)
expect_error(
    lambda: api.accounts.move_account_to_profile(TWITTER, UNKNOWN_ID), LateNotFoundError, 404, code="profile_not_found"
)

listing = root.accounts.list()
by_id = {a.field_id: a for a in listing.accounts}
check(sorted(by_id) == sorted([TWITTER, INSTAGRAM, LINKEDIN]), f"deleted account is gone: {sorted(by_id)}")
check(by_id[TWITTER].displayName == "Renamed via SDK", f"rename is listed: {by_id[TWITTER]}")
check(by_id[INSTAGRAM].profileId == SECOND_PROFILE, f"move is listed: {by_id[INSTAGRAM]}")
listing = api.accounts.list(profile_id=SECOND_PROFILE)
check(sorted(account_ids(listing)) == sorted([INSTAGRAM, LINKEDIN]), f"second profile now: {account_ids(listing)}")
counts = {p.field_id: p.accountCount for p in api.profiles.list().profiles}
check(
    counts == {DEFAULT_PROFILE: 1, SECOND_PROFILE: 2, RAW: 0},
    f"accountCount follows moves and deletes: {counts}",
)

# --- api keys ----------------------------------------------------------------------------

raw = api.api_keys.list_api_keys()
check(len(raw.get("apiKeys", [])) == 1, f"only the bootstrap key at first: {raw}")
BOOTSTRAP = raw["apiKeys"][0]["id"]
check(all("key" not in k for k in raw["apiKeys"]), f"listing never shows a full key: {raw}")

before = datetime.now(timezone.utc)
created = root.api_keys.create_api_key("sdk integration key", expires_in=30)
check(created.get("message"), f"create_api_key has a message: {created}")
new = created["apiKey"]
NEW_KEY_ID = new["id"]
NEW_KEY = new.get("key", "")
check(re.fullmatch(r"sk_[0-9a-f]{64}", NEW_KEY), f"full sk_ key shown once: {new}")
check(new.get("name") == "sdk integration key", f"name echoed: {new}")
check((new.get("scope"), new.get("permission")) == ("full", "read-write"), f"defaults echoed: {new}")
check(new.get("keyPreview") and NEW_KEY not in new["keyPreview"], f"preview is not the key: {new}")
expires = parse_time(new["expiresAt"], "expiresAt")
check(
    before + timedelta(days=29) < expires < before + timedelta(days=31),
    f"expires_in=30 means 30 days: {new['expiresAt']}",
)
parse_time(new["createdAt"], "createdAt")

ro = api.api_keys.create_api_key("sdk read-only key", permission="read")["apiKey"]
READ_KEY_ID = ro["id"]
check(ro.get("permission") == "read" and ro.get("key", "").startswith("sk_"), f"read key: {ro}")

raw = api.api_keys.list_api_keys()
listed = {k["id"]: k for k in raw["apiKeys"]}
check(set(listed) == {BOOTSTRAP, NEW_KEY_ID, READ_KEY_ID}, f"new keys listed: {sorted(listed)}")
check(all("key" not in k for k in raw["apiKeys"]), f"listing never shows a full key: {raw}")
check(listed[NEW_KEY_ID]["keyPreview"] == new["keyPreview"], "the same preview in the listing")

second_client = Zernio(api_key=NEW_KEY, base_url=BASE + "/api")
who = second_client.api_keys.verify_credential()
check(who.get("valid") is True and who.get("userId") == OWNER, f"the new key works: {who}")
check(len(second_client.accounts.list().accounts) == 3, "the new key sees the owner's accounts")

reader = Zernio(api_key=ro["key"], base_url=BASE)
check(len(reader.profiles.list().profiles) == 3, "a read key may read")
expect_error(lambda: reader.profiles.create(name="Not allowed"), LateForbiddenError, 403)
expect_error(lambda: reader.accounts.delete_account(TWITTER), LateForbiddenError, 403)

raw = api.api_keys.delete_api_key(NEW_KEY_ID)
check(raw.get("message"), f"delete_api_key has a message: {raw}")
expect_error(lambda: second_client.api_keys.verify_credential(), ZernioAuthenticationError, 401)
expect_error(lambda: second_client.accounts.list(), LateAuthenticationError, 401)
expect_error(lambda: api.api_keys.delete_api_key(NEW_KEY_ID), LateNotFoundError, 404, code="api_key_not_found")
stranger = Zernio(api_key="sk_" + "0" * 64, base_url=BASE + "/api")
expect_error(lambda: stranger.profiles.list(), LateAuthenticationError, 401)
raw = root.api_keys.list_api_keys()
check({k["id"] for k in raw["apiKeys"]} == {BOOTSTRAP, READ_KEY_ID}, f"revoked key is gone: {raw}")

summary = {
    "ok": True,
    "sdkVersion": late.__version__,
    "checks": checks,
    "owner": OWNER,
    "accountsRemaining": sorted([TWITTER, INSTAGRAM, LINKEDIN]),
    "renamedAccount": TWITTER,
    "movedAccount": INSTAGRAM,
    "deletedAccount": YOUTUBE,
    "profilesRemaining": [DEFAULT_PROFILE, SECOND_PROFILE, RAW],
    "rawProfile": RAW,
    "deletedProfile": TYPED,
    "apiKeysRemaining": sorted([BOOTSTRAP, READ_KEY_ID]),
    "readKey": READ_KEY_ID,
    "revokedKey": NEW_KEY_ID,
}
print("SDK_SUMMARY " + json.dumps(summary), flush=True)
sys.exit(0)

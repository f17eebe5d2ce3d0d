"""The official MCP Python SDK (`mcp`) against Plugboard's /_mcp, non-interactively.

The SDK does everything a real client does: it gets a 401 from /_mcp, discovers the
protected-resource and authorization-server metadata, registers itself (RFC 7591), sends
the user to the consent page (here: this script fills in the form as a person would, with
the API key), takes the code back, exchanges it with PKCE, and then lists and calls every
tool. Then the access token is made to look expired, so the SDK refreshes it, and the
calls go on with the rotated tokens.

Environment: PLUGBOARD_BASE, PLUGBOARD_KEY, PLUGBOARD_SEED (JSON: mode, profileId,
youtubeAccountId, blueskyHandle, blueskyPassword). Prints `SDK_SUMMARY {json}` last.
"""

import asyncio
import html
import json
import os
import re
import sys
import time
from urllib.parse import parse_qs, urljoin, urlparse

import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata

BASE = os.environ["PLUGBOARD_BASE"]
KEY = os.environ["PLUGBOARD_KEY"]
SEED = json.loads(os.environ["PLUGBOARD_SEED"])
MCP_URL = f"{BASE}/_mcp"
REDIRECT_URI = "http://localhost:53682/callback"
CLIENT_NAME = "Plugboard CI agent"

checks = 0


def check(condition, what):
    global checks
    if not condition:
        print(f"CHECK FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    checks += 1


class MemoryStorage:
    def __init__(self):
        self.tokens = None
        self.client_info = None
        self.token_history = []

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens
        self.token_history.append(tokens)

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info):
        self.client_info = client_info


def hidden_fields(page):
    return {
        name: html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page)
    }


consent = {}


async def redirect_handler(authorization_url):
    """The user's browser: opens the consent page, pastes a wrong key, then the right one."""
    check(authorization_url.startswith(f"{BASE}/oauth/authorize?"), f"consent at our authorize URL: {authorization_url}")
    query = parse_qs(urlparse(authorization_url).query)
    check(query.get("code_challenge_method") == ["S256"], "the SDK uses PKCE S256")
    check(query.get("resource") == [MCP_URL], f"the SDK names the resource: {query.get('resource')}")
    async with httpx2.AsyncClient(follow_redirects=False) as browser:
        page = await browser.get(authorization_url)
        check(page.status_code == 200, f"consent page: {page.status_code} {page.text[:300]}")
        check("no-store" in page.headers.get("cache-control", ""), "consent page is not cached")
        check("frame-ancestors 'none'" in page.headers.get("content-security-policy", ""), "consent page cannot be framed")
        check(CLIENT_NAME in page.text, "the page shows the client's name")
        check("localhost:53682" in page.text, "the page shows where the user is sent back")
        check('name="api_key"' in page.text, "the form has an api_key field")
        action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
        target = urljoin(authorization_url, html.unescape(action))
        check(urlparse(target).path == "/oauth/authorize", "the form posts back to the authorize URL")
        fields = hidden_fields(page.text)
        check("csrf" in fields, "the form carries a CSRF token")

        wrong = await browser.post(target, data={**fields, "api_key": "sk_" + "0" * 64, "decision": "approve"})
        check(wrong.status_code == 401, f"a wrong key is refused on the page: {wrong.status_code}")
        check("not valid" in wrong.text, "and says so")

        answer = await browser.post(target, data={**fields, "api_key": KEY, "decision": "approve"})
        check(answer.status_code == 302, f"approval redirects: {answer.status_code} {answer.text[:300]}")
        location = answer.headers["location"]
        check(location.startswith(REDIRECT_URI + "?"), f"back to the registered redirect: {location}")
        back = parse_qs(urlparse(location).query)
        check(back.get("state") == query.get("state"), "state is echoed")
        check(back.get("iss") == [BASE], f"iss is the issuer: {back.get('iss')}")
        consent["result"] = AuthorizationCodeResult(code=back["code"][0], state=back["state"][0], iss=back["iss"][0])


async def callback_handler():
    return consent.pop("result")


def structured(result):
    check(not result.is_error, f"tool succeeded: {result.content}")
    data = result.structured_content
    if data is None:
        data = json.loads(result.content[0].text)
    return data


async def sandbox_login(auth_url, username):
    """A person logging in on the (sandbox) platform and coming back to Plugboard."""
    async with httpx2.AsyncClient(follow_redirects=False) as browser:
        page = await browser.get(auth_url)
        check(page.status_code == 200, f"platform consent page: {page.status_code}")
        action = re.search(r'<form[^>]*action="([^"]+)"', page.text).group(1)
        request = re.search(r'name="_request"[^>]*value="([^"]*)"', page.text).group(1)
        answer = await browser.post(
            urljoin(auth_url, html.unescape(action)),
            data={"_request": html.unescape(request), "username": username, "decision": "approve"},
        )
        check(answer.status_code == 302, f"platform consent redirects: {answer.status_code}")
        done = await browser.get(answer.headers["location"])
        check(done.status_code in (200, 302), f"Plugboard's callback: {done.status_code} {done.text[:300]}")


async def main():
    storage = MemoryStorage()
    provider = OAuthClientProvider(
        server_url=MCP_URL,
        client_metadata=OAuthClientMetadata(
            client_name=CLIENT_NAME,
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    called = set()
    http = create_mcp_http_client(auth=provider)
    async with http:
        async with Client(streamable_http_client(MCP_URL, http_client=http), mode=SEED["mode"]) as client:
            # (A client pinned to 2026-07-28 sends nothing on connect; the first request
            # meets the 401 and runs the authorization.)
            listed = await client.list_tools()
            check(storage.client_info is not None and storage.client_info.client_id.startswith("pbc_"), "registered by DCR")
            check(storage.tokens is not None and storage.tokens.refresh_token, "tokens with a refresh token")
            check(storage.tokens.expires_in == 3600, f"access tokens live an hour: {storage.tokens.expires_in}")
            check(client.protocol_version == SEED["expectProtocol"], f"protocol {client.protocol_version}")
            tools = {t.name: t for t in listed.tools}
            expected = set(SEED["tools"])
            check(set(tools) == expected, f"tool list: {sorted(tools)}")
            for t in listed.tools:
                check(t.annotations is not None and t.annotations.read_only_hint is not None, f"{t.name} is annotated")
                check(t.input_schema.get("type") == "object", f"{t.name} has an input schema")
            check(tools["disconnect_account"].annotations.destructive_hint is True, "disconnect is destructive")
            check(tools["list_accounts"].annotations.read_only_hint is True, "listing is read-only")

            async def call(name, args=None):
                called.add(name)
                return await client.call_tool(name, args or {})

            platforms = structured(await call("list_platforms"))["platforms"]
            check(len(platforms) == 14, f"14 platforms: {len(platforms)}")
            by_name = {p["platform"]: p for p in platforms}
            check(by_name["bluesky"]["connectMethod"] == "app_password", "bluesky connects with an app password")
            check(by_name["telegram"]["connectMethod"] == "bot_code", "telegram with a bot code")
            check(all(p["configured"] for p in platforms), "the sandbox configures every platform")

            profiles = structured(await call("list_profiles"))["profiles"]
            check(any(p["_id"] == SEED["profileId"] for p in profiles), "the default profile is listed")
            created = structured(await call("create_profile", {"name": "Agent brand", "color": "#336699"}))["profile"]
            check(created["name"] == "Agent brand", "profile created")
            got = structured(await call("get_profile", {"profileId": created["_id"]}))["profile"]
            check(got["_id"] == created["_id"], "profile read back")

            accounts = structured(await call("list_accounts", {"platform": "youtube"}))
            check(accounts["total"] == 1, f"one youtube account: {accounts}")
            youtube = accounts["accounts"][0]
            check(youtube["followersCount"] == 42, "follower counts are included")
            one = structured(await call("get_account", {"accountId": SEED["youtubeAccountId"]}))["account"]
            check(one["platform"] == "youtube", "get_account")

            link = structured(await call("start_connect", {"platform": "twitter", "profileId": created["_id"]}))
            check(link["authUrl"].startswith(BASE + "/sandbox/"), f"a link to the (sandbox) platform: {link['authUrl']}")
            await sandbox_login(link["authUrl"], "agent_user")
            twitter = structured(await call("list_accounts", {"profileId": created["_id"]}))
            check(twitter["total"] == 1 and twitter["accounts"][0]["platform"] == "twitter", f"the link connected twitter: {twitter}")
            twitter_id = twitter["accounts"][0]["_id"]

            sky = structured(await call("connect_bluesky", {"profileId": created["_id"], "identifier": SEED["blueskyHandle"], "appPassword": SEED["blueskyPassword"]}))
            check(sky["account"]["platform"] == "bluesky", "bluesky connected")
            check(SEED["blueskyPassword"] not in json.dumps(sky), "the app password is not echoed")

            code = structured(await call("start_telegram_connect", {"profileId": created["_id"]}))
            check(code["code"].startswith("PB-"), f"a telegram code: {code}")
            status = structured(await call("telegram_connect_status", {"code": code["code"]}))
            check(status["status"] == "pending", f"telegram code pending: {status}")

            health = structured(await call("accounts_health"))
            check(health["summary"]["total"] == 3, f"health of every account: {health['summary']}")
            detail = structured(await call("account_health", {"accountId": twitter_id}))
            check(detail["accountId"] == twitter_id and "tokenStatus" in detail, "one account's health")
            refreshed = structured(await call("refresh_account_token", {"accountId": twitter_id}))
            check(refreshed["message"] == "Token refreshed", f"refresh: {refreshed}")

            off = structured(await call("deactivate_account", {"accountId": twitter_id}))
            check(off["account"]["isActive"] is False, "deactivated")
            on = structured(await call("activate_account", {"accountId": twitter_id}))
            check(on["account"]["isActive"] is True, "activated")

            hooks = structured(await call("get_webhook_settings"))["webhooks"]
            check(len(hooks) == 1 and hooks[0]["hasSecret"] is True, f"webhook settings: {hooks}")
            check("secret" not in json.dumps(hooks).replace("hasSecret", ""), "no secret in the settings")
            deliveries = structured(await call("list_webhook_deliveries", {"limit": 5}))
            check(deliveries["total"] >= 2, f"deliveries: {deliveries}")

            stats = structured(await call("usage_stats"))
            check(stats["totalAccounts"] == 3, f"stats: {stats}")
            check(stats["byPlatform"]["twitter"]["accounts"] == 1, "per platform")
            check(stats["webhooks"]["delivered"] >= 1 and stats["webhooks"]["failed"] >= 1, f"webhook stats: {stats['webhooks']}")

            # A bad input is a tool error the agent can read, not a crash.
            bad = await call("get_account", {"accountId": "nope"})
            check(bad.is_error, "a bad id is a tool error")
            check("accountId" in bad.content[0].text, f"naming the field: {bad.content[0].text}")

            # The access token "expires": the SDK refreshes it and goes on.
            first_access = storage.tokens.access_token
            first_refresh = storage.tokens.refresh_token
            provider.context.token_expiry_time = time.time() - 1
            again = structured(await call("list_profiles"))
            check(len(again["profiles"]) == len(profiles) + 1, "calls work after the refresh")
            check(storage.tokens.access_token != first_access, "a new access token")
            check(storage.tokens.refresh_token != first_refresh, "the refresh token rotated")

            gone = structured(await call("disconnect_account", {"accountId": twitter_id}))
            check(gone["message"] == "Account disconnected", "disconnected")

    missing = set(SEED["tools"]) - called
    check(not missing, f"every tool was called: missing {sorted(missing)}")
    print("SDK_SUMMARY " + json.dumps({
        "checks": checks,
        "called": sorted(called),
        "clientId": storage.client_info.client_id,
        "firstRefreshToken": first_refresh,
        "twitterAccountId": twitter_id,
    }))


asyncio.run(main())

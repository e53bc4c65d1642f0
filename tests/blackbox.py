"""Black-box checks of a served MatchReady: what an attacker, an operator and a front end see from outside.

    python -m tests.blackbox http://127.0.0.1:8000 --admin-email admin@demo.test --admin-password '...'

Signs in as the admin, makes throwaway organization members for the session and throttling checks (and deletes
them), and checks: security headers and the request id on every kind of answer; every error is problem+json; a deleted
user's and a deactivated user's tokens are refused within SESSION_CHECK_SECONDS (`--session-bound`); failed
sign-ins are throttled with Retry-After, the same for an unknown account; the health endpoints answer; with
`--head-timeout`, a stalled request head is cut off. Prints one
line per check and exits 1 when any fails. It changes nothing but the users it creates and deletes (and the
throttle counters of their e-mail addresses and of the caller's address).
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

PROBLEM = "application/problem+json"


@dataclass
class Report:
    results: list[tuple[str, bool, str]] = field(default_factory=list)

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.results.append((name, ok, detail))
        print(f"{'PASS' if ok else 'FAIL'}  {name}{'  — ' + detail if detail and not ok else ''}", flush=True)
        return ok

    @property
    def failed(self) -> list[str]:
        return [name for name, ok, _ in self.results if not ok]


def _token(c: httpx.Client, email: str, password: str) -> httpx.Response:
    return c.post("/v1/auth/token", data={"username": email, "password": password})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def check_headers(c: httpx.Client, r: Report, admin: dict[str, str]) -> None:
    answers = {
        "authenticated read": c.get("/v1/auth/me", headers=admin),
        "health": c.get("/livez"),
        "404 problem": c.get("/v1/no-such-route", headers=admin),
        "401 problem": c.get("/v1/candidates"),
    }
    for label, resp in answers.items():
        h = resp.headers
        r.check(f"headers: nosniff on {label}", h.get("x-content-type-options") == "nosniff", str(dict(h)))
        server = h.get("server", "")
        r.check(f"headers: no server version on {label}", not any(ch.isdigit() for ch in server), server)
        r.check(f"headers: request id on {label}", bool(h.get("x-request-id")))
    budget = answers["authenticated read"].headers
    r.check("headers: an authenticated answer states the caller's request budget (RateLimit-Policy, RateLimit)",
            budget.get("ratelimit-policy", "").startswith('"principal";q=')
            and budget.get("ratelimit", "").startswith('"principal";r='), str(dict(budget)))
    cache = answers["authenticated read"].headers.get("cache-control", "")
    r.check("headers: authenticated answers are private, no-cache", "private" in cache and "no-cache" in cache,
            cache)
    given = "blackbox-" + uuid.uuid4().hex[:12]
    echoed = c.get("/livez", headers={"X-Request-Id": given}).headers.get("x-request-id")
    r.check("headers: a valid X-Request-Id is echoed", echoed == given, str(echoed))
    token = _token(c, "nobody-" + uuid.uuid4().hex[:8] + "@example.org", "wrong password")
    r.check("headers: no caching of the token endpoint's answers",
            "no-store" in token.headers.get("cache-control", "") or token.status_code != 200)


def check_problems(c: httpx.Client, r: Report, admin: dict[str, str]) -> None:
    cases: dict[str, Callable[[], httpx.Response]] = {
        "400 malformed JSON": lambda: c.post("/v1/candidates", content=b"{not json",
                                             headers={**admin, "Content-Type": "application/json"}),
        "401 invalid token": lambda: c.get("/v1/candidates", headers=_bearer("not-a-token")),
        "404 unknown route": lambda: c.get("/v1/nothing-here", headers=admin),
        "405 wrong method": lambda: c.put("/v1/auth/me", headers=admin),
        "415 wrong media type": lambda: c.post("/v1/candidates", content=b"x",
                                               headers={**admin, "Content-Type": "text/plain"}),
        "422 unknown query parameter": lambda: c.get("/v1/candidates", params={"no_such_filter": "1"},
                                                     headers=admin),
    }
    for label, call in cases.items():
        resp = call()
        want = int(label.split()[0])
        r.check(f"problems: {label}", resp.status_code == want and resp.headers.get("content-type", "")
                .startswith(PROBLEM), f"{resp.status_code} {resp.headers.get('content-type')}")


def _wait_refused(c: httpx.Client, headers: dict[str, str], bound: float) -> float | None:
    """Seconds until the token is refused (401), or None if it still works after `bound` + 2 s."""
    started = time.monotonic()
    while time.monotonic() - started < bound + 2:
        if c.get("/v1/auth/me", headers=headers).status_code == 401:
            return time.monotonic() - started
        time.sleep(0.2)
    return None


def check_sessions(c: httpx.Client, r: Report, admin: dict[str, str], bound: float) -> None:
    orgs = c.get("/v1/organizations", headers=admin, params={"limit": 1})
    if not r.check("sessions: the admin lists organizations", orgs.status_code == 200 and orgs.json()["items"],
                   orgs.text[:200]):
        return
    org_id = orgs.json()["items"][0]["id"]
    password = "blackbox " + uuid.uuid4().hex
    made: list[str] = []
    try:
        for what in ("deleted", "deactivated"):
            email = f"blackbox-{what}-{uuid.uuid4().hex[:8]}@example.org"
            created = c.post("/v1/users", headers=admin, json={"email": email, "full_name": "Black Box",
                                                               "password": password, "role": "advisor",
                                                               "organization_id": org_id})
            if not r.check(f"sessions: a user to be {what} is created", created.status_code == 201, created.text):
                continue
            user, etag = created.json(), created.headers["etag"]
            made.append(user["id"])
            signed = _token(c, email, password)
            r.check(f"sessions: the user to be {what} signs in", signed.status_code == 200, signed.text)
            headers = _bearer(signed.json()["access_token"])
            r.check(f"sessions: its token works before it is {what}",
                    c.get("/v1/auth/me", headers=headers).status_code == 200)
            if what == "deleted":
                done = c.delete(f"/v1/users/{user['id']}", headers={**admin, "If-Match": etag})
                made.remove(user["id"])
            else:
                done = c.patch(f"/v1/users/{user['id']}", headers={**admin, "If-Match": etag},
                               json={"is_active": False})
            r.check(f"sessions: the user is {what}", done.status_code in (200, 204), done.text)
            took = _wait_refused(c, headers, bound)
            r.check(f"sessions: a {what} user's token is refused within {bound:g} s",
                    took is not None and took <= bound + 1, f"took {took}")
            refresh = c.post("/v1/auth/token", data={"grant_type": "refresh_token",
                                                     "refresh_token": signed.json()["refresh_token"]})
            r.check(f"sessions: a {what} user's refresh token is refused", refresh.status_code in (400, 401),
                    str(refresh.status_code))
    finally:
        for user_id in made:
            got = c.get(f"/v1/users/{user_id}", headers=admin)
            if got.status_code == 200:
                c.delete(f"/v1/users/{user_id}", headers={**admin, "If-Match": got.headers["etag"]})


def check_throttling(c: httpx.Client, r: Report, admin: dict[str, str], tries: int) -> None:
    """Wrong passwords for an account (made for the check, then deleted) until a 429; the same for an account that
    does not exist."""
    org_id = c.get("/v1/organizations", headers=admin, params={"limit": 1}).json()["items"][0]["id"]
    real = f"blackbox-throttle-{uuid.uuid4().hex[:8]}@example.org"
    made = c.post("/v1/users", headers=admin, json={"email": real, "full_name": "Black Box", "role": "advisor",
                                                    "password": "blackbox " + uuid.uuid4().hex,
                                                    "organization_id": org_id})
    r.check("throttling: an account to throttle is created", made.status_code == 201, made.text[:200])
    try:
        _throttled(c, r, tries, {"an account": real,
                                 "an unknown account": f"blackbox-nobody-{uuid.uuid4().hex[:8]}@example.org"})
    finally:
        if made.status_code == 201:
            c.delete(f"/v1/users/{made.json()['id']}", headers={**admin, "If-Match": made.headers["etag"]})


def _throttled(c: httpx.Client, r: Report, tries: int, accounts: dict[str, str]) -> None:
    for label, email in accounts.items():
        statuses: list[int] = []
        resp = None
        for _ in range(tries):
            resp = _token(c, email, "wrong password")
            statuses.append(resp.status_code)
            if resp.status_code == 429:
                break
        ok = resp is not None and resp.status_code == 429 and resp.headers.get("retry-after", "").isdigit()
        r.check(f"throttling: failed sign-ins for {label} end in 429 with Retry-After", ok, str(statuses))
        if ok and resp is not None:
            r.check(f"throttling: the 429 for {label} is problem+json",
                    resp.headers.get("content-type", "").startswith(PROBLEM))


def check_slow_head(base_url: str, r: Report, seconds: float) -> None:
    """A connection that sends half a request head and goes quiet is answered 408 and closed in time."""
    url = httpx.URL(base_url)
    started = time.monotonic()
    got = b""
    with socket.create_connection((url.host, url.port or 80), timeout=seconds + 5) as sock:
        sock.sendall(b"GET /livez HTTP/1.1\r\nHost: " + url.host.encode() + b"\r\n")
        try:
            while chunk := sock.recv(65536):
                got += chunk
        except TimeoutError:
            pass
    took = time.monotonic() - started
    r.check(f"timeouts: a stalled request head is 408 and closed within {seconds:g} s",
            got.startswith(b"HTTP/1.1 408 ") and took <= seconds + 2, f"{got[:40]!r} after {took:.1f} s")


def check_health(c: httpx.Client, r: Report) -> None:
    r.check("health: /livez 200", c.get("/livez").status_code == 200)
    r.check("health: /readyz 200 with the database up", c.get("/readyz").status_code == 200)


def run(base_url: str, admin_email: str, admin_password: str, session_bound: float, tries: int,
        head_timeout: float | None = None) -> Report:
    report = Report()
    with httpx.Client(base_url=base_url, timeout=10) as c:
        check_health(c, report)
        signed = _token(c, admin_email, admin_password)
        if not report.check("the admin signs in", signed.status_code == 200, signed.text[:200]):
            return report
        admin = _bearer(signed.json()["access_token"])
        check_headers(c, report, admin)
        check_problems(c, report, admin)
        check_sessions(c, report, admin, session_bound)
        check_throttling(c, report, admin, tries)
        if head_timeout:
            check_slow_head(base_url, report, head_timeout)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url")
    parser.add_argument("--admin-email", required=True)
    parser.add_argument("--admin-password", required=True)
    parser.add_argument("--session-bound", type=float, default=5.0, help="the server's SESSION_CHECK_SECONDS")
    parser.add_argument("--tries", type=int, default=40, help="failed sign-ins to try before expecting a 429")
    parser.add_argument("--head-timeout", type=float, default=None,
                        help="the server's HEADER_READ_TIMEOUT_SECONDS: check it (a direct connection, no proxy)")
    args = parser.parse_args(argv)
    report = run(args.base_url.rstrip("/"), args.admin_email, args.admin_password, args.session_bound, args.tries,
                 args.head_timeout)
    total, failed = len(report.results), report.failed
    print(f"{total - len(failed)} of {total} checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""A real browser calls the API from a page of another origin: what CORS is for, checked where it is enforced.

The API runs under uvicorn on one loopback port (its own migrated SQLite database with the demo data, CORS_ORIGINS
naming the page's origin). A page served on another port signs in with the form, lists candidates, reads one and
PATCHes it with the ETag it read as If-Match — which the page can only do when ETag is an exposed header — and
writes what it saw into the DOM. A page from a third origin, not configured, must not get through.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.browser.conftest import CHROMEDRIVER, CHROMIUM
from tests.served import wait_live

PASSWORD = "browser test passphrase 1"
ADVISOR = "advisor@north.demo.test"
NEW_NAME = "Renamed In The Browser"

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>MatchReady from another origin</title></head>
<body><pre id="result"></pre>
<script>
const API = %(api)s;
async function run() {
  const out = {};
  try {
    const token = await fetch(API + "/v1/auth/token", {
      method: "POST", body: new URLSearchParams({username: %(user)s, password: %(password)s})});
    out.token = token.status;
    const auth = {Authorization: "Bearer " + (await token.json()).access_token};
    const list = await fetch(API + "/v1/candidates?limit=5", {headers: auth});
    out.list = list.status;
    const page = await list.json();
    out.total = page.total;
    const url = API + "/v1/candidates/" + page.items[0].id;
    out.id = page.items[0].id;
    const one = await fetch(url, {headers: auth, cache: "no-store"});
    out.etag = one.headers.get("ETag");
    const write = {...auth, "Content-Type": "application/json", "If-Match": out.etag};
    const patch = await fetch(url, {method: "PATCH", headers: write, body: JSON.stringify({full_name: %(name)s})});
    out.patch = patch.status;
    out.patched_etag = patch.headers.get("ETag");
    out.patched_name = (await patch.json()).full_name;
    const stale = await fetch(url, {method: "PATCH", headers: write, body: "{}"});
    out.stale = [stale.status, (await stale.json()).type];
  } catch (e) {
    out.error = e.name + ": " + e.message;
  }
  document.getElementById("result").textContent = JSON.stringify(out);
}
run();
</script></body></html>
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _page_server(html: bytes) -> ThreadingHTTPServer:
    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The API under uvicorn with CORS for the page's origin, and the two page servers (allowed, other)."""
    tmp = tmp_path_factory.mktemp("browser")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    html = (PAGE % {"api": json.dumps(base), "user": json.dumps(ADVISOR), "password": json.dumps(PASSWORD),
                    "name": json.dumps(NEW_NAME)}).encode()
    allowed, other = _page_server(html), _page_server(html)
    origin = f"http://127.0.0.1:{allowed.server_address[1]}"
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    env.update(DATABASE_URL=f"sqlite:///{tmp}/browser.db", ENVIRONMENT="test", SECRET_KEY="browser-test-" + "k" * 40,
               CORS_ORIGINS=origin, MATCHREADY_DEMO_PASSWORD=PASSWORD)
    for cmd in ("migrate", "seed"):  # the app's own commands, in a directory of its own (no stray .env)
        subprocess.run([sys.executable, "-m", "app", cmd], env=env, cwd=tmp, check=True, capture_output=True)
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port",
                               str(port), "--no-access-log", "--log-level", "warning"], env=env, cwd=tmp)
    try:
        wait_live(server, base, timeout=20)
        yield {"api": base, "page": origin + "/", "other": f"http://127.0.0.1:{other.server_address[1]}/"}
    finally:
        server.terminate()
        server.wait(timeout=10)
        allowed.shutdown()
        other.shutdown()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.selenium_manager import SeleniumManager

    def no_download(*_: object, **__: object) -> None:
        raise AssertionError("Selenium Manager would look for (and download) a browser or a driver")

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(SeleniumManager, "binary_paths", no_download)  # the Debian browser and driver, always
        driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(15)
    try:
        yield driver
    finally:
        driver.quit()


def _run_page(driver: object, url: str) -> dict[str, object]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)  # type: ignore[attr-defined]
    text = WebDriverWait(driver, 15).until(lambda d: d.find_element(By.ID, "result").text)
    return json.loads(text)  # type: ignore[no-any-return]


def test_a_page_of_an_allowed_origin_signs_in_lists_and_updates_with_if_match(api, browser):
    out = _run_page(browser, api["page"])
    assert "error" not in out, out
    assert out["token"] == 200 and out["list"] == 200 and out["total"] == 3, out
    assert out["etag"] == '"v1"', out  # readable by the page: ETag is exposed
    assert (out["patch"], out["patched_etag"], out["patched_name"]) == (200, '"v2"', NEW_NAME), out
    # the stale If-Match is refused, and the page can read the problem: CORS headers are on errors too
    assert out["stale"] == [412, "/problems/precondition-failed"], out
    token = httpx.post(api["api"] + "/v1/auth/token", data={"username": ADVISOR, "password": PASSWORD}).json()
    r = httpx.get(f"{api['api']}/v1/candidates/{out['id']}",
                  headers={"Authorization": f"Bearer {token['access_token']}"})
    assert r.json()["full_name"] == NEW_NAME and r.headers["etag"] == '"v2"'


def test_a_page_of_another_origin_is_blocked(api, browser):
    out = _run_page(browser, api["other"])
    assert out == {"error": "TypeError: Failed to fetch"}, out


def test_the_docs_page_renders_every_operation_from_the_services_own_assets(api, browser):
    """/docs loads Swagger UI from the service (this machine has no internet: a CDN would leave it blank)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    page = httpx.get(api["api"] + "/docs").text
    assert "https://" not in page and "/docs-assets/swagger-ui-bundle.js" in page
    browser.get(api["api"] + "/docs")  # type: ignore[attr-defined]
    blocks = WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock-summary")
                                              if len(d.find_elements(By.CSS_SELECTOR, ".opblock-summary")) > 50
                                              else None)
    ops = sum(len(item) for item in httpx.get(api["api"] + "/openapi.json").json()["paths"].values())
    assert len(blocks) >= ops - 5, (len(blocks), ops)  # every operation (HEAD/parameters entries aside)

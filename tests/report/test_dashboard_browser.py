"""End to end: the dashboard in headless Chromium (Debian's chromium and chromedriver, driven by Selenium)
follows a search that runs in another process while the test watches.

The screenshot is kept in $ARCHSCOUT_TEST_ARTIFACTS (default: test-artifacts/ at the repository root).
"""
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from archscout.report.dashboard import make_server
from archscout.storage import Storage

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("ARCHSCOUT_TEST_ARTIFACTS", ROOT / "test-artifacts"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


def _browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    if not CHROMIUM or not DRIVER:
        pytest.skip("Chromium and chromedriver are not installed (apt-get install chromium chromium-driver; "
                    ".ci/run installs them)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,2200", "--hide-scrollbars"):
        options.add_argument(arg)
    # an explicit driver: Selenium never looks for one on the internet
    return webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)


def _wait(predicate, timeout: float, what: str):
    end = time.time() + timeout
    while time.time() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _has_study(url: str, name: str) -> bool:
    try:
        store = Storage(url, create=False)  # never races the search to create the database
    except Exception:  # noqa: BLE001 - not there yet, or not yet a database
        return False
    try:
        return store.get_study(name) is not None
    except Exception:  # noqa: BLE001 - the schema is being created
        return False
    finally:
        store.dispose()


def _rows(driver) -> int:
    return len(driver.find_elements("css selector", "#trials tr")) - 1  # minus the heading


@pytest.mark.slow
def test_the_dashboard_follows_a_running_search_in_chromium(tmp_path):
    driver = _browser()
    db = f"sqlite:///{tmp_path / 'runs.db'}"
    # a lookup evaluator with a delay: a search that runs for about 20 s without loading the machine,
    # with failures and infeasible candidates among its trials
    search = subprocess.Popen(
        [sys.executable, "-m", "archscout.cli", "search", "--evaluator", "synthetic:delay=0.35,fail=0.1",
         "--space", "mlp", "--strategy", "nsga2", "--objectives", "accuracy:max,latency_ms:min",
         "--constraint", "params <= 40000", "--trials", "600", "--study", "live", "--storage", db, "--no-progress",
         "--max-failures", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    server = None
    try:
        _wait(lambda: _has_study(db, "live"), 60, "the search to create its study")
        server = make_server(db, port=0, refresh=0.5)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}"

        driver.get(base + "/")
        assert driver.find_element("link text", "live")
        driver.find_element("link text", "live").click()
        _wait(lambda: _rows(driver) >= 1, 60, "the first trials on the study page")
        driver.execute_script("window.__notReloaded = true;")
        seen = _rows(driver)
        # new trials appear while the search runs, swapped in without reloading the page
        _wait(lambda: _rows(driver) > seen + 3, 60, "more trials to appear live")
        assert driver.execute_script("return window.__notReloaded === true;")
        assert search.poll() is None, "the search should still be running"

        # the Pareto plot rendered: an SVG of real size, with the front drawn in it
        _wait(lambda: driver.find_elements("css selector", "#front svg"), 30, "the Pareto plot")
        box = driver.execute_script("const r = document.querySelector('#front svg').getBoundingClientRect();"
                                    "return [r.width, r.height];")
        assert box[0] > 300 and box[1] > 200, box
        # every complete trial is a point of the first panel: grey when dominated, red on the front (read in
        # one script, so both counts come from the same swap of the content)
        grey, red, complete = driver.execute_script(
            "const n = s => document.querySelectorAll(s).length;"
            "return [n('#front svg g[id=\"archscout-dominated-0\"] use'),"
            "        n('#front svg g[id=\"archscout-front-0\"] use'), n('#trials tr.complete')];")
        assert red >= 1 and grey + red == complete, (grey, red, complete)

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "dashboard-study.png"
        driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 20_000 and shot.read_bytes()[:4] == b"\x89PNG"

        # a trial's page: its architecture drawn and its metrics listed
        # the table is swapped in live while the search runs: find the link and click it in one script, so the
        # element clicked is never one a swap has just replaced
        number = driver.execute_script("const a = document.querySelector('#trials tr td a');"
                                       "a.click(); return a.textContent;").strip().lstrip("#")
        _wait(lambda: f"Trial #{number}" in driver.page_source, 30, "the trial page")
        assert driver.find_elements("css selector", "#drawing svg") and driver.find_elements("css selector",
                                                                                               "#metrics")
        driver.save_screenshot(str(ARTIFACTS / "dashboard-trial.png"))

        # unknown study: a 404 page that lists the studies
        driver.get(base + "/study/no-such-study")
        assert "no study named" in driver.page_source and driver.find_element("link text", "live")
    finally:
        driver.quit()
        if server is not None:
            server.shutdown()
            server.server_close()
        search.terminate()
        search.wait(timeout=30)

"""The dashboard in a real browser (headless Chromium): log in with a key, open a flagged
learner, see the playback timeline, confirm a flag, and find the review stored."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from learnguard.replay import replay, score_all
from learnguard.simulator.cohort import simulate_cohort

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists() or not Path(CHROMEDRIVER).exists():
        pytest.skip("Debian's chromium and chromium-driver are needed (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--window-size=1400,2200"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.mark.parametrize("backend", ["embedded"])
def test_a_supervisor_confirms_a_flag_in_the_dashboard(service, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    cohort = simulate_cohort(learners=40, seed=5)
    with service.client("admin") as http:
        replay(http, cohort)
        score_all(http, list(cohort.truth.sessions))
    key, _ = service.store.apikeys.create("supervisor", "zhejiang", "zhejiang office")
    wait = WebDriverWait(browser, 30)
    browser.get(f"{service.url}/dashboard")
    browser.find_element(By.ID, "key").send_keys(key)
    browser.find_element(By.ID, "login").click()
    first = wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, "#flagged tr.learner-row")))
    learner = first.get_attribute("data-learner")
    first.click()
    wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#timeline .main-svg")))
    wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#trend .main-svg")))
    box = browser.find_element(By.CSS_SELECTOR, "#flags .flag")
    flag_id = box.get_attribute("data-flag")
    box.find_element(By.CSS_SELECTOR, ".review-note").send_keys("timeline shows a straight line")
    box.find_element(By.CSS_SELECTOR, ".confirm").click()
    wait.until(lambda d: "confirmed" in d.find_element(By.CSS_SELECTOR, "#flags .flag .flag-status").text)
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "dashboard.png"))
    stored = httpx.get(f"{service.url}/v1/flags/{flag_id}", headers={"Authorization": f"Bearer {key}"}).json()
    assert stored["status"] == "confirmed" and stored["learner_id"] == learner
    assert stored["reviews"][-1]["by"] == "zhejiang office"
    assert stored["reviews"][-1]["note"] == "timeline shows a straight line"
    browser.find_element(By.ID, "lang").click()
    assert browser.find_element(By.CSS_SELECTOR, "[data-i18n=flagged]").text == "Flagged learners"

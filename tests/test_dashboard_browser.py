"""The dashboard in a real browser (headless Chromium): log in with a key, open a flagged
learner, see the playback timeline, confirm a flag, and find the review stored."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from learnguard.replay import replay, score_all
from learnguard.simulator.cohort import simulate_cohort

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


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


DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.parametrize("backend", ["embedded"])
def test_an_office_works_through_its_day_in_the_dashboard(service, browser, tmp_path) -> None:
    """Search a learner and see their courses, page through the list, open a row with the
    keyboard, rule a selection at once, drill into a unit and back up, export, read titled
    charts, and use it all on a 390 px phone."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    cohort = simulate_cohort(learners=40, seed=5)
    with service.client("admin") as http:
        replay(http, cohort)
        score_all(http, list(cohort.truth.sessions))
        total = len(http.get("/v1/reports/flagged", params={"limit": 1000}).json()["items"])
    key, _ = service.store.apikeys.create("supervisor", "zhejiang", "zhejiang office")
    from selenium.common.exceptions import StaleElementReferenceException

    browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    wait = WebDriverWait(browser, 30, ignored_exceptions=(StaleElementReferenceException,))  # lists re-render
    browser.get(f"{service.url}/dashboard?page_size=5")
    browser.find_element(By.ID, "key").send_keys(key)
    browser.find_element(By.ID, "login").click()
    wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, "#flagged tr.learner-row")))
    wait.until(lambda d: not d.find_element(By.ID, "loading").is_displayed())
    # cursor pagination: five at a time until the service says there is no more
    assert len(browser.find_elements(By.CSS_SELECTOR, "#flagged tr.learner-row")) == 5
    while browser.find_element(By.ID, "more").is_displayed():
        shown = len(browser.find_elements(By.CSS_SELECTOR, "#flagged tr.learner-row"))
        browser.find_element(By.ID, "more").click()
        wait.until(lambda d, n=shown: len(d.find_elements(By.CSS_SELECTOR, "#flagged tr.learner-row")) > n)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#flagged tr.learner-row")) == total
    # titled charts with titled axes
    wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#trend .gtitle")))
    assert "%" not in browser.find_element(By.CSS_SELECTOR, "#trend .gtitle").text
    assert browser.find_element(By.CSS_SELECTOR, "#trend .gtitle").text.startswith("每日违规会话占比")
    # the keyboard opens a learner; a selection is ruled at once
    row = next(r for r in browser.find_elements(By.CSS_SELECTOR, "#flagged tr.learner-row")
               if "脚本刷课" in r.text or "账号共用" in r.text)
    row.send_keys(Keys.ENTER)
    wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#timeline .gtitle")))
    boxes = browser.find_elements(By.CSS_SELECTOR, "#flags .flag")
    for box in boxes:
        box.find_element(By.CSS_SELECTOR, ".pick").click()
    browser.find_element(By.ID, "bulk-dismiss").click()
    wait.until(lambda d: all("dismissed" in b.find_element(By.CSS_SELECTOR, ".flag-status").text
                             for b in d.find_elements(By.CSS_SELECTOR, "#flags .flag")))
    for box in boxes:
        stored = httpx.get(f"{service.url}/v1/flags/{box.get_attribute('data-flag')}",
                           headers={"Authorization": f"Bearer {key}"}).json()
        assert stored["status"] == "dismissed" and stored["reviews"][-1]["by"] == "zhejiang office"
    # search a learner: their history across courses
    learner = next(iter(cohort.truth.learners))
    browser.find_element(By.ID, "search").send_keys(learner, Keys.ENTER)
    wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#history-table tr.history-row")))
    assert cohort.course_id in browser.find_element(By.ID, "history-table").text
    # drill down into a unit and roll back up
    first_unit = wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, "#orgs tr.org-row")))
    unit = first_unit.get_attribute("data-org")
    first_unit.click()
    wait.until(lambda d: d.find_element(By.ID, "f-org").get_attribute("value") == unit)
    wait.until(lambda d: all(r.get_attribute("data-org").startswith(unit)
                             for r in d.find_elements(By.CSS_SELECTOR, "#orgs tr.org-row")))
    for r in browser.find_elements(By.CSS_SELECTOR, "#flagged tr.learner-row"):
        assert r.find_elements(By.TAG_NAME, "td")[1].text.startswith(unit)
    browser.find_element(By.ID, "rollup").click()
    wait.until(lambda d: d.find_element(By.ID, "f-org").get_attribute("value") == unit.rsplit("/", 1)[0])
    # export the list and the ranking
    browser.find_element(By.ID, "export-csv").click()
    browser.find_element(By.ID, "orgs-xlsx").click()
    WebDriverWait(browser, 20).until(
        lambda _: (tmp_path / "flagged.csv").exists() and (tmp_path / "ranking.xlsx").exists())
    assert (tmp_path / "flagged.csv").read_bytes().startswith("\ufeff".encode())
    assert (tmp_path / "ranking.xlsx").read_bytes()[:2] == b"PK"  # a zip: an Excel workbook
    # the early warning for a day inside the course: the page shows what the API says
    day = (datetime.fromisoformat(cohort.course["opens_at"]) + timedelta(days=7)).strftime("%Y-%m-%d")
    browser.execute_script(f"document.getElementById('f-asof').value = '{day}'")
    browser.find_element(By.ID, "f-org").clear()
    browser.find_element(By.ID, "risk-go").click()
    expected = httpx.get(f"{service.url}/v1/reports/at-risk", params={"as_of": f"{day}T00:00:00+08:00", "limit": 200},
                         headers={"Authorization": f"Bearer {key}"}).json()["items"]
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#at-risk td.warning")) == len(expected)
               and len(d.find_elements(By.CSS_SELECTOR, "#at-risk tbody tr")) >= 1)
    DOCS.mkdir(exist_ok=True)
    browser.save_screenshot(str(DOCS / "dashboard-office.png"))
    # a phone: nothing spills sideways, tables scroll inside their box
    browser.set_window_size(390, 844)
    browser.refresh()
    wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, "#flagged tr.learner-row")))
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
    browser.save_screenshot(str(DOCS / "dashboard-390px.png"))

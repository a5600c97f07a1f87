"""The server's page in a real browser (headless Chromium): a typed sentence is translated, the
n-best list and the attention heatmap appear, and pointing at a word of the translation
highlights the source word it attends to most."""

import signal
import tempfile

import pytest

from tests.conftest import load_page_driver

pytest.importorskip("uvicorn", reason="the serve extra (fastapi, uvicorn) is not installed: pip install -e '.[serve]'")

pytestmark = pytest.mark.slow


page = load_page_driver()


@pytest.fixture(scope="module")
def driver_and_url(demo_run):
    reason = page.missing()
    if reason:
        pytest.skip(f"no browser to test the page in: {reason}")
    process, url = page.serve(demo_run / "run")
    try:
        with tempfile.TemporaryDirectory() as profile:
            driver = page.browser(profile)
            try:
                yield driver, url
            finally:
                driver.quit()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)


def test_the_page_translates_and_draws_the_attention(driver_and_url, tmp_path):
    import httpx2 as httpx
    from selenium.webdriver.common.by import By

    driver, url = driver_and_url
    sentence = "The big dog sees a small cat."
    page.translate_on_page(driver, url, sentence, word=1)
    expected = httpx.post(url + "translate", json={"text": [sentence], "nbest": 5, "attention": True},
                          timeout=60).json()["translations"][0]
    assert [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#output li")] == [expected["text"]]
    nbest = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#nbest-list li")]
    assert nbest == [f"{o['score']:.4f}{o['text']}" for o in expected["nbest"]]
    rows = driver.find_elements(By.CSS_SELECTOR, ".heatmap tbody tr")
    [attention] = expected["attention"]  # one sentence, one block
    assert len(rows) == len(attention["target"])
    assert all(len(row.find_elements(By.TAG_NAME, "td")) == len(attention["source"]) for row in rows)
    pointed = driver.find_elements(By.CSS_SELECTOR, ".target-words .word.pointed")
    aligned = driver.find_elements(By.CSS_SELECTOR, ".source-words .word.aligned")
    assert len(pointed) == 1 and len(aligned) == 1
    assert aligned[0].text in sentence
    assert driver.find_elements(By.CSS_SELECTOR, ".heatmap thead th.aligned")
    driver.save_screenshot(str(tmp_path / "page.png"))
    assert (tmp_path / "page.png").stat().st_size > 10_000


def test_a_paragraph_gets_a_block_per_sentence(driver_and_url):
    from selenium.webdriver.common.by import By

    driver, url = driver_and_url
    page.translate_on_page(driver, url, "The big dog sees a small cat. The cat runs.")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#attention .block")) == 2
    assert len(driver.find_elements(By.CSS_SELECTOR, "#output li")) == 1


def test_the_page_shows_the_servers_message_for_a_bad_request(driver_and_url):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver, url = driver_and_url
    driver.get(url)
    WebDriverWait(driver, 60).until(lambda d: d.find_element(By.ID, "beam").get_attribute("value"))
    driver.find_element(By.ID, "beam").clear()
    driver.find_element(By.ID, "beam").send_keys("999")
    driver.find_element(By.ID, "source").send_keys("The dog runs.")
    driver.find_element(By.ID, "translate").click()
    WebDriverWait(driver, 60).until(lambda d: "beam" in d.find_element(By.ID, "status").text)
    assert "error" in driver.find_element(By.ID, "status").get_attribute("class")

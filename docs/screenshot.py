"""Drives the server's page in headless Chromium: types lines, translates, points at a word of
the translation, and saves a screenshot (the one in docs/serving.md). tests/test_page.py and
tests/test_serve.py use the same functions (`serve` starts the server).

    .venv/bin/python docs/screenshot.py -m runs/multi30k_de_en --text "Ein Hund rennt durch den Schnee." -o docs/serve.png

Needs Debian's chromium and chromium-driver (`apt-get install chromium chromium-driver`) and
selenium (a dev dependency).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# Headless, as root, on a machine without network: no sandbox, no background connections.
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,1000")


def missing() -> str | None:
    """Why the page cannot be driven here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(path):
            return f"{path} is not installed (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    return None


def browser(profile: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + (f"--user-data-dir={profile}",):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def serve(model: str | Path, *options: str, stderr=subprocess.DEVNULL) -> tuple[subprocess.Popen, str]:
    """`s2s serve -m MODEL OPTIONS` on a free port of 127.0.0.1, once it answers; returns
    (process, URL ending in /)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "s2s", "serve", "-m", str(model), "--port", str(port),
                                *options], stderr=stderr, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            said = process.stderr.read() if stderr == subprocess.PIPE else ""
            raise RuntimeError(f"s2s serve -m {model} exited with status {process.returncode}: {said}")
        try:
            urllib.request.urlopen(url + "health", timeout=1)
            return process, url
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("s2s serve did not answer within 120 s")


def translate_on_page(driver, url: str, text: str, word: int = 0, wait: float = 60.0):
    """Loads the page, translates `text` and points at word `word` of the translation."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, wait).until(lambda d: d.find_element(By.ID, "beam").get_attribute("value"))
    box = driver.find_element(By.ID, "source")
    box.clear()
    box.send_keys(text)
    driver.find_element(By.ID, "translate").click()
    WebDriverWait(driver, wait).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".heatmap td")))
    words = driver.find_elements(By.CSS_SELECTOR, ".target-words .word")
    if words:
        ActionChains(driver).move_to_element(words[min(word, len(words) - 1)]).perform()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--model", required=True)
    parser.add_argument("--text", required=True, help="What to type into the page (\\n between lines).")
    parser.add_argument("--word", type=int, default=0, help="Which word of the translation to point at.")
    parser.add_argument("-o", "--output", default="docs/serve.png")
    args = parser.parse_args()
    reason = missing()
    if reason:
        sys.exit(f"cannot drive the page: {reason}")
    process, url = serve(args.model)
    try:
        with tempfile.TemporaryDirectory() as profile:
            driver = browser(profile)
            try:
                translate_on_page(driver, url, args.text.replace("\\n", "\n"), args.word)
                driver.save_screenshot(args.output)
            finally:
                driver.quit()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()

"""The app in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright.

The page loads, a lecture example runs a comparison with one click, both answers and both attention heatmaps
appear, the layer selector redraws a map, the PNG button offers a file, typed right-to-left/emoji input works,
and the page makes no request outside 127.0.0.1. Playwright never downloads a browser here: it drives
/usr/bin/chromium, which ``make setup`` installs (``apt-get install -y chromium``).

Also a script, for the README's screenshot with real run folders:

    python tests/test_app_browser.py --runs runs --out docs/app.png
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting'"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]


def launch_chromium(playwright):
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is missing ({CHROMIUM}): the browser test needs Debian's chromium package; "
                    "run `make setup` (or `apt-get install -y chromium`)", pytrace=False)
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)


def wait_for_answer(page, task: str, previous: str = "", timeout: float = 120_000) -> str:
    """The status line once the comparison has answered (it lists each model's time in ms, or a warning) and
    differs from ``previous``."""
    page.wait_for_function(
        "([t, before]) => { const s = document.querySelector(`#${t}-status`);"
        " const text = s ? s.innerText : '';"
        " return /\\d+ ms|⚠️/.test(text) && !/processing|queue:|\\d\\.\\ds\\b/.test(text) && text !== before; }",
        arg=[task, previous], timeout=timeout)
    return page.locator(f"#{task}-status").inner_text()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, tokenizer):
    from hf_rnn.app.service import AppService
    from hf_rnn.app.testing import make_tiny_llm, make_tiny_runs, serve

    root = tmp_path_factory.mktemp("browser")
    runs = make_tiny_runs(root / "runs", tokenizer, llm_runs=False)
    llm = make_tiny_llm(root / "llm", tokenizer)
    service = AppService(runs, llm=llm, max_new_tokens=8)
    with serve(service) as url:
        yield url
    service.close()


def test_page_compares_two_models_with_both_heatmaps(app_url, tmp_path):
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("request", lambda r: None if r.url.startswith(("http://127.0.0.1", "data:", "blob:"))
                else outside.append(r.url))
        page.goto(app_url)
        page.wait_for_selector("#sentiment-compare", timeout=60_000)
        assert "RNNs and a small LLM" in page.content()

        # one click on a lecture example fills the input and runs the comparison
        page.locator("#tab-sentiment").get_by_text("Good, cheap food!", exact=True).first.click()
        status = wait_for_answer(page, "sentiment")
        assert "ms" in status and "⚠️" not in status
        assert page.locator("#sentiment-input textarea").input_value() == "Good, cheap food!"
        for side in ("a", "b"):
            answer = page.locator(f"#sentiment-out-{side}").inner_text()
            assert re.search(r"negative|positive", answer), answer
            heat = page.locator(f"#sentiment-heat-{side}")
            assert heat.locator("table td").count() > 0
            assert "Good" in heat.inner_text()  # tokens label the axes
        assert "pooling" in page.locator("#sentiment-heat-a").inner_text()
        assert "self-attention" in page.locator("#sentiment-heat-b").inner_text()

        # a layer of the LLM instead of the mean
        page.locator("#sentiment-layer-b input").click()
        page.get_by_role("option", name="layer 1", exact=True).click()
        page.wait_for_function("() => document.querySelector('#sentiment-heat-b').innerText.includes('layer 1')",
                               timeout=30_000)

        # the PNG of a heatmap
        page.locator("#sentiment-png-b").click()
        link = page.locator("#sentiment-file-b a").first
        link.wait_for(timeout=60_000)
        assert ".png" in (link.get_attribute("href") or "") + link.inner_text()

        # typed input in another script, with emoji
        page.locator("#sentiment-input textarea").fill("אני אוהב תפוחים 🍎 أحب")
        page.locator("#sentiment-compare").click()
        page.wait_for_function("() => document.querySelector('#sentiment-heat-b').innerText.includes('🍎')",
                               timeout=60_000)
        assert "⚠️" not in wait_for_answer(page, "sentiment", previous=status)

        # an empty input is a message, not an error page
        page.locator("#sentiment-input textarea").fill("")
        page.locator("#sentiment-compare").click()
        page.wait_for_function("() => document.querySelector('#sentiment-status').innerText.includes('empty')",
                               timeout=60_000)
        assert "Traceback" not in page.content()

        # another tab: translation, with the RNN's alignment and the LLM's self-attention
        page.get_by_role("tab", name="Translation").click()
        page.locator("#translation-input textarea").fill("Do you have a pet?")
        page.locator("#translation-compare").click()
        wait_for_answer(page, "translation")
        assert "encoder-decoder alignment" in page.locator("#translation-heat-a").inner_text()
        assert page.locator("#translation-heat-b table td").count() > 0

        page.get_by_role("tab", name="Sentiment").click()
        shot = tmp_path / "app.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.read_bytes()[:4] == b"\x89PNG" and shot.stat().st_size > 30_000
    assert not outside, f"the page asked for outside addresses: {outside}"


# --------------------------------------------------------------------------------------------------------------
# The README's screenshot (real run folders, the built-in SmolLM2)
# --------------------------------------------------------------------------------------------------------------


def screenshot(runs: str, out: str, text: str = "Good, cheap food!", width: int = 1400) -> Path:
    """Serve the app on ``runs`` with the built-in LLM, compare on ``text`` and save a screenshot."""
    import torch
    from playwright.sync_api import sync_playwright

    from hf_rnn.app.service import AppService
    from hf_rnn.app.testing import serve

    torch.set_num_threads(1)  # as `hf-rnn app` runs, so the timings in the page are the app's
    service = AppService(runs)
    service.warm_up("sentiment")
    out_path = Path(out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with serve(service) as url, sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": width, "height": 1000}, device_scale_factor=1)
        page.goto(url)
        page.wait_for_selector("#sentiment-compare", timeout=60_000)
        page.locator("#sentiment-input textarea").fill(text)
        page.locator("#sentiment-compare").click()
        wait_for_answer(page, "sentiment")
        page.wait_for_timeout(800)
        page.screenshot(path=str(out_path), full_page=True)
        browser.close()
    service.close()
    return out_path


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Screenshot of the app for the README")
    parser.add_argument("--runs", default="runs")
    parser.add_argument("--out", default="docs/app.png")
    parser.add_argument("--text", default="Good, cheap food!")
    parser.add_argument("--width", type=int, default=1400)
    a = parser.parse_args()
    print(screenshot(a.runs, a.out, a.text, a.width))
    sys.exit(0)

"""Ten browser sessions at once on one server, each building and running its own task.

Eight sample a task each (a different seed per session); two upload their own classes and
queries. Every session's predictions must equal what the library computes for that session's
task in this process, no session may show another's classes, and the server must stay up.
The time each session took goes to test-artifacts/load_times.json.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
import time

import pytest

from e2e_support import ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS, LOAD_TIMEOUT_MS, MEDIA_ERRORS, STEP_TIMEOUT_MS, VIEWPORT, bars

pytestmark = pytest.mark.e2e

SESSIONS = 10
UPLOADERS = {  # session -> (class -> image seeds, vertical?), query seeds per class
    8: {"u8-pipes": (range(0, 3), True), "u8-dashes": (range(10, 13), False)},
    9: {"u9-stems": (range(20, 23), True), "u9-floors": (range(30, 33), False), "u9-poles": (range(40, 43), True)},
}
QUERY_SEEDS = {8: [(50, True), (51, False)], 9: [(60, False), (61, True), (62, False)]}
SAMPLE_SEED = 100  # session i samples task 0 of seed SAMPLE_SEED + i (5-way 5-shot, 3 queries per class)


def upload_files(session: int):
    classes = {name: [(f"{name}-{s}.png", bars(s, vertical)) for s in seeds] for name, (seeds, vertical) in UPLOADERS[session].items()}
    queries = [(f"q{session}-{s}.png", bars(s, vertical)) for s, vertical in QUERY_SEEDS[session]]
    return classes, queries


def expected_predictions(model_folder) -> dict[int, list[str]]:
    """What the library predicts for each session's task, computed here, not by the server."""
    from paramembed.app.display import short_labels
    from paramembed.data.registry import get_dataset
    from paramembed.zoo import load_model
    from paramembed.tasks import TaskDraft, sample_task, solve

    model = load_model(str(model_folder))
    spec = model.config.input
    source = "procedural" if spec.channels == 1 else "procedural-photo"
    dataset = get_dataset(source, "test", spec)
    expected = {}
    for i in range(SESSIONS):
        sampled = i not in UPLOADERS
        if not sampled:
            classes, queries = upload_files(i)
            draft = TaskDraft()
            for name, files in classes.items():
                draft.add_class(name)
                assert not draft.add_files(name, files)
            assert not draft.add_query_files(queries)
            task = draft.build()
        else:
            task = sample_task(dataset, 5, 5, 3, False, SAMPLE_SEED + i, 0)
        result = solve(model, task, None)  # None: the model's own generator, the page's default method
        names = short_labels(task.class_names, sampled)  # the page shows "Class A..." for sampled tasks
        expected[i] = [names[p] for p in result.predictions]
    return expected


class Session:
    """One user: a browser context, the few app actions the load test needs, async."""

    def __init__(self, page, url: str):
        self.page, self.url, self.errors = page, url, []
        page.on("console", lambda m: m.type == "error" and not (m.text.startswith(MEDIA_ERRORS)) and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))

    async def idle(self):
        await self.page.wait_for_timeout(300)
        await self.page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=STEP_TIMEOUT_MS)

    async def wait_text(self, text, timeout_ms=STEP_TIMEOUT_MS):
        await self.page.get_by_text(text).first.wait_for(timeout=timeout_ms)

    async def predictions(self) -> list[str]:
        await self.idle()
        # The cards are one st.html block (paramembed.app.cards), drawn once its lazily loaded component is.
        await self.page.locator('[data-testid="stMain"] .pe-cards').first.wait_for(state="attached", timeout=STEP_TIMEOUT_MS)
        texts = await self.page.locator('[data-testid="stMain"] .pe-verdict p').filter(has_text="Predicted: ").all_inner_texts()
        return [t.split("Predicted: ", 1)[1].split("\n")[0].strip() for t in texts]

    async def sample(self, seed: int):
        await self.page.goto(self.url)
        await self.wait_text("Task: 5-way 5-shot", LOAD_TIMEOUT_MS)
        field = self.page.get_by_label("Seed", exact=True)
        await field.fill(str(seed))
        await field.press("Enter")
        await self.wait_text(f"Task #0 of seed {seed}")
        await self.wait_text("Task accuracy")

    async def upload(self, session: int):
        classes, queries = upload_files(session)
        await self.page.goto(self.url)
        await self.wait_text("Task: 5-way", LOAD_TIMEOUT_MS)
        await self.page.locator('[data-testid="stRadio"] label').filter(has_text="Upload").first.click()
        await self.idle()
        for name, files in classes.items():
            await self.page.get_by_label("New class name").fill(name)
            await self.page.get_by_label("New class name").press("Enter")
            await self.idle()
            await self.page.get_by_role("button", name="Add class").click()
            await self.wait_text(f"Added class '{name}'.")
            await self._give(f"Images for class '{name}'", files)
            await self.wait_text(f"Added {len(files)} images to '{name}'.")
        await self._give("Query images", queries)
        shots = len(next(iter(classes.values())))
        await self.wait_text(f"Task: {len(classes)}-way {shots}-shot, {len(queries)} queries (0 labelled)")
        await self.wait_text("Task accuracy")

    async def _give(self, label: str, files):
        uploader = self.page.locator('[data-testid="stFileUploader"]').filter(has=self.page.get_by_text(label, exact=True)).first
        await uploader.locator('input[type="file"]').set_input_files([{"name": n, "mimeType": "image/png", "buffer": b} for n, b in files])
        await self.idle()


async def run_sessions(url: str) -> dict[int, dict]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)

        async def one(i: int) -> dict:
            context = await browser.new_context(viewport=VIEWPORT)
            context.set_default_timeout(LOAD_TIMEOUT_MS)
            session = Session(await context.new_page(), url)
            start = time.perf_counter()
            try:
                await (session.upload(i) if i in UPLOADERS else session.sample(SAMPLE_SEED + i))
                seconds = time.perf_counter() - start
                text = await session.page.locator('[data-testid="stMain"]').inner_text()
                predictions = await session.predictions()
                exceptions = await session.page.locator('[data-testid="stException"]').count()
                await session.page.wait_for_load_state("networkidle")
                broken = await session.page.evaluate(
                    "() => [...document.querySelectorAll('img')].filter(i => i.complete && i.naturalWidth === 0 && i.src).map(i => i.src)")
                session.errors += [f"broken image in the page: {src}" for src in broken]
                await session.page.screenshot(path=str(ARTIFACTS / f"load_session_{i}.png"))
                return {"seconds": round(seconds, 2), "predictions": predictions, "text": text,
                        "errors": session.errors, "exceptions": exceptions}
            except Exception as err:  # reported per session below, with the others' results
                await session.page.screenshot(path=str(ARTIFACTS / f"load_session_{i}.png"))
                return {"seconds": round(time.perf_counter() - start, 2), "failure": f"{type(err).__name__}: {err}"[:1500]}
            finally:
                await context.close()

        results = await asyncio.gather(*(one(i) for i in range(SESSIONS)))
        await browser.close()
    return dict(enumerate(results))


def test_ten_sessions_at_once_each_get_their_own_predictions(server):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    expected = expected_predictions(server.default_model)
    start = time.perf_counter()
    # In a thread of its own: the session-wide sync Playwright browser keeps an event loop running
    # in this one, and asyncio.run refuses to start inside a running loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        results = pool.submit(asyncio.run, run_sessions(server.url)).result()
    wall = time.perf_counter() - start

    times = {f"session {i}" + (" (upload)" if i in UPLOADERS else f" (sample seed {SAMPLE_SEED + i})"): r["seconds"]
             for i, r in results.items()}
    record = {"sessions": SESSIONS, "wall_seconds": round(wall, 2), "per_session_seconds": times,
              "server": server.url}
    (ARTIFACTS.parent / "load_times.json").write_text(json.dumps(record, indent=2))
    print("\n" + json.dumps(record, indent=2))

    failures = {i: r["failure"] for i, r in results.items() if "failure" in r}
    assert not failures, failures
    assert server.alive(), "the server went down under ten sessions"
    uploaded_names = {i: set(UPLOADERS[i]) for i in UPLOADERS}
    for i, r in results.items():
        assert not r["errors"] and not r["exceptions"], (i, r["errors"], r["exceptions"])
        assert "Traceback" not in r["text"], (i, r["text"][:2000])
        assert r["predictions"] == expected[i], f"session {i}: page {r['predictions']} != library {expected[i]}"
        others = set().union(*(names for j, names in uploaded_names.items() if j != i))
        seen = [name for name in others if re.search(re.escape(name), r["text"])]
        assert not seen, f"session {i} shows another session's classes: {seen}"
        if i not in UPLOADERS:
            assert f"Task #0 of seed {SAMPLE_SEED + i}" in r["text"]

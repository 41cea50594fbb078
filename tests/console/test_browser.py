"""The console in Debian's Chromium (Playwright, headless), against a running gateway
fed real Telegram update shapes: log in, see an escalation arrive live, claim it,
reply, hand back; resident HTML shown as text; the supervisor's charts; one console
served by two gateway processes through Redis; and the residents' web chat page.

Screenshots go to test-artifacts/console/. Every request the browser makes is checked
to stay on 127.0.0.1 (anything else is aborted and fails the test).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from db.gateway import Conversation
from tests.console.conftest import PASSWORD
from tests.console.fake_rasa import FakeRasa
from tests.console.harness import Gateway, start_gateway
from tests.console.test_api import escalate
from tests.fakes.telegram import (
    FakeTelegram,
    location_update,
    photo_update,
    text_update,
)

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LIVE_TIMEOUT_MS = 10_000
CHAT = 880001
CID = f"telegram:{CHAT}"


@pytest.fixture(scope="session")
async def browser(chromium_path: str) -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, once per run."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        await browser.close()


class Guarded:
    """A browser context whose requests must all stay on 127.0.0.1."""

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.foreign: list[str] = []
        self.console_errors: list[str] = []

    async def page(self) -> Page:
        """Open a page that records console errors (CSP violations among them)."""
        page = await self.context.new_page()
        page.on(
            "console",
            lambda m: self.console_errors.append(m.text) if m.type == "error" else None,
        )
        return page


@pytest.fixture
async def guarded(browser: Browser) -> AsyncIterator[Any]:
    """Return a factory of guarded contexts, closed after the test."""
    contexts: list[Guarded] = []

    async def make() -> Guarded:
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        guard = Guarded(context)

        async def route(route: Any) -> None:
            host = urlsplit(route.request.url).hostname
            if host != "127.0.0.1":
                guard.foreign.append(route.request.url)
                await route.abort()
                return
            await route.continue_()

        await context.route("**/*", route)
        contexts.append(guard)
        return guard

    yield make
    for guard in contexts:
        await guard.context.close()
        assert guard.foreign == [], f"The console tried to reach {guard.foreign}"


async def login(page: Page, gateway: Gateway, username: str) -> None:
    """Log in through the form and wait until the live socket is up."""
    await page.goto(f"{gateway.console_url}login")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("#login-button")
    await page.wait_for_selector("#whoami")
    await page.wait_for_selector("body[data-live='1']", timeout=LIVE_TIMEOUT_MS)


def item(cid: str) -> str:
    """The queue entry of a conversation."""
    return f"li.item[data-conversation='{cid}']"


async def shot(page: Page, name: str) -> None:
    """Save a full-page screenshot as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def test_agent_takes_over_a_telegram_chat_and_hands_it_back(
    gateway: Gateway,
    guarded: Any,
    fake_telegram: FakeTelegram,
    fake_rasa: FakeRasa,
) -> None:
    guard = await guarded()
    page = await guard.page()
    await login(page, gateway, "ani")
    cookies = {c["name"]: c for c in await guard.context.cookies()}
    assert cookies["padang_console"]["httpOnly"] is True
    assert cookies["padang_console"]["sameSite"] == "Strict"

    # The escalation shows up in the queue live, without reloading the page.
    await escalate(gateway)
    await page.wait_for_selector(item(CID), timeout=LIVE_TIMEOUT_MS)
    assert "warga minta petugas" in await page.inner_text(item(CID))
    await shot(page, "01-queue")

    await page.click(item(CID))
    await page.click("#claim-button")
    await page.wait_for_selector("#reply-form:not([hidden])")
    transcript = await page.inner_text("#transcript")
    assert "saya mau bicara dengan petugas" in transcript
    assert "Baik, saya hubungkan ke petugas." in transcript  # the bot's turn

    # The resident's photo and location arrive live; the bot stays silent.
    asked = len(fake_rasa.messages)
    await gateway.post_update(photo_update(3, chat_id=CHAT, caption="jalan berlubang"))
    await gateway.post_update(
        location_update(4, chat_id=CHAT, latitude=-0.914, longitude=100.461)
    )
    await page.wait_for_selector("a.location", timeout=LIVE_TIMEOUT_MS)
    await page.wait_for_selector("a.photo img.thumb", timeout=LIVE_TIMEOUT_MS)
    location = page.locator("a.location")
    assert "-0.914000, 100.461000" in await location.inner_text()
    assert (await location.get_attribute("href")).startswith(
        "https://www.openstreetmap.org/?mlat=-0.914000&mlon=100.461000"
    )
    photo = await page.get_attribute("a.photo", "href")
    assert photo.startswith("media/")
    fetched = await page.request.get(f"{gateway.console_url}{photo}")
    assert fetched.status == 200
    assert fetched.headers["content-type"] == "image/jpeg"
    assert len(fake_rasa.messages) == asked

    # A canned Minang reply, edited, goes out through the outbox to Telegram.
    await page.select_option("#canned-select", label="Mohon tunggu")
    assert await page.input_value("#reply-text") != ""
    await page.fill("#reply-text", "Salamaik siang, ambo Ani. Foto alah ambo tarimo.")
    await page.click("#reply-button")
    await fake_telegram.wait_for("sendMessage", count=3)
    await gateway.settle()
    assert "Salamaik siang, ambo Ani. Foto alah ambo tarimo." in (
        fake_telegram.sent_texts(CHAT)
    )
    agent_turn = page.locator("li.msg.author-agent").last
    await agent_turn.locator(".delivery.state-sent").wait_for(timeout=LIVE_TIMEOUT_MS)

    await page.fill("#note-text", "Foto jalan diteruskan ke Dinas PU.")
    await page.click("#note-button")
    await page.wait_for_selector("#notes-list li.note")
    await shot(page, "02-conversation")

    await page.click("#handback-button")
    await page.wait_for_selector("#reply-form[hidden]", state="attached")
    assert (CID, {"event": "resume"}) in fake_rasa.events

    # The bot answers the resident's next message again, and the page shows it live.
    await gateway.post_update(text_update(5, chat_id=CHAT, text="jam buka kantor?"))
    await gateway.settle()
    assert "Bot: jam buka kantor?" in fake_telegram.sent_texts(CHAT)
    await page.wait_for_selector(
        "li.msg.author-bot >> text=Bot: jam buka kantor?", timeout=LIVE_TIMEOUT_MS
    )
    await shot(page, "03-handed-back")
    assert not [e for e in guard.console_errors if "Content Security Policy" in e]


async def test_an_emergency_flag_alerts_the_agents(
    gateway: Gateway, guarded: Any
) -> None:
    await gateway.post_update(text_update(1, chat_id=CHAT, text="halo"))
    await gateway.settle()
    guard = await guarded()
    page = await guard.page()
    await login(page, gateway, "ani")

    # What the router publishes when Rasa answers with {"flag": {"reason": ...}}.
    await gateway.pipeline.events.publish(
        {"type": "flag", "conversation_id": CID, "reason": "emergency"}
    )

    alert = page.locator(f"#alerts li[data-conversation='{CID}']")
    await alert.wait_for(timeout=LIVE_TIMEOUT_MS)
    assert "DARURAT" in await alert.inner_text()


XSS_TEXTS = [
    "<script>window.__xss = 1</script>",
    '<img src=x onerror="window.__xss = 2">',
]


async def test_resident_html_is_shown_as_text(
    gateway: Gateway, guarded: Any, fake_telegram: FakeTelegram
) -> None:
    await escalate(gateway)
    for offset, text in enumerate(XSS_TEXTS):
        await gateway.post_update(text_update(10 + offset, chat_id=CHAT, text=text))
    await gateway.settle()
    guard = await guarded()
    page = await guard.page()
    await login(page, gateway, "ani")

    await page.click(item(CID))
    await page.wait_for_selector("#transcript li.msg")
    await page.wait_for_function(
        "document.querySelector('#transcript').innerText.includes('onerror')"
    )
    transcript = await page.inner_text("#transcript")
    await shot(page, "04-xss-as-text")

    for text in XSS_TEXTS:
        assert text in transcript
    assert await page.evaluate("window.__xss") is None
    assert await page.locator("#transcript img[src='x']").count() == 0
    assert await page.locator("#transcript script").count() == 0


async def test_supervisor_sees_queue_and_complaint_charts(
    gateway: Gateway, guarded: Any, engine: Any
) -> None:
    from tests.console.test_api import _add_complaint

    _add_complaint(engine, sender_id=None)
    await escalate(gateway)
    await escalate(gateway, 880002, first=20)
    guard = await guarded()
    page = await guard.page()
    await login(page, gateway, "sari")

    await page.click("#nav-supervisor")
    await page.wait_for_selector("#chart-kecamatan svg rect")
    assert await page.inner_text("#fig-queue") == "2"
    assert await page.locator("#chart-waits svg rect").count() == 2
    assert "Kuranji" in await page.inner_text("#chart-kecamatan")
    assert "jalan_rusak" in await page.inner_text("#chart-categories")
    await page.wait_for_selector("#audit-rows tr")
    await shot(page, "05-supervisor")

    agent = await guard.page()
    await login(agent, gateway, "ani")
    assert await agent.locator("#nav-supervisor").count() == 0


async def test_complaint_status_change_from_the_page(
    gateway: Gateway, guarded: Any, engine: Any, fake_telegram: FakeTelegram
) -> None:
    from tests.console.test_api import _add_complaint

    await gateway.post_update(text_update(1, chat_id=CHAT, text="halo"))
    await gateway.settle()
    _add_complaint(engine, sender_id=CID)
    guard = await guarded()
    page = await guard.page()
    await login(page, gateway, "budi")

    await page.click("#nav-complaints")
    await page.wait_for_selector(
        "#filter-kecamatan option[value='Kuranji']", state="attached"
    )
    async with page.expect_response(lambda r: "kecamatan=Kuranji" in r.url):
        await page.select_option("#filter-kecamatan", "Kuranji")
    row = page.locator("tr[data-ticket='ADU-2026-900001']")
    await row.wait_for()
    assert "<b>di jalan</b>" in await row.inner_text()  # shown as text
    await row.locator(".status-select").select_option("selesai")
    await row.locator(".status-note").fill("Sudah ditambal.")
    await row.locator("button").click()
    await page.wait_for_selector(
        "tr[data-ticket='ADU-2026-900001'] td.status-selesai", timeout=LIVE_TIMEOUT_MS
    )
    await gateway.settle()
    await shot(page, "06-complaints")

    assert (
        "Status pengaduan ADU-2026-900001 kini: selesai ditangani. "
        "Keterangan petugas: Sudah ditambal."
    ) in fake_telegram.sent_texts(CHAT)
    assert (
        "budi"
        in await page.locator("tr[data-ticket='ADU-2026-900001'] .history").inner_text()
    )


@pytest.mark.redis
async def test_two_gateways_share_one_console_through_redis(
    redis_url: str,
    database_url: str,
    engine: Any,
    guarded: Any,
    fake_telegram: FakeTelegram,
    fake_rasa: FakeRasa,
    gateway: Gateway,
) -> None:
    # ``gateway`` (with the staff accounts) is only used for its setup; A and B are
    # the two processes, each with its own bus connected to Redis.
    a = await start_gateway(
        database_url=database_url,
        telegram_api_url=fake_telegram.api_url,
        rasa_url=fake_rasa.url,
        action_server_url=fake_rasa.action_url,
        redis_url=redis_url,
    )
    b = await start_gateway(
        database_url=database_url,
        telegram_api_url=fake_telegram.api_url,
        rasa_url=fake_rasa.url,
        action_server_url=fake_rasa.action_url,
        redis_url=redis_url,
    )
    try:
        guard = await guarded()
        page = await guard.page()
        await login(page, b, "ani")

        cid = await escalate(a, 880077, first=40)
        await page.wait_for_selector(item(cid), timeout=LIVE_TIMEOUT_MS)
        await page.click(item(cid))
        await page.click("#claim-button")
        await page.wait_for_selector("#reply-form:not([hidden])")

        await a.post_update(text_update(50, chat_id=880077, text="pesan lewat A"))
        await page.wait_for_selector(
            "li.msg.author-resident >> text=pesan lewat A", timeout=LIVE_TIMEOUT_MS
        )
        await shot(page, "07-redis-two-gateways")
    finally:
        await asyncio.gather(a.stop(), b.stop())


async def gateway_on_stack(
    rasa_stack: Any, fake_telegram: FakeTelegram, *, agent: str
) -> Gateway:
    """A gateway in front of the real Rasa stack, sharing its seeded database (as in
    production), with staff member ``agent`` (password PASSWORD)."""
    from db.engine import make_engine
    from tests.console.harness import create_staff

    engine = make_engine(rasa_stack.database_url)
    create_staff(engine, agent, PASSWORD)
    engine.dispose()
    return await start_gateway(
        database_url=rasa_stack.database_url,
        telegram_api_url=fake_telegram.api_url,
        rasa_url=rasa_stack.rasa_url,
        action_server_url=f"{rasa_stack.action_url}/webhook",
    )


@pytest.mark.rasa
async def test_real_rasa_escalates_and_resumes_after_hand_back(
    rasa_stack: Any,
    rasa: Any,
    guarded: Any,
    fake_telegram: FakeTelegram,
) -> None:
    gw = await gateway_on_stack(rasa_stack, fake_telegram, agent="ani.rasa")
    chat = 881234
    cid = f"telegram:{chat}"
    try:
        guard = await guarded()
        page = await guard.page()
        await login(page, gw, "ani.rasa")

        await gw.post_update(text_update(1, chat_id=chat, text="halo"))
        await gw.settle(timeout=60)
        await gw.post_update(
            text_update(2, chat_id=chat, text="saya mau bicara dengan petugas")
        )
        await page.wait_for_selector(item(cid), timeout=60_000)
        await page.click(item(cid))
        await page.click("#claim-button")
        await page.fill("#reply-text", "Halo, saya Ani. Ada yang bisa dibantu?")
        await page.click("#reply-button")
        await gw.settle(timeout=60)
        assert "Halo, saya Ani. Ada yang bisa dibantu?" in fake_telegram.sent_texts(
            chat
        )

        await page.click("#handback-button")
        await page.wait_for_selector("#reply-form[hidden]", state="attached")
        await gw.settle(timeout=60)
        events = [e["event"] for e in (await rasa.tracker(cid))["events"]]
        assert "pause" in events
        assert events.index("resume") > events.index("pause")

        before = len(fake_telegram.sent_texts(chat))
        await gw.post_update(
            text_update(3, chat_id=chat, text="jam buka kantor disdukcapil padang?")
        )
        await gw.settle(timeout=60)
        answers = fake_telegram.sent_texts(chat)[before:]
        assert answers, "the bot did not answer after the hand back"
        await page.locator("li.msg.author-bot", has_text=answers[0][:30]).last.wait_for(
            timeout=LIVE_TIMEOUT_MS
        )
        await shot(page, "08-real-rasa-hand-back")
    finally:
        await gw.stop()


@pytest.mark.rasa
async def test_real_rasa_answers_without_re_escalating_after_hand_back(
    rasa_stack: Any, fake_telegram: FakeTelegram
) -> None:
    gw = await gateway_on_stack(rasa_stack, fake_telegram, agent="budi.rasa")
    chat = 881235
    cid = f"telegram:{chat}"
    try:
        # Update ids of their own: the stack's database already saw the earlier test's
        # updates, and Telegram update ids are unique per bot, so those would be dropped
        # as duplicates.
        await escalate(gw, chat, first=101)
        await gw.settle(timeout=60)
        assert await gw.pipeline.handoff.claim(cid, "budi.rasa")
        await gw.pipeline.handoff.hand_back(cid)
        await gw.settle(timeout=60)
        await gw.post_update(
            text_update(103, chat_id=chat, text="jam buka kantor disdukcapil padang?")
        )
        await gw.settle(timeout=60)
        mode = await gw.pipeline.store.run(lambda s: s.get(Conversation, cid).mode)
    finally:
        await gw.stop()

    assert mode == "bot"


async def test_web_chat_offers_only_the_newest_buttons(
    gateway: Gateway, fake_rasa: FakeRasa, guarded: Any
) -> None:
    """A resident on the web chat page presses an offered button: Rasa gets its
    payload; once the bot answers again the older buttons can no longer be pressed."""

    async def respond(sender: str, message: str, metadata: Any) -> list[dict[str, Any]]:
        return [
            {
                "recipient_id": sender,
                "text": f"Jawaban untuk: {message}",
                "buttons": [
                    {"title": "Ya", "payload": "/affirm"},
                    {"title": "Tidak", "payload": "/deny"},
                ],
            }
        ]

    fake_rasa.respond = respond
    context = await guarded()
    page = await context.page()
    await page.goto(f"{gateway.url}/chat")
    await page.wait_for_function("document.body.innerText.includes('tersambung')")

    await page.fill("#text", "halo")
    await page.press("#text", "Enter")
    first = page.locator(".msg.out").nth(0)
    await first.get_by_role("button", name="Ya").click(timeout=LIVE_TIMEOUT_MS)
    second = page.locator(".msg.out").nth(1)
    await second.wait_for(timeout=LIVE_TIMEOUT_MS)
    await shot(page, "web-chat-buttons")

    assert [m["message"] for m in fake_rasa.messages] == ["halo", "/affirm"]
    assert "Jawaban untuk: /affirm" in await second.inner_text()
    assert await first.get_by_role("button", name="Tidak").is_disabled()
    assert await second.get_by_role("button", name="Tidak").is_enabled()
    assert context.console_errors == []

"""One Chromium per process, launched lazily and reused across cycles.

The original pipeline launched a browser per cycle (seconds of start-up and a
fresh memory spike each time). Here one persistent context (fresh profile in a
temp dir) lives as long as the collector; pages are opened per batch and always
closed. The browser is relaunched when it crashed or when its process tree grows
past an RSS ceiling (a slow leak in a long-running renderer).
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hltui.sources.hyperdash.errors import BrowserCrashed, BrowserUnavailable

if TYPE_CHECKING:  # pragma: no cover
    from playwright.async_api import BrowserContext, Page, Playwright

    from hltui.config import Settings

# TESTING.md: root has no sandbox; the rest stop connection storms on a closed network
DEFAULT_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)
INSTALL_HINT = (
    "install Chromium (Debian/Ubuntu: apt-get install chromium) or Google Chrome, "
    "or set HLTUI_BROWSER_PATH to a Chromium/Chrome executable"
)
# Debian chromium first, then Chrome, by PATH and then by well-known locations
_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
_FIXED = (
    "/usr/bin/chromium",
    "/usr/lib/chromium/chromium",
    "/snap/bin/chromium",
    "/opt/google/chrome/chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    r"C:\Program Files\Google\Chrome\Application\chrome.exe",
)


def _executable(path: str | Path) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def playwright_browsers() -> list[str]:
    """Chromium builds downloaded by `playwright install` (newest first)."""
    root = os.environ.get("PLAYWRIGHT_BROWSERS_PATH")
    if not root or root == "0":
        if sys.platform == "darwin":
            root = "~/Library/Caches/ms-playwright"
        elif sys.platform == "win32":
            root = os.path.join(os.environ.get("LOCALAPPDATA", "~"), "ms-playwright")
        else:
            root = os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "ms-playwright")
    root = os.path.expanduser(root)
    found = []
    for pattern in ("chromium-*/chrome-linux*/chrome", "chromium-*/chrome-mac*/Chromium.app/"
                    "Contents/MacOS/Chromium", "chromium-*/chrome-win*/chrome.exe"):
        found += glob.glob(os.path.join(root, pattern))
    return sorted((p for p in found if _executable(p)), reverse=True)


def find_browser(configured: str | None = None) -> str:
    """The Chromium to launch: the configured path, else Debian chromium, Chrome,
    Playwright's own download. Raises BrowserUnavailable with a one-line fix."""
    if configured:
        path = os.path.expanduser(configured)
        if not os.path.exists(path):
            raise BrowserUnavailable(f"HLTUI_BROWSER_PATH={configured}: no such file; "
                                     f"{INSTALL_HINT}")
        if not _executable(path):
            raise BrowserUnavailable(f"HLTUI_BROWSER_PATH={configured}: not an executable "
                                     f"file; {INSTALL_HINT}")
        return path
    for name in _NAMES:
        if found := shutil.which(name):
            return found
    for path in (*_FIXED, *playwright_browsers()):
        if _executable(path):
            return path
    raise BrowserUnavailable(f"no Chromium or Chrome found for the hyperdash source: "
                             f"{INSTALL_HINT}")


class BrowserManager:
    """Owns the Playwright driver, one Chromium and its one context.

    `page()` is the only way in: it (re)launches as needed and always closes the
    page. `launches` counts browser starts (tests and the bench read it).
    """

    def __init__(
        self,
        browser_path: str | None = None,
        *,
        rss_limit_mb: int = 1536,
        headless: bool = True,
        flags: Sequence[str] = DEFAULT_FLAGS,
        log: Callable[[str, str], None] | None = None,
    ) -> None:
        self.browser_path = browser_path
        self.rss_limit = rss_limit_mb * 1024 * 1024
        self.headless = headless
        self.flags = tuple(flags)
        self.log = log or (lambda level, msg: None)
        self.launches = 0
        self.relaunches: list[str] = []  # reasons, oldest first
        self.pages_open = 0
        self.pid: int | None = None
        self.executable: str | None = None
        self._pw: Playwright | None = None
        self._context: BrowserContext | None = None
        self._profile: str | None = None
        self._closing = False
        self._dead = False
        self._user_agent: str | None = None
        self._lock: asyncio.Lock | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **kw: Any) -> BrowserManager:
        return cls(settings.browser_path, rss_limit_mb=settings.browser_rss_limit_mb, **kw)

    # ---- lifecycle -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._context is not None and not self._dead

    async def context(self) -> BrowserContext:
        """The live context: launched on first use, relaunched after a crash."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._context is not None and (self._dead or not self._pid_alive()):
                await self._relaunch_reason("browser process died")
            if self._context is None:
                await self._launch()
            assert self._context is not None
            return self._context

    async def maintain(self) -> BrowserContext:
        """Between cycles (no page open): relaunch when the browser's process tree grew
        past the RSS ceiling (a slow leak), else the same as `context()`."""
        if self._context is not None and self.pages_open == 0:
            rss = self.rss_bytes()
            if rss > self.rss_limit:
                if self._lock is None:
                    self._lock = asyncio.Lock()
                async with self._lock:
                    await self._relaunch_reason(
                        f"browser RSS {rss / 2**20:.0f} MB above the "
                        f"{self.rss_limit / 2**20:.0f} MB ceiling")
        return await self.context()

    async def _relaunch_reason(self, reason: str) -> None:
        self.log("warning", f"hyperdash: relaunching Chromium: {reason}")
        self.relaunches.append(reason)
        await self._discard()

    async def _launch(self) -> None:
        exe = find_browser(self.browser_path)  # before starting the driver: cheap failure
        from playwright.async_api import Error as PlaywrightError
        from playwright.async_api import async_playwright

        if self._pw is None:
            self._pw = await async_playwright().start()
        self._profile = tempfile.mkdtemp(prefix="hltui-chromium-")
        try:
            ctx = await self._pw.chromium.launch_persistent_context(
                self._profile, executable_path=exe, headless=self.headless,
                args=list(self.flags), handle_sigint=False, handle_sigterm=False,
                handle_sighup=False, timeout=60_000,
            )
        except PlaywrightError as exc:
            self._remove_profile()
            first = (str(exc).strip().splitlines() or ["?"])[0]
            raise BrowserUnavailable(f"could not start {exe}: {first}; {INSTALL_HINT}") from None
        self._dead = False
        self._closing = False
        ctx.on("close", self._on_close)
        self._context = ctx
        self.executable = exe
        self.launches += 1
        self.pid = self._find_pid()
        if self.headless:
            await self._plain_user_agent(ctx)
        for page in list(ctx.pages):  # the blank start page: idle means zero pages
            with contextlib.suppress(Exception):
                await page.close()

    async def _plain_user_agent(self, ctx: BrowserContext) -> None:
        """Anti-bot layers flag "HeadlessChrome": remember a plain Chrome UA for pages."""
        pages = ctx.pages or [await ctx.new_page()]
        ua = await pages[0].evaluate("navigator.userAgent")
        self._user_agent = ua.replace("HeadlessChrome", "Chrome") if "Headless" in ua else None

    def _on_close(self, *_: Any) -> None:
        if not self._closing:
            self._dead = True

    def _find_pid(self) -> int | None:
        """The Chromium main process: our descendant launched with our profile dir."""
        import psutil

        flag = f"--user-data-dir={self._profile}"
        for proc in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if flag in proc.cmdline() and "--type=" not in " ".join(proc.cmdline()):
                    return proc.pid
        return None

    def _pid_alive(self) -> bool:
        if self.pid is None:
            return True
        import psutil

        try:
            return psutil.Process(self.pid).status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def rss_bytes(self) -> int:
        """Resident memory of the Chromium process tree (0 when not running)."""
        if self.pid is None:
            return 0
        import psutil

        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0
        total = 0
        for p in procs:
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total

    def driver_rss_bytes(self) -> int:
        """Resident memory of Playwright's node driver (part of the collector's cost)."""
        import psutil

        total = 0
        for proc in psutil.Process().children(recursive=False):
            with contextlib.suppress(psutil.Error):
                if "playwright" in " ".join(proc.cmdline()) or proc.name().startswith("node"):
                    total += proc.memory_info().rss
        return total

    async def _discard(self) -> None:
        ctx, self._context = self._context, None
        self._closing = True
        if ctx is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ctx.close(), 10)
        if self.pid is not None and self._pid_alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pid, 9)
        self.pid = None
        self._dead = False
        self._remove_profile()

    def _remove_profile(self) -> None:
        if self._profile:
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None

    async def close(self) -> None:
        """Close the browser and stop the driver (idempotent)."""
        await self._discard()
        pw, self._pw = self._pw, None
        if pw is not None:
            with contextlib.suppress(Exception):
                await pw.stop()

    # ---- pages ---------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def page(self) -> AsyncIterator[Page]:
        """A fresh page in the shared context, closed whatever happens."""
        from playwright.async_api import Error as PlaywrightError

        ctx = await self.context()
        try:
            page = await ctx.new_page()
        except PlaywrightError:  # died since the last check: relaunch once
            self._dead = True
            ctx = await self.context()
            try:
                page = await ctx.new_page()
            except PlaywrightError as exc:
                self._dead = True
                raise BrowserCrashed(f"could not open a page: {str(exc).splitlines()[0]}"
                                     ) from None
        self.pages_open += 1
        try:
            if self._user_agent:
                cdp = await ctx.new_cdp_session(page)
                await cdp.send("Emulation.setUserAgentOverride", {"userAgent": self._user_agent})
            yield page
        finally:
            self.pages_open -= 1
            with contextlib.suppress(Exception):
                await asyncio.wait_for(page.close(), 10)

    def open_pages(self) -> int:
        """Pages the browser holds right now (0 between batches)."""
        return len(self._context.pages) if self._context is not None else 0

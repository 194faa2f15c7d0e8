"""A notebook open in JupyterLab in headless Chromium, driven by Playwright, with deadline waits.

Debian's ``chromium`` is launched by Playwright from ``/usr/bin/chromium``
(``playwright install`` is never needed); everything is read from the page's
DOM or the notebook's own model. The server side is :mod:`jupyterlab_harness`.

Pitfall this module gets past (found on this machine): after opening a
notebook, the kernel reports ``idle``, then ``connecting`` while its websocket
reopens, then ``idle`` again; a run request sent in that window can be
silently dropped. So :meth:`NotebookPage.run_cell` waits for a steady idle,
then checks that the cell really started, and retries.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jupyterlab_harness import JupyterLab, LabError

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


# ---------------------------------------------------------------- the browser


@contextlib.contextmanager
def open_browser(user_data_dir: Path) -> Iterator[Any]:
    """Launch Debian's headless chromium through Playwright; close it (and Playwright's driver) on exit.

    Args:
        user_data_dir: a fresh, empty directory for the browser profile.

    Yields:
        A Playwright ``BrowserContext`` (1280x900 viewport).
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(user_data_dir),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


# ---------------------------------------------------------------- the notebook page

_PROMPT_JS = """(index) => {
    const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[index];
    return cell ? cell.querySelector('.jp-InputPrompt').textContent.trim() : null;
}"""

_STEADY_IDLE_JS = """(settleMs) => {
    const status = document.querySelector('.jp-Notebook-ExecutionIndicator')?.getAttribute('data-status');
    const now = performance.now();
    if (status !== 'idle') { window.__harnessIdleSince = null; return false; }
    window.__harnessIdleSince ??= now;
    return now - window.__harnessIdleSince >= settleMs;
}"""

_OUTPUT_TEXT_JS = """(index) => {
    const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[index];
    if (!cell) return null;
    return [...cell.querySelectorAll('.jp-OutputArea-output')].map(o => o.innerText).join('\\n');
}"""

# the notebook's own model (the server runs with --LabApp.expose_app_in_browser): nbformat outputs
_OUTPUTS_JS = """(index) => {
    const panel = window.jupyterapp?.shell.currentWidget;
    const cell = panel?.content?.model?.cells.get(index);
    return cell ? cell.toJSON().outputs ?? [] : null;
}"""


class NotebookPage:
    """One notebook open in JupyterLab in the browser, with waits that have deadlines.

    Attributes:
        page: the Playwright page.
        lab: the server it came from.
        console: the page's console messages (for failure reports).
    """

    def __init__(self, page: Any, lab: JupyterLab) -> None:
        self.page = page
        self.lab = lab
        self.console: list[str] = []
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))

    @classmethod
    def open(cls, context: Any, lab: JupyterLab, name: str, timeout: float = 60) -> NotebookPage:
        """Open notebook ``name`` in a new page and wait until its kernel is steadily idle."""
        notebook = cls(context.new_page(), lab)
        notebook.page.goto(lab.notebook_url(name), wait_until="domcontentloaded")
        notebook.wait_for(
            "() => document.querySelector('.jp-Notebook .jp-Cell .jp-InputArea-editor') !== null",
            what=f"notebook {name} to show its cells",
            timeout=timeout,
        )
        notebook.wait_kernel_idle(timeout=timeout)
        return notebook

    def wait_for(self, js: str, arg: Any = None, *, what: str, timeout: float = 30) -> Any:
        """Wait until the JS function ``js(arg)`` returns something truthy in the page.

        Args:
            js: a JS function expression evaluated in the page (re-run on every frame).
            arg: its argument (JSON-compatible).
            what: what is being waited for, for the error message.
            timeout: seconds.

        Returns:
            The truthy value ``js`` returned.

        Raises:
            AssertionError: not reached in time; says what, with the page's state.
        """
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            return self.page.wait_for_function(js, arg=arg, timeout=timeout * 1000).json_value()
        except PlaywrightTimeout:
            shot = self.screenshot("browser_failure.png")
            raise AssertionError(
                f"timed out after {timeout} s waiting for {what} (screenshot {shot})\n{self.describe()}"
            ) from None

    def wait_kernel_idle(self, settle: float = 1.0, timeout: float = 60) -> None:
        """Wait until the kernel indicator has said ``idle`` without a break for ``settle`` seconds."""
        self.page.evaluate("() => { window.__harnessIdleSince = null; }")
        self.wait_for(_STEADY_IDLE_JS, settle * 1000, what=f"a kernel idle for {settle} s", timeout=timeout)

    def prompt(self, index: int) -> str | None:
        """The input prompt of cell ``index`` (``[ ]:``, ``[*]:``, ``[3]:``)."""
        return self.page.evaluate(_PROMPT_JS, index)

    def output_text(self, index: int) -> str:
        """The visible text of cell ``index``'s outputs."""
        return self.page.evaluate(_OUTPUT_TEXT_JS, index) or ""

    def outputs(self, index: int) -> list[dict[str, Any]]:
        """Cell ``index``'s outputs in nbformat form, from the notebook's model."""
        outputs = self.page.evaluate(_OUTPUTS_JS, index)
        if outputs is None:
            raise LabError(f"no cell {index} in the notebook's model (is window.jupyterapp exposed?)")
        return outputs

    def run_cell(self, index: int, timeout: float = 60, attempts: int = 3) -> str:
        """Run cell ``index`` from the UI (click into it, Shift+Enter) and wait until it finishes.

        Checks that execution really started (the prompt leaves its old value)
        and retries after a steady idle if the request was dropped.

        Returns:
            The text of the cell's outputs.

        Raises:
            AssertionError: the cell did not start or finish in time, or raised.
        """
        self.start_cell(index, attempts)
        self.wait_for(
            "(i) => /^\\[\\d+\\]/.test(document.querySelectorAll('.jp-Notebook .jp-Cell')[i]"
            ".querySelector('.jp-InputPrompt').textContent.trim())",
            index,
            what=f"cell {index} to finish",
            timeout=timeout,
        )
        text = self.output_text(index)
        errors = [out for out in self.outputs(index) if out.get("output_type") == "error"]
        if errors:
            raise AssertionError(
                f"cell {index} raised {errors[0].get('ename')}: {errors[0].get('evalue')}\n{text}"
            )
        return text

    def start_cell(self, index: int, attempts: int = 3) -> None:
        """Start cell ``index`` from the UI and return once it runs (retrying a dropped request)."""
        cell = self.page.locator(".jp-Notebook .jp-Cell").nth(index)
        before = self.prompt(index)
        for attempt in range(attempts):
            self.wait_kernel_idle(settle=0.3 if attempt == 0 else 1.0)
            cell.locator(".jp-InputArea-editor").click()
            self.page.keyboard.press("Shift+Enter")
            try:
                self.wait_for(
                    "([i, before]) => { const p = document.querySelectorAll('.jp-Notebook .jp-Cell')[i]"
                    "?.querySelector('.jp-InputPrompt')?.textContent.trim(); return p && p !== before; }",
                    [index, before],
                    what=f"cell {index} to start",
                    timeout=5,
                )
                return
            except AssertionError:
                if attempt == attempts - 1:
                    raise

    def save(self, timeout: float = 20) -> None:
        """Save the notebook from the UI (Ctrl+S) and wait until JupyterLab says it is clean."""
        self.page.locator(".jp-Notebook").first.click()  # keyboard focus on the notebook
        self.page.keyboard.press("Escape")
        self.page.keyboard.press("Control+s")
        self.wait_for(
            "() => window.jupyterapp?.shell.currentWidget?.context?.model?.dirty === false",
            what="the notebook to be saved",
            timeout=timeout,
        )

    def restart_kernel(self, timeout: float = 60) -> None:
        """Restart the notebook's kernel as the Kernel menu does (no dialog), then wait for a steady idle."""
        self.page.evaluate(
            "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart()"
        )
        self.wait_kernel_idle(timeout=timeout)

    def screenshot(self, name: str) -> Path | str:
        """Save a screenshot of the page to ``artifacts/<name>`` at the repo root; returns its path.

        Returns a description of the failure instead when the page cannot be captured.
        """
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        try:
            self.page.screenshot(path=str(path))
        except Exception as exc:  # noqa: BLE001 - also used while reporting another failure
            return f"(no screenshot: {type(exc).__name__}: {exc})"
        return path

    def describe(self) -> str:
        """The page's state for a failure message: prompts, outputs, console and server log tails."""
        try:
            cells = self.page.evaluate(
                "() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')].map((c, i) => `cell ${i} `"
                " + c.querySelector('.jp-InputPrompt')?.textContent.trim() + ' '"
                " + [...c.querySelectorAll('.jp-OutputArea-output')].map(o => o.innerText).join(' | ')"
                ".slice(0, 600))"
            )
            status = self.page.evaluate(
                "() => document.querySelector('.jp-Notebook-ExecutionIndicator')?.getAttribute('data-status')"
            )
        except Exception as exc:  # noqa: BLE001 - the page itself may be gone
            cells, status = [f"(page unavailable: {exc})"], "?"
        return (
            f"kernel: {status}\n"
            + "\n".join(cells)
            + "\nconsole (last 10):\n"
            + "\n".join(self.console[-10:])
            + f"\nserver log {self.lab.log} (tail):\n{self.lab.log_tail(15)}"
        )

"""What the browser tests share: logging in as `make run`'s local account, where screenshots go
(SCREENSHOT_DIR, which `make test` sets to var/screenshots; else the stack's own folder), and axe."""

import os
import re
from pathlib import Path


def log_in(page, stack):
    from playwright.sync_api import expect

    page.goto(stack.url + "/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", stack.local_password())
    page.click("button[type=submit]")
    expect(page).not_to_have_url(re.compile(r"/login/"))


def screenshots(stack):
    folder = Path(os.environ.get("SCREENSHOT_DIR") or stack.var_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


AXE = Path(__file__).resolve().parents[2] / "axe" / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_violations(page):
    """Serious and critical violations on the page as it is now, as readable lines."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated by the browser's debugger protocol, not as a <script> tag: the app's
        # Content-Security-Policy (script-src 'self') rightly refuses an inline script.
        page.evaluate(AXE.read_text() + "\n;typeof window.axe")
    found = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})"
                          ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
                          " nodes: v.nodes.slice(0, 4).map(n => n.target.join(' ') + ' ' + (n.failureSummary || ''))})))",
                          TAGS)
    return [f"{v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"])
            for v in found if v["impact"] in ("serious", "critical")]

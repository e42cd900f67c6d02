"""What the browser tests share: logging in as `make run`'s local account, and where screenshots
go (SCREENSHOT_DIR, which `make test` sets to var/screenshots; else the stack's own folder)."""

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

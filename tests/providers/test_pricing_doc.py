"""The price catalog cites public sources the repository can show: docs/pricing.md is the
catalog, every entry names a URL and the date it was read, and nothing cites a file the
repository does not ship."""

import re
from pathlib import Path

from providers import pricing

ROOT = Path(__file__).resolve().parents[2]


def test_docs_pricing_md_is_generated_from_the_catalog():
    page = (ROOT / "docs" / "pricing.md").read_text()
    assert page == pricing.markdown(), "regenerate: python -m providers.pricing > docs/pricing.md"


def test_every_priced_entry_names_a_public_url_and_the_date_it_was_read():
    for key, price in pricing._catalog().items():
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", price.as_of), key
        if key != "sandbox:*":  # ours: no outside page to cite
            assert price.url.startswith("https://"), key
        if "UNRESOLVED" in price.source:  # a source that says so is marked so, and shown as rough
            assert price.unresolved, key


def test_unresolved_prices_are_marked_in_the_catalog():
    assert pricing.price_for("wavespeed:openai/gpt-image-2").unresolved
    assert pricing.price_for("apiframe:gpt-image-2").unresolved  # the credit's USD price is not Apiframe's
    assert not pricing.price_for("openai:gpt-image-2").unresolved


def test_nothing_cites_a_file_the_repository_does_not_ship():
    """The catalog and the code once cited a research file ("providers.md section 4",
    "../shared/...") that is not in the repository."""
    cited = re.compile(r"(?<![\w/])providers\.md|\.\./shared")
    offenders = []
    for folder in ("providers", "compare", "templates", "config"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".json", ".html") and cited.search(path.read_text()):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
    for named in re.findall(r"docs/[\w.-]+\.md", (ROOT / "providers" / "pricing.json").read_text()):
        assert (ROOT / named).exists(), named

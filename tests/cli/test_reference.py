"""The reference pages are generated from the code and kept current; the README's links
lead somewhere."""
import os
import re

from scratchnet.cli import reference
from scratchnet.harness.result import COLUMNS, describe

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
DOCS = os.path.join(ROOT, "docs")


def test_the_reference_pages_match_the_code():
    """Regenerate them with `python -m scratchnet.cli.reference docs/reference`."""
    assert reference.main([os.path.join(DOCS, "reference"), "--check"]) == 0


def test_every_report_column_is_described():
    for column in COLUMNS:
        unit, what = describe(column)
        assert what, column


def test_every_option_of_every_command_is_in_the_cli_page():
    page = reference.cli_reference()
    for flag in ("--model", "--strict", "--layout", "--outputs", "--time-limit", "--breakdown",
                 "--instructions", "--results", "--proba", "--opset"):
        assert f"`{flag}" in page, flag


def test_a_stale_page_is_found_and_rewritten(tmp_path):
    (tmp_path / "cli.md").write_text("old\n")
    assert reference.main([str(tmp_path), "--check"]) == 1
    assert (tmp_path / "cli.md").read_text() == "old\n"  # --check writes nothing
    assert reference.main([str(tmp_path)]) == 0
    assert reference.main([str(tmp_path), "--check"]) == 0


def test_the_readmes_links_lead_to_files():
    text = open(os.path.join(ROOT, "README.md")).read()
    links = re.findall(r"\]\(([^)#]+)\)", text)
    assert links
    missing = [link for link in links if not os.path.exists(os.path.join(ROOT, link))]
    assert not missing

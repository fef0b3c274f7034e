"""docs/cli-reference.md is the commands' own --help: stale documentation fails the build."""

from __future__ import annotations

from harvester.cli_reference import render
from tests.conftest import ROOT


def test_the_committed_reference_is_what_the_commands_print():
    committed = (ROOT / "docs" / "cli-reference.md").read_text()
    assert committed == render(), (
        "docs/cli-reference.md is stale: run  python3 -m harvester.cli_reference > docs/cli-reference.md")


def test_every_command_and_subcommand_has_a_section():
    text = render()
    for heading in ("`harvest useractions`", "`harvest load-episodes`", "`harvest zoom`",
                    "`harvest logs aggregate`", "`harvest mediaconvert`",
                    "`harvest setup load-index-templates`", "`harvest dev init`", "`harvest doctor`"):
        assert f"# {heading}" in text
    assert "--engage-host" in text and "MATTERHORN_ENGAGE_HOST" in text

"""Shell completion as documented in docs/operations.md: click's own mechanism, `_HARVEST_COMPLETE`."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from harvester.cli import cli


def complete(shell: str, words: str, cword: int) -> list[str]:
    env = {"_HARVEST_COMPLETE": f"{shell}_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    result = CliRunner().invoke(cli, [], env=env, prog_name="harvest")
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


@pytest.mark.parametrize("shell,marker", [("bash", "_harvest_completion()"), ("zsh", "#compdef harvest")])
def test_source_scripts_are_generated(shell, marker):
    result = CliRunner().invoke(cli, [], env={"_HARVEST_COMPLETE": f"{shell}_source"}, prog_name="harvest")
    assert result.exit_code == 0
    assert marker in result.output and "_HARVEST_COMPLETE" in result.output


def test_commands_options_and_choices_complete():
    assert "plain,useractions" in complete("bash", "harvest user", 1)
    assert "plain,config" in complete("bash", "harvest con", 1)
    assert complete("bash", "harvest useractions --engage", 2) == ["plain,--engage-host"]
    assert complete("bash", "harvest zoom --destination ", 3) == ["plain,index", "plain,stdout"]
    assert complete("bash", "harvest config --format ", 3) == ["plain,text", "plain,json", "plain,dotenv"]

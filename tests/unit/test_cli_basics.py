from harvester import __version__


def test_version(cli_run):
    result = cli_run("--version")
    assert result.exit_code == 0
    assert __version__ in result.stdout


def test_help_lists_commands_without_importing_them(cli_run):
    result = cli_run("--help")
    assert result.exit_code == 0
    assert "Exit codes" in result.stdout


def test_unknown_command_is_usage_error(cli_run):
    result = cli_run("no-such-command")
    assert result.exit_code == 2


def test_malformed_dotenv_exits_2_naming_file_and_line(cli_run, tmp_path):
    (tmp_path / ".env").write_text("GOOD=1\nthis is not a setting\n")
    result = cli_run("--version")  # version is eager: parse happens on a real command
    assert result.exit_code == 0
    result = cli_run("doctor")
    assert result.exit_code == 2
    assert ".env, line 2" in result.stderr

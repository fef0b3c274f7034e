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


def test_library_config_error_is_shown_as_the_commands_usage_error(cli_run, tmp_path):
    result = cli_run("setup", "load-index-templates", "--templates-dir", str(tmp_path / "missing"))
    assert result.exit_code == 2
    assert "setup load-index-templates [OPTIONS]" in result.stderr.splitlines()[0]
    assert f"Error: Invalid value for '--templates-dir': {tmp_path / 'missing'} is not a directory" \
        in result.stderr
    assert "Traceback" not in result.stderr


def test_config_error_without_hint_is_a_plain_usage_error():
    import click

    from harvester.cli import usage_errors
    from harvester.errors import ConfigError

    ctx = click.Context(click.Command("zoom"), info_name="zoom")
    try:
        with usage_errors(ctx):
            raise ConfigError("--date cannot be combined with --start-date/--end-date")
    except click.UsageError as exc:
        assert not isinstance(exc, click.BadParameter)
        assert exc.ctx is ctx
        assert exc.format_message() == "--date cannot be combined with --start-date/--end-date"
    else:
        raise AssertionError("ConfigError was not translated")

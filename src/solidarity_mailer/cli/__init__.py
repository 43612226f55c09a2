"""The command line: a thin face over the modules. Each command lives in its own module, loaded lazily.

Takes the command line (arguments, options, the settings file); calls the stages and hands on what they report
as lines for people (or JSON), with an exit status; a user error becomes one line and exit status 2.
"""

from __future__ import annotations

import importlib
import sys

import click

from solidarity_mailer.display import visible_output
from solidarity_mailer.errors import MailerError

#: command name -> "module:attribute" (relative to this package). Add a line to add a command.
COMMANDS: dict[str, str] = {
    "lists": ".lists_cmd:lists_group",
    "suppressions": ".suppressions_cmd:suppressions_group",
    "schedule": ".schedule_cmds:schedule_command",
    "campaigns": ".schedule_cmds:campaigns_command",
    "pause": ".schedule_cmds:pause_command",
    "resume": ".schedule_cmds:resume_command",
    "cancel": ".schedule_cmds:cancel_command",
    "run": ".run_cmd:run_command",
    "demo": ".demo_cmd:demo_command",
    "init": ".init_cmd:init_command",
    "catch": ".catch_cmd:catch",
    "render": ".render_cmd:render_command",
    "preview": ".preview_cmd:preview_command",
    "serve": ".serve_cmd:serve_command",
    "bounces": ".bounces_cmd:bounces_group",
    "import": ".import_cmd:import_command",
    "send": ".send_cmd:send_command",
    "status": ".status_cmd:status_command",
    "db": ".db_cmd:db_group",
    "archive": ".archive_cmd:archive_group",
}


class LazyGroup(click.Group):
    """A click group that imports a command's module only when that command runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        module = importlib.import_module(module_name, __name__)
        command: click.Command = getattr(module, attr)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="solidarity-mailer")
def cli() -> None:
    """Schedule and send a resolution as a responsive email to mailing lists."""


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI; a :class:`MailerError` becomes one line on stderr and exit status 2 (the database
    unreachable mid-command: one line, status 5). Everything
    it prints shows control characters instead of sending them to the terminal (:mod:`~solidarity_mailer.display`)."""
    with visible_output():
        try:
            return _run(argv)
        finally:
            if (databases := sys.modules.get(f"{__name__}._db")) is not None:  # only if a command opened one
                databases.dispose_opened()


def _run(argv: list[str] | None) -> int:
    try:
        result = cli.main(args=argv, prog_name="solidarity-mailer", standalone_mode=False)
    except MailerError as exc:
        click.echo(f"error: {exc.line()}", err=True)
        return 2
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except Exception as exc:  # the database gone away after the command opened it: not a bug of ours
        from solidarity_mailer.ledger.reachability import database_unreachable, reason

        if not database_unreachable(exc):
            raise
        click.echo(f"error: the database is unreachable ({reason(exc)}); what was recorded is kept: run the "
                   "command again once it is back", err=True)
        return 5
    return result if isinstance(result, int) else 0  # ctx.exit(n) returns n in non-standalone mode


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The ``posterqa`` command line.

Each module in :mod:`flows.commands` defines ``register(app: typer.Typer)``; this file
collects them, and turns posterqa's own errors into one line on stderr and exit 2.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys

import typer

from posterqa.errors import PosterQAError

app = typer.Typer(
    name="posterqa",
    help="Find and repair collapsed text and logos on AI-generated posters.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="log at INFO level"),
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _load_commands() -> None:
    import flows.commands as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"flows.commands.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_load_commands()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    try:
        app(args=argv, standalone_mode=False)
    except PosterQAError as exc:
        typer.echo(f"posterqa: error: {exc}", err=True)
        return 2
    except typer.Abort:
        typer.echo("posterqa: aborted", err=True)
        return 130
    except SystemExit as exc:  # typer/click exit with a code
        return int(exc.code or 0) if isinstance(exc.code, int) else 1
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())

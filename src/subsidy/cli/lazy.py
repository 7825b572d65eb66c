"""A command group that imports each of its commands only when that command runs."""

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any, ClassVar

import typer
from typer import _click  # typer vendors click: its groups take these contexts, not click's
from typer.core import TyperCommand, TyperGroup

# Registers the command named (second argument) on a Typer (first), with the help the group
# lists (third), as the composition root did before the commands were loaded lazily.
Mount = Callable[[typer.Typer, str, str], None]


@dataclass(frozen=True, slots=True)
class Lazy:
    """A command the group lists without importing it: `help` is what the listing shows (the
    first paragraph of the command's help), `mount` imports and registers it."""

    mount: Mount
    help: str


class LazyGroup(TyperGroup):
    """Click's lazy group (get_command imports, list_commands does not) for typer. Listing the
    commands (`--help`, shell completion) shows stand-ins carrying each one's help, so that
    `subsidy --help` imports none of them; running one, or `subsidy <command> --help`, imports
    that one alone. Subclasses set `lazy_subcommands`, in the order the listing shows."""

    lazy_subcommands: ClassVar[Mapping[str, Lazy]] = {}

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._listing = False

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return [*super().list_commands(ctx), *self.lazy_subcommands]

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        lazy = self.lazy_subcommands.get(cmd_name)
        if lazy is None or cmd_name in self.commands:
            return super().get_command(ctx, cmd_name)
        if self._listing:
            return TyperCommand(cmd_name, help=lazy.help)
        command = self._load(cmd_name, lazy)
        self.commands[cmd_name] = command  # loaded once per group
        return command

    def _load(self, name: str, lazy: Lazy) -> _click.Command:
        # Mounted on a Typer of its own, converted by typer as the root used to convert it
        # (the same help, options and settings), then taken out by its name.
        host = typer.Typer(rich_markup_mode=self.rich_markup_mode)
        lazy.mount(host, name, lazy.help)
        command = typer.main.get_group(host).commands.get(name)
        if command is None:
            raise RuntimeError(f"loading {name!r} registered no command of that name")
        return command

    @contextmanager
    def _stand_ins(self) -> Iterator[None]:
        self._listing = True
        try:
            yield
        finally:
            self._listing = False

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        with self._stand_ins():
            super().format_help(ctx, formatter)

    def shell_complete(
        self, ctx: _click.Context, incomplete: str
    ) -> list[_click.shell_completion.CompletionItem]:
        with self._stand_ins():
            return super().shell_complete(ctx, incomplete)

    def resolve_command(
        self, ctx: _click.Context, args: list[str]
    ) -> tuple[str | None, _click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except _click.exceptions.UsageError as err:
            # typer suggests among the commands loaded; the lazy ones count too.
            if self.suggest_commands and args and "Did you mean" not in err.message:
                matches = get_close_matches(args[0], self.list_commands(ctx))
                if matches:
                    suggestions = ", ".join(f"{m!r}" for m in matches)
                    err.message = f"{err.message.rstrip('.')}. Did you mean {suggestions}?"
            raise

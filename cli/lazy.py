"""Sub-command groups of ``uiflow`` that are imported only when they are called.

Why: every sub-app pulls in what its commands need (``audit`` the Temporal client and SQLAlchemy,
``bench`` the whole stack), and importing all of them made ``uiflow --help`` and a calculator call
such as ``uiflow policy review-deadline`` take seconds. The root group lists a lazy group by its
name and a one-line help, and imports the module only when the command line resolves to it
(``uiflow audit …``, ``uiflow audit --help``).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
from typer import _click as click  # typer vendors click; its groups speak these types
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class LazyGroup:
    module: str  # a module exposing a typer ``app``
    help: str  # the line shown by ``uiflow --help`` (the module is not imported for it)


class LazyTyperGroup(TyperGroup):
    """The root group: eager commands as usual, plus the groups in ``lazy`` by name."""

    lazy: ClassVar[Mapping[str, LazyGroup]] = {}

    def _available(self) -> dict[str, LazyGroup]:
        # A group whose module is not in this checkout (e.g. an optional one) is simply not listed.
        return {n: g for n, g in self.lazy.items() if importlib.util.find_spec(g.module) is not None}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in self._available() if n not in self.commands)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None or cmd_name not in self._available():
            return cmd
        # Only the help listing asks for a command it will not run: a stand-in with the help line.
        return TyperCommand(cmd_name, help=self.lazy[cmd_name].help)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[Any, Any, list[str]]:
        if args and args[0] not in self.commands and args[0] in self._available():
            self.commands[args[0]] = load(args[0], self.lazy[args[0]])
        return super().resolve_command(ctx, args)


def load(name: str, group: LazyGroup) -> click.Command:
    app: typer.Typer = importlib.import_module(group.module).app
    cmd = typer.main.get_command(app)
    cmd.name = name
    return cmd


def lazy_root(groups: Mapping[str, LazyGroup]) -> type[LazyTyperGroup]:
    """The root group class for ``typer.Typer(cls=...)`` with these lazy groups."""
    return type("UiflowGroup", (LazyTyperGroup,), {"lazy": dict(groups)})

"""Model definitions stay compatible with both databases' schema scripts."""

from __future__ import annotations

import inspect

from tortoise.models import Model

import server.models


def test_no_model_docstring_contains_a_semicolon() -> None:
    # tortoise-orm turns docstrings into table comments; on SQLite a semicolon in one splits
    # the generated schema script and the migration fails half-way.
    for name, cls in inspect.getmembers(server.models, inspect.isclass):
        if issubclass(cls, Model) and cls is not Model:
            assert ";" not in (cls.__doc__ or ""), f"{name}'s docstring contains ';'"

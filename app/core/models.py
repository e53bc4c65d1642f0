"""Columns every stored resource has: a UUID id, UTC timestamps and a version counter behind its ETag."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.orm import declared_attr
from sqlmodel import Field, SQLModel

from app.core.db import UtcDateTime, new_id, utcnow


class ResourceBase(SQLModel):
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    version: int = Field(default=1, nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805
        # Optimistic concurrency by the ORM: every UPDATE and DELETE of a row carries `WHERE version = <read>`
        # and bumps it, so a concurrent writer's change is never overwritten (StaleDataError -> 412). A flush
        # that changes nothing emits no UPDATE, so the version (the ETag) stays.
        return {"version_id_col": table_of(cast("type[SQLModel]", cls)).c.version}


_NO_DEFAULT = object()
_row_defaults: dict[type[SQLModel], tuple[tuple[str, Any, Any], ...]] = {}


def new_row(model: type[SQLModel], **values: Any) -> dict[str, Any]:
    """A new row of `model` as a dict of column values, its defaults filled in as the model's constructor fills
    them (an `id`, the timestamps, `version` 1, each field's default): for an ORM bulk INSERT
    (`session.execute(insert(Model), rows)`), which writes many rows without building an object for each. The
    write hook sees those rows too (app.core.changes). A field the model does not have is an error."""
    spec = _row_defaults.get(model)
    if spec is None:
        columns = set(table_of(model).columns.keys())
        spec = tuple((name, _NO_DEFAULT if f.is_required() else f.default, f.default_factory)
                     for name, f in model.model_fields.items() if name in columns)
        _row_defaults[model] = spec
    row: dict[str, Any] = {}
    for name, default, factory in spec:
        if name in values:
            row[name] = values.pop(name)
        elif factory is not None:
            row[name] = factory()
        elif default is _NO_DEFAULT:
            raise TypeError(f"{model.__name__}: {name} is required")
        else:
            row[name] = default
    if values:
        raise TypeError(f"{model.__name__} has no field {', '.join(sorted(values))}")
    return row


def table_of(model: type[SQLModel]) -> Table:
    """A table model's `Table`, typed (SQLModel sets `__table__` on the class without declaring it)."""
    return cast(Table, getattr(model, "__table__"))  # noqa: B009

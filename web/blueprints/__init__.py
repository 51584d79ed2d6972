"""Blueprints by audience (ARCHITECTURE.md, Web). `create_app` registers every one listed in
`BLUEPRINTS`, in order; a new audience adds its module here and appends its blueprint."""

from __future__ import annotations

from flask import Blueprint

from . import auth, instances, registers, tasks

BLUEPRINTS: list[Blueprint] = [
    auth.bp,
    tasks.bp,
    instances.bp,
    registers.bp,
]

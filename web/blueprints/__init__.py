"""Blueprints by audience (ARCHITECTURE.md, Web). `create_app` registers every one listed in
`BLUEPRINTS`, in order; a new audience adds its module here and appends its blueprint."""

from __future__ import annotations

from flask import Blueprint

from . import (
    attachments,
    audit,
    auth,
    calendar,
    instances,
    models,
    notifications,
    registers,
    registers_p1,
    registers_p2,
    registers_p4,
    tasks,
)

BLUEPRINTS: list[Blueprint] = [
    auth.bp,
    tasks.bp,
    instances.bp,
    registers.bp,
    audit.bp,
    calendar.bp,
    registers_p1.bp,
    registers_p2.bp,
    attachments.bp,
    registers_p4.bp,
    models.bp,
    notifications.bp,
]

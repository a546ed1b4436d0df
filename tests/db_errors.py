"""Database errors as the drivers raise them, for tests that make a service fail on purpose."""

from __future__ import annotations

import sqlite3

import psycopg
from flask import Flask
from sqlalchemy.exc import OperationalError


def lost_race(app: Flask) -> OperationalError:
    """The error each database really raises when a concurrent transaction wins (shown in
    tests/test_db_conflicts.py): PostgreSQL's deadlock_detected (40P01), SQLite's busy lock."""
    original: Exception
    if app.config["DATABASE_URL"].startswith("sqlite"):
        original = sqlite3.OperationalError("database is locked")
    else:
        original = psycopg.errors.DeadlockDetected("deadlock detected")
    return OperationalError("INSERT INTO status_allocation ...", {}, original)

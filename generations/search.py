"""Prompt search through an index: SQLite FTS5 or PostgreSQL full text, behind one function.

On SQLite an external-content FTS5 table mirrors `generations_generation.prompt`, kept in step by
triggers. SQLite drops a table's triggers when Django rebuilds the table (some migrations do),
so `ensure_search_index` runs after every `migrate` and puts back whatever is missing.
"""

import re
from typing import Any

from django.db import connection as default_connection
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.expressions import RawSQL

from generations.models import GenerationQuerySet

MAX_TERMS = 12

_SQLITE_TABLE = """
    CREATE VIRTUAL TABLE IF NOT EXISTS generations_generation_fts USING fts5(
        prompt, content='generations_generation', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2', prefix='2 3'
    )"""
_SQLITE_TRIGGERS = {
    "generations_generation_fts_ai": """
        CREATE TRIGGER IF NOT EXISTS generations_generation_fts_ai
        AFTER INSERT ON generations_generation BEGIN
            INSERT INTO generations_generation_fts(rowid, prompt) VALUES (new.id, new.prompt);
        END""",
    "generations_generation_fts_ad": """
        CREATE TRIGGER IF NOT EXISTS generations_generation_fts_ad
        AFTER DELETE ON generations_generation BEGIN
            INSERT INTO generations_generation_fts(generations_generation_fts, rowid, prompt)
            VALUES ('delete', old.id, old.prompt);
        END""",
    "generations_generation_fts_au": """
        CREATE TRIGGER IF NOT EXISTS generations_generation_fts_au
        AFTER UPDATE OF prompt ON generations_generation BEGIN
            INSERT INTO generations_generation_fts(generations_generation_fts, rowid, prompt)
            VALUES ('delete', old.id, old.prompt);
            INSERT INTO generations_generation_fts(rowid, prompt) VALUES (new.id, new.prompt);
        END""",
}
_SQLITE_REBUILD = (
    "INSERT INTO generations_generation_fts(generations_generation_fts) VALUES ('rebuild')"
)
_SQLITE_MATCH = (
    "SELECT rowid FROM generations_generation_fts WHERE generations_generation_fts MATCH %s"
)
# 'english' stems words ("lighthouses" finds "lighthouse"); index and query use the same config.
_POSTGRES_INDEX = """
    CREATE INDEX IF NOT EXISTS gen_prompt_search ON generations_generation
    USING GIN (to_tsvector('english', prompt))"""
_POSTGRES_MATCH = """
    SELECT id FROM generations_generation
    WHERE to_tsvector('english', prompt) @@ to_tsquery('english', %s)"""


def terms(text: str) -> list[str]:
    """The words of a search, lower-cased; punctuation and query syntax are ignored."""
    return re.findall(r"[^\W_]+", text.lower())[:MAX_TERMS]


def matching(queryset: GenerationQuerySet, text: str) -> GenerationQuerySet:
    """Only the rows whose prompt has every word of `text` (each as a word prefix); a search
    with no word in it ("!!!", an emoji) finds the prompts that hold it as written, by a scan."""
    words = terms(text)
    if not words:
        # No prompt holds a NUL, and PostgreSQL refuses one in a query.
        as_written = text.replace("\x00", "").strip()
        return queryset.filter(prompt__icontains=as_written) if as_written else queryset
    vendor = default_connection.vendor
    # The SQL is constant; the words only ever travel as a bound parameter.
    if vendor == "sqlite":
        query = " ".join(f'"{word}"*' for word in words)
        return queryset.filter(pk__in=RawSQL(_SQLITE_MATCH, [query]))  # noqa: S611
    if vendor == "postgresql":
        query = " & ".join(f"{word}:*" for word in words)
        return queryset.filter(pk__in=RawSQL(_POSTGRES_MATCH, [query]))  # noqa: S611
    for word in words:  # other databases: a scan, but the same answers
        queryset = queryset.filter(prompt__icontains=word)
    return queryset


def install(connection: BaseDatabaseWrapper) -> None:
    """Create the index (idempotent); on SQLite, rebuild it if its triggers had gone."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_POSTGRES_INDEX)
        if connection.vendor != "sqlite":
            return
        cursor.execute(_SQLITE_TABLE)
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
            ["generations_generation"],
        )
        present = {row[0] for row in cursor.fetchall()}
        for sql in _SQLITE_TRIGGERS.values():
            cursor.execute(sql)
        if not present.issuperset(_SQLITE_TRIGGERS):
            cursor.execute(_SQLITE_REBUILD)


def uninstall(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DROP INDEX IF EXISTS gen_prompt_search")
        if connection.vendor == "sqlite":
            for name in _SQLITE_TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
            cursor.execute("DROP TABLE IF EXISTS generations_generation_fts")


def ensure_search_index(using: str = "default", **kwargs: Any) -> None:
    """post_migrate: once the index exists, its triggers survive whatever rebuilt the table."""
    connection = connections[using]
    tables = connection.introspection.table_names()
    if connection.vendor == "sqlite" and "generations_generation_fts" in tables:
        install(connection)

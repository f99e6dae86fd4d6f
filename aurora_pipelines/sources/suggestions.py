"""What the guard's parse tree says about a query that runs, but runs wastefully.

Three hints, each naming the fix: select the needed columns instead of `*` on a wide table,
filter a partitioned table on its partition column (else every partition is read), and add a
LIMIT when the query is only a preview (no filter, no aggregate, no LIMIT).
"""

from __future__ import annotations

from sqlglot import exp

from aurora_pipelines.sources.sql_guard import GuardedQuery, table_name
from aurora_pipelines.sources.tables import CatalogTable

WIDE_TABLE_COLUMNS = 20


def _filtered_columns(root: exp.Expression) -> set[str]:
    names: set[str] = set()
    for where in root.find_all(exp.Where):
        names |= {c.name.lower() for c in where.find_all(exp.Column)}
    return names


def suggest(
    query: GuardedQuery, tables: dict[str, CatalogTable], widths: dict[str, int]
) -> list[str]:
    """Hints for a query that passed the guard (empty when there is nothing to improve)."""
    root = query.expression
    hints: list[str] = []
    if any(isinstance(s, exp.Star) for sel in root.find_all(exp.Select) for s in sel.expressions):
        wide = [t for t in query.tables if widths.get(t, 0) > WIDE_TABLE_COLUMNS]
        if wide:
            hints.append(
                f"{wide[0]} has {widths[wide[0]]} columns: select only the columns you need "
                "instead of `*` (less data read and sent)"
            )
    filtered = _filtered_columns(root)
    for ref in root.find_all(exp.Table):
        if not isinstance(ref.this, exp.Identifier):
            continue
        table = tables.get(table_name(ref))
        if table and table.partition_columns and not filtered & set(table.partition_columns):
            hints.append(
                f"{table.name} is partitioned by {', '.join(table.partition_columns)}: add "
                f"`WHERE {table.partition_columns[0]} = ...` to read one partition, not all"
            )
    aggregated = any(True for _ in root.find_all(exp.AggFunc)) or root.args.get("group")
    if not aggregated and not root.args.get("limit") and not filtered:
        hints.append("for a preview, add `LIMIT 100`: the whole result is not needed to look")
    return list(dict.fromkeys(hints))

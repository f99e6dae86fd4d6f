"""Guard for user-supplied SQL: exactly one read-only SELECT, and the tables it reads.

The query is parsed with sqlglot (Spark dialect), never pattern-matched: a statement is
accepted only when it is a single query (SELECT, or a UNION/INTERSECT/EXCEPT of SELECTs) with no
write, DDL or session command anywhere in its tree, no `SELECT ... INTO`, no table-valued
function, and none of the Spark functions that call into the JVM (`reflect`, `java_method`).
Which tables the team may read is decided by the caller (`access.py`), from `GuardedQuery.tables`.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from aurora_pipelines.errors import SourceError

DIALECT = "spark"
DEFAULT_DATABASE = "default"
# Spark SQL functions that run arbitrary Java methods or read arbitrary files.
FORBIDDEN_FUNCTIONS = {"reflect", "java_method", "try_reflect", "read_files"}
# Nodes that write, change the catalog or the session. A SELECT tree never contains them.
WRITE_NODES: tuple[type[exp.Expression], ...] = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.Command,
    exp.Set,
    exp.Cache,
    exp.Uncache,
    exp.LoadData,
    exp.TruncateTable,
    exp.Into,
)


class QueryRefused(SourceError):
    """A user query is not a single read-only SELECT; the message names the offending part."""


@dataclass(frozen=True)
class GuardedQuery:
    expression: exp.Query
    tables: list[str]  # `database.table`, lower case, sorted


def _snippet(node: exp.Expression, limit: int = 80) -> str:
    text = node.sql(dialect=DIALECT)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _statement_kind(node: exp.Expression) -> str:
    return node.key.upper() if node.key else type(node).__name__.upper()


def table_name(table: exp.Table) -> str:
    """`database.table` (lower case) for a table reference, `default` when unqualified."""
    return f"{(table.db or DEFAULT_DATABASE).lower()}.{table.name.lower()}"


def guard_query(sql: str) -> GuardedQuery:
    """Parse `sql` and accept it only as one read-only query; QueryRefused says why not."""
    if not sql or not sql.strip():
        raise QueryRefused("the query is empty; set `source.sql` to one SELECT statement")
    try:
        statements = [s for s in sqlglot.parse(sql, read=DIALECT) if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f" near `{first.get('highlight')}`" if first.get("highlight") else ""
        raise QueryRefused(
            f"the query does not parse as Spark SQL{where}; fix `source.sql`"
        ) from None
    except TokenError:
        # An unclosed quote or comment fails in the tokenizer, before the parser sees it.
        raise QueryRefused(
            "the query does not parse as Spark SQL (an unclosed quote or comment?); "
            "fix `source.sql`"
        ) from None
    if len(statements) != 1:
        kinds = ", ".join(_statement_kind(s) for s in statements)
        raise QueryRefused(
            f"the query holds {len(statements)} statements ({kinds}); "
            "`source.sql` must be exactly one SELECT"
        )
    root = statements[0]
    if not isinstance(root, exp.Query):
        raise QueryRefused(
            f"only a read-only SELECT is allowed, got {_statement_kind(root)}: `{_snippet(root)}`"
        )
    for node in root.walk():
        if isinstance(node, WRITE_NODES):
            raise QueryRefused(
                f"only a read-only SELECT is allowed; the query contains "
                f"{_statement_kind(node)}: `{_snippet(node)}`"
            )
        if isinstance(node, exp.Func):
            name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
            if name in FORBIDDEN_FUNCTIONS:
                raise QueryRefused(
                    f"function `{name}` is not allowed in a source query (it can run JVM code "
                    "or read files outside the grants)"
                )
    ctes = {cte.alias_or_name.lower() for cte in root.find_all(exp.CTE)}
    tables: list[str] = []
    for table in root.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise QueryRefused(
                f"table-valued functions are not allowed in a source query: `{_snippet(table)}`"
            )
        if not table.db and table.name.lower() in ctes:
            continue
        name = table_name(table)
        if name not in tables:
            tables.append(name)
    if not tables:
        raise QueryRefused("the query reads no table; select from a governed catalog table")
    return GuardedQuery(expression=root, tables=sorted(tables))


def replace_tables(query: GuardedQuery, views: dict[str, str], dialect: str = DIALECT) -> str:
    """The query's SQL (Spark, or `dialect`) with each governed table swapped for its
    (PII-safe) view."""
    ctes = {cte.alias_or_name.lower() for cte in query.expression.find_all(exp.CTE)}

    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
            if not node.db and node.name.lower() in ctes:
                return node
            view = views[table_name(node)]
            alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(node.name))
            return exp.Table(this=exp.to_identifier(view), alias=alias)
        return node

    return query.expression.copy().transform(swap).sql(dialect=dialect)

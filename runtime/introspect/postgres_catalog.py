"""The PostgreSQL catalog queries the inspector runs: a fixed set, whatever the number of tables.

Each query takes the relations it is about as one bound ``oid[]`` (or the schema names as one
``text[]``), so the count of round trips never grows with the schema. Identifiers only ever enter
SQL here as bound values; the optional sampling step quotes them with :func:`quote_ident`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "COLUMNS_SQL",
    "CONSTRAINTS_SQL",
    "EXPORT_SNAPSHOT_SQL",
    "INDEXES_SQL",
    "RELATIONS_SQL",
    "TYPES_SQL",
    "import_snapshot_sql",
    "quote_ident",
    "sample_sql",
]

#: Which relations of ``pg_class c JOIN pg_namespace n`` are inspected, $1 text[] being the
#: schemas: shared by RELATIONS_SQL and COLUMNS_SQL, so that the columns need not wait for the
#: relations' oids (the include / exclude globs are applied to the relations by the client;
#: columns of relations they leave out are simply never looked up).
_RELATION_FILTER = """n.nspname = ANY($1::text[])
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND NOT c.relispartition
  AND NOT EXISTS (SELECT 1 FROM pg_depend e
                  WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')"""

#: $1 text[] schemas. Partitions are folded into their root (only the root is listed, with the
#: rows and pages of its whole tree); relations an extension owns are not the user's schema.
#: Sizes are estimates from relpages (table + TOAST + indexes), as fresh as reltuples (last
#: VACUUM / ANALYZE): pg_total_relation_size would open every relation — most of this query's
#: time on a fresh connection — and flap with autovacuum's free-space and visibility forks.
#: Index pages are summed in one grouped pass (a correlated subquery per table was most of the
#: query's time at 1,000 tables).
RELATIONS_SQL = (
    """
WITH index_pages AS (
    SELECT i.indrelid, sum(ic.relpages) AS pages
    FROM pg_index i
    JOIN pg_class ic ON ic.oid = i.indexrelid
    GROUP BY i.indrelid
), sized AS (
    SELECT c.oid,
           CASE WHEN c.reltuples >= 0 THEN c.reltuples::float8 END AS tuples,
           CASE WHEN c.reltuples >= 0 THEN
                (c.relpages::int8 + coalesce(toast.relpages, 0) + coalesce(ix.pages, 0))
                * current_setting('block_size')::int8
           END AS bytes
    FROM pg_class c
    LEFT JOIN pg_class toast ON toast.oid = c.reltoastrelid
    LEFT JOIN index_pages ix ON ix.indrelid = c.oid
    WHERE c.relkind IN ('r', 'm')
)
SELECT c.oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind,
       d.description AS comment,
       CASE WHEN c.relkind = 'p' THEN
                (SELECT sum(s.tuples) FROM pg_partition_tree(c.oid) t
                 JOIN sized s ON s.oid = t.relid)
            ELSE own.tuples
       END AS row_estimate,
       CASE WHEN c.relkind = 'p' THEN
                (SELECT sum(s.bytes)::int8 FROM pg_partition_tree(c.oid) t
                 JOIN sized s ON s.oid = t.relid)
            ELSE own.bytes
       END AS size_bytes
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN sized own ON own.oid = c.oid
LEFT JOIN pg_description d
       ON d.classoid = 'pg_class'::regclass AND d.objoid = c.oid AND d.objsubid = 0
WHERE """
    + _RELATION_FILTER
    + """
ORDER BY n.nspname, c.relname
"""
)

#: $1 text[] schemas: the columns of every relation RELATIONS_SQL may list (it need not run
#: first). Unordered: sorting 20,000 wide rows costs the server more than the client's
#: per-table sort. Lean on purpose (this is the one query whose rows grow with columns, and
#: decoding them is most of its time): the type's text is not formatted per column but per
#: distinct (type, typmod) by TYPES_SQL, identity / generated share one column ('a', 'd', 's',
#: ...: a column is never both), and defaults come with the constraints (CONSTRAINTS_SQL), so
#: that deparsing them runs beside this query when there are two connections.
COLUMNS_SQL = (
    """
SELECT a.attrelid AS relid, a.attnum, a.attname, a.atttypid, a.atttypmod, a.attnotnull,
       a.attndims, a.attidentity::text || a.attgenerated::text AS generation,
       d.description AS comment
FROM pg_attribute a
LEFT JOIN pg_description d
       ON d.classoid = 'pg_class'::regclass AND d.objoid = a.attrelid AND d.objsubid = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped
  AND a.attrelid IN (SELECT c.oid FROM pg_class c
                     JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE """
    + _RELATION_FILTER
    + """)
"""
)

#: $1 oid[], $2 int4[]: the distinct (type, typmod) pairs of the columns. Every type they need,
#: closed over array elements, domain base types and composite attributes (one recursive
#: query, not one per type), with enum labels in sort order, domain CHECKs and composite
#: attributes attached — and, per type, the typmods its columns use with ``format_type`` of
#: each (a handful of calls instead of one per column).
TYPES_SQL = """
WITH RECURSIVE used(atttypid, atttypmod) AS (
    SELECT * FROM unnest($1::oid[], $2::int4[])
), closure(oid) AS (
    SELECT DISTINCT u.atttypid FROM used u
  UNION
    SELECT x.oid
    FROM closure c
    JOIN pg_type t ON t.oid = c.oid
    CROSS JOIN LATERAL (
        SELECT t.typelem WHERE t.typelem <> 0 AND t.typcategory = 'A'
        UNION ALL SELECT t.typbasetype WHERE t.typtype = 'd'
        UNION ALL SELECT ca.atttypid FROM pg_attribute ca
                  WHERE t.typtype = 'c' AND ca.attrelid = t.typrelid
                    AND ca.attnum > 0 AND NOT ca.attisdropped
    ) AS x(oid)
)
SELECT t.oid, n.nspname AS schema, t.typname, t.typtype::text AS typtype,
       t.typcategory::text AS typcategory, t.typelem, t.typbasetype, t.typtypmod,
       t.typnotnull, t.typndims, t.typdefault IS NOT NULL AS has_default,
       format_type(t.oid, NULL) AS type_text,
       CASE WHEN t.typtype = 'e' THEN
            ARRAY(SELECT e.enumlabel::text FROM pg_enum e
                  WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder)
       END AS enum_labels,
       CASE WHEN t.typtype = 'd' THEN
            ARRAY(SELECT pg_get_constraintdef(k.oid) FROM pg_constraint k
                  WHERE k.contypid = t.oid AND k.contype = 'c' ORDER BY k.conname)
       END AS domain_checks,
       CASE WHEN t.typtype = 'c' THEN
            (SELECT json_agg(json_build_object(
                        'name', ca.attname, 'type', ca.atttypid, 'typmod', ca.atttypmod,
                        'ndims', ca.attndims, 'text', format_type(ca.atttypid, ca.atttypmod))
                    ORDER BY ca.attnum)::text
             FROM pg_attribute ca
             WHERE ca.attrelid = t.typrelid AND ca.attnum > 0 AND NOT ca.attisdropped)
       END AS attributes,
       ARRAY(SELECT u.atttypmod FROM used u WHERE u.atttypid = t.oid
             ORDER BY u.atttypmod) AS column_typmods,
       ARRAY(SELECT format_type(t.oid, u.atttypmod) FROM used u WHERE u.atttypid = t.oid
             ORDER BY u.atttypmod) AS column_texts
FROM (SELECT DISTINCT oid FROM closure) c
JOIN pg_type t ON t.oid = c.oid
JOIN pg_namespace n ON n.oid = t.typnamespace
ORDER BY t.oid
"""

#: $1 oid[] relations. Constraints cloned onto partitions (conparentid <> 0) are skipped; the
#: referenced columns are resolved here because the referenced table may not be inspected —
#: for foreign keys only, one index probe per key column (a join over the referenced table's
#: whole attribute list per constraint was half this query's time). Ordered by name (``name``
#: sorts bytewise, whatever the database's collation): which of two enum CHECKs on one column
#: becomes its type must not depend on the plan.
#:
#: Column defaults come here too, as rows of contype 'd' (no name, ``conkey`` = the column,
#: ``definition`` = the expression), after the relation's constraints. They are deparsed
#: without their relation (relid 0): a default cannot name a column, and opening each relation
#: for its column names costs more than the rest of the query on a fresh connection.
#: Generation expressions (which do name columns) are skipped, looked up one index probe per
#: default (a join let the planner hash all of pg_attribute: most of the query's time).
CONSTRAINTS_SQL = """
SELECT k.conrelid AS relid, k.conname, k.contype::text AS contype, k.conkey,
       rn.nspname AS ref_schema, rc.relname AS ref_name,
       CASE WHEN k.contype = 'f' THEN
            ARRAY(SELECT (SELECT ra.attname::text FROM pg_attribute ra
                          WHERE ra.attrelid = k.confrelid AND ra.attnum = u.attnum)
                  FROM unnest(k.confkey) WITH ORDINALITY AS u(attnum, ord) ORDER BY u.ord)
       END AS ref_columns,
       k.confupdtype::text AS on_update, k.confdeltype::text AS on_delete,
       CASE WHEN k.contype = 'c' THEN pg_get_constraintdef(k.oid) END AS definition
FROM pg_constraint k
LEFT JOIN pg_class rc ON rc.oid = k.confrelid
LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE k.conrelid = ANY($1::oid[]) AND k.contype IN ('p', 'u', 'f', 'c') AND k.conparentid = 0
UNION ALL
SELECT ad.adrelid, NULL, 'd', ARRAY[ad.adnum], NULL, NULL, NULL, NULL, NULL,
       pg_get_expr(ad.adbin, 0)
FROM pg_attrdef ad
WHERE ad.adrelid = ANY($1::oid[])
  AND (SELECT a.attgenerated FROM pg_attribute a
       WHERE a.attrelid = ad.adrelid AND a.attnum = ad.adnum) = ''
ORDER BY 1, 2, 4
"""

#: $1 text[] schemas, like COLUMNS_SQL (so it can follow the columns on their connection while
#: the other reads relations and constraints). Key columns by attnum (0 = an expression, whose
#: text comes from pg_get_indexdef); INCLUDE columns are not keys and are left out.
INDEXES_SQL = (
    """
SELECT i.indrelid AS relid, ic.relname AS name, i.indisunique, i.indisprimary,
       (i.indkey::int2[])[0:i.indnkeyatts - 1] AS keys,
       CASE WHEN i.indexprs IS NOT NULL THEN
            ARRAY(SELECT pg_get_indexdef(i.indexrelid, g, true)
                  FROM generate_series(1, i.indnkeyatts) AS g ORDER BY g)
       END AS key_texts,
       pg_get_expr(i.indpred, i.indrelid, true) AS predicate
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE i.indrelid IN (SELECT c.oid FROM pg_class c
                     JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE """
    + _RELATION_FILTER
    + """)
ORDER BY i.indrelid, ic.relname
"""
)

#: In the main connection's REPEATABLE READ transaction: its snapshot, for a helper connection to
#: read the same catalog state (NULL on a standby, where exporting is not allowed).
EXPORT_SNAPSHOT_SQL = "SELECT CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_export_snapshot() END"
_SNAPSHOT_ID = re.compile(r"[0-9A-F]{1,16}(?:-[0-9A-F]{1,16}){1,2}")


def import_snapshot_sql(snapshot_id: str) -> str:
    """``SET TRANSACTION SNAPSHOT`` for an id from EXPORT_SNAPSHOT_SQL. A utility statement takes
    no bound parameters, so the id (the server's, never the user's) is checked to be the
    ``XXXXXXXX-XXXXXXXX-N`` hex shape before it is quoted in."""
    if not _SNAPSHOT_ID.fullmatch(snapshot_id):
        raise ValueError(f"unexpected snapshot id {snapshot_id!r}")
    return f"SET TRANSACTION SNAPSHOT '{snapshot_id}'"


def quote_ident(name: str) -> str:
    """A PostgreSQL identifier, always quoted: keywords, capitals, quotes and spaces survive."""
    if "\x00" in name:
        raise ValueError(f"identifier {name!r} contains a NUL character")
    return '"' + name.replace('"', '""') + '"'


def sample_sql(
    schema: str,
    table: str,
    columns: Sequence[tuple[str, str | None]],
    arrays: Sequence[str] = (),
) -> str:
    """Up to $1 rows of the given ``(column, source_type)`` pairs, each as its text output (so
    extension types decode without a codec), then for each of ``arrays`` whether the row's
    array holds a NULL element. ``inet`` goes through its output function: its ``::text``
    cast would append ``/32`` to every bare address. ``unnest`` flattens any number of
    dimensions."""
    cols = [
        f"inet_out({quote_ident(c)})::text" if source == "inet" else f"{quote_ident(c)}::text"
        for c, source in columns
    ]
    cols += [
        f"EXISTS (SELECT 1 FROM unnest({quote_ident(c)}) AS e WHERE e IS NULL)" for c in arrays
    ]
    return f"SELECT {', '.join(cols)} FROM {quote_ident(schema)}.{quote_ident(table)} LIMIT $1"

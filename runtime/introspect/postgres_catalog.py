"""The PostgreSQL catalog queries the inspector runs: a fixed set, whatever the number of tables.

Each query takes the relations it is about as one bound ``oid[]`` (or the schema names as one
``text[]``), so the count of round trips never grows with the schema. Identifiers only ever enter
SQL here as bound values; the optional sampling step quotes them with :func:`quote_ident`.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "COLUMNS_SQL",
    "CONSTRAINTS_SQL",
    "INDEXES_SQL",
    "RELATIONS_SQL",
    "TYPES_SQL",
    "quote_ident",
    "sample_sql",
]

#: $1 text[] schemas. Partitions are folded into their root (only the root is listed, with the
#: rows and pages of its whole tree); relations an extension owns are not the user's schema.
#: Sizes are estimates from relpages (table + TOAST + indexes), as fresh as reltuples (last
#: VACUUM / ANALYZE): pg_total_relation_size would open every relation — most of this query's
#: time on a fresh connection — and flap with autovacuum's free-space and visibility forks.
RELATIONS_SQL = """
WITH sized AS (
    SELECT c.oid,
           CASE WHEN c.reltuples >= 0 THEN c.reltuples::float8 END AS tuples,
           CASE WHEN c.reltuples >= 0 THEN
                (c.relpages::int8 + coalesce(toast.relpages, 0)
                 + coalesce((SELECT sum(ic.relpages) FROM pg_index i
                             JOIN pg_class ic ON ic.oid = i.indexrelid
                             WHERE i.indrelid = c.oid), 0))
                * current_setting('block_size')::int8
           END AS bytes
    FROM pg_class c
    LEFT JOIN pg_class toast ON toast.oid = c.reltoastrelid
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
WHERE n.nspname = ANY($1::text[])
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND NOT c.relispartition
  AND NOT EXISTS (SELECT 1 FROM pg_depend e
                  WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
ORDER BY n.nspname, c.relname
"""

#: $1 oid[] relations. Defaults are deparsed without their relation (relid 0): a default cannot
#: name a column, and opening each relation for its column names costs more than the rest of
#: the query on a fresh connection. Generation expressions (which do name columns) are skipped.
#: Unordered: sorting 20,000 wide rows costs the server more than the client's per-table sort.
COLUMNS_SQL = """
SELECT a.attrelid AS relid, a.attnum, a.attname, a.atttypid, a.atttypmod,
       format_type(a.atttypid, a.atttypmod) AS type_text, a.attnotnull, a.attndims,
       a.attidentity::text AS attidentity, a.attgenerated::text AS attgenerated,
       CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, 0) END AS default_expr,
       d.description AS comment
FROM pg_attribute a
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN pg_description d
       ON d.classoid = 'pg_class'::regclass AND d.objoid = a.attrelid AND d.objsubid = a.attnum
WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
"""

#: $1 oid[] the column types. Every type they need, closed over array elements, domain base
#: types and composite attributes (one recursive query, not one per type), with enum labels in
#: sort order, domain CHECKs and composite attributes attached.
TYPES_SQL = """
WITH RECURSIVE closure(oid) AS (
    SELECT unnest($1::oid[])
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
       END AS attributes
FROM (SELECT DISTINCT oid FROM closure) c
JOIN pg_type t ON t.oid = c.oid
JOIN pg_namespace n ON n.oid = t.typnamespace
ORDER BY t.oid
"""

#: $1 oid[] relations. Constraints cloned onto partitions (conparentid <> 0) are skipped; the
#: referenced columns are resolved here because the referenced table may not be inspected.
CONSTRAINTS_SQL = """
SELECT k.conrelid AS relid, k.conname, k.contype::text AS contype, k.conkey,
       rn.nspname AS ref_schema, rc.relname AS ref_name,
       ARRAY(SELECT ra.attname::text
             FROM unnest(k.confkey) WITH ORDINALITY AS u(attnum, ord)
             JOIN pg_attribute ra ON ra.attrelid = k.confrelid AND ra.attnum = u.attnum
             ORDER BY u.ord) AS ref_columns,
       k.confupdtype::text AS on_update, k.confdeltype::text AS on_delete,
       CASE WHEN k.contype = 'c' THEN pg_get_constraintdef(k.oid) END AS definition
FROM pg_constraint k
LEFT JOIN pg_class rc ON rc.oid = k.confrelid
LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE k.conrelid = ANY($1::oid[]) AND k.contype IN ('p', 'u', 'f', 'c') AND k.conparentid = 0
ORDER BY k.conrelid, k.conname
"""

#: $1 oid[] relations. Key columns by attnum (0 = an expression, whose text comes from
#: pg_get_indexdef); INCLUDE columns are not keys and are left out.
INDEXES_SQL = """
SELECT i.indrelid AS relid, ic.relname AS name, i.indisunique, i.indisprimary,
       (i.indkey::int2[])[0:i.indnkeyatts - 1] AS keys,
       CASE WHEN i.indexprs IS NOT NULL THEN
            ARRAY(SELECT pg_get_indexdef(i.indexrelid, g, true)
                  FROM generate_series(1, i.indnkeyatts) AS g ORDER BY g)
       END AS key_texts,
       pg_get_expr(i.indpred, i.indrelid, true) AS predicate
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE i.indrelid = ANY($1::oid[])
ORDER BY i.indrelid, ic.relname
"""


def quote_ident(name: str) -> str:
    """A PostgreSQL identifier, always quoted: keywords, capitals, quotes and spaces survive."""
    if "\x00" in name:
        raise ValueError(f"identifier {name!r} contains a NUL character")
    return '"' + name.replace('"', '""') + '"'


def sample_sql(schema: str, table: str, columns: Sequence[tuple[str, str | None]]) -> str:
    """Up to $1 rows of the given ``(column, source_type)`` pairs, each as its text output (so
    extension types decode without a codec). ``inet`` goes through its output function: its
    ``::text`` cast would append ``/32`` to every bare address."""
    cols = ", ".join(
        f"inet_out({quote_ident(c)})::text" if source == "inet" else f"{quote_ident(c)}::text"
        for c, source in columns
    )
    return f"SELECT {cols} FROM {quote_ident(schema)}.{quote_ident(table)} LIMIT $1"

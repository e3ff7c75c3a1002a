#!/usr/bin/env python3
"""Loads the JSON Lines of `policygraph export --format jsonl` into Postgres for the PostGraphile
comparison in bench/http.sh.

    python3 load.py GRAPH.jsonl        # connection from libpq's PGHOST, PGPORT, PGUSER, PGDATABASE

Runs schema.sql's tables, streams the rows as CSV into `COPY ... FROM STDIN` (one psql per
table, so nothing is written to disk twice and memory does not grow with the graph), then the
keys, indexes and the rest of schema.sql, then VACUUM ANALYZE so the planner knows the tables.
Only the standard library: the bench needs nothing from PyPI.

The line format is docs/import.md's: `{"entity": {...}}` lines, then `{"relation": {...}}` lines
(the export writes every entity first; the loader relies on that, and says so if it is not).
An entity's `id` defaults to its slug; a citation's `document` is a document's entity ID or its
file name, mapped here to the ID.
"""
import csv
import json
import os
import subprocess
import sys

MARKER = "-- after the load"


def psql(*args, stdin=None):
    return subprocess.Popen(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", *args], stdin=stdin, stdout=subprocess.DEVNULL
    )


def run_sql(sql):
    p = psql("-f", "-", stdin=subprocess.PIPE)
    p.communicate(sql.encode())
    if p.returncode != 0:
        sys.exit("load: psql failed")


class Copy:
    """One table's `COPY FROM STDIN`, fed CSV rows."""

    def __init__(self, table, columns):
        cols = ", ".join(f'"{c}"' for c in columns)
        self.p = psql("-c", f"copy {table} ({cols}) from stdin (format csv)", stdin=subprocess.PIPE)
        self.out = open(self.p.stdin.fileno(), "w", encoding="utf-8", newline="", closefd=False)
        self.w = csv.writer(self.out)
        self.rows = 0

    def row(self, values):
        self.w.writerow(values)
        self.rows += 1

    def close(self):
        self.out.close()
        self.p.stdin.close()
        if self.p.wait() != 0:
            sys.exit("load: copy failed")
        return self.rows


def array(values):
    # A Postgres array literal: every element quoted, with its quotes and backslashes escaped.
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "schema.sql"), encoding="utf-8") as f:
        tables, rest = f.read().split(MARKER, 1)
    run_sql(tables)

    entity_cols = ["id", "slug", "kind", "name", "type", "aliases", "summary", "date", "end_date", "url", "file", "text"]
    entities = Copy("entity", entity_cols)
    relations = citations = None
    doc_ids = {}  # a document's file name → its entity ID
    with open(sys.argv[1], encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            record = json.loads(line)
            if "entity" in record:
                if relations is not None:
                    sys.exit(f"load: line {n}: an entity after the first relation")
                e = record["entity"]
                eid = e.get("id") or e["slug"]
                if e.get("file"):
                    doc_ids[e["file"]] = eid
                entities.row([eid, e["slug"], e["kind"], e["name"], e.get("type"), array(e.get("aliases", [])),
                              e.get("summary"), e.get("date"), e.get("end_date"), e.get("url"), e.get("file"),
                              e.get("text")])
            elif "relation" in record:
                if relations is None:
                    entities.close()
                    relations = Copy("relation", ["id", "kind", "from_id", "to_id", "title", "order", "valid_from",
                                                  "valid_until"])
                    citations = Copy("citation", ["relation_id", "position", "document_id", "quote"])
                r = record["relation"]
                rid = r.get("id") or f'{r["kind"]}:{r["from"]}:{r["to"]}'
                relations.row([rid, r["kind"], r["from"], r["to"], r.get("title"), r.get("order"),
                               r.get("valid_from"), r.get("valid_until")])
                for i, c in enumerate(r.get("citations", [])):
                    citations.row([rid, i, doc_ids.get(c["document"], c["document"]), c.get("quote")])
            else:
                sys.exit(f"load: line {n}: neither an entity nor a relation")
    if relations is None:
        sys.exit("load: no relation in the file")
    relations.close()
    citations.close()
    run_sql(rest)
    run_sql("vacuum analyze")
    print(f"loaded {entities.rows} entities, {relations.rows} relations, {citations.rows} citations")


if __name__ == "__main__":
    main()

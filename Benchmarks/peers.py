"""The peers of `make bench-peers` (issue 12): what a user would write instead of `dedup run`.

Each reads the inputs in the order given, keeps the first line of every order.id in that file
order (input 1 before input 2, line 1 before line 2) and writes the kept lines, in input order, to
OUTPUT. Usage: peers.py duckdb|polars|orjson OUTPUT INPUT...

None has a window, durability or exactly-once, and each holds every key (DuckDB and polars every
line) in memory. `dedup run` instead keeps the first record of a key by event time (smallest `ts`
first across the inputs) within its window, so its kept lines can differ from these.
"""

import sys


def run_duckdb(output, inputs):
    import duckdb

    def scan(i, path):
        # One VARCHAR column per whole line: a delimiter and no quote that never occur in the data.
        return (
            f"SELECT {i} AS file, line_no, line FROM read_csv({sql_string(path)}, "
            "columns = {'line': 'VARCHAR'}, delim = '\\x01', quote = '', escape = '', header = false, "
            "auto_detect = false) WITH ORDINALITY AS t(line, line_no)"
        )

    lines = " UNION ALL ".join(scan(i, path) for i, path in enumerate(inputs))
    duckdb.connect().execute(
        f"""COPY (
            SELECT line FROM ({lines})
            QUALIFY row_number() OVER (PARTITION BY json_extract_string(line, '$.order.id') ORDER BY file, line_no) = 1
            ORDER BY file, line_no
        ) TO {sql_string(output)} (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\\x01')"""
    )


def sql_string(s):
    return "'" + s.replace("'", "''") + "'"


def run_polars(output, inputs):
    import polars as pl

    frames = [
        pl.scan_csv(path, has_header=False, separator="\x01", quote_char=None, schema={"line": pl.String})
        for path in inputs
    ]
    kept = (
        pl.concat(frames)
        .with_columns(key=pl.col("line").str.json_path_match("$.order.id"))
        .unique(subset="key", keep="first", maintain_order=True)
        .select("line")
        .collect()
    )
    kept.write_csv(output, include_header=False, quote_style="never", separator="\x01")


def run_orjson(output, inputs):
    import orjson

    loads = orjson.loads
    seen = set()
    with open(output, "wb", buffering=1 << 20) as out:
        write = out.write
        for path in inputs:
            with open(path, "rb", buffering=1 << 20) as lines:
                for line in lines:
                    key = loads(line)["order"]["id"]
                    if key not in seen:
                        seen.add(key)
                        write(line)


if __name__ == "__main__":
    peers = {"duckdb": run_duckdb, "polars": run_polars, "orjson": run_orjson}
    if len(sys.argv) < 4 or sys.argv[1] not in peers:
        sys.exit("usage: peers.py duckdb|polars|orjson OUTPUT INPUT...")
    peers[sys.argv[1]](sys.argv[2], sys.argv[3:])

#!/usr/bin/env python3
"""Replaces one section of BENCHMARKS.md (between <!-- NAME:begin --> and <!-- NAME:end -->) with new text."""
import pathlib
import sys

name, body = sys.argv[1], sys.argv[2]
path = pathlib.Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
text = path.read_text() if path.exists() else "# Benchmarks\n"
begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
block = f"{begin}\n{body.strip()}\n{end}"
if begin in text and end in text:
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    text = head + block + tail
else:
    text = text.rstrip() + "\n\n" + block + "\n"
path.write_text(text)

#!/usr/bin/env python3
"""Fail unless a pytest JUnit XML report shows tests that ran and none that failed.

Usage: check_junit.py REPORT.xml [LABEL]
Exit 0 when at least one test ran (tests minus skipped > 0) and failures + errors == 0;
exit 1 otherwise, or when the report is missing or unreadable.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: check_junit.py REPORT.xml [LABEL]", file=sys.stderr)
        return 2
    path = Path(argv[1])
    label = argv[2] if len(argv) == 3 else path.name
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        print(f"FAIL [{label}]: cannot read JUnit report {path}: {exc}", file=sys.stderr)
        return 1
    # pytest writes <testsuites><testsuite .../></testsuites>; older versions a bare <testsuite>.
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    totals = {"tests": 0, "skipped": 0, "failures": 0, "errors": 0}
    for suite in suites:
        for key in totals:
            totals[key] += int(suite.get(key, "0") or 0)
    ran = totals["tests"] - totals["skipped"]
    summary = (
        f"{totals['tests']} tests, {ran} ran, {totals['skipped']} skipped, "
        f"{totals['failures']} failures, {totals['errors']} errors"
    )
    if not suites or ran <= 0:
        print(f"FAIL [{label}]: no tests ran ({summary}) in {path}", file=sys.stderr)
        return 1
    if totals["failures"] or totals["errors"]:
        print(f"FAIL [{label}]: {summary} in {path}", file=sys.stderr)
        return 1
    print(f"OK [{label}]: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

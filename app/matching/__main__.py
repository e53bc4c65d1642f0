"""Run a Match from a JSON file in the endpoint's format.

    python -m app.matching INPUT.json [--trace] [--json]

Prints a summary (counts, stability, time taken), or with --json the full result. Exit status:
0 on success, 1 when the input is invalid (the problems are printed), 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from .engine import run_match
from .errors import MatchInputError
from .instance import parse_instance
from .result import result_to_dict


def _summary(out: dict[str, Any], parse_s: float, run_s: float, load_s: float) -> str:
    c = out["counts"]
    s = out["stability"]
    w = out["work"]
    lines = [
        f"status:      {out['status']}",
        f"applicants:  {c['applicants']} ({c['matched']} matched, {c['unmatched']} unmatched)",
        f"programs:    {c['programs']} with {c['positions']} positions "
        f"({c['filled']} filled, {c['unfilled']} unfilled)",
    ]
    if c["couples"]:
        lines.append(f"couples:     {c['couples']} ({c['couples_matched']} matched)")
    lines.append(
        f"stability:   {'stable' if s['stable'] else 'NOT stable'} "
        f"({s['blocking_pairs_total']} blocking pairs, {s['blocking_couples_total']} blocking couple pairs)"
    )
    lines.append(f"             {s['message']}")
    for b in s["blocking_pairs"][:10]:
        lines.append(f"             blocking: {b['applicant']} - {b['program']}")
    for b in s["blocking_couples"][:10]:
        lines.append(f"             blocking couple: {' & '.join(b['members'])} - {b['programs']}")
    lines.append(
        f"work:        {w['proposals']} proposals, {w['rejections']} rejections, "
        f"{w['displacements']} displacements, {w['withdrawals']} withdrawals, {w['reentries']} re-entries"
    )
    lines.append(
        f"time:        load {load_s * 1000:.1f} ms, validate {parse_s * 1000:.1f} ms, "
        f"match + stability check {run_s * 1000:.1f} ms"
    )
    for note in out["notes"]:
        lines.append(f"note:        {note}")
    if out["trace"] is not None:
        lines.append("")
        lines.append("trace:")
        for e in out["trace"]:
            lines.append(f"  {e['step']:>4}. {e['text']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.matching", description="Run the Match on a JSON file.")
    parser.add_argument("input", help="JSON file with programs, applicants and couples ('-' for stdin)")
    parser.add_argument("--trace", action="store_true", help="include the step-by-step trace (up to 50 applicants)")
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    try:
        if args.input == "-":
            data = json.load(sys.stdin)
        else:
            with open(args.input, encoding="utf-8") as fh:
                data = json.load(fh)
    except (OSError, ValueError) as exc:
        print(f"error: cannot read {args.input}: {exc}", file=sys.stderr)
        return 1
    t1 = time.perf_counter()
    try:
        inst = parse_instance(data)
    except MatchInputError as exc:
        print(f"error: {len(exc.problems)} problem(s) in {args.input}:", file=sys.stderr)
        for p in exc.problems:
            print(f"  {p['field'] or '(input)'}: {p['message']} [{p['code']}]", file=sys.stderr)
        return 1
    t2 = time.perf_counter()
    want_trace = args.trace or (isinstance(data, dict) and data.get("trace") is True)
    result = run_match(inst, trace=want_trace)
    t3 = time.perf_counter()
    out = result_to_dict(result)
    try:
        if args.json:
            json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
            sys.stdout.write("\n")
        else:
            print(_summary(out, t2 - t1, t3 - t2, t1 - t0))
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into `head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Command line: `python -m app migrate | seed | worker | openapi [PATH] | check-openapi [PATH] | rules check DIR`."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

OPENAPI_PATH = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"


def openapi_text() -> str:
    from app.main import create_app

    return json.dumps(create_app().openapi(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "help"
    if cmd == "migrate":
        from app.core.config import get_settings
        from app.core.migrate import upgrade_head

        settings = get_settings()
        if settings.is_sqlite:
            Path("var").mkdir(exist_ok=True)
        upgrade_head(settings.database_url)
        print("database migrated to head")
        return 0
    if cmd == "seed":
        from app.core.db import db
        from app.demo import DEMO_ACCOUNTS, seed_if_empty

        async def _seed() -> str | None:
            try:
                return await seed_if_empty()
            finally:
                await db.dispose()

        password = asyncio.run(_seed())
        if password is None:
            print("database not empty: demo data not loaded")
        else:
            print("demo data loaded (development only). Sign in with any of:")
            for email in DEMO_ACCOUNTS:
                print(f"  {email}")
            shown = "(from MATCHREADY_DEMO_PASSWORD)" if os.environ.get("MATCHREADY_DEMO_PASSWORD") else password
            print(f"password: {shown}")
        return 0
    if cmd == "worker":
        from app.worker import main as worker_main

        return worker_main()
    if cmd == "openapi":
        path = Path(argv[1]) if len(argv) > 1 else OPENAPI_PATH
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(openapi_text(), encoding="utf-8")
        print(f"wrote {path}")
        return 0
    if cmd == "check-openapi":
        path = Path(argv[1]) if len(argv) > 1 else OPENAPI_PATH
        if not path.exists() or path.read_text(encoding="utf-8") != openapi_text():
            print(f"{path} is out of date: run `make openapi`", file=sys.stderr)
            return 1
        print("openapi.json is up to date")
        return 0
    if cmd == "rules" and len(argv) == 3 and argv[1] == "check":
        return rules_check(argv[2])
    print(__doc__)
    return 2


def rules_check(folder: str) -> int:
    """Validate a folder of rule files as RULES_DIR would load it, and print what it changes against the packaged
    rule set. Exit 1 when a file is invalid."""
    from app.pathway.rules import RulesError, active_rulebook, differences, load_rulebook

    try:
        book = active_rulebook(folder)
    except RulesError as exc:
        print(f"invalid: {exc}", file=sys.stderr)
        return 1
    packaged = load_rulebook()
    changed = differences(packaged, book)
    files = sorted(p.name for p in Path(folder).glob("*.toml"))
    inherit = [str(y) for y in book.years if book.cycles[y].source == "folder" and f"{y}.toml" not in files]
    print(f"valid: {', '.join(files)} ({', '.join(str(book.cycles[int(f[:-5])].rules_version) for f in files)})"
          + (f"; cycles {', '.join(inherit)} extend them" if inherit else ""))
    if not changed:
        print("no differences from the packaged rule set")
    for line in changed:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

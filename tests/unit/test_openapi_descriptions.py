"""The document explains itself: every operation has a summary and a description, every tag an operation uses is
declared with a description, and no declared tag goes unused."""

from __future__ import annotations

from app.main import create_app

DOC = create_app().openapi()
OPERATIONS = [(method, path, op) for path, ops in DOC["paths"].items() for method, op in ops.items()]


def test_every_operation_has_a_summary_and_a_description() -> None:
    assert len(OPERATIONS) > 50
    missing = [f"{m.upper()} {p}" for m, p, op in OPERATIONS
               if not op.get("summary", "").strip() or not op.get("description", "").strip()]
    assert missing == []


def test_every_tag_is_declared_with_a_description() -> None:
    declared = {t["name"]: t.get("description", "") for t in DOC.get("tags", [])}
    used = {tag for _, _, op in OPERATIONS for tag in op.get("tags", [])}
    used |= {tag for ops in DOC.get("webhooks", {}).values() for op in ops.values() for tag in op.get("tags", [])}
    assert used - set(declared) == set(), "tags without a declaration"
    assert set(declared) - used == set(), "declared tags no operation uses"
    assert [name for name, text in declared.items() if len(text.strip()) < 20] == []

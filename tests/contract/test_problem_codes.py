"""Problems in the document: every code the service raises is enumerated under its problem type, and every
declared error status shows examples of its own."""

from __future__ import annotations

import ast
from pathlib import Path

from jsonschema_rs import Draft202012Validator

import app
from app.core import errors
from app.core.errors import OPEN_CODES, PROBLEM_CODES, PROBLEM_TYPES
from app.main import create_app

DOCUMENT = create_app().openapi()
APP_DIR = Path(app.__file__).parent
SLUG_OF_CLASS = {name: cls.slug for name, cls in vars(errors).items()
                 if isinstance(cls, type) and issubclass(cls, errors.AppError)}
# Helpers that raise a problem with the code they are given: ValidationFailed (app.milestones.validation's `_fail`),
# the matching engine's problem list (its first problem's code becomes the 422's), a webhook URL refused
# (app.webhooks.urls.UrlRefused, whose code becomes the 422's).
CODE_ARGUMENT = {"_fail": (2, "validation-error"), "add": (1, "validation-error"),
                 "UrlRefused": (1, "validation-error")}


def _called(node: ast.Call) -> str | None:
    fn = node.func
    return fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(fn, ast.Attribute) else None


def _class_slug(tree: ast.Module, call: ast.Call, where: str) -> str:
    """The problem type of `Name(..., code=...)`, or of `super().__init__(..., code=...)` in a subclass."""
    name = _called(call)
    if name in SLUG_OF_CLASS:
        return SLUG_OF_CLASS[name]
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        if any(n is call for n in ast.walk(cls)):
            if cls.name in SLUG_OF_CLASS:  # a class of app.core.errors: its own slug
                return SLUG_OF_CLASS[cls.name]
            for base in cls.bases:
                if isinstance(base, ast.Name) and base.id in SLUG_OF_CLASS:
                    return SLUG_OF_CLASS[base.id]
    raise AssertionError(f"{where}: a `code=` given to {name}(), whose problem type this test cannot tell")


def raised_codes() -> set[tuple[str, str, str]]:
    """(problem type, code, where) of every code the sources raise a problem with."""
    found: set[tuple[str, str, str]] = set()
    for path in sorted(APP_DIR.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            where = f"{path.relative_to(APP_DIR.parent)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg == "code" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                        found.add((_class_slug(tree, node, where), kw.value.value, where))
                # a rule of a schema whose code is also the 422's (app.core.errors.RULE_CODES)
                if _called(node) == "PydanticCustomError" and isinstance(node.args[0], ast.Constant) \
                        and node.args[0].value in errors.RULE_CODES:
                    found.add(("validation-error", node.args[0].value, where))
                position, slug = CODE_ARGUMENT.get(_called(node) or "", (None, ""))
                if position is not None and len(node.args) > position:
                    arg = node.args[position]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        found.add((slug, arg.value, where))
            # unique-constraint conflicts: {"column": ("code", "detail")} tables named *CONFLICTS
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict) and any(
                    isinstance(t, ast.Name) and t.id.endswith("CONFLICTS") for t in node.targets):
                for key, value in zip(node.value.keys, node.value.values, strict=True):
                    if key is None:  # `**OTHER_CONFLICTS`: that table is read where it is defined
                        continue
                    assert isinstance(value, ast.Tuple) and isinstance(value.elts[0], ast.Constant), where
                    found.add(("conflict", str(value.elts[0].value), where))
            # rule codes a refusal keeps when it is raised again as a 409: frozensets named *CONFLICT_CODES
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id.endswith("CONFLICT_CODES") for t in node.targets):
                assert isinstance(node.value, ast.Call) and _called(node.value) == "frozenset", where
                for elt in node.value.args[0].elts:  # type: ignore[attr-defined]
                    found.add(("conflict", str(elt.value), where))
    return found


def test_the_scan_finds_codes_of_each_kind():
    """The scan is not empty-handed: it finds the codes of each way a problem gets one."""
    codes = {(slug, code) for slug, code, _ in raised_codes()}
    for expected in [("domain-rule", "visa_not_needed"), ("not-found", "invalid_token"),
                     ("unauthorized", "invalid_grant"), ("conflict", "usmle_id_taken"), ("conflict", "conflict"),
                     ("validation-error", "result_not_applicable"), ("validation-error", "duplicate_rank"),
                     ("validation-error", "unknown_cycle"), ("payload-too-large", "too_many_items"),
                     ("conflict", "attempt_limit_reached"), ("validation-error", "date_order")]:
        assert expected in codes, expected


def test_every_code_raised_is_enumerated_under_its_problem_type():
    missing = sorted(f"{where}: {code!r} ({slug})" for slug, code, where in raised_codes()
                     if code not in PROBLEM_CODES.get(slug, {}))
    assert not missing, "add these to PROBLEM_CODES in app/core/errors.py:\n" + "\n".join(missing)


def test_every_enumerated_code_is_raised():
    raised = {(slug, code) for slug, code, _ in raised_codes()}
    stale = sorted((slug, code) for slug, codes in PROBLEM_CODES.items() for code in codes
                   if (slug, code) not in raised)
    assert not stale, f"enumerated but never raised: {stale}"


def problem_validator() -> Draft202012Validator:
    return Draft202012Validator({"$ref": "#/components/schemas/Problem", "components": DOCUMENT["components"]})


def test_the_problem_schema_holds_each_type_to_its_codes():
    problem = problem_validator()
    base = {"title": "t", "status": 422}
    assert problem.is_valid({**base, "type": "/problems/domain-rule", "code": "visa_not_needed"})
    assert not problem.is_valid({**base, "type": "/problems/domain-rule", "code": "no_such_code"})
    assert not problem.is_valid({**base, "type": "/problems/conflict", "code": "completed_in_future"})
    assert not problem.is_valid({**base, "type": "/problems/not-found", "code": "conflict"})
    assert problem.is_valid({**base, "type": "/problems/not-found"})
    for slug in OPEN_CODES:
        assert problem.is_valid({**base, "type": PROBLEM_TYPES[slug].uri, "code": "string_too_long"})
    description = DOCUMENT["components"]["schemas"]["Problem"]["properties"]["code"]["description"]
    for slug, codes in PROBLEM_CODES.items():
        assert all(f"`{code}`" in description for code in codes), slug


def test_every_declared_error_status_has_examples_of_its_own():
    problem = problem_validator()
    seen = 0
    for path, ops in DOCUMENT["paths"].items():
        for method, op in ops.items():
            for status, response in op["responses"].items():
                if not status.startswith(("4", "5")):
                    continue
                media = response["content"]["application/problem+json"]
                examples = media.get("examples")
                assert examples, (method, path, status)
                for name, example in examples.items():
                    assert example == {"$ref": f"#/components/examples/{name}"}, (method, path, status, name)
                    value = DOCUMENT["components"]["examples"][name]["value"]
                    assert value["status"] == int(status), (method, path, status, name)
                    assert PROBLEM_TYPES[name].status == int(status) and value["type"] == PROBLEM_TYPES[name].uri
                    assert problem.is_valid(value), (name, [str(e) for e in problem.iter_errors(value)])
                seen += 1
    assert seen > 500, seen

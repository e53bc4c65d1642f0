"""Validation of Match input into one index-based internal representation.

The engine and the stability check work only on ``MatchInstance``: applicants and programs are
integers (their position in the input), rank order lists are lists of ints, and each program has a
dict from applicant index to rank. Validation builds those structures as it checks them, so a valid
input is converted in a single pass; precise problem reports are produced on a slower path that only
runs when the fast path finds something wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import limits as L
from ._gc import gc_paused
from .errors import MatchInputError, Problem

NO_PROGRAM = -1  # the "no match for this partner" side of a couple's pair


@dataclass(frozen=True, slots=True)
class MatchInstance:
    """A validated Match instance. Indices refer to the input order of applicants and programs."""

    applicant_ids: list[str]
    program_ids: list[str]
    positions: list[int]
    # Individual rank order lists as program indices (ignored for applicants in a couple).
    applicant_prefs: list[list[int]]
    # Program rank order lists as applicant indices, most preferred first.
    program_prefs: list[list[int]]
    # program_rank[p][a] = position of applicant a on program p's list (0 = most preferred).
    program_rank: list[dict[int, int]]
    couple_members: list[tuple[int, int]]
    # Joint lists: pairs of program indices, NO_PROGRAM for "no match for that partner".
    couple_prefs: list[list[tuple[int, int]]]
    # couple_of[a] = index of a's couple, or -1 for a single applicant.
    couple_of: list[int]

    @property
    def total_ranks(self) -> int:
        """Length of every list an applicant side proposes from (singles' lists and couples' lists)."""
        prefs = self.applicant_prefs
        in_couples = sum(len(prefs[a]) + len(prefs[b]) for a, b in self.couple_members if a >= 0 and b >= 0)
        return sum(map(len, prefs)) - in_couples + sum(map(len, self.couple_prefs))


# Input dataclasses for Python callers (the HTTP layer uses the dict form).


@dataclass(frozen=True, slots=True)
class ProgramInput:
    id: str
    positions: int
    rank_order_list: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class ApplicantInput:
    id: str
    rank_order_list: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class CoupleInput:
    members: tuple[str, str]
    rank_order_list: Sequence[tuple[str | None, str | None]] = field(default_factory=tuple)


def instance_from_inputs(
    programs: Iterable[ProgramInput],
    applicants: Iterable[ApplicantInput],
    couples: Iterable[CoupleInput] = (),
) -> MatchInstance:
    """Validate dataclass inputs (same rules as the dict form)."""
    data = {
        "programs": [
            {"id": p.id, "positions": p.positions, "rank_order_list": list(p.rank_order_list)} for p in programs
        ],
        "applicants": [{"id": a.id, "rank_order_list": list(a.rank_order_list)} for a in applicants],
        "couples": [
            {"members": list(c.members), "rank_order_list": [list(pair) for pair in c.rank_order_list]} for c in couples
        ],
    }
    return parse_instance(data)


class _Problems:
    """Collects problems up to a limit, counting the rest."""

    __slots__ = ("items", "dropped")

    def __init__(self) -> None:
        self.items: list[Problem] = []
        self.dropped = 0

    def add(self, field_: str, code: str, message: str) -> None:
        if len(self.items) < L.MAX_PROBLEMS:
            self.items.append({"field": field_, "message": message, "code": code})
        else:
            self.dropped += 1

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        items = list(self.items)
        if self.dropped:
            items.append(
                {
                    "field": "",
                    "message": f"{self.dropped} more problem(s) not listed",
                    "code": "too_many_problems",
                }
            )
        raise MatchInputError(items)


def _id_problem(value: object) -> str | None:
    """Why ``value`` is not a valid id, or None if it is one."""
    if type(value) is not str:
        return f"must be a string, not {_type_name(value)}"
    if not value:
        return "must not be empty"
    if len(value) > L.MAX_ID_LENGTH:
        return f"must be at most {L.MAX_ID_LENGTH} characters"
    if "\x00" in value:
        return "must not contain a NUL character"
    return None


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _check_keys(
    item: Mapping[str, Any], where: str, allowed: frozenset[str], required: tuple[str, ...], probs: _Problems
) -> bool:
    ok = True
    for key in item:
        if key not in allowed:
            probs.add(f"{where}.{key}", "unknown_field", f"unknown field {key!r}")
            ok = False
    for key in required:
        if key not in item:
            probs.add(f"{where}.{key}", "missing_field", "field required")
            ok = False
    return ok


_PROGRAM_KEYS = frozenset({"id", "positions", "rank_order_list"})
_APPLICANT_KEYS = frozenset({"id", "rank_order_list"})
_COUPLE_KEYS = frozenset({"members", "rank_order_list"})
_TOP_KEYS = frozenset({"programs", "applicants", "couples", "trace"})


def _top_list(data: Mapping[str, Any], key: str, limit: int, probs: _Problems, required: bool) -> list[Any]:
    if key not in data:
        if required:
            probs.add(key, "missing_field", "field required")
        return []
    value = data[key]
    if value is None and not required:
        return []
    if not isinstance(value, list | tuple):
        probs.add(key, "invalid_type", f"must be an array, not {_type_name(value)}")
        return []
    if len(value) > limit:
        probs.add(key, "too_many_items", f"at most {limit} entries are allowed, got {len(value)}")
        return []
    return list(value)


def _collect_ids_fast(
    items: list[Any], allowed: frozenset[str], required: tuple[str, ...]
) -> tuple[dict[str, int], list[str]] | None:
    """The ids when every entry is well formed (checked in bulk), else None."""
    try:
        if not all([type(item) is dict and item.keys() <= allowed for item in items]):
            return None
        for key in required[1:]:
            if not all([key in item for item in items]):
                return None
        ids = [item["id"] for item in items]
    except (KeyError, TypeError, AttributeError):
        return None
    if not ids:
        return {}, ids
    if set(map(type, ids)) != {str}:
        return None
    lengths = list(map(len, ids))
    if min(lengths) < 1 or max(lengths) > L.MAX_ID_LENGTH or "\x00" in "".join(ids):
        return None
    index = dict(zip(ids, range(len(ids)), strict=True))
    if len(index) != len(ids):
        return None
    return index, ids


def _collect_ids(
    items: list[Any], section: str, allowed: frozenset[str], required: tuple[str, ...], probs: _Problems
) -> tuple[dict[str, int], list[str]]:
    """First pass: ids of programs or applicants, with duplicate detection (``required``: 1 or 2 keys)."""
    fast = _collect_ids_fast(items, allowed, required)
    if fast is not None:
        return fast
    index: dict[str, int] = {}
    ids: list[str] = []
    max_len = L.MAX_ID_LENGTH
    first_required = required[0]
    last_required = required[-1]
    for i, item in enumerate(items):
        if type(item) is not dict and not isinstance(item, Mapping):
            probs.add(f"{section}[{i}]", "invalid_type", f"must be an object, not {_type_name(item)}")
            ids.append("")
            continue
        if not item.keys() <= allowed or first_required not in item or last_required not in item:
            _check_keys(item, f"{section}[{i}]", allowed, required, probs)
        ident = item.get("id")
        if type(ident) is not str or not 0 < len(ident) <= max_len or "\x00" in ident:
            why = _id_problem(ident)
            if "id" in item and why is not None:
                probs.add(f"{section}[{i}].id", "invalid_id", f"id {why}")
            ids.append("")
            continue
        if ident in index:
            probs.add(
                f"{section}[{i}].id",
                "duplicate_id",
                f"id {ident!r} is already used by {section}[{index[ident]}]",
            )
        else:
            index[ident] = i
        ids.append(ident)
    return index, ids


_EMPTY: list[Any] = []


def _positions_problem(raw: object, where: str, probs: _Problems) -> None:
    if type(raw) is not int:
        probs.add(where, "invalid_type", f"must be an integer, not {_type_name(raw)}")
    elif raw < 0:
        probs.add(where, "negative_positions", f"must be 0 or more, got {raw}")
    else:
        probs.add(where, "too_large", f"must be at most {L.MAX_POSITIONS}, got {raw}")


def _rank_list(item: Mapping[str, Any], where: str, limit: int, probs: _Problems) -> list[Any] | None:
    """The raw rank order list of an entry (absent means empty), or None if it is unusable."""
    rol = item.get("rank_order_list", [])
    if not isinstance(rol, list | tuple):
        probs.add(f"{where}.rank_order_list", "invalid_type", f"must be an array, not {_type_name(rol)}")
        return None
    if len(rol) > limit:
        probs.add(
            f"{where}.rank_order_list",
            "too_many_ranks",
            f"at most {limit} ranks are allowed, got {len(rol)}",
        )
        return None
    return rol if isinstance(rol, list) else list(rol)


def _resolve_slow(rol: list[Any], where: str, index: Mapping[str, int], kind: str, probs: _Problems) -> list[int]:
    """Precise problems for one rank order list of ids (the fast path found something wrong)."""
    out: list[int] = []
    seen: dict[int, int] = {}
    for k, value in enumerate(rol):
        at = f"{where}.rank_order_list[{k}]"
        why = _id_problem(value)
        if why is not None:
            probs.add(at, "invalid_id", f"{kind} id {why}")
            continue
        idx = index.get(value)
        if idx is None:
            probs.add(at, "unknown_id", f"no {kind} has id {value!r}")
            continue
        if idx in seen:
            probs.add(at, "duplicate_rank", f"{kind} {value!r} is already ranked at position {seen[idx] + 1}")
            continue
        seen[idx] = k
        out.append(idx)
    return out


def parse_instance(data: object) -> MatchInstance:
    """Validate the endpoint's JSON shape into a ``MatchInstance``; raise ``MatchInputError`` if bad."""
    with gc_paused():
        return _parse(data)


def _parse(data: object) -> MatchInstance:
    probs = _Problems()
    if not isinstance(data, Mapping):
        probs.add("", "invalid_type", f"the input must be an object, not {_type_name(data)}")
        probs.raise_if_any()
        raise AssertionError("unreachable")
    for key in data:
        if key not in _TOP_KEYS:
            probs.add(str(key), "unknown_field", f"unknown field {key!r}")

    programs = _top_list(data, "programs", L.MAX_PROGRAMS, probs, required=True)
    applicants = _top_list(data, "applicants", L.MAX_APPLICANTS, probs, required=True)
    couples = _top_list(data, "couples", L.MAX_COUPLES, probs, required=False)

    pindex, program_ids = _collect_ids(programs, "programs", _PROGRAM_KEYS, ("id", "positions"), probs)
    aindex, applicant_ids = _collect_ids(applicants, "applicants", _APPLICANT_KEYS, ("id",), probs)

    # Programs: positions and rank order lists of applicants. Each entry takes a fast path that
    # only checks; the precise report is built on a slow path when the check fails.
    positions: list[int] = []
    program_prefs: list[list[int]] = []
    program_rank: list[dict[int, int]] = []
    max_positions = L.MAX_POSITIONS
    max_program_ranks = L.MAX_PROGRAM_RANKS
    for i, item in enumerate(programs):
        pos = 0
        prefs: list[int] = []
        rank: dict[int, int] = {}
        if type(item) is dict or isinstance(item, Mapping):
            raw_pos = item.get("positions")
            if type(raw_pos) is int and 0 <= raw_pos <= max_positions:
                pos = raw_pos
            elif "positions" in item:
                _positions_problem(raw_pos, f"programs[{i}].positions", probs)
            rol = item.get("rank_order_list", _EMPTY)
            if type(rol) is not list or len(rol) > max_program_ranks:
                rol = _rank_list(item, f"programs[{i}]", max_program_ranks, probs)
            if rol:
                try:
                    prefs = [aindex[x] for x in rol]
                    rank = dict(zip(prefs, range(len(prefs)), strict=True))
                    if len(rank) != len(prefs):
                        raise KeyError
                except (KeyError, TypeError):
                    prefs = _resolve_slow(rol, f"programs[{i}]", aindex, "applicant", probs)
                    rank = dict(zip(prefs, range(len(prefs)), strict=True))
        positions.append(pos)
        program_prefs.append(prefs)
        program_rank.append(rank)

    # Applicants: individual rank order lists of programs.
    applicant_prefs: list[list[int]] = []
    max_applicant_ranks = L.MAX_APPLICANT_RANKS
    for i, item in enumerate(applicants):
        prefs = []
        if type(item) is dict or isinstance(item, Mapping):
            rol = item.get("rank_order_list", _EMPTY)
            if type(rol) is not list or len(rol) > max_applicant_ranks:
                rol = _rank_list(item, f"applicants[{i}]", max_applicant_ranks, probs)
            if rol:
                try:
                    prefs = [pindex[x] for x in rol]
                    if len(set(prefs)) != len(prefs):
                        raise KeyError
                except (KeyError, TypeError):
                    prefs = _resolve_slow(rol, f"applicants[{i}]", pindex, "program", probs)
        applicant_prefs.append(prefs)

    # Couples.
    couple_of = [-1] * len(applicants)
    pindex_or_none: dict[Any, int] = dict(pindex)
    pindex_or_none[None] = NO_PROGRAM
    couple_members: list[tuple[int, int]] = []
    couple_prefs: list[list[tuple[int, int]]] = []
    for i, item in enumerate(couples):
        where = f"couples[{i}]"
        members = (-1, -1)
        pairs: list[tuple[int, int]] = []
        if not isinstance(item, Mapping):
            probs.add(where, "invalid_type", f"must be an object, not {_type_name(item)}")
        else:
            _check_keys(item, where, _COUPLE_KEYS, ("members",), probs)
            members = _parse_members(item, where, i, aindex, couple_of, probs)
            pairs = _parse_pairs(item, where, pindex, pindex_or_none, probs)
        couple_members.append(members)
        couple_prefs.append(pairs)

    probs.raise_if_any()
    return MatchInstance(
        applicant_ids=applicant_ids,
        program_ids=program_ids,
        positions=positions,
        applicant_prefs=applicant_prefs,
        program_prefs=program_prefs,
        program_rank=program_rank,
        couple_members=couple_members,
        couple_prefs=couple_prefs,
        couple_of=couple_of,
    )


def _parse_members(
    item: Mapping[str, Any],
    where: str,
    couple_index: int,
    aindex: Mapping[str, int],
    couple_of: list[int],
    probs: _Problems,
) -> tuple[int, int]:
    if "members" not in item:
        return (-1, -1)
    raw = item["members"]
    if not isinstance(raw, list | tuple) or len(raw) != 2:
        probs.add(f"{where}.members", "invalid_members", "members must be an array of exactly two applicant ids")
        return (-1, -1)
    out = [-1, -1]
    for k, value in enumerate(raw):
        at = f"{where}.members[{k}]"
        why = _id_problem(value)
        if why is not None:
            probs.add(at, "invalid_id", f"applicant id {why}")
            continue
        a = aindex.get(value)
        if a is None:
            probs.add(
                at,
                "couple_member_not_applicant",
                f"{value!r} is not in applicants; couple members must also be listed as applicants",
            )
            continue
        out[k] = a
    if out[0] >= 0 and out[0] == out[1]:
        probs.add(
            f"{where}.members[1]",
            "couple_same_member",
            f"a couple needs two different applicants, got {raw[0]!r} twice",
        )
        return (-1, -1)
    for k in (0, 1):
        a = out[k]
        if a < 0:
            continue
        other = couple_of[a]
        if other >= 0:
            probs.add(
                f"{where}.members[{k}]",
                "applicant_in_two_couples",
                f"applicant {raw[k]!r} is already in couples[{other}]",
            )
            out[k] = -1
        else:
            couple_of[a] = couple_index
    return (out[0], out[1])


def _parse_pairs(
    item: Mapping[str, Any],
    where: str,
    pindex: Mapping[str, int],
    pindex_or_none: Mapping[Any, int],
    probs: _Problems,
) -> list[tuple[int, int]]:
    rol = _rank_list(item, where, L.MAX_COUPLE_RANKS, probs)
    if not rol:
        return []
    # Fast path: every pair a 2-item array of known ids or nulls, no repeats, no empty pair.
    try:
        if all(type(raw) is list or type(raw) is tuple for raw in rol):
            fast = [(pindex_or_none[x], pindex_or_none[y]) for x, y in rol]
            if len(set(fast)) == len(fast) and (NO_PROGRAM, NO_PROGRAM) not in fast:
                return fast
    except (KeyError, TypeError, ValueError):
        pass
    pairs: list[tuple[int, int]] = []
    seen: dict[tuple[int, int], int] = {}
    for k, raw in enumerate(rol):
        at = f"{where}.rank_order_list[{k}]"
        if not isinstance(raw, list | tuple) or len(raw) != 2:
            probs.add(at, "invalid_pair", "each rank must be a pair [program id or null, program id or null]")
            continue
        sides = [NO_PROGRAM, NO_PROGRAM]
        bad = False
        for s, value in enumerate(raw):
            if value is None:
                continue
            why = _id_problem(value)
            if why is not None:
                probs.add(f"{at}[{s}]", "invalid_id", f"program id {why}")
                bad = True
                continue
            p = pindex.get(value)
            if p is None:
                probs.add(f"{at}[{s}]", "unknown_id", f"no program has id {value!r}")
                bad = True
                continue
            sides[s] = p
        if bad:
            continue
        pair = (sides[0], sides[1])
        if pair == (NO_PROGRAM, NO_PROGRAM):
            probs.add(at, "empty_pair", "a pair must name a program for at least one partner")
            continue
        if pair in seen:
            probs.add(at, "duplicate_pair", f"the same pair is already ranked at position {seen[pair] + 1}")
            continue
        seen[pair] = k
        pairs.append(pair)
    return pairs

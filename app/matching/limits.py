"""Size limits shared by the engine's own validation and the HTTP schemas.

One place, so the request model and the engine never disagree on what is too big.
"""

from __future__ import annotations

MAX_ID_LENGTH = 64
MAX_APPLICANTS = 60_000
MAX_PROGRAMS = 10_000
MAX_COUPLES = 10_000
MAX_APPLICANT_RANKS = 300  # NRMP caps a rank order list at 300 ranks
MAX_COUPLE_RANKS = 300
MAX_PROGRAM_RANKS = 5_000
MAX_POSITIONS = 5_000

# A step-by-step trace is only produced for teaching-sized instances.
TRACE_MAX_APPLICANTS = 50
# and is cut after this many events (a cycling instance could otherwise produce a very long one).
TRACE_MAX_EVENTS = 5_000

# Problems reported by one MatchInputError; the rest are summarised in one last entry.
MAX_PROBLEMS = 200

# Default work bound: proposals allowed = WORK_FACTOR * (total rank-list length) + WORK_SLACK.
WORK_FACTOR = 3
WORK_SLACK = 100
# A couple sent back this many times to a program that freed a place is cycling with others:
# after that it stays where the algorithm leaves it (which ends every cycle; see the engine).
MAX_COUPLE_REENTRIES = 20

# Blocking pairs listed in a stability report (the totals are always exact).
MAX_REPORTED_BLOCKING = 100

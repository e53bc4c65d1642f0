from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from app.candidates.schemas import CandidateUpsert
from app.candidates.schemas import ExternalId as CandidateExternalId
from app.core.errors import Problem
from app.core.types import ExternalId, InputModel, PublicModel
from app.milestones.schemas import MilestoneCreate
from app.programs.schemas import ProgramListCreate
from app.usce.schemas import UsceCreate

_ID = "Your system's id, required in an import: it is what makes a second run of the same import change nothing."


class ImportMilestone(MilestoneCreate):
    external_id: ExternalId = Field(description=_ID)


class ImportUsceRecord(UsceCreate):
    external_id: ExternalId = Field(description=_ID)


class ImportProgramList(ProgramListCreate):
    external_id: ExternalId = Field(description=_ID)


class ImportCandidate(CandidateUpsert):
    """One candidate of an import: the candidate as your system keeps it (a full replacement, as
    `PUT /v1/candidates/by-external-id/{external_id}`), with the milestones, USCE records and program lists to
    create or replace by their external ids. Rows of the candidate that the item does not name are left as they
    are. The item is applied as a whole or not at all."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "external_id": "SIS-000123", "full_name": "Amina Okafor", "email": "amina@example.org",
        "target_match_year": 2028,
        "milestones": [{"external_id": "SIS-000123-S1", "type_code": "usmle_step1", "status": "passed",
                        "completed_on": "2026-03-02"}],
        "usce_records": [], "program_lists": []}})
    external_id: CandidateExternalId = Field(description=_ID)
    milestones: list[ImportMilestone] = Field(default_factory=list, max_length=200)
    usce_records: list[ImportUsceRecord] = Field(default_factory=list, max_length=100)
    program_lists: list[ImportProgramList] = Field(default_factory=list, max_length=50)


class ImportRequest(InputModel):
    """The JSON form of an import; the NDJSON form (`application/x-ndjson`) sends one candidate a line.

    The envelope is checked as a whole (a 4xx and nothing stored); each item on its own, as an `ImportCandidate`:
    an item that is not one is rejected by itself, with its problem in the item list, and stops no other. So the
    document does not refuse a request for its items; they are typed `ImportCandidate` in their description."""

    candidates: list[Any] = Field(min_length=1, description="Each an `ImportCandidate` (see the schema of that "
                                                            "name); an invalid one is a rejected item, not a "
                                                            "refused request.")


ImportStatus = Literal["queued", "running", "succeeded"]
ItemStatus = Literal["pending", "created", "updated", "unchanged", "rejected"]


class ImportCounts(PublicModel):
    created: int = Field(description="Candidates created (with their rows).")
    updated: int = Field(description="Candidates that existed, of which something changed.")
    unchanged: int = Field(description="Candidates that already held exactly what the item says.")
    rejected: int = Field(description="Items refused; see their problems in `…/items?status=rejected`.")
    pending: int = Field(description="Items not yet applied.")


class ImportPublic(PublicModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"example": {
        "id": "0b0a3d1e-8f1c-4a53-9a0e-3b8c1d3e2f10", "organization_id": "6f1c1d8e-1b9a-4a53-9a0e-3b8c1d3e2f10",
        "status": "succeeded", "dry_run": False, "total": 2, "processed": 2,
        "counts": {"created": 1, "updated": 0, "unchanged": 0, "rejected": 1, "pending": 0},
        "created_at": "2026-12-02T01:00:00Z", "started_at": "2026-12-02T01:00:01Z",
        "finished_at": "2026-12-02T01:00:02Z",
        "items_url": "/v1/imports/0b0a3d1e-8f1c-4a53-9a0e-3b8c1d3e2f10/items"}})
    id: uuid.UUID
    organization_id: uuid.UUID
    status: ImportStatus = Field(description="`queued` (accepted, not started), `running`, `succeeded` (every item "
                                             "applied or rejected: an import with rejected items still succeeds).")
    dry_run: bool = Field(description="Validated and tried, then rolled back: the counts say what a real run "
                                      "would do, and nothing was changed.")
    total: int
    processed: int
    counts: ImportCounts
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    items_url: str


class ImportItemPublic(PublicModel):
    position: int = Field(description="The item's place in the import, from 0 (the line number − 1 in NDJSON).")
    external_id: str | None
    status: ItemStatus
    candidate_id: uuid.UUID | None
    problem: Problem | None = Field(description="Why the item was rejected, with field errors (fields are paths "
                                                "inside the item, e.g. `milestones.0.status`).")

    @classmethod
    def of(cls, row: Any) -> ImportItemPublic:
        return cls(position=row.position, external_id=row.external_id, status=row.status,
                   candidate_id=row.candidate_id, problem=row.problem)

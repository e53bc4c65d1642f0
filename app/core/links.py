"""OpenAPI links between the operations of each resource, so clients and stateful contract tests can follow
create -> read -> update -> delete (with the ETag of one response as the If-Match of the next)."""

from __future__ import annotations

import copy
import re
from typing import Any

PATH_PARAM = re.compile(r"\{([a-z_]+)\}")


def _op(doc: dict[str, Any], path: str, method: str) -> dict[str, Any] | None:
    return doc["paths"].get(path, {}).get(method)


def _link_params(path: str, *, new: str | None) -> dict[str, str]:
    """Target path parameters: those already in the source path come from the request, a `new` one from the
    response body's `id`."""
    return {name: "$response.body#/id" if name == new else f"$request.path.{name}" for name in PATH_PARAM.findall(path)}


def add_links(doc: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI links between the operations of each resource, derived from the path structure:

    * `POST /x` (201) → `GET|PATCH|DELETE /x/{x_id}` and every operation under `/x/{x_id}/...` with one more
      parameter (sub-collections, computed views), `x_id` from the response body's `id`;
    * `GET /x/{x_id}` (200) and `PATCH /x/{x_id}` (200) → `GET|PATCH|DELETE /x/{x_id}`;
    * `PUT /v1/candidates/by-external-id/{external_id}` (200, 201) → the candidate's operations.

    Every link to a PATCH or DELETE carries `If-Match: $response.header.ETag`."""
    doc = copy.deepcopy(doc)
    paths = doc["paths"]
    ops = {(p, m): spec for p, item in paths.items() for m, spec in item.items()}

    def link(source: dict[str, Any], status: str, name: str, target_path: str, method: str,
             params: dict[str, str]) -> None:
        target = ops.get((target_path, method))
        response = source.get("responses", {}).get(status)
        if target is None or response is None:
            return
        p = dict(params)
        if method in ("patch", "delete"):
            p["header.If-Match"] = "$response.header.ETag"
        response.setdefault("links", {})[name] = {"operationId": target["operationId"], "parameters": p}

    for (path, method), spec in ops.items():
        if method == "post" and "201" in spec.get("responses", {}):
            for (target_path, target_method), target in ops.items():
                if not target_path.startswith(path + "/{"):
                    continue
                if target_path.count("{") - path.count("{") == 1:  # the new item, or one level under it
                    new = PATH_PARAM.findall(target_path[len(path):])[0]
                    link(spec, "201", target["operationId"], target_path, target_method,
                         _link_params(target_path, new=new))
        if method in ("get", "patch") and path.endswith("}") and path.startswith("/v1/"):
            for target_method in ("get", "patch", "delete"):
                if (path, target_method) in ops:
                    link(spec, "200", ops[(path, target_method)]["operationId"], path, target_method,
                         _link_params(path, new=None))
    upsert = _op(doc, "/v1/candidates/by-external-id/{external_id}", "put")
    if upsert is not None:
        for status in ("200", "201"):
            for target_path, item in paths.items():
                if target_path.startswith("/v1/candidates/{candidate_id}") and target_path.count("{") == 1:
                    for target_method in item:
                        link(upsert, status, item[target_method]["operationId"], target_path, target_method,
                             {"candidate_id": "$response.body#/id"})
    return doc

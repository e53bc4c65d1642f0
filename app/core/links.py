"""OpenAPI links between the operations of each resource, so clients and stateful contract tests can follow
list or create -> read -> update -> delete (with the ETag of one response as the If-Match of the next)."""

from __future__ import annotations

import copy
import re
from typing import Any

PATH_PARAM = re.compile(r"\{([a-z_]+)\}")
BY_EXTERNAL_ID = "/by-external-id/{external_id}"
# The field of an item that fills a path parameter: a Match cycle is named by its year, everything else by its id.
ITEM_FIELD = {"year": "year"}


def _link_params(path: str, *, new: str | None, source: str) -> dict[str, str]:
    """Target path parameters: those already in the source path come from the request, the `new` one from
    `source` (a JSON pointer into the response body, without the field)."""
    return {name: f"$response.body#{source}/{ITEM_FIELD.get(name, 'id')}" if name == new else f"$request.path.{name}"
            for name in PATH_PARAM.findall(path)}


def _is_page(doc: dict[str, Any], response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    if "$ref" in schema:
        schema = doc["components"]["schemas"].get(schema["$ref"].rsplit("/", 1)[-1], {})
    return schema.get("properties", {}).get("items", {}).get("type") == "array"


def add_links(doc: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI links between the operations of each resource, derived from the path structure. A collection `/x`
    leads to every operation on its items `/x/{x_id}` and one level under them (sub-collections, computed views,
    actions), from:

    * `POST /x` (201, or 202 for an accepted job): `x_id` from the response body's `id`;
    * `GET /x` (200, a page): `x_id` from the first item of the page (`items/0/id`; a Match cycle's `year`);
    * `PUT /x/by-external-id/{external_id}` (200, 201) and `GET /x/by-external-id/{external_id}` (200): the record
      named by the client's id, `x_id` from the body's `id`.

    And an item's answer leads to its writes: `GET /x/{x_id}` (200) → `PATCH|DELETE /x/{x_id}`; `PATCH /x/{x_id}`
    (200) → `GET|PATCH|DELETE /x/{x_id}` (read after write, and the next write with the new ETag). Path parameters
    the source already has come from its request. Every link to a PATCH or DELETE carries
    `If-Match: $response.header.ETag`, except from a page, whose ETag is the page's: those links lead only to reads,
    sub-collections and actions."""
    doc = copy.deepcopy(doc)
    paths = doc["paths"]
    ops = {(p, m): spec for p, item in paths.items() for m, spec in item.items()}

    def link(source: dict[str, Any], status: str, target_path: str, method: str, params: dict[str, str]) -> None:
        target = ops.get((target_path, method))
        response = source.get("responses", {}).get(status)
        if target is None or response is None:
            return
        p = dict(params)
        if method in ("patch", "delete"):
            p["header.If-Match"] = "$response.header.ETag"
        response.setdefault("links", {})[target["operationId"]] = {"operationId": target["operationId"],
                                                                   "parameters": p}

    def items_of(collection: str) -> list[tuple[str, str, str]]:
        """(path, method, the new parameter) of each operation on an item of `collection` or one level under it."""
        found = []
        for target_path, target_method in ops:
            if target_path.startswith(collection + "/{") and target_path.count("{") - collection.count("{") == 1:
                found.append((target_path, target_method, PATH_PARAM.findall(target_path[len(collection):])[0]))
        return found

    for (path, method), spec in ops.items():
        responses = spec.get("responses", {})
        if method == "post":
            for status in ("201", "202"):
                if status in responses:
                    for target_path, target_method, new in items_of(path):
                        link(spec, status, target_path, target_method,
                             _link_params(target_path, new=new, source=""))
        if method == "get" and not path.endswith("}") and "200" in responses and _is_page(doc, responses["200"]):
            for target_path, target_method, new in items_of(path):
                if target_method not in ("patch", "delete"):
                    link(spec, "200", target_path, target_method, _link_params(target_path, new=new, source="/items/0"))
        if path.endswith(BY_EXTERNAL_ID) and method in ("put", "get"):
            collection = path[: -len(BY_EXTERNAL_ID)]
            for status in ("200", "201") if method == "put" else ("200",):
                for target_path, target_method, new in items_of(collection):
                    link(spec, status, target_path, target_method, _link_params(target_path, new=new, source=""))
        elif method in ("get", "patch") and path.endswith("}") and path.startswith("/v1/"):
            for target_method in ("get", "patch", "delete") if method == "patch" else ("patch", "delete"):
                if (path, target_method) in ops:
                    link(spec, "200", path, target_method, _link_params(path, new=None, source=""))
    return doc

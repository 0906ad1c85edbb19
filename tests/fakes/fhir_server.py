"""A small FHIR R4 server for the bridge tests and the benchmark (aiohttp, in memory).

It does what the bridge relies on a real server (HAPI, Firely, ...) to do, and checks it:

* ``POST [base]`` with a ``transaction`` Bundle, processed atomically in FHIR order
  (DELETE, POST, PUT, GET). Any failure rolls the whole transaction back.
* **Conditional create** (``request.ifNoneExist: identifier=<system>|<value>``): no match
  creates (``201 Created``), one match answers ``200 OK`` with the existing resource and
  creates nothing, several matches fail the transaction (``412``).
* **Conditional update** (``PUT <Type>?identifier=<system>|<value>``): replaces the one
  match (200) or creates (201).
* **Conditional delete** (``DELETE <Type>?identifier=...``, the chained
  ``?patient.identifier=...`` and ``?_tag=...``).
* ``urn:uuid`` references are rewritten to the server ids; a reference to a fullUrl that
  is not in the bundle fails the transaction (400), as a strict server does.
* Every bundle is validated with ``fhir.resources.R4B`` (``validate=False`` to skip, e.g.
  when benchmarking the client); an invalid one is refused with 422 and an
  OperationOutcome.
* ``batch`` Bundles (only with ``batch = True``): each entry processed on its own, as
  a one-entry transaction; a failing entry gets its status and OperationOutcome in the
  ``batch-response``, the others are stored.
* ``strict_entries = N``: a transaction holding a conditional entry and more than N
  entries is refused (400), as Medplum does with 8.
* ``refuse_identifiers[value] = (status, diagnostics)``: any entry whose resource carries
  that identifier value fails (the transaction, or its own batch entry).
* ``GET [base]/metadata`` (CapabilityStatement), ``GET [base]/<Type>?identifier=...`` and
  ``GET /_stats`` (counters, for the benchmark).

It can be told to fail: ``fail(status, times=..., diagnostics=...)`` for the next
requests, ``down(status)`` until ``recover()``, ``delay`` seconds before answering
(timeouts), ``token`` to require a bearer token (401 otherwise). It counts every request.

Run standalone (the benchmark does): ``python tests/fakes/fhir_server.py --port 8765``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter, deque
from collections.abc import Iterator
import copy
from dataclasses import dataclass
import itertools
import json
from typing import Any
from urllib.parse import parse_qsl, unquote

from aiohttp import web

BASE_PATH = "/fhir"
FHIR_JSON = "application/fhir+json"


@dataclass(slots=True)
class Failure:
    """A forced answer."""

    status: int
    diagnostics: str = "forced failure"
    retry_after: int | None = None


class TransactionError(Exception):
    """Fails the whole transaction with ``status``."""

    def __init__(self, status: int, diagnostics: str) -> None:
        """Carry the HTTP status and the OperationOutcome text."""
        super().__init__(diagnostics)
        self.status = status
        self.diagnostics = diagnostics


def outcome(diagnostics: str, code: str = "processing") -> dict[str, Any]:
    """An OperationOutcome with one error issue."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
    }


def _split_token(token: str) -> tuple[str, str]:
    """``system|value`` of a search token, honouring FHIR's backslash escapes."""
    text = unquote(token)
    system, value, escaped, seen_bar = [], [], False, False
    for char in text:
        if escaped:
            (value if seen_bar else system).append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "|" and not seen_bar:
            seen_bar = True
        else:
            (value if seen_bar else system).append(char)
    if not seen_bar:
        raise TransactionError(400, f"token without system: {token}")
    return "".join(system), "".join(value)


def _has_identifier(resource: dict[str, Any], system: str, value: str) -> bool:
    return any(
        ident.get("system") == system and ident.get("value") == value
        for ident in resource.get("identifier") or []
    )


def _references(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            yield node
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


class FhirServer:
    """In-memory FHIR R4 server state and its aiohttp application."""

    def __init__(self, *, validate: bool = True, fhir_version: str = "4.0.1") -> None:
        """Start empty."""
        self.validate = validate
        self.fhir_version = fhir_version
        self.resources: dict[str, dict[str, dict[str, Any]]] = {}
        self.transactions: list[dict[str, Any]] = []  # bundles accepted, as received
        self.received: list[dict[str, Any]] = []  # every transaction body received
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status)
        self.accepted = 0
        self.entry_status: Counter[str] = Counter()  # "201" / "200" / "204" per entry
        self.token: str | None = None
        self.metadata_body: str | None = None  # replaces the CapabilityStatement when set
        self.delay = 0.0
        self.batch = False
        self.strict_entries: int | None = None
        self.refuse_identifiers: dict[str, tuple[int, str]] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self._idle = asyncio.Event()  # set while no transaction is being handled
        self._idle.set()
        self._failures: deque[Failure] = deque()
        self._down: Failure | None = None
        self._ids = itertools.count(1)
        self._index: dict[tuple[str, Any, Any], set[str]] = {}
        self.keep_bodies = True
        self.base_url = ""
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.app.router.add_get(f"{BASE_PATH}/metadata", self._metadata)
        self.app.router.add_post(BASE_PATH, self._transaction)
        self.app.router.add_post(f"{BASE_PATH}/", self._transaction)
        self.app.router.add_get(f"{BASE_PATH}/{{rtype}}", self._search)
        self.app.router.add_get("/_stats", self._stats)

    # Control ----------------------------------------------------------------------------

    def fail(
        self,
        status: int,
        times: int = 1,
        diagnostics: str = "forced failure",
        retry_after: int | None = None,
    ) -> None:
        """Answer the next ``times`` transactions with ``status``."""
        self._failures.extend(Failure(status, diagnostics, retry_after) for _ in range(times))

    def down(self, status: int = 503, diagnostics: str = "server down") -> None:
        """Answer every transaction with ``status`` until ``recover``."""
        self._down = Failure(status, diagnostics)

    def recover(self) -> None:
        """Stop failing."""
        self._down = None
        self._failures.clear()

    @property
    def transaction_requests(self) -> int:
        """POSTs of transaction bundles received (accepted or not)."""
        return sum(1 for method, _, _ in self.requests if method == "POST")

    def all(self, rtype: str) -> list[dict[str, Any]]:
        """Every stored resource of a type."""
        return list(self.resources.get(rtype, {}).values())

    def count(self, rtype: str) -> int:
        """Number of stored resources of a type."""
        return len(self.resources.get(rtype, {}))

    def find(self, rtype: str, system: str, value: str) -> list[dict[str, Any]]:
        """Stored resources of a type with this identifier."""
        return [r for r in self.all(rtype) if _has_identifier(r, system, value)]

    # Handlers ---------------------------------------------------------------------------

    def _reply(self, request: web.Request, status: int, body: Any, **headers: str) -> web.Response:
        self.requests.append((request.method, request.path, status))
        return web.Response(
            text=json.dumps(body), status=status, content_type=FHIR_JSON, headers=headers
        )

    def _unauthorized(self, request: web.Request) -> bool:
        return self.token is not None and request.headers.get("Authorization") != (
            f"Bearer {self.token}"
        )

    async def _metadata(self, request: web.Request) -> web.Response:
        if self._unauthorized(request):
            return self._reply(request, 401, outcome("invalid token", "login"))
        if self.metadata_body is not None:
            self.requests.append((request.method, request.path, 200))
            return web.Response(text=self.metadata_body, content_type=FHIR_JSON)
        return self._reply(
            request,
            200,
            {
                "resourceType": "CapabilityStatement",
                "status": "active",
                "date": "2025-01-01",
                "kind": "instance",
                "fhirVersion": self.fhir_version,
                "format": ["json"],
                "rest": [{"mode": "server", "interaction": [{"code": "transaction"}]}],
            },
        )

    async def _stats(self, request: web.Request) -> web.Response:
        return self._reply(
            request,
            200,
            {
                "transactions": self.accepted,
                "requests": self.transaction_requests,
                "entry_status": dict(self.entry_status),
                "counts": {rtype: len(items) for rtype, items in self.resources.items()},
            },
        )

    async def _search(self, request: web.Request) -> web.Response:
        rtype = request.match_info["rtype"]
        matches = self.all(rtype)
        for name, token in request.query.items():
            if name == "identifier":
                system, value = _split_token(token)
                matches = [r for r in matches if _has_identifier(r, system, value)]
            elif name in ("subject", "patient"):
                matches = [r for r in matches if (r.get(name) or {}).get("reference") == token]
        return self._reply(
            request,
            200,
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "total": len(matches),
                "entry": [{"resource": r} for r in matches],
            },
        )

    async def wait_idle(self) -> None:
        """Until every transaction received so far has been answered."""
        await self._idle.wait()

    async def _transaction(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self._idle.clear()
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._async_transaction(request)
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self._idle.set()

    async def _async_transaction(self, request: web.Request) -> web.Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        body = await request.read()
        if self._unauthorized(request):
            return self._reply(request, 401, outcome("invalid token", "login"))
        forced = self._failures.popleft() if self._failures else self._down
        try:
            bundle = json.loads(body)
        except ValueError:
            return self._reply(request, 400, outcome("not JSON", "structure"))
        if self.keep_bodies:
            self.received.append(bundle)
        if forced is not None:
            headers = {} if forced.retry_after is None else {"Retry-After": str(forced.retry_after)}
            return self._reply(request, forced.status, outcome(forced.diagnostics), **headers)
        try:
            response = self._process(bundle)
        except TransactionError as err:
            return self._reply(request, err.status, outcome(err.diagnostics))
        self.accepted += 1
        if self.keep_bodies:
            self.transactions.append(bundle)
        return self._reply(request, 200, response)

    # Transactions -----------------------------------------------------------------------

    def _validate(self, bundle: dict[str, Any]) -> None:
        if not self.validate:
            return
        from fhir.resources.R4B.bundle import Bundle  # slow import, tests only

        try:
            Bundle.model_validate(bundle)
        except Exception as err:  # pydantic's ValidationError
            raise TransactionError(422, f"invalid bundle: {err}") from err

    def _process_batch(self, bundle: dict[str, Any]) -> dict[str, Any]:
        out: list[dict[str, Any]] = []
        for entry in bundle.get("entry") or []:
            try:
                one = self._process(
                    {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}
                )
                out.append(one["entry"][0])
            except TransactionError as err:
                response = {"status": str(err.status), "outcome": outcome(err.diagnostics)}
                out.append({"response": response})
        return {"resourceType": "Bundle", "type": "batch-response", "entry": out}

    def _process(self, bundle: dict[str, Any]) -> dict[str, Any]:
        if self.batch and bundle.get("resourceType") == "Bundle" and bundle.get("type") == "batch":
            return self._process_batch(bundle)
        if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "transaction":
            raise TransactionError(400, "expected a transaction Bundle")
        self._validate(bundle)
        entries = bundle.get("entry") or []
        conditional = any(
            e["request"].get("ifNoneExist") or "?" in e["request"]["url"] for e in entries
        )
        if self.strict_entries is not None and conditional and len(entries) > self.strict_entries:
            raise TransactionError(
                400, "Transaction requires strict isolation but has too many entries"
            )
        for entry in entries:
            for ident in (entry.get("resource") or {}).get("identifier") or []:
                if (refusal := self.refuse_identifiers.get(ident.get("value"))) is not None:
                    raise TransactionError(*refusal)
        tx = _Staged(self)  # committed only if every entry succeeds
        results: list[tuple[str, str | None]] = [("", None)] * len(entries)
        resolved: dict[str, str] = {}
        order = {"DELETE": 0, "POST": 1, "PUT": 2, "GET": 3}
        indexed = sorted(enumerate(entries), key=lambda e: order.get(e[1]["request"]["method"], 9))
        for index, entry in indexed:
            request = entry["request"]
            method, url = request["method"], request["url"]
            if method == "DELETE":
                tx.delete(url)
                results[index] = ("204 No Content", None)
                continue
            if method not in ("POST", "PUT"):
                raise TransactionError(400, f"unsupported method {method}")
            rtype, _, query = url.partition("?")
            condition = request.get("ifNoneExist") if method == "POST" else query
            matches = tx.match(rtype, condition) if condition else []
            if len(matches) > 1:
                raise TransactionError(412, f"{method} condition matches {len(matches)} {rtype}")
            if matches and method == "POST":
                rid = matches[0]
                results[index] = ("200 OK", f"{rtype}/{rid}")
            else:
                rid = matches[0] if matches else str(next(self._ids))
                resource = copy.deepcopy(entry["resource"])
                resource["id"] = rid
                tx.write(rtype, rid, resource)
                status = "200 OK" if matches else "201 Created"
                results[index] = (status, f"{rtype}/{rid}")
            if entry.get("fullUrl"):
                resolved[entry["fullUrl"]] = f"{rtype}/{rid}"
        for resource in tx.writes.values():
            for reference in _references(resource):
                target = reference["reference"]
                if target.startswith("urn:uuid:"):
                    if target not in resolved:
                        raise TransactionError(400, f"unresolved reference {target}")
                    reference["reference"] = resolved[target]
        tx.commit()
        response_entries = []
        for status, location in results:
            self.entry_status[status.split()[0]] += 1
            item: dict[str, Any] = {"status": status}
            if location:
                item["location"] = f"{location}/_history/1"
            response_entries.append({"response": item})
        return {
            "resourceType": "Bundle",
            "type": "transaction-response",
            "entry": response_entries,
        }

    def _index_add(self, rtype: str, rid: str, resource: dict[str, Any]) -> None:
        for ident in resource.get("identifier") or []:
            key = (rtype, ident.get("system"), ident.get("value"))
            self._index.setdefault(key, set()).add(rid)

    def _index_remove(self, rtype: str, rid: str, resource: dict[str, Any]) -> None:
        for ident in resource.get("identifier") or []:
            self._index.get((rtype, ident.get("system"), ident.get("value")), set()).discard(rid)


class _Staged:
    """The writes and deletes of one transaction, applied together by ``commit``."""

    def __init__(self, server: FhirServer) -> None:
        self.server = server
        self.writes: dict[tuple[str, str], dict[str, Any]] = {}
        self.deleted: set[tuple[str, str]] = set()

    def _current(self, rtype: str, rid: str) -> dict[str, Any] | None:
        if (rtype, rid) in self.deleted:
            return None
        return self.writes.get((rtype, rid)) or self.server.resources.get(rtype, {}).get(rid)

    def lookup(self, rtype: str, system: str, value: str) -> list[str]:
        candidates = set(self.server._index.get((rtype, system, value), ()))
        candidates |= {rid for (t, rid) in self.writes if t == rtype}
        return sorted(
            rid
            for rid in candidates
            if (res := self._current(rtype, rid)) is not None
            and _has_identifier(res, system, value)
        )

    def match(self, rtype: str, query: str) -> list[str]:
        params = parse_qsl(query, keep_blank_values=True)
        if [name for name, _ in params] != ["identifier"]:
            raise TransactionError(400, f"unsupported condition {query}")
        return self.lookup(rtype, *_split_token(params[0][1]))

    def write(self, rtype: str, rid: str, resource: dict[str, Any]) -> None:
        self.deleted.discard((rtype, rid))
        self.writes[(rtype, rid)] = resource

    def delete(self, url: str) -> None:
        rtype, _, query = url.partition("?")
        if not query and rtype.count("/") == 1:  # DELETE <type>/<id>
            rtype, rid = rtype.split("/")
            if rid in self.server.resources.get(rtype, {}):
                self.deleted.add((rtype, rid))
            return
        params = parse_qsl(query, keep_blank_values=True)
        if len(params) != 1:
            raise TransactionError(400, f"unsupported delete {url}")
        name, token = params[0]
        system, value = _split_token(token)
        if name == "identifier":
            doomed = self.lookup(rtype, system, value)
        elif name == "patient.identifier":
            patients = {f"Patient/{rid}" for rid in self.lookup("Patient", system, value)}
            doomed = [
                rid
                for rid, r in self.server.resources.get(rtype, {}).items()
                if ((r.get("patient") or r.get("subject") or {}).get("reference")) in patients
            ]
        elif name == "_tag":
            doomed = [
                rid
                for rid, r in self.server.resources.get(rtype, {}).items()
                if any(
                    (t.get("system"), t.get("code")) == (system, value)
                    for t in (r.get("meta") or {}).get("tag", [])
                )
            ]
        else:
            raise TransactionError(400, f"unsupported delete {url}")
        self.deleted.update((rtype, rid) for rid in doomed)

    def commit(self) -> None:
        server = self.server
        for rtype, rid in self.deleted:
            if (old := server.resources.get(rtype, {}).pop(rid, None)) is not None:
                server._index_remove(rtype, rid, old)
        for (rtype, rid), resource in self.writes.items():
            items = server.resources.setdefault(rtype, {})
            if (old := items.get(rid)) is not None:
                server._index_remove(rtype, rid, old)
            items[rid] = resource
            server._index_add(rtype, rid, resource)


async def _serve(port: int, validate: bool) -> None:
    server = FhirServer(validate=validate)
    server.keep_bodies = False  # a benchmark sends thousands of bundles
    runner = web.AppRunner(server.app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    sockets = site._server.sockets if site._server else []  # the bound port
    bound = sockets[0].getsockname()[1] if sockets else port
    print(f"READY http://127.0.0.1:{bound}{BASE_PATH}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    """Serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--no-validate", action="store_true")
    args = parser.parse_args()
    asyncio.run(_serve(args.port, not args.no_validate))


if __name__ == "__main__":
    main()

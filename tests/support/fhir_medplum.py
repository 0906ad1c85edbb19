"""A real FHIR R4 server for the tests: Medplum's router, repository and validator in Node.

``tests/medplum/server.mjs`` serves FHIR R4 in memory on 127.0.0.1 (see that file). This
module installs it (``npm ci``, only when ``node_modules`` is missing or older than the lock
file), starts it on an OS-chosen port, and talks to it. The ``medplum`` fixture in
``conftest.py`` hands a fresh :class:`MedplumServer` to each test.

Everything here is usable from the event loop: the async helpers use aiohttp, the process
is started and stopped with plain ``subprocess`` calls that do not block on the network.
"""

from __future__ import annotations

from collections.abc import Mapping
import os
from pathlib import Path
import shutil
import subprocess
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp

SERVER_DIR = Path(__file__).parents[1] / "medplum"
SERVER_SCRIPT = SERVER_DIR / "server.mjs"
LOCK_FILE = SERVER_DIR / "package-lock.json"
INSTALLED_MARK = SERVER_DIR / "node_modules" / ".package-lock.json"
BASE_PATH = "/fhir/R4"
FHIR_JSON = "application/fhir+json"
START_TIMEOUT = 60.0


def node_executable() -> str:
    """``node`` from PATH (the host's /usr/bin/node, or the chroot's)."""
    found = shutil.which("node")
    if found is None:
        raise RuntimeError("node is not on PATH; the Medplum test server needs Node.js 20+")
    return found


def ensure_installed() -> None:
    """``npm ci`` the pinned Medplum packages when missing or older than the lock file."""
    if INSTALLED_MARK.exists() and INSTALLED_MARK.stat().st_mtime >= LOCK_FILE.stat().st_mtime:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not on PATH; run: npm ci --prefix tests/medplum")
    subprocess.run(
        [npm, "ci", "--prefix", str(SERVER_DIR), "--no-audit", "--no-fund"],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=600,
    )


class MedplumServer:
    """One ``node tests/medplum/server.mjs`` process; in-memory, so a restart empties it."""

    def __init__(self, *, env: Mapping[str, str] | None = None) -> None:
        self.env = dict(env or {})
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.starts = 0

    @property
    def base_url(self) -> str:
        """The FHIR base, e.g. ``http://127.0.0.1:41234/fhir/R4``."""
        return f"http://127.0.0.1:{self.port}{BASE_PATH}"

    def start(self, port: int = 0) -> None:
        """Start the server (``port`` 0: any free port) and wait until it listens."""
        ensure_installed()
        self.process = subprocess.Popen(
            [node_executable(), str(SERVER_SCRIPT), str(port)],
            stdout=subprocess.PIPE,
            env={**os.environ, **self.env},
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # the server prints its port first
        if not line.strip().isdigit():
            self.process.kill()
            self.process.wait()
            raise RuntimeError(f"Medplum test server did not start: {line!r}")
        self.port = int(line)
        self.starts += 1

    def stop(self) -> None:
        """Kill the process (its data is gone, as with a real restart of this server)."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None

    def restart(self, *, same_port: bool = True) -> None:
        """Kill and start again, by default on the same port (links keep their URL)."""
        port = self.port if same_port else 0
        self.stop()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self.start(port)
                return
            except RuntimeError:
                if time.monotonic() > deadline:  # the port stayed taken
                    raise

    # -- talking to it (async: usable inside HA's event loop) -----------------------

    async def request(
        self, method: str, path: str, body: Any = None, **params: str
    ) -> tuple[int, Any]:
        """One request to ``base_url/path``; returns (status, JSON body)."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        if params:
            url += "?" + urlencode(params)
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method, url, json=body, headers={"Content-Type": FHIR_JSON}
            ) as response,
        ):
            return response.status, await response.json(content_type=None)

    async def search(self, rtype: str, **params: str) -> list[dict[str, Any]]:
        """All matches of ``GET [base]/rtype?params`` (follows no paging: ``_count`` 1000)."""
        params.setdefault("_count", "1000")
        status, bundle = await self.request("GET", rtype, **params)
        assert status == 200, bundle
        return [e["resource"] for e in bundle.get("entry", [])]

    async def by_identifier(self, rtype: str, system: str, value: str) -> list[dict[str, Any]]:
        """``GET [base]/rtype?identifier=system|value``."""
        return await self.search(rtype, identifier=f"{system}|{value}")

    async def count(self, rtype: str, **params: str) -> int:
        """How many resources match (the searchset's ``total``)."""
        status, bundle = await self.request("GET", rtype, _total="accurate", _count="1", **params)
        assert status == 200, bundle
        return int(bundle.get("total", 0))

    async def all(self, rtype: str) -> list[dict[str, Any]]:
        """Every stored resource of a type (pages through ``_count``/``_offset``)."""
        out: list[dict[str, Any]] = []
        while True:
            page = await self.search(rtype, _count="1000", _offset=str(len(out)))
            out += page
            if len(page) < 1000:
                return out

"""A loopback stand-in for the Hugging Face Hub, for offline tests of the registry.

:class:`FakeHub` runs a threaded ``http.server`` on ``127.0.0.1`` (random port) and answers the
endpoints huggingface_hub 2.x calls, with the headers it reads:

- ``HEAD|GET /{repo_id}/resolve/{revision}/{filename}`` → ``X-Repo-Commit`` (the commit the
  revision resolves to), ``ETag`` (git blob sha1 for small files; for LFS-like files, i.e.
  ``.safetensors``, also ``X-Linked-Etag`` = sha256 and ``X-Linked-Size``), ``Content-Length``;
  errors as 404 with ``X-Error-Code: RepoNotFound | RevisionNotFound | EntryNotFound``.
- ``POST /api/repos/create``, ``POST /api/validate-yaml`` (README metadata: always valid),
  ``POST /api/models/{repo_id}/preupload/{revision}`` (every file
  "regular", i.e. inline base64) and ``POST /api/models/{repo_id}/commit/{revision}`` (NDJSON),
  enough for ``HfApi.create_repo`` / ``create_commit`` / ``upload_file``.

Knobs for failure tests: ``hang = True`` (accept connections, never answer), ``corrupt``
(file names served with one byte flipped, headers unchanged), ``requests`` (log of
``(method, path)``), ``tokens`` (``Authorization`` headers seen).

Use the ``fake_hub`` fixture (import it into a test module: ``from tests.hubserver import
fake_hub``); it also points ``HF_ENDPOINT`` at the server and ``HF_HOME`` at a temporary folder.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import pytest


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob (what the Hub sends as ETag for non-LFS files)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FakeHub:
    """In-memory repositories served over HTTP (see the module docstring)."""

    def __init__(self) -> None:
        # repo_id -> {"refs": {branch: commit}, "commits": {commit: {filename: bytes}}}
        self.repos: dict[str, dict] = {}
        self.hang = False
        self.corrupt: set[str] = set()
        self.requests: list[tuple[str, str]] = []
        self.tokens: list[str] = []
        self._release = threading.Event()
        self._counter = 0
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep pytest output clean
                pass

            def do_HEAD(self) -> None:  # noqa: N802
                hub._serve(self, body=False)

            def do_GET(self) -> None:  # noqa: N802
                hub._serve(self, body=True)

            def do_POST(self) -> None:  # noqa: N802
                hub._post(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # -------------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    # -------------------------------------------------------------------- content

    def commit(self, repo_id: str, files: dict[str, bytes], branch: str = "main") -> str:
        """Add ``files`` to ``repo_id`` on ``branch`` in a new commit; returns its 40-hex id."""
        repo = self.repos.setdefault(repo_id, {"refs": {}, "commits": {}})
        parent = repo["refs"].get(branch)
        tree = dict(repo["commits"].get(parent, {}))
        tree.update(files)
        self._counter += 1
        sha = hashlib.sha1(f"{repo_id}:{self._counter}:{sorted(tree)}".encode()).hexdigest()
        repo["commits"][sha] = tree
        repo["refs"][branch] = sha
        return sha

    def files_at(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        repo = self.repos[repo_id]
        return repo["commits"][repo["refs"].get(revision, revision)]

    # -------------------------------------------------------------------- HTTP

    def _reply(self, h: BaseHTTPRequestHandler, status: int, headers: dict[str, str],
               body: bytes = b"", send_body: bool = True) -> None:
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if send_body and body:
            h.wfile.write(body)

    def _record(self, h: BaseHTTPRequestHandler) -> bool:
        self.requests.append((h.command, h.path))
        if h.headers.get("Authorization"):
            self.tokens.append(h.headers["Authorization"])
        if self.hang:  # accept, read nothing more, never answer
            self._release.wait(60)
            h.close_connection = True
            return False
        return True

    def _serve(self, h: BaseHTTPRequestHandler, body: bool) -> None:
        if not self._record(h):
            return
        path = unquote(urlsplit(h.path).path)
        parts = path.lstrip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            self._reply(h, 404, {"X-Error-Code": "RepoNotFound"}, b"not found", body)
            return
        repo_id, revision, filename = f"{parts[0]}/{parts[1]}", parts[3], "/".join(parts[4:])
        repo = self.repos.get(repo_id)
        if repo is None:
            self._reply(h, 404, {"X-Error-Code": "RepoNotFound"}, b"Repository not found", body)
            return
        commit = repo["refs"].get(revision, revision)
        if commit not in repo["commits"]:
            self._reply(h, 404, {"X-Error-Code": "RevisionNotFound"}, b"Invalid rev id", body)
            return
        data = repo["commits"][commit].get(filename)
        if data is None:
            self._reply(h, 404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit},
                        b"Entry not found", body)
            return
        headers = {"X-Repo-Commit": commit, "Content-Type": "application/octet-stream",
                   "Accept-Ranges": "bytes"}
        if filename.endswith(".safetensors"):  # served like an LFS file
            sha = hashlib.sha256(data).hexdigest()
            headers.update({"ETag": f'"{sha}"', "X-Linked-Etag": f'"{sha}"',
                            "X-Linked-Size": str(len(data))})
        else:
            headers["ETag"] = f'"{git_blob_sha1(data)}"'
        if filename in self.corrupt:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        self._reply(h, 200, headers, data, body)

    def _post(self, h: BaseHTTPRequestHandler) -> None:
        if not self._record(h):
            return
        n = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(n) if n else b""
        path = unquote(urlsplit(h.path).path)
        if path == "/api/validate-yaml":  # README metadata check before a commit
            self._reply(h, 200, {"Content-Type": "application/json"},
                        b'{"errors": [], "warnings": []}')
            return
        if path == "/api/repos/create":
            req = json.loads(raw or b"{}")
            repo_id = f"{req['organization']}/{req['name']}" if req.get("organization") \
                else req["name"]
            self.repos.setdefault(repo_id, {"refs": {}, "commits": {}})
            out = {"url": f"{self.url}/{repo_id}", "name": repo_id}
            self._reply(h, 200, {"Content-Type": "application/json"}, json.dumps(out).encode())
            return
        parts = path.strip("/").split("/")
        # /api/models/{ns}/{name}/{preupload|commit}/{revision}
        if len(parts) >= 6 and parts[:2] == ["api", "models"]:
            repo_id, action, revision = f"{parts[2]}/{parts[3]}", parts[4], "/".join(parts[5:])
            if repo_id not in self.repos:
                self._reply(h, 404, {"X-Error-Code": "RepoNotFound"}, b"Repository not found")
                return
            if action == "preupload":
                files = json.loads(raw)["files"]
                out = {"files": [{"path": f["path"], "uploadMode": "regular",
                                  "shouldIgnore": False, "oid": None} for f in files]}
                self._reply(h, 200, {"Content-Type": "application/json"}, json.dumps(out).encode())
                return
            if action == "commit":
                added: dict[str, bytes] = {}
                for line in raw.splitlines():
                    item = json.loads(line)
                    if item["key"] == "file":
                        added[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                sha = self.commit(repo_id, added, branch=revision)
                out = {"commitUrl": f"{self.url}/{repo_id}/commit/{sha}", "commitOid": sha,
                       "success": True}
                self._reply(h, 200, {"Content-Type": "application/json"}, json.dumps(out).encode())
                return
        self._reply(h, 404, {}, b"unknown endpoint")


@pytest.fixture
def fake_hub(tmp_path, monkeypatch):
    """A started :class:`FakeHub`; ``HF_ENDPOINT`` points at it, ``HF_HOME`` is temporary,
    ``HF_HUB_OFFLINE`` unset, ``HF_HUB_ETAG_TIMEOUT=2``, ``SEPARATE_MODELS`` unset."""
    hub = FakeHub().start()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("SEPARATE_MODELS", raising=False)
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "2")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    yield hub
    hub.stop()

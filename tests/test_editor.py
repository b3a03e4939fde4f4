"""The JSON Schema in a real editor: yaml-language-server, spoken to over its language-server protocol.

The server is found as `yaml-language-server` on PATH, under `$NETSPEC_YAML_LANGUAGE_SERVER` (the
executable or an npm prefix holding it), or in `.ci/yls` where `.ci/run` installs it; the tests
are skipped where node or the server is missing.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import netspec

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 30.0


def _server() -> list[str] | None:
    node = shutil.which("node")
    if node is None:
        return None
    candidates = []
    configured = os.environ.get("NETSPEC_YAML_LANGUAGE_SERVER")
    if configured:
        candidates += [Path(configured), Path(configured) / "node_modules" / ".bin" / "yaml-language-server"]
    candidates.append(ROOT / ".ci" / "yls" / "node_modules" / ".bin" / "yaml-language-server")
    on_path = shutil.which("yaml-language-server")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file():
            return [node, str(candidate.resolve()), "--stdio"]
    return None


SERVER = _server()
pytestmark = pytest.mark.skipif(SERVER is None, reason="node or yaml-language-server is not installed")


class LanguageServer:
    """A minimal LSP client: requests with ids, notifications, and the server's own requests answered."""

    def __init__(self, command: list[str], settings: dict[str, Any]) -> None:
        self.settings = settings
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if length is not None:
                self.messages.put(json.loads(stream.read(length)))

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self._send({"method": method, "params": params})

    def request(self, method: str, params: dict[str, Any]) -> Any:
        self.next_id += 1
        wanted = self.next_id
        self._send({"id": wanted, "method": method, "params": params})
        for message in self._incoming():
            if message.get("id") == wanted and "method" not in message:
                assert "error" not in message, message
                return message.get("result")
        raise AssertionError(f"no answer to {method}")

    def diagnostics(self, uri: str) -> list[dict[str, Any]]:
        """The next diagnostics the server publishes for `uri`."""
        for message in self._incoming():
            if message.get("method") == "textDocument/publishDiagnostics" and message["params"]["uri"] == uri:
                return list(message["params"]["diagnostics"])
        raise AssertionError(f"no diagnostics for {uri}")

    def _incoming(self) -> Iterator[dict[str, Any]]:
        while True:
            try:
                message = self.messages.get(timeout=TIMEOUT)
            except queue.Empty:
                return
            if "method" in message and "id" in message:  # a request from the server
                self._answer(message)
                continue
            yield message

    def _answer(self, message: dict[str, Any]) -> None:
        result: Any = None
        if message["method"] == "workspace/configuration":
            result = [self.settings.get(item.get("section", ""), None) for item in message["params"]["items"]]
        self._send({"id": message["id"], "result": result})

    def close(self) -> None:
        try:
            self.request("shutdown", {})
            self.notify("exit", {})
            self.process.wait(timeout=5)
        except (AssertionError, OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LanguageServer, Path]]:
    folder = tmp_path_factory.mktemp("editor")
    schema = folder / "netspec.schema.json"
    schema.write_text(json.dumps(netspec.json_schema()))
    settings = {
        "yaml": {
            "schemas": {schema.as_uri(): "*.yaml"},
            "validate": True,
            "completion": True,
            "hover": True,
            "schemaStore": {"enable": False},
        }
    }
    assert SERVER is not None
    client = LanguageServer(SERVER, settings)
    client.request(
        "initialize",
        {
            "processId": os.getpid(),
            "rootUri": folder.as_uri(),
            "capabilities": {"workspace": {"configuration": True}, "textDocument": {"completion": {}}},
        },
    )
    client.notify("initialized", {})
    client.notify("workspace/didChangeConfiguration", {"settings": settings})
    yield client, folder
    client.close()


_opened = 0


def _open(server: tuple[LanguageServer, Path], text: str) -> str:
    global _opened
    client, folder = server
    _opened += 1
    uri = (folder / f"net{_opened}.yaml").as_uri()
    client.notify(
        "textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}}
    )
    return uri


def _complete(server: tuple[LanguageServer, Path], text: str) -> set[str]:
    """Completion labels at the `|` in `text`."""
    before, _, after = text.partition("|")
    line = before.count("\n")
    character = len(before.rsplit("\n", 1)[-1])
    uri = _open(server, before + after)
    client, _ = server
    server[0].diagnostics(uri)  # the server has read the document and its schema
    result = client.request(
        "textDocument/completion", {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}
    )
    items = result["items"] if isinstance(result, dict) else result or []
    return {item["label"] for item in items}


HEAD = "netspec: 1\nname: net\ninputs: {x: [N, 3, H, W]}\nnodes:\n"


def test_completes_op_names(server: tuple[LanguageServer, Path]) -> None:
    labels = _complete(server, HEAD + "  conv:\n    op: |\n")
    assert {"Conv2d", "BatchNorm2d", "ReLU", "add", "concat"} <= labels


def test_completes_argument_names_of_the_op(server: tuple[LanguageServer, Path]) -> None:
    labels = _complete(server, HEAD + "  conv:\n    op: Conv2d\n    |\n")
    assert {"out_channels", "kernel_size", "stride", "padding", "padding_mode"} <= labels
    assert "num_features" not in labels  # BatchNorm's, not Conv2d's


def test_flags_a_misspelt_argument(server: tuple[LanguageServer, Path]) -> None:
    uri = _open(server, HEAD + "  conv: {op: Conv2d, out_channels: 8, kernal_size: 3}\n")
    found = server[0].diagnostics(uri)
    messages = [d["message"] for d in found]
    assert any("kernal_size" in m for m in messages), messages
    flagged = [d for d in found if "kernal_size" in d["message"]]
    assert flagged[0]["range"]["start"]["line"] == 4


def test_a_correct_spec_has_no_diagnostics(server: tuple[LanguageServer, Path]) -> None:
    text = (ROOT / "specs" / "resnet18.yaml").read_text()
    uri = _open(server, text)
    assert server[0].diagnostics(uri) == []


def test_expressions_are_accepted_where_values_go(server: tuple[LanguageServer, Path]) -> None:
    uri = _open(
        server,
        "netspec: 1\nname: net\nparams: {width: 8, k: 3}\ninputs: {x: [N, 3, H, W]}\nnodes:\n"
        "  conv: {op: Conv2d, out_channels: $width, kernel_size: [$k, '${k}'], bias: false}\n",
    )
    assert server[0].diagnostics(uri) == []


def test_flags_a_wrong_type(server: tuple[LanguageServer, Path]) -> None:
    uri = _open(server, HEAD + "  conv: {op: Conv2d, out_channels: eight, kernel_size: 3}\n")
    messages = [d["message"] for d in server[0].diagnostics(uri)]
    assert messages, "a string for an integer argument is flagged"

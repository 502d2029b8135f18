"""`netspec lsp` tested the way an editor talks to it: a process started with
`python -m netspec lsp`, JSON-RPC over its stdin and stdout (skipped without pygls).

Every expected range is counted here from the test's own text, and every expected shape by
hand (torch's formula for a convolution), never read from netspec.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("pygls")

ROOT = Path(__file__).resolve().parent.parent
URI = "file:///tmp/netspec-lsp-test/model.net"

BROKEN = """\
network Net {
    input x: float[batch, 3, 32, 32]
    y = q -> Conv2d(8, 3)
    output y
}
"""


class Client:
    """A language client over a server process's pipes."""

    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen([sys.executable, "-m", "netspec", "lsp"], cwd=ROOT, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.next_id = 0
        self.messages: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            headers = {}
            while True:
                line = out.readline()
                if not line:
                    self.messages.put(None)
                    return
                line = line.decode("ascii").strip()
                if not line:
                    break
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
            self.messages.put(json.loads(out.read(int(headers["content-length"]))))

    def send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def notify(self, method: str, params: dict) -> None:
        self.send({"method": method, "params": params})

    def wait(self, test, timeout: float = 60.0) -> dict:
        """The next message that passes ``test`` (others are dropped)."""
        while True:
            m = self.messages.get(timeout=timeout)
            assert m is not None, "the server closed its output: " + self.proc.stderr.read().decode()
            if test(m):
                return m

    def request(self, method: str, params: dict | None) -> dict:
        self.next_id += 1
        rid = self.next_id
        self.send({"id": rid, "method": method, "params": params})
        reply = self.wait(lambda m: m.get("id") == rid and "method" not in m)
        assert "error" not in reply, reply
        return reply["result"]

    def diagnostics(self) -> list[dict]:
        m = self.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics")
        assert m["params"]["uri"] == URI
        return m["params"]["diagnostics"]


def at(text: str, needle: str, delta: int = 0) -> dict:
    """The LSP position of ``needle``'s first character (plus ``delta``) in an ASCII text."""
    offset = text.index(needle) + delta
    line = text.count("\n", 0, offset)
    return {"line": line, "character": offset - (text.rfind("\n", 0, offset) + 1)}


def doc() -> dict:
    return {"uri": URI}


@pytest.fixture
def client():
    c = Client()
    yield c
    if c.proc.poll() is None:
        c.proc.kill()
    c.proc.wait(timeout=30)
    for stream in (c.proc.stdin, c.proc.stdout, c.proc.stderr):
        stream.close()


def test_a_client_session(client):
    init = client.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
    caps = init["capabilities"]
    assert caps["hoverProvider"] and caps["definitionProvider"] and caps["documentSymbolProvider"]
    assert caps["documentFormattingProvider"]
    assert ">" in caps["completionProvider"]["triggerCharacters"]
    client.notify("initialized", {})

    # a broken spec: the unknown name `q`, where it stands
    client.notify("textDocument/didOpen", {"textDocument": {**doc(), "languageId": "netspec", "version": 1,
                                                             "text": BROKEN}})
    diags = client.diagnostics()
    errors = [d for d in diags if d["severity"] == 1]
    assert len(errors) == 1
    q = at(BROKEN, "q ->")
    assert errors[0]["code"] == "unknown-name"
    assert errors[0]["range"] == {"start": q, "end": {**q, "character": q["character"] + 1}}
    assert errors[0]["source"] == "netspec"
    hints = [d for d in diags if d["severity"] == 4 and d["code"] == "unknown-name"]
    assert hints and hints[0]["message"].startswith("help: ") and hints[0]["range"] == errors[0]["range"]

    # the fix, as an incremental change: no diagnostics
    fixed = BROKEN.replace("q ->", "x ->")
    client.notify("textDocument/didChange", {
        "textDocument": {**doc(), "version": 2},
        "contentChanges": [{"range": {"start": q, "end": {**q, "character": q["character"] + 1}}, "text": "x"}]})
    assert client.diagnostics() == []

    # hover over the layer: Conv2d(8, 3) on [batch, 3, 32, 32] makes [batch, 8, 30, 30] (32 - 3 + 1)
    hover = client.request("textDocument/hover", {"textDocument": doc(), "position": at(fixed, "Conv2d", 2)})
    text = hover["contents"]["value"]
    assert "[batch, 8, 30, 30]" in text
    assert "224 parameters" in text  # 8 * 3 * 3 * 3 weights + 8 biases
    assert hover["range"] == {"start": at(fixed, "Conv2d"), "end": at(fixed, "Conv2d", len("Conv2d"))}

    # hover over the value `y` where it is used
    hover = client.request("textDocument/hover", {"textDocument": doc(), "position": at(fixed, "output y", 7)})
    assert "y: float32[batch, 8, 30, 30]" in hover["contents"]["value"]

    # go to definition of the binding `y` from `output y`
    loc = client.request("textDocument/definition", {"textDocument": doc(), "position": at(fixed, "output y", 7)})
    assert loc["uri"] == URI
    assert loc["range"] == {"start": at(fixed, "y ="), "end": at(fixed, "y =", 1)}

    # completion after `-> Con`
    typed = fixed.replace("    output y", "    z = y -> Con\n    output y")
    client.notify("textDocument/didChange", {"textDocument": {**doc(), "version": 3},
                                             "contentChanges": [{"text": typed}]})
    diags = client.diagnostics()
    assert [d["code"] for d in diags if d["severity"] == 1] == ["unknown-layer"]  # `Con` is no kind yet
    items = client.request("textDocument/completion", {"textDocument": doc(), "position": at(typed, "Con\n", 3)})
    items = items["items"] if isinstance(items, dict) else items
    conv = next(i for i in items if i["label"] == "Conv2d")
    assert "convolution" in conv["documentation"]["value"]
    assert conv["textEdit"]["range"] == {"start": at(typed, "Con\n"), "end": at(typed, "Con\n", 3)}

    # the outline
    symbols = client.request("textDocument/documentSymbol", {"textDocument": doc()})
    assert [s["name"] for s in symbols] == ["Net"]
    assert [c["name"] for c in symbols[0]["children"]] == ["x", "y", "z"]

    # formatting: netspec fmt's layout as one edit of the whole document
    messy = "network Net{\n  input x:float[batch,3,32,32]\n  y=x->Conv2d(8,3)->ReLU\n  output y\n}\n"
    client.notify("textDocument/didChange", {"textDocument": {**doc(), "version": 4},
                                             "contentChanges": [{"text": messy}]})
    client.diagnostics()
    edits = client.request("textDocument/formatting", {"textDocument": doc(),
                                                       "options": {"tabSize": 4, "insertSpaces": True}})
    from netspec.fmt import format_text
    assert len(edits) == 1 and edits[0]["newText"] == format_text(messy) != messy
    assert edits[0]["range"] == {"start": {"line": 0, "character": 0}, "end": {"line": 5, "character": 0}}

    assert client.request("shutdown", None) is None
    client.notify("exit", None)
    assert client.proc.wait(timeout=30) == 0


UNICODE_BUG = """\
network Net {  # 🙂 é
    input x: float[batch, 3, 32, 32]  # café ☕
    y = x -> Conv2d(8, 3) : [batch, 9, 30, 30]  # 🙂
    output y
}
"""


def test_utf8_positions_and_related_information(client):
    """A client that asks for UTF-8 gets columns in bytes; a note that names a line is a
    related location."""
    init = client.request("initialize", {"processId": None, "rootUri": None,
                                         "capabilities": {"general": {"positionEncodings": ["utf-8", "utf-16"]}}})
    assert init["capabilities"]["positionEncoding"] == "utf-8"
    client.notify("initialized", {})
    client.notify("textDocument/didOpen", {"textDocument": {**doc(), "languageId": "netspec", "version": 1,
                                                             "text": UNICODE_BUG}})
    (error,) = [d for d in client.diagnostics() if d["severity"] == 1]
    assert error["code"] == "assert"
    line = UNICODE_BUG.splitlines()[2]
    col = len(line[:line.index("9,")].encode("utf-8"))
    assert error["range"] == {"start": {"line": 2, "character": col}, "end": {"line": 2, "character": col + 1}}
    related = {r["message"]: r["location"] for r in error["relatedInformation"]}
    x_line = UNICODE_BUG.splitlines()[1]
    where = related["x is float32[batch, 3, 32, 32] (line 2)"]
    assert where["uri"] == URI
    assert where["range"]["start"] == {"line": 1, "character": 4}
    # the line's text, without its trailing blanks, ends after the emoji: bytes, not characters
    assert where["range"]["end"] == {"line": 1, "character": len(x_line.rstrip().encode("utf-8"))}

    hover = client.request("textDocument/hover", {"textDocument": doc(), "position": {"line": 0, "character": 9}})
    assert "network Net" in hover["contents"]["value"]

    # a burst of changes: the published diagnostics come in order of versions, and the
    # last is the last version's (the assertion fixed: none)
    fixed = UNICODE_BUG.replace("9, 30", "8, 30")
    for version in range(2, 32):
        client.notify("textDocument/didChange", {"textDocument": {**doc(), "version": version},
                                                 "contentChanges": [{"text": fixed if version == 31 else UNICODE_BUG}]})
    versions = []
    while not versions or versions[-1] != 31:
        m = client.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics")
        versions.append(m["params"]["version"])
    assert versions == sorted(versions) and m["params"]["diagnostics"] == []
    assert client.request("shutdown", None) is None
    client.notify("exit", None)
    assert client.proc.wait(timeout=30) == 0


QUOTED = """\
network Net {
    input x: float[batch, 4]
    y = x -> Linear(8) as "block1-0" -> ReLU as "x.y"
    output y
}
"""


def test_quoted_module_names(client):
    """A quoted `as` name: a refused one is a diagnostic at its quotes, hovering one shows its
    layer, the outline lists the bindings, and formatting keeps it quoted."""
    client.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
    client.notify("initialized", {})
    client.notify("textDocument/didOpen", {"textDocument": {**doc(), "languageId": "netspec", "version": 1,
                                                             "text": QUOTED}})
    (error,) = [d for d in client.diagnostics() if d["severity"] == 1]
    assert error["code"] == "reserved" and "`.`" in error["message"]
    assert error["range"] == {"start": at(QUOTED, '"x.y"'), "end": at(QUOTED, '"x.y"', 5)}
    hover = client.request("textDocument/hover", {"textDocument": doc(), "position": at(QUOTED, '"block1-0"', 3)})
    assert "[batch, 8]" in hover["contents"]["value"] and "40 parameters" in hover["contents"]["value"]
    symbols = client.request("textDocument/documentSymbol", {"textDocument": doc()})
    assert [c["name"] for c in symbols[0]["children"]] == ["x", "y"]
    messy = QUOTED.replace(' -> ReLU as "x.y"', '->ReLU   as "x-y"')
    client.notify("textDocument/didChange", {"textDocument": {**doc(), "version": 2},
                                             "contentChanges": [{"text": messy}]})
    assert [d for d in client.diagnostics() if d["severity"] == 1] == []
    edits = client.request("textDocument/formatting", {"textDocument": doc(),
                                                       "options": {"tabSize": 4, "insertSpaces": True}})
    assert 'Linear(8) as "block1-0" -> ReLU as "x-y"' in edits[0]["newText"]
    assert client.request("shutdown", None) is None
    client.notify("exit", None)
    assert client.proc.wait(timeout=30) == 0


USES = """\
network Blk(n=2) {
    input x: float[batch, 8]
    y = x -> (Linear(8) * n)
    output y
}

network Main {
    input x: float[batch, 8]
    y = x -> Blk(2)
    output y
}
"""


def test_build_proof_of_uses_is_published_after_the_check(client):
    """A use that the network's one class cannot serve (a `build` error of `netspec check`):
    the server publishes the check's diagnostics, then those of build's proof of the uses."""
    client.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
    client.notify("initialized", {})
    client.notify("textDocument/didOpen", {"textDocument": {**doc(), "languageId": "netspec", "version": 1,
                                                             "text": USES}})
    assert client.diagnostics() == []  # the same arguments: the class serves the use
    two = at(USES, "2)")
    client.notify("textDocument/didChange", {
        "textDocument": {**doc(), "version": 2},
        "contentChanges": [{"range": {"start": two, "end": {**two, "character": two["character"] + 1}},
                            "text": "3"}]})
    assert client.diagnostics() == []  # the check's own: none
    errors = [d for d in client.diagnostics() if d["severity"] == 1]  # then build's proof
    assert [d["code"] for d in errors] == ["build"]
    use = at(USES, "Blk(2)")
    assert errors[0]["range"]["start"] == use and "repetition count" in errors[0]["message"]
    client.notify("textDocument/didChange", {
        "textDocument": {**doc(), "version": 3},
        "contentChanges": [{"range": {"start": two, "end": {**two, "character": two["character"] + 1}},
                            "text": "2"}]})
    assert client.diagnostics() == []

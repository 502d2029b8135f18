"""`netspec lsp`: a Language Server on stdio (needs pygls: `pip install netspec[lsp]`).

The protocol is pygls's; every answer comes from netspec.ide, which works on plain text and
offsets: the diagnostics of `netspec check` as the document changes (reparsing only the
networks whose text changed), hover, completion, go to definition and the outline.
Positions are converted in the encoding agreed with the client (UTF-16 unless it offers
UTF-8 or UTF-32). The server keeps its own copy of each open document's text and applies
the editor's changes to it by LSP's rules for lines (``\\n``, ``\\r\\n``, ``\\r``).
Changes that arrive faster than the checks are applied at once and checked once: only the
latest version's diagnostics are published. They are published in two steps: the check's at
once, then, where networks are used with other arguments than they are checked with,
build's proof that each network's class serves its uses (its `build` errors), unless a
later change has arrived; the second publication, made only if the proof found something,
holds every diagnostic of `netspec check`.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any
from urllib.parse import unquote, urlparse

from lsprotocol import types as T
from pygls.lsp.server import LanguageServer

from netspec import __version__
from netspec.ide import complete as C
from netspec.ide.analysis import Analysis, Analyzer, Diag, diagnostics
from netspec.ide.hover import hover as hover_at
from netspec.ide.index import OutlineItem
from netspec.ide.text import UTF16, Document, Position, Text

SYMBOL_KIND = {"network": T.SymbolKind.Class, "param": T.SymbolKind.Constant,
               "input": T.SymbolKind.Variable, "binding": T.SymbolKind.Variable}
TRIGGERS = [">", "(", ",", "[", ":"]


def file_of(uri: str) -> str:
    """The name diagnostics and notes give the document: its path for a file URI."""
    u = urlparse(uri)
    return unquote(u.path) if u.scheme == "file" else uri


class Workspace:
    """The open documents and the checks of their versions, by URI."""

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        self.overrides = overrides or {}
        self.documents: dict[str, Document] = {}
        self.analyzers: dict[str, Analyzer] = {}

    def open(self, uri: str, text: str, version: int | None, encoding: str) -> Analysis:
        self.documents[uri] = Document(uri, text, version, encoding)
        self.analyzers[uri] = Analyzer(file_of(uri), self.overrides)
        return self.analyze(uri)

    def change(self, uri: str, version: int | None, changes) -> None:
        doc = self.documents[uri]
        for ch in changes:
            rng = getattr(ch, "range", None)
            if rng is None:
                doc.change(None, None, ch.text)
            else:
                doc.change(Position(rng.start.line, rng.start.character),
                           Position(rng.end.line, rng.end.character), ch.text)
        doc.version = version

    def close(self, uri: str) -> None:
        self.documents.pop(uri, None)
        self.analyzers.pop(uri, None)

    def analyze(self, uri: str) -> Analysis:
        return self.analyzers[uri].analyze(self.documents[uri].source)

    def at(self, uri: str, pos: T.Position) -> tuple[Document, Analysis, int] | None:
        doc = self.documents.get(uri)
        if doc is None:
            return None
        analysis = self.analyze(uri)
        return doc, analysis, doc.text.offset_at(Position(pos.line, pos.character), doc.encoding)


# -- netspec.ide's answers in the protocol's types -------------------------------------------------

def lsp_range(text: Text, start: int, end: int, encoding: str = UTF16) -> T.Range:
    a, b = text.position(start, encoding), text.position(end, encoding)
    return T.Range(T.Position(a.line, a.character), T.Position(b.line, b.character))


def lsp_diagnostic(d: Diag, text: Text, uri: str, encoding: str) -> T.Diagnostic:
    related = [T.DiagnosticRelatedInformation(T.Location(uri, lsp_range(text, r.start, r.end, encoding)), r.message)
               for r in d.related]
    return T.Diagnostic(range=lsp_range(text, d.start, d.end, encoding), message=d.message,
                        severity=T.DiagnosticSeverity(d.severity), code=d.code, source="netspec",
                        related_information=related or None)


def lsp_symbol(item: OutlineItem, text: Text, encoding: str) -> T.DocumentSymbol:
    return T.DocumentSymbol(name=item.name, kind=SYMBOL_KIND.get(item.kind, T.SymbolKind.Variable),
                            detail=item.detail or None,
                            range=lsp_range(text, item.start, item.end, encoding),
                            selection_range=lsp_range(text, item.name_start, item.name_end, encoding),
                            children=[lsp_symbol(c, text, encoding) for c in item.children] or None)


def lsp_completion(item: C.Item, text: Text, start: int, end: int, encoding: str) -> T.CompletionItem:
    doc = T.MarkupContent(T.MarkupKind.Markdown, item.documentation) if item.documentation else None
    return T.CompletionItem(label=item.label, kind=T.CompletionItemKind(item.kind), detail=item.detail or None,
                            documentation=doc, sort_text=item.sort or None,
                            text_edit=T.TextEdit(lsp_range(text, start, end, encoding), item.insert or item.label))


# -- the server ------------------------------------------------------------------------------------

def encoding_of(server: LanguageServer) -> str:
    enc = server.workspace.position_encoding
    return str(getattr(enc, "value", enc) or UTF16)


def lsp_diagnostics(d: Diag, text: Text, uri: str, encoding: str) -> list[T.Diagnostic]:
    """The diagnostic, and its help as a hint at the same place that points back at it."""
    main = lsp_diagnostic(d, text, uri, encoding)
    if not d.help:
        return [main]
    back = T.DiagnosticRelatedInformation(T.Location(uri, main.range), d.message.split("\n")[0])
    return [main, T.Diagnostic(range=main.range, message=f"help: {d.help}", severity=T.DiagnosticSeverity.Hint,
                               code=d.code, source="netspec", related_information=[back])]


def publish(server: LanguageServer, uri: str, doc: Document, analysis: Analysis) -> None:
    diags = [x for d in diagnostics(analysis) for x in lsp_diagnostics(d, analysis.text, uri, doc.encoding)]
    server.text_document_publish_diagnostics(T.PublishDiagnosticsParams(uri, diags, doc.version))


async def prove_and_publish(server: LanguageServer, ws: Workspace, uri: str, version: int | None,
                            analysis: Analysis) -> None:
    """The second step of a version's diagnostics: build's proof of its networks' uses, run
    when no later change is waiting, and published again if it found something."""
    await asyncio.sleep(0)  # a change received meanwhile is checked instead
    doc = ws.documents.get(uri)
    if doc is not None and doc.version == version and ws.analyzers[uri].prove(analysis):
        publish(server, uri, doc, analysis)


def _sync(server: LanguageServer, ws: Workspace) -> None:
    @server.feature(T.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(params: T.DidOpenTextDocumentParams) -> None:
        d = params.text_document
        analysis = ws.open(d.uri, d.text, d.version, encoding_of(server))
        publish(server, d.uri, ws.documents[d.uri], analysis)
        await prove_and_publish(server, ws, d.uri, d.version, analysis)

    @server.feature(T.TEXT_DOCUMENT_DID_CHANGE)
    async def did_change(params: T.DidChangeTextDocumentParams) -> None:
        d = params.text_document
        if d.uri not in ws.documents:
            return
        ws.change(d.uri, d.version, params.content_changes)
        await asyncio.sleep(0)  # the changes already received apply first
        doc = ws.documents.get(d.uri)
        if doc is not None and doc.version == d.version:  # else a later change publishes
            analysis = ws.analyze(d.uri)
            publish(server, d.uri, doc, analysis)
            await prove_and_publish(server, ws, d.uri, d.version, analysis)

    @server.feature(T.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: T.DidCloseTextDocumentParams) -> None:
        ws.close(params.text_document.uri)
        server.text_document_publish_diagnostics(T.PublishDiagnosticsParams(params.text_document.uri, []))


def _answers(server: LanguageServer, ws: Workspace) -> None:
    @server.feature(T.TEXT_DOCUMENT_HOVER)
    def hover(params: T.HoverParams) -> T.Hover | None:
        found = ws.at(params.text_document.uri, params.position)
        answer = hover_at(found[1].index, found[2]) if found and found[1].result.module else None
        if answer is None:
            return None
        text, start, end = answer
        return T.Hover(T.MarkupContent(T.MarkupKind.Markdown, text),
                       lsp_range(found[1].text, start, end, found[0].encoding))

    @server.feature(T.TEXT_DOCUMENT_DEFINITION)
    def definition(params: T.DefinitionParams) -> T.Location | None:
        found = ws.at(params.text_document.uri, params.position)
        place = found[1].index.definition(found[2]) if found and found[1].result.module else None
        if place is None:
            return None
        return T.Location(params.text_document.uri, lsp_range(found[1].text, *place, found[0].encoding))

    @server.feature(T.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def symbols(params: T.DocumentSymbolParams) -> list[T.DocumentSymbol]:
        uri = params.text_document.uri
        if uri not in ws.documents:
            return []
        analysis = ws.analyze(uri)
        if analysis.result.module is None:
            return []
        return [lsp_symbol(i, analysis.text, ws.documents[uri].encoding) for i in analysis.index.outline()]

    @server.feature(T.TEXT_DOCUMENT_COMPLETION, T.CompletionOptions(trigger_characters=TRIGGERS))
    def completion(params: T.CompletionParams) -> T.CompletionList:
        doc = ws.documents.get(params.text_document.uri)
        if doc is None:
            return T.CompletionList(is_incomplete=False, items=[])
        offset = doc.text.offset_at(Position(params.position.line, params.position.character), doc.encoding)
        items, start = C.complete(doc.source, offset)
        return T.CompletionList(is_incomplete=False,
                                items=[lsp_completion(i, doc.text, start, offset, doc.encoding) for i in items])


def _formatting(server: LanguageServer, ws: Workspace) -> None:
    @server.feature(T.TEXT_DOCUMENT_FORMATTING)
    def formatting(params: T.DocumentFormattingParams) -> list[T.TextEdit] | None:
        """`netspec fmt`'s layout as one edit of the whole document; none for a spec that
        does not parse (its diagnostics say why) or that is already formatted."""
        from netspec.fmt import FormatError, format_text

        doc = ws.documents.get(params.text_document.uri)
        if doc is None:
            return None
        text = doc.source
        try:
            out = format_text(text, params.text_document.uri)
        except FormatError:
            return None
        if out == text:
            return []
        end = lsp_range(doc.text, 0, len(text), doc.encoding)
        return [T.TextEdit(range=end, new_text=out)]


def server(overrides: dict[str, Any] | None = None) -> LanguageServer:
    """A language server for netspec specs (``overrides``: parameter values, as ``--set``)."""
    ls = LanguageServer("netspec", __version__, text_document_sync_kind=T.TextDocumentSyncKind.Incremental)
    ws = Workspace(overrides)
    _sync(ls, ws)
    _answers(ls, ws)
    _formatting(ls, ws)
    return ls


def main(overrides: dict[str, Any] | None = None) -> int:
    """Serve on stdin and stdout until the client asks the server to exit. The protocol
    gets its own handles on both; anything else printed goes to standard error, where it
    cannot break a message."""
    stdin, stdout = os.fdopen(os.dup(0), "rb"), os.fdopen(os.dup(1), "wb")
    sys.stdout = sys.stderr
    server(overrides).start_io(stdin, stdout)
    return 0

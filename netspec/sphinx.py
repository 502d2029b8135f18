"""A Sphinx extension: ``extensions = ["netspec.sphinx"]`` in a project's conf.py.

It adds the directive ``.. netspec:: path/to/model.net`` (a path relative to the document,
or to the source folder when it starts with ``/``), which checks the spec and puts in the
page the diagram of ``netspec diagram`` (an SVG inline) and the table of ``netspec check``:

.. code-block:: rst

   .. netspec:: ../specs/resnet18.net
      :network: ResNet18
      :depth: 1
      :direction: LR

Options: ``:network:`` (the network to show; default: every network no other one uses),
``:depth:`` (expand networks used as layers that many levels, as ``--depth``),
``:direction:`` (``TB`` or ``LR``, as ``--rankdir``), ``:no-diagram:`` and ``:no-table:``.
A spec with errors fails the docs build (exit status 1): its diagnostics, as `netspec check`
prints them, are Sphinx errors at the directive, and nothing is drawn; its warnings are
Sphinx warnings. The extension also registers the Pygments lexer
(netspec.pygments_lexer) for ``.. code-block:: netspec``, and the page is rebuilt when the
spec changes. The diagram needs Graphviz's ``dot``.
"""

from __future__ import annotations

import os
import re

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)


def _errors(env) -> dict[str, list[tuple[str, int, list[str]]]]:
    """The specs with errors, by the document that shows them (kept in the environment, so
    that a build that does not read the document again fails again)."""
    if not hasattr(env, "netspec_errors"):
        env.netspec_errors = {}
    return env.netspec_errors


def _purge(app, env, docname: str) -> None:
    _errors(env).pop(docname, None)


def _merge(app, env, docnames, other) -> None:
    _errors(env).update({d: v for d, v in _errors(other).items() if d in docnames})


def _reading(app, env, docnames) -> None:
    app.netspec_read = set(docnames)  # the documents this build reads (their errors are reported as read)


def _finished(app, exception) -> None:
    """A build that showed a spec with errors fails (exit status 1), after every one is
    reported; those of documents this build did not read again are repeated here."""
    errors = _errors(app.env)
    if exception is not None or not errors:
        return
    read = getattr(app, "netspec_read", set())
    for doc in sorted(set(errors) - read):
        for _, line, shown in errors[doc]:
            for text in shown:
                logger.error("netspec: %s", text, location=(doc, line))
    logger.error("netspec: the docs show specs with errors: %s",
                 "; ".join(summary for doc in sorted(errors) for summary, _, _ in errors[doc]))
    app.statuscode = 1


def _direction(value: str) -> str:
    shown = (value or "").strip().upper()
    if shown not in ("TB", "LR"):
        raise ValueError(f'"{value}" unknown; choose "TB" or "LR"')
    return shown


class NetspecDirective(SphinxDirective):
    """``.. netspec:: model.net``: the spec's diagram and table."""

    required_arguments = 1
    optional_arguments = 0
    has_content = False
    option_spec = {
        "network": directives.unchanged_required,
        "depth": directives.nonnegative_int,
        "direction": _direction,
        "no-diagram": directives.flag,
        "no-table": directives.flag,
    }

    def run(self) -> list[nodes.Node]:
        from netspec import api, diagram
        from netspec.errors import UsageError

        rel, path = self.env.relfn2path(self.arguments[0])
        self.env.note_dependency(rel)
        if not os.path.isfile(path):
            raise self.error(f"netspec: no such spec file: {rel}")
        spec = api.check_file(path)
        if self._report(spec, rel):
            return []
        try:
            nets = diagram.select(spec.result, rel, self.options.get("network"))
        except UsageError as e:
            raise self.error(f"netspec: {e}") from None
        container = nodes.container(classes=["netspec"])
        if "no-diagram" not in self.options:
            container += nodes.raw("", self._svg(spec, nets, rel), format="html", classes=["netspec-diagram"])
        if "no-table" not in self.options:
            for net in nets:
                container += _table(net)
        return [container]

    def _report(self, spec, rel: str) -> bool:
        """Report the spec's diagnostics at the directive; True when it has errors, which
        then fail the build (see :func:`_finished`)."""
        from netspec.diagnostics import render

        location = (self.env.docname, self.lineno)
        for d in spec.diagnostics:
            (logger.error if d.severity == "error" else logger.warning)(
                "netspec: %s", render(d, spec.lines, color=False), location=location)
        errors = [render(d, spec.lines, color=False) for d in spec.diagnostics if d.severity == "error"]
        if errors:
            entry = (f"{rel}: {len(errors)} error(s)", self.lineno, errors)
            _errors(self.env).setdefault(self.env.docname, []).append(entry)
        return bool(errors)

    def _svg(self, spec, nets, rel: str) -> str:
        from netspec import diagram

        try:
            import graphviz
        except ImportError:
            raise self.error("netspec: the diagram needs the graphviz package: pip install 'netspec[docs]'") from None
        g = diagram.build(nets, spec.result, self.options.get("direction", "TB"), self.options.get("depth", 0),
                          False, os.path.basename(rel))
        try:
            svg = diagram.render_dot(g.source, "svg").decode("utf-8")
        except graphviz.ExecutableNotFound:
            raise self.error(f"netspec: Graphviz's `dot` is needed to draw {rel}: {diagram.INSTALL_HINT}") from None
        start = svg.find("<svg")  # inline: without the XML declaration and the doctype
        return '<div class="netspec-diagram">' + re.sub(r"<!--.*?-->\n?", "", svg[start:], flags=re.S) + "</div>"


def _table(net) -> nodes.Node:
    """The table of `netspec check` as a docutils table, with the network as its title."""
    from netspec.report import table_data

    title, heads, rows = table_data(net)
    table = nodes.table(classes=["netspec-table"])
    table += nodes.title(text=title)
    group = nodes.tgroup(cols=len(heads))
    table += group
    for _ in heads:
        group += nodes.colspec(colwidth=1)
    group += nodes.thead("", _row(heads))
    group += nodes.tbody("", *(_row(r) for r in rows))
    return table


def _row(cells) -> nodes.row:
    row = nodes.row()
    for cell in cells:
        entry = nodes.entry()
        entry += nodes.paragraph(text=str(cell))
        row += entry
    return row


def setup(app) -> dict:
    from netspec import __version__
    from netspec.pygments_lexer import NetspecLexer

    app.add_directive("netspec", NetspecDirective)
    app.connect("env-before-read-docs", _reading)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("build-finished", _finished)
    app.add_lexer("netspec", NetspecLexer)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}

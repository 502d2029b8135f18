"""What an editor asks about a spec, answered without an editor protocol.

netspec.lsp speaks the Language Server Protocol over stdio; this package does the work it
asks for, on plain text and offsets, so that it can be tested and timed in-process:

- ``text``: positions (netspec's spans, offsets into the text, LSP positions in UTF-8,
  UTF-16 or UTF-32 units) and an open document that takes the editor's changes;
- ``analysis``: checking a document as it changes, reparsing only the networks whose
  text changed; the diagnostics with ranges, related places and help;
- ``index``: what stands at each place in a checked spec: go to definition, the outline;
- ``hover``: what the typed graph knows about the value, layer, dim or argument at a place;
- ``complete``: completion of layer kinds, ops, networks, argument names and values.

Nothing here imports torch or pygls.
"""

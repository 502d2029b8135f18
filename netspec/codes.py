"""Diagnostic codes: stable names that tools and tests match on, as constants.

A diagnostic is made with one of these constants (``reporter.error(codes.SHAPE, ...)``),
never with a bare string, so a misspelt code is an AttributeError where it is written
rather than a new code that nobody documented. Every code has a section in
docs/errors.md with an example spec, its message and its fix (tests/test_errors_doc.py),
and a case in tests/broken/ (tests/test_broken.py).
"""

from __future__ import annotations


class Code(str):
    """A code's text (what JSON and the `error[code]` header show) and its summary."""

    summary: str

    def __new__(cls, text: str, summary: str) -> "Code":
        code = super().__new__(cls, text)
        code.summary = summary
        return code


SYNTAX = Code("syntax", "the text does not parse")
ENCODING = Code("encoding", "the file is not valid UTF-8 text")
LIMIT = Code("limit", "the spec exceeds a size or nesting limit")
UNKNOWN_NAME = Code("unknown-name", "a name that no input, binding or parameter defines")
UNKNOWN_LAYER = Code("unknown-layer", "a stage names no known layer, op or network")
UNKNOWN_ATTR = Code("unknown-attr", "a result name that the value does not have")
ARGUMENT = Code("argument", "a layer or op argument is missing, unknown, duplicated or of the wrong type")
VALUE = Code("value", "an argument has a value torch does not accept")
DTYPE = Code("dtype", "a tensor has a dtype the layer or op cannot take")
RANK = Code("rank", "a tensor has the wrong number of dimensions")
SHAPE = Code("shape", "a size does not match the size the layer or op needs")
ASSERT = Code("assert", "a shape assertion does not hold")
LAYOUT = Code("layout", "a recurrent layer would read the batch axis as time, or time as batch")
UNPROVEN = Code("unproven", "a fact the shape depends on cannot be proven statically")
SIZE = Code("size", "a convolution or pooling window leaves no output")
DUPLICATE = Code("duplicate", "a name is defined twice")
UNPACK = Code("unpack", "a binding names more or fewer values than its chain makes")
OUTPUT = Code("output", "a network's outputs are missing or wrong")
PARAM = Code("param", "a network parameter is missing, unknown or of the wrong type")
RECURSION = Code("recursion", "networks use each other in a cycle")
MEMORY = Code("memory", "a parameter tensor too large to allocate in practice")
UNUSED = Code("unused", "a binding or input that no output depends on")
RESERVED = Code("reserved", "a name that generated code cannot use")
# Where one class cannot serve every use of a network: found by the proof `netspec build`
# makes, which check runs too wherever a network is used with other arguments.
BUILD = Code("build", "one class cannot serve every use of a network")
# A warning of `netspec build`: a module's name (its state_dict keys) is not the one the spec wrote.
RENAMED = Code("renamed", "a built module's name differs from the name the spec gives it")

# The catalogue, in the order docs/errors.md presents it: code -> summary.
CODES: dict[str, str] = {c: c.summary for c in (
    SYNTAX, ENCODING, LIMIT, UNKNOWN_NAME, UNKNOWN_LAYER, UNKNOWN_ATTR, ARGUMENT, VALUE, DTYPE, RANK,
    SHAPE, ASSERT, LAYOUT, UNPROVEN, SIZE, DUPLICATE, UNPACK, OUTPUT, PARAM, RECURSION, MEMORY, UNUSED, RESERVED,
)}

# Errors that `# netspec: allow[code]` may silence: those after which every shape can still
# be inferred (a recurrent layer reading batch as time is well defined, only likely unmeant);
# a silenced one lets the check go on. Any other error leaves values that cannot be
# inferred, so it is reported whatever the comment.
SILENCEABLE_ERRORS = frozenset({LAYOUT})

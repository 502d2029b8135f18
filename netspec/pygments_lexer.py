"""A Pygments lexer for netspec, registered as ``netspec`` (entry point ``pygments.lexers``).

With netspec installed, ``pygmentize -l netspec model.net`` highlights a spec, and Sphinx,
MkDocs and other renderers that use Pygments highlight code blocks marked ``netspec``.
The token classes follow the grammar (grammar/netspec.lark): keywords, dtypes, layer and
op calls, names, numbers, strings, operators, and comments, with an allow comment
(``# netspec: allow[...]``) marked as a special comment. A character the language has no
token for is an ``Error`` token. Pygments is imported only here.
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Whitespace

__all__ = ["NetspecLexer"]

DTYPE_WORDS = ("float32", "float16", "bfloat16", "float64", "float", "half", "double",
               "int64", "int32", "long", "int", "bool")


class NetspecLexer(RegexLexer):
    """Lexer for netspec layer-graph specs (``.net`` files)."""

    name = "netspec"
    aliases = ["netspec"]
    filenames = ["*.net"]
    mimetypes = ["text/x-netspec"]

    _name = r"[A-Za-z_][A-Za-z0-9_]*"
    tokens = {
        "root": [
            (r"[ \t\f\r\n]+", Whitespace),
            (r"#\s*netspec:\s*allow\[[^\]\n]*\][^\n]*", Comment.Special),
            (r"#[^\n]*", Comment.Single),
            (r'"[^"\\\n]*"', String.Double),
            (r"(network)(\s+)(" + _name + ")", bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (r"(input|output)\b", Keyword),
            (r"(param|buffer|shared)(\s+)(" + _name + r")(?=\s*[:=])",
             bygroups(Keyword.Declaration, Whitespace, Name.Variable)),
            (r"(as)(\s+)(" + _name + r'|"[^"\\\n]*")', bygroups(Keyword, Whitespace, Name.Label)),
            (r"(true|false)\b", Keyword.Constant),
            (words(DTYPE_WORDS, suffix=r"(?=\s*\[)"), Keyword.Type),
            (r"[0-9][0-9_]*\.[0-9_]*([eE][-+]?[0-9]+)?|[0-9][0-9_]*[eE][-+]?[0-9]+", Number.Float),
            (r"[0-9][0-9_]*", Number.Integer),
            (r"[A-Z][A-Za-z0-9_]*", Name.Class),  # a layer (or a network used as one)
            (_name + r"(?=\s*\()", Name.Function),  # an op or a call
            (_name, Name),
            (r"->|\*\*|//|\.\.\.|[-+*/%@=:]", Operator),
            (r"[()\[\]{},.]", Punctuation),
        ],
    }

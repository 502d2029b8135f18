"""Regenerate docs/errors.md: every diagnostic code, a spec that triggers it, what netspec
prints for it, and the fix.

    python scripts/make_errors_doc.py          # rewrite docs/errors.md
    python scripts/make_errors_doc.py --check  # exit 1 when it is out of date

The printed messages are not written here: each example is checked by `netspec check`
itself and its output copied into the page, so the page shows exactly what the tool says.
tests/test_errors_doc.py checks every example and that the page is up to date.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from netspec.cli import main  # noqa: E402
from netspec.codes import CODES  # noqa: E402

DOC = ROOT / "docs" / "errors.md"

# One entry a code, in the order of CODES: what it means, a spec that triggers it (written
# as Latin-1 bytes where "encoding" says so), how to fix it, and the spec fixed.
EXAMPLES: dict[str, dict] = {
    "syntax": {
        "about": "The message names what the parser found and, in words, what could have come "
                 "there instead; after an unclosed bracket a note says "
                 "where it was opened. Only the first syntax error of a file is reported.",
        "example": """\
network Classifier {
    input x: float[batch, 784]
    logits = x -> Linear(128) -> ReLU Linear(10)
    output logits
}
""",
        "fix": "Join every stage to the one before it with `->`.",
        "fixed": """\
network Classifier {
    input x: float[batch, 784]
    logits = x -> Linear(128) -> ReLU -> Linear(10)
    output logits
}
""",
    },
    "encoding": {
        "about": "netspec does not guess what the bytes of another encoding mean. The example below is saved as Latin-1, where `é` is the single byte 0xe9. A UTF-8 "
                 "byte order mark at the start is accepted.",
        "encoding": "latin-1",
        "example": """\
# Klassifikator für Ziffern, Entwurf von Hélène
network Digits {
    input x: float[batch, 784]
    logits = x -> Linear(10)
    output logits
}
""",
        "fix": "Save the file as UTF-8 (most editors call it that; `iconv -f latin1 -t utf-8` "
               "converts one).",
        "fixed": """\
# Klassifikator für Ziffern, Entwurf von Hélène
network Digits {
    input x: float[batch, 784]
    logits = x -> Linear(10)
    output logits
}
""",
    },
    "limit": {
        "about": "The limits are a file over 16 MiB, brackets or "
                 "expressions nested more than 100 levels deep, a repetition count above 10,000, "
                 "more than 200,000 layers and ops in a file (repetitions and every use of a "
                 "network counted), uses of networks nested more than 100 deep, a number of "
                 "more than 100 digits, or a size beyond int64 "
                 "(2**63 - 1); a layer with more than 2**31 parameters is a `memory` warning. "
                 "Each limit is reported once, where it is first exceeded, and nothing is checked "
                 "past it in that chain.",
        "example": """\
network Deep {
    input x: float[batch, 64]
    y = x -> (Linear(64) -> ReLU) * 100000
    output y
}
""",
        "fix": "Most often the count or size is a typo. The limits keep a check fast and its "
               "memory bounded whatever the input.",
        "fixed": """\
network Deep {
    input x: float[batch, 64]
    y = x -> (Linear(64) -> ReLU) * 10
    output y
}
""",
    },
    "unknown-name": {
        "about": "Inputs, bindings and parameters are known from where they are declared on, "
                 "symbolic dims from the input that declares them. The help suggests the closest "
                 "names that are known.",
        "example": """\
network Encoder(hidden=256) {
    input tokens: long[batch, seq]
    emb = tokens -> Embedding(10000, 128)
    enc = emb -> LSTM(hiden, batch_first=true)
    output enc
}
""",
        "fix": "Use a defined name, or define the name before its first use.",
        "fixed": """\
network Encoder(hidden=256) {
    input tokens: long[batch, seq]
    emb = tokens -> Embedding(10000, 128)
    enc = emb -> LSTM(hidden, batch_first=true)
    output enc
}
""",
    },
    "unknown-layer": {
        "about": "Layers are spelt as torch spells its `nn` classes, ops as its functions; a "
                 "network of the same file may be used as a layer too.",
        "example": """\
network Net {
    input image: float[batch, 3, 32, 32]
    y = image -> Conv2D(16, 3) -> ReLU
    output y
}
""",
        "fix": "Use the name the help suggests; docs/language.md lists every layer and op.",
        "fixed": """\
network Net {
    input image: float[batch, 3, 32, 32]
    y = image -> Conv2d(16, 3) -> ReLU
    output y
}
""",
    },
    "unknown-attr": {
        "about": "A recurrent layer bound to a name has `output`, `h_n` and, for `LSTM`, `c_n`; a network used as a layer has "
                 "the names of its `output` statement.",
        "example": """\
network Encoder {
    input x: float[seq, batch, 32]
    enc = x -> LSTM(64)
    last = enc.hn -> select(0, -1)
    output last
}
""",
        "fix": "Use one of the results the note lists.",
        "fixed": """\
network Encoder {
    input x: float[seq, batch, 32]
    enc = x -> LSTM(64)
    last = enc.h_n -> select(0, -1)
    output last
}
""",
    },
    "argument": {
        "about": "An argument name the layer or op does not have, one it needs and is not "
                 "given, one given twice or too many by position, or a value of the wrong type "
                 "(a string for a size, a number for a flag).",
        "example": """\
network Head {
    input x: float[batch, 512]
    logits = x -> Linear(10, bais=false)
    output logits
}
""",
        "fix": "Use torch's argument names and types; the note lists the arguments there are.",
        "fixed": """\
network Head {
    input x: float[batch, 512]
    logits = x -> Linear(10, bias=false)
    output logits
}
""",
    },
    "value": {
        "about": "The type is right, the value is one torch refuses: a probability outside "
                 "[0, 1], a padding larger than half the window, channels not divisible "
                 "by `groups`, a repeated dim in `permute`, an index out of range, a count of 0.",
        "example": """\
network Regularised {
    input x: float[batch, 512]
    y = x -> Linear(256) -> ReLU -> Dropout(1.5)
    output y
}
""",
        "fix": "Give a value in the range the message states.",
        "fixed": """\
network Regularised {
    input x: float[batch, 512]
    y = x -> Linear(256) -> ReLU -> Dropout(0.5)
    output y
}
""",
    },
    "dtype": {
        "about": "Float layers refuse integer tensors, `Embedding` needs integer ids, `cat`, `matmul` and `bmm` need one "
                 "dtype, `mean`, `var` and `softmax` a floating-point tensor, `where` and `masked_fill` a bool mask, or a "
                 "dtype name is unknown. Arithmetic (`add`, `mul`, ...) promotes as torch does.",
        "example": """\
network Tagger {
    input tokens: long[batch, seq]
    tags = tokens -> Linear(12)
    output tags
}
""",
        "fix": "Integer ids go through `Embedding` first; declare float features as `float[...]`.",
        "fixed": """\
network Tagger {
    input tokens: long[batch, seq]
    tags = tokens -> Embedding(5000, 64) -> Linear(12)
    output tags
}
""",
    },
    "rank": {
        "about": "For example a flat vector into a 2-d convolution, or a `transpose` of a dim "
                 "that is not there.",
        "example": """\
network Digits {
    input pixels: float[batch, 784]
    y = pixels -> Conv2d(8, 3) -> ReLU
    output y
}
""",
        "fix": "Give the tensor the layout the layer expects, here with `reshape`.",
        "fixed": """\
network Digits {
    input pixels: float[batch, 784]
    y = pixels -> reshape(batch, 1, 28, 28) -> Conv2d(8, 3) -> ReLU
    output y
}
""",
    },
    "shape": {
        "about": "An inferred argument given explicitly and wrong, sizes that `cat` or `add` cannot join, a `reshape` to a "
                 "different number of elements, an initial state of the wrong shape. The notes "
                 "say where the actual size came from, with its line.",
        "example": """\
network LeNetHead {
    input features: float[batch, 16, 5, 5]
    logits = features -> Flatten -> Linear(120, in_features=256) -> ReLU -> Linear(10)
    output logits
}
""",
        "fix": "Leave the inferred argument out and let netspec infer it, or fix the layer "
               "that made the size.",
        "fixed": """\
network LeNetHead {
    input features: float[batch, 16, 5, 5]
    logits = features -> Flatten -> Linear(120) -> ReLU -> Linear(10)
    output logits
}
""",
    },
    "assert": {
        "about": "A `: [dims]` or `: dtype[dims]` assertion is checked against the inferred type; "
                 "one that cannot be proven to hold is an error too. Each wrong dim is reported. "
                 "The notes say how the value got its shape; the help "
                 "states the inferred one.",
        "example": """\
network Features {
    input image: float[batch, 1, 28, 28]
    f = image
        -> Conv2d(6, 5, padding=2) -> ReLU -> MaxPool2d(2)   : [batch, 6, 14, 14]
        -> Conv2d(16, 5) -> ReLU -> MaxPool2d(2)             : [batch, 16, 4, 4]
    output f
}
""",
        "fix": "Correct the assertion, or the layers if the assertion says what was meant.",
        "fixed": """\
network Features {
    input image: float[batch, 1, 28, 28]
    f = image
        -> Conv2d(6, 5, padding=2) -> ReLU -> MaxPool2d(2)   : [batch, 6, 14, 14]
        -> Conv2d(16, 5) -> ReLU -> MaxPool2d(2)             : [batch, 16, 5, 5]
    output f
}
""",
    },
    "layout": {
        "about": "The batch axes are the symbols `batch`, `batch_size`, `B` and `N`; the time "
                 "axes `seq`, `seq_len`, `time` and `T`. torch runs such a model without "
                 "complaint, and it learns the wrong thing.",
        "example": """\
network Oops {
    input tokens: long[batch, seq]
    out = tokens -> Embedding(1000, 64) -> LSTM(128) -> Linear(2)
    output out
}
""",
        "fix": "Pass `batch_first=true`, or transpose the value first. If the layout is meant, "
               "write `# netspec: allow[layout]` at the end of the line.",
        "fixed": """\
network Oops {
    input tokens: long[batch, seq]
    out = tokens -> Embedding(1000, 64) -> LSTM(128, batch_first=true) -> Linear(2)
    output out
}
""",
    },
    "unproven": {
        "about": "As a warning, the message says what must hold and the stated shape assumes it (a "
                 "`reshape` that needs a size divisible by another, a `squeeze` of a dim that may "
                 "be 1, an index into a dim that may be too small). As an error, a size that must "
                 "be a known integer is not (a repetition count, a divisor).",
        "example": """\
network Chunks {
    input x: float[batch, seq]
    y = x -> reshape(batch, 5, -1)
    output y
}
""",
        "fix": "Declare the sizes so that the fact follows from them, here a length that is a "
               "multiple of 5.",
        "fixed": """\
network Chunks {
    input x: float[batch, 5 * chunks]
    y = x -> reshape(batch, 5, -1)
    output y
}
""",
    },
    "size": {
        "about": "The window is larger than the (padded) input it slides over.",
        "example": """\
network Tiny {
    input image: float[batch, 3, 8, 8]
    y = image -> Conv2d(16, 5) -> Conv2d(32, 5) -> ReLU
    output y
}
""",
        "fix": "Pad the input, or use smaller windows or fewer layers.",
        "fixed": """\
network Tiny {
    input image: float[batch, 3, 8, 8]
    y = image -> Conv2d(16, 5, padding=2) -> Conv2d(32, 5, padding=2) -> ReLU
    output y
}
""",
    },
    "duplicate": {
        "about": "Two networks, two parameters or inputs of one "
                 "network, a binding and an earlier value, a binding and a symbolic dim, or a "
                 "network and a built-in layer.",
        "example": """\
network Twice {
    input x: float[batch, 8]
    h = x -> Linear(16) -> ReLU
    h = h -> Linear(4)
    output h
}
""",
        "fix": "Give each value its own name.",
        "fixed": """\
network Twice {
    input x: float[batch, 8]
    h = x -> Linear(16) -> ReLU
    out = h -> Linear(4)
    output out
}
""",
    },
    "unpack": {
        "about": "A binding of several names (`q, k, v = ...`) takes the results of its chain's "
                 "last stage in order: an LSTM's output, h_n and c_n, the pieces of `chunk` or "
                 "`split`, a network's outputs. The names must be as many as the results.",
        "example": """\
network Attention {
    input x: float[batch, seq, 24]
    q, k = x -> chunk(3, dim=-1)
    output q, k
}
""",
        "fix": "Name every result (`_` for one you do not use), or make as many results as names.",
        "fixed": """\
network Attention {
    input x: float[batch, seq, 24]
    q, k, v = x -> chunk(3, dim=-1)
    output q, k, v
}
""",
    },
    "output": {
        "about": "A network without an `output` statement has no results.",
        "example": """\
network NoResult {
    input x: float[batch, 8]
    y = x -> Linear(2)
}
""",
        "fix": "Name the network's results with `output`.",
        "fixed": """\
network NoResult {
    input x: float[batch, 8]
    y = x -> Linear(2)
    output y
}
""",
    },
    "param": {
        "about": "A parameter without a default not given where the network is used, a default "
                 "that is not a constant, or a parameter used as a size that is not an integer.",
        "example": """\
network Block(planes) {
    input x: float[batch, c, h, w]
    out = x -> Conv2d(planes, 3, padding=1) -> BatchNorm2d -> ReLU
    output out
}

network Net {
    input image: float[batch, 3, 32, 32]
    y = image -> Block -> Block
    output y
}
""",
        "fix": "Pass the parameter where the network is used, by position or by keyword.",
        "fixed": """\
network Block(planes) {
    input x: float[batch, c, h, w]
    out = x -> Conv2d(planes, 3, padding=1) -> BatchNorm2d -> ReLU
    output out
}

network Net {
    input image: float[batch, 3, 32, 32]
    y = image -> Block(32) -> Block(planes=64)
    output y
}
""",
    },
    "recursion": {
        "about": "A network uses itself, directly or through other networks; networks used as "
                 "layers must form a tree.",
        "example": """\
network Tower {
    input x: float[batch, 64]
    y = x -> Linear(64) -> ReLU -> Tower
    output y
}
""",
        "fix": "Repeat the stages a fixed number of times instead.",
        "fixed": """\
network Tower {
    input x: float[batch, 64]
    y = x -> (Linear(64) -> ReLU) * 4
    output y
}
""",
    },
    "memory": {
        "about": "A layer holds more than 2**31 parameter elements (8 GiB in float32). This is "
                 "a warning: such a layer can exist, but it is most often a size typed wrong.",
        "example": """\
network LanguageModel {
    input tokens: long[batch, seq]
    emb = tokens -> Embedding(50000000, 1024)
    output emb
}
""",
        "fix": "Check the sizes.",
        "fixed": """\
network LanguageModel {
    input tokens: long[batch, seq]
    emb = tokens -> Embedding(50000, 1024)
    output emb
}
""",
    },
    "unused": {
        "about": "A warning: the value is computed, or passed in, for nothing. Often the "
                 "`output` statement lacks a name.",
        "example": """\
network Heads {
    input x: float[batch, 128]
    input mask: bool[batch, 128]
    body = x -> Linear(64) -> ReLU
    aux = body -> Linear(4)
    main = body -> Linear(10)
    output main
}
""",
        "fix": "Add the value to `output`, or remove it.",
        "fixed": """\
network Heads {
    input x: float[batch, 128]
    body = x -> Linear(64) -> ReLU
    aux = body -> Linear(4)
    main = body -> Linear(10)
    output main, aux
}
""",
    },
    "reserved": {
        "about": "Networks become Python classes, parameters and inputs arguments, bindings and "
                 "symbolic dims variables: none may be a Python keyword, `self`, `super`, "
                 "`torch`, `nn` or a `__dunder__` name. A binding or a stage's `as` name "
                 "(which become submodules) may not be an attribute of torch's "
                 "`nn.Module` either, such as `forward`, `training` or `parameters`.",
        "example": """\
network Scorer {
    input x: float[batch, 32]
    forward = x -> Linear(16) -> ReLU
    score = forward -> Linear(1) as lambda
    output score
}
""",
        "fix": "Rename it.",
        "fixed": """\
network Scorer {
    input x: float[batch, 32]
    hidden = x -> Linear(16) -> ReLU
    score = hidden -> Linear(1) as head
    output score
}
""",
    },
}

HEAD = """\
# Diagnostics

Every problem `netspec check` finds is a diagnostic with a stable code. This page gives
each code a small spec that triggers it, what netspec prints for it, and the fix. It is
generated: the messages below are the tool's own output. Regenerate the page with

<!-- illustrative: it rewrites this page; tests/test_errors_doc.py checks the page is current -->
```sh
python scripts/make_errors_doc.py
```

## Reading a diagnostic

```
FILE:LINE:COLUMN: SEVERITY[CODE]: what is wrong
 LINE | the source line
      |      ^^^^^^ the part that is wrong
      = note: where a size or a value came from (with its line)
      = help: how to fix it
```

- An `error` makes `netspec check` (and `build`) exit with status 1; a `warning` does not.
  A problem with how netspec was called (no such file, a bad `--set`) is not a diagnostic:
  it is one line on stderr and exit status 2.
- Each mistake is reported once, where it is made. Values computed from a value that
  failed are not inferred, and report nothing of their own.
- `# netspec: allow[CODE]` (or `allow[CODE, CODE]`) at the end of a line silences those
  codes on that line, for a layout that is meant or a warning that is understood. Other
  errors cannot be silenced: nothing that depends on them could be inferred.
- `netspec check --json` gives the same diagnostics as objects with `severity`, `code`,
  `message`, `file`, `line`, `column`, `end_line`, `end_column`, `notes` and `help`.

| code | meaning |
|---|---|
"""


def _fence(info: str, text: str) -> str:
    return f"```{info}\n{text.rstrip()}\n```\n"


def _write(directory: Path, name: str, text: str, encoding: str) -> str:
    (directory / name).write_bytes(text.encode(encoding))
    return name


def run_check(directory: Path, name: str) -> tuple[int, str]:
    """`netspec check NAME` run in ``directory``: exit status and the printed text."""
    out = io.StringIO()
    here = os.getcwd()
    try:
        os.chdir(directory)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            status = main(["check", name])
    finally:
        os.chdir(here)
    return status, out.getvalue()


def diagnostics_part(printed: str, name: str) -> str:
    """The diagnostics and the summary line, without the shape table before them."""
    lines = printed.rstrip("\n").split("\n")
    first = next(i for i, line in enumerate(lines) if line.startswith(f"{name}:"))
    return "\n".join(lines[first:]) + "\n"


def render() -> str:
    missing = [c for c in CODES if c not in EXAMPLES]
    extra = [c for c in EXAMPLES if c not in CODES]
    if missing or extra:
        raise SystemExit(f"examples missing for {missing}, or for codes that do not exist: {extra}")
    parts = [HEAD]
    for code, summary in CODES.items():
        parts.append(f"| [`{code}`](#{code}) | {summary} |\n")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        for code, summary in CODES.items():
            ex = EXAMPLES[code]
            encoding = ex.get("encoding", "utf-8")
            name = _write(directory, f"{code}.net", ex["example"], encoding)
            status, printed = run_check(directory, name)
            if f"[{code}]" not in printed:
                raise SystemExit(f"the example for {code} does not report it:\n{printed}")
            saved = f" (saved as {encoding.capitalize()})" if encoding != "utf-8" else ""
            parts.append(f"\n## `{code}`\n\n**{summary[0].upper()}{summary[1:]}.** {ex['about']}\n\n")
            parts.append(f"`{name}`{saved}:\n\n")
            parts.append(_fence(f"net example {encoding}" if encoding != "utf-8" else "net example",
                                ex["example"]))
            parts.append(f"\n`netspec check {name}` prints (exit status {status}):\n\n")
            parts.append(_fence("text", diagnostics_part(printed, name)))
            parts.append(f"\n**Fix.** {ex['fix']}\n\n")
            parts.append(_fence("net fixed", ex["fixed"]))
            _write(directory, f"{code}-fixed.net", ex["fixed"], "utf-8")
            status, printed = run_check(directory, f"{code}-fixed.net")
            if status != 0 or "warning[" in printed:
                raise SystemExit(f"the fixed example for {code} does not check cleanly:\n{printed}")
    return "".join(parts)


def cli(argv: list[str]) -> int:
    text = render()
    if argv == ["--check"]:
        if not DOC.exists() or DOC.read_text(encoding="utf-8") != text:
            print(f"{DOC.relative_to(ROOT)} is out of date: run python scripts/make_errors_doc.py")
            return 1
        return 0
    if argv:
        print(__doc__)
        return 2
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(cli(sys.argv[1:]))

"""The oracle: what `netspec check` accepts, torch runs with exactly the shapes it stated.

:func:`run_case` takes the bytes of any spec file. When `check` accepts it (no error;
warnings allowed), it builds the module of every root network (one not used as a stage)
and, for two random assignments of the network's free names (its input symbols, its
integer parameters without a default, and in the second its other integer parameters)
that make every size the check stated at least 1, runs the module on random tensors of
the stated dtypes and shapes, in eval mode under ``torch.no_grad``, and compares:

- every node's results (tests/observe.py traces them) and the outputs: dtype and shape;
- the parameter count: ``sum(p.numel())`` of the module against the stated total;
- ``view``: torch's own ``.view`` on the tensor the stage got (the built code may write
  ``.reshape``, which never refuses);
- the batch: a sample's results depend on that sample alone, at every axis the check
  states as a batch symbol (``batch``, ``batch_size``, ``B``, ``N``), up to a layer
  that normalises over that axis on purpose (Softmax over it, BatchNorm on batch
  statistics);
- weights sized by the data: a parameter count, or a size the constructor needs, that
  depends on a batch or time symbol;
- parameter values: the built class accepts a value exactly when ``check --set`` does,
  and then computes what that check states;
- sizes: a size the check states as a number below 1, and a parameter the file declares
  and nothing reads.

A spec that checks but does not build (SpecError, BuildError, an exception in the
constructor) or does not run (any exception in forward) is a finding too. Every expected
value comes from torch, or from evaluating the stated dims (Python integer expressions,
as the JSON report writes them) here; netspec is never asked what a shape should be.

Cases (:func:`make_case`) are reproducible from ``(seed, index)``: a finding prints both,
and ``python scripts/fuzz.py --oracle --seed S --case K`` runs that one case again.
"""

from __future__ import annotations

import ast
import functools
import random
import re
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import fuzzgen
import netgen

from netspec import api
from netspec.dims import render

# docs/language.md, "Layout": the names that make a symbol a batch or a time axis
BATCH_NAMES = frozenset({"batch", "batch_size", "B", "N"})
TIME_NAMES = frozenset({"seq", "seq_len", "time", "T"})

TIME_LIMIT = 20.0  # CPU seconds one case may take (check, build and both runs)
MAX_ELEMENTS = 400_000  # the stated values of one run together, in elements
MAX_PARAMS = 2_000_000  # weights one module may have to be run
# a fact the class refuses the parameters' values by (build.py, _required_lines)
REQUIRED = re.compile(r"\(line \d+ of .*\) needs .*; received \w+=-?\d+")


@dataclass
class Finding:
    """One disagreement between what check stated and what build and torch did."""

    what: str  # build, constructor, run, shape, dtype, output, params, unobserved, view, batch,
    #            data-sized, override, size, unused-param, timeout, crash (scripts/fuzz.py)
    network: str
    message: str
    assignment: dict = field(default_factory=dict)
    trap: str | None = None  # the known trap it is an instance of (see classify)

    def __str__(self) -> str:
        where = f" with {self.assignment}" if self.assignment else ""
        return f"[{self.what}] {self.network}{where}: {self.message}"


@dataclass
class Outcome:
    checked: bool = False
    networks: int = 0  # root networks tried
    ran: int = 0  # assignments run through torch
    skipped: list[str] = field(default_factory=list)  # assignments not run, and why
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()  # the codes of the check's warnings


# -- the stated dims, evaluated here ------------------------------------------------------------

_DIM_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load, ast.Add, ast.Sub,
              ast.Mult, ast.FloorDiv, ast.Mod, ast.USub, ast.UAdd)


@functools.lru_cache(maxsize=200_000)
def formula(text: str):
    """(code, names) of a dim as the check writes it: a Python integer expression."""
    tree = ast.parse(text, mode="eval")
    calls = set()  # the names of `max(a, b)`: the size two broadcast sizes make, each maybe 1
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "max" \
                and len(node.args) >= 2 and not node.keywords:
            calls.add(id(node.func))
        elif not isinstance(node, _DIM_NODES) or isinstance(node, ast.Constant) and type(node.value) is not int:
            raise ValueError(f"not an integer expression: {text!r}")
    names = frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in calls)
    return compile(tree, "<dim>", "eval"), names


def names_of(d) -> frozenset:
    return frozenset() if isinstance(d, int) else formula(render(d))[1]


def value(d, env: dict) -> int:
    """A stated dim's value under ``env`` (KeyError for a name it lacks)."""
    if isinstance(d, int):
        return d
    code, names = formula(render(d))
    return eval(code, {"__builtins__": {"max": max}}, {n: env[n] for n in names})  # noqa: S307 - checked by formula


def shape_of(t, env: dict) -> list[int]:
    return [value(d, env) for d in t.shape]


# -- what the check stated ----------------------------------------------------------------------

def stated_values(net, path: str = "", top: bool = True):
    """(where, value) for the inputs, every node's results (in networks used as stages too)
    and the outputs of ``net``."""
    if top:
        for v in net.inputs:
            yield f"input {v.name}", v
    for node in net.nodes:
        where = f"{path}{node.kind_name} (line {node.span.line})"
        for v in node.outputs:
            yield where, v
        if node.block is not None:
            yield from stated_values(node.block, where + " > ", top=False)
    if top:
        for name, v in net.outputs:
            yield f"output {name}", v


def stated_params(net):
    """The stated parameter count (the declared tensors' and the layers'), integer
    parameters left as symbols."""
    total = 0
    for n in (*net.tensors, *net.nodes):
        total = total + n.params
    return total


def int_params(net) -> dict[str, int | None]:
    """Integer parameter -> its default (None: it has none)."""
    out = {}
    for p in net.param_names:
        if not isinstance(net.params.get(p), (int, bool)) and type(net.params.get(p)).__name__ == "Expr":
            d = net.param_env.get(p)
            out[p] = d if isinstance(d, int) and not isinstance(d, bool) else None
    return out


# -- choosing values ----------------------------------------------------------------------------

def choose(rng: random.Random, dims: list, params: dict[str, int], batch_names: set[str],
           hint: dict | None = None) -> tuple[dict | None, str]:
    """Values for every name the stated dims use, besides ``params``, that make each dim at
    least 1 and the run small enough: (env, "") or (None, why not)."""
    free = sorted(set().union(*(names_of(d) for d in dims if d is not None)) - set(params)) if dims else []
    tries = []
    if hint and all(s in hint for s in free):
        tries.append({s: hint[s] for s in free})
    too_big = False
    for bound in (3, 6, 12, 24, 64, 160):
        for _ in range(6):
            tries.append({s: rng.randint(2 if s in batch_names else 1, max(bound, 2)) for s in free})
    for values in tries:
        env = {**values, **params}
        verdict = _fits(dims, env)
        if verdict == "ok":
            return env, ""
        too_big |= verdict == "big"
    if too_big:
        return None, "every assignment that makes the sizes at least 1 is too large to run"
    return None, f"no values of {', '.join(free) or 'the parameters'} up to 160 make every stated size at least 1"


def never_positive(rng: random.Random, dims: list, params: dict[str, int]) -> list:
    """The stated dims that no values of their symbols up to 160 make at least 1, each on
    its own (``-n``, ``hidden`` set to 0): sizes no run can have."""
    out = []
    for d in {d for d in dims if d is not None and not isinstance(d, int)}:
        free = sorted(names_of(d) - set(params))
        tries = [{s: 1 for s in free}, {s: 160 for s in free}]
        tries += [{s: rng.randint(1, 160) for s in free} for _ in range(20)]
        if not any(_positive(d, {**t, **params}) for t in tries):
            out.append(d)
    return out


def _positive(d, env: dict) -> bool:
    try:
        return value(d, env) >= 1
    except (ZeroDivisionError, KeyError):
        return False


def _fits(dims: list, env: dict) -> str:
    total = 0
    for shape in dims_by_value(dims):
        n = 1
        for d in shape:
            try:
                v = value(d, env)
            except (ZeroDivisionError, KeyError):
                return "no"
            if v < 1:
                return "no"
            n *= v
        total += n
    return "ok" if total <= MAX_ELEMENTS else "big"


def dims_by_value(dims: list):
    """``dims`` is a flat list with None between the shapes of values."""
    shape: list = []
    for d in dims:
        if d is None:
            yield shape
            shape = []
        else:
            shape.append(d)
    if shape:
        yield shape


# -- the case ---------------------------------------------------------------------------------

@dataclass
class Case:
    kind: str
    seed: int
    index: int
    data: bytes
    hint: dict | None = None  # symbol values the generator knows to be good
    traps: frozenset = frozenset()  # traps the generator knows the spec holds
    overrides: dict | None = None  # parameter values to check it with (--set)

    def __str__(self) -> str:
        return f"seed {self.seed} case {self.index} ({self.kind})"


def run_case(data: bytes, seed: int = 0, hint: dict | None = None, workdir: Path | None = None,
             time_limit: float = TIME_LIMIT, overrides: dict | None = None) -> Outcome:
    """Check ``data`` (with ``overrides``, as --set gives them); when it checks, build, run
    and compare every root network. ``seed`` makes the values and tensors."""
    import tempfile

    import torch

    out = Outcome()
    start = time.process_time()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory(prefix="netspec-oracle-") as tmp:
            path = Path(workdir or tmp) / "case.net"
            path.write_bytes(data)
            with fuzzgen.time_bound(time_limit), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _run_spec(str(path), random.Random(seed), hint, out, overrides)
    except fuzzgen.CaseTimeout:
        out.findings.append(Finding("timeout", "-", f"the case took more than {time_limit} s of CPU time"))
    finally:
        torch.set_num_threads(threads)
    out.seconds = time.process_time() - start
    for f in out.findings:
        f.trap = f.trap or classify(f, out)
    return out


def _run_spec(path: str, rng: random.Random, hint, out: Outcome, overrides: dict | None) -> None:
    spec = api.check_file(path, overrides)
    out.checked = spec.ok
    out.warnings = tuple(d.code for d in spec.diagnostics if d.severity == "warning")
    if not spec.ok:
        return
    out.findings += unused_params(spec)
    roots = [n for n in spec.result.networks if not n.generic]
    try:
        spec.code  # noqa: B018 - generates the module: a refusal is the finding
    except api.SpecError as e:
        d = e.diagnostics[0]
        out.findings.append(Finding("build", roots[0].name if roots else "-",
                                    f"build refuses: line {d.span.line}: {d.severity}[{d.code}] {d.message}"))
        return
    except Exception as e:  # noqa: BLE001 - any escape is a finding
        out.findings.append(Finding("build", "-", f"build raised {last_line(e)}"))
        return
    for net in roots:
        out.networks += 1
        try:
            NetworkOracle(spec, net, rng, hint, out).run()
        except Exception:  # noqa: BLE001 - the oracle's own failure, shown in full
            out.findings.append(Finding("oracle", net.name, "the oracle failed:\n" + traceback.format_exc()))


def last_line(e: BaseException) -> str:
    return traceback.format_exception_only(type(e), e)[-1].strip()


def unused_params(spec) -> list[Finding]:
    """Parameters no word of the file but their declaration names, which no diagnostic
    mentions: the check accepted them silently."""
    text = re.sub(r"#[^\n]*", "", spec.text)
    words = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text)
    out = []
    for net in spec.result.networks:
        for p in net.param_names:
            if words.count(p) == 1 and not any(f"`{p}`" in d.message or f" {p} " in d.message
                                               for d in spec.diagnostics):
                out.append(Finding("unused-param", net.name, f"parameter `{p}` is declared and never used, "
                                   "and the check says nothing"))
    return out


# -- one root network -------------------------------------------------------------------------

class NetworkOracle:
    def __init__(self, spec, net, rng: random.Random, hint, out: Outcome):
        self.spec = spec
        self.net = net
        self.rng = rng
        self.hint = hint
        self.out = out
        self.info = spec.class_info(net.name)
        self.params = int_params(net)
        self.batch = {s for v in net.inputs for d in v.tensor.shape for s in names_of(d)
                      if s in BATCH_NAMES and render(d) == s}

    def find(self, what: str, message: str, env: dict | None = None, trap: str | None = None) -> None:
        self.out.findings.append(Finding(what, self.net.name, message, dict(env or {}), trap))

    def run(self) -> None:
        self.static_checks(self.net)
        for j in range(2):
            self.one(self.param_values(vary=j == 1))

    def static_checks(self, net) -> None:
        for where, v in stated_values(net):
            for k, d in enumerate(v.tensor.shape if v.tensor is not None else ()):
                # torch makes empty tensors where the arguments ask for them (`narrow(1, 0, 0)`,
                # `x[9:]` of 7, `repeat(0, 1)`), and check states them as torch does: a stated 0
                # is checked by the runs against torch's shapes; a size below 0 never exists
                if isinstance(d, int) and d < 0:
                    self.find("size", f"{where}: dim {k} is stated as {d}")
        total = stated_params(net)
        roles = (names_of(total) | set(self.info.symbols)) & (BATCH_NAMES | TIME_NAMES)
        if roles - set(self.params):
            nodes = [f"{n.kind_name} (line {n.span.line}): {render(n.params)}" for n in net.nodes
                     if names_of(n.params) & roles]
            self.find("data-sized", f"weights sized by the data's {', '.join(sorted(roles))}: "
                      f"{'; '.join(nodes) or 'the constructor needs ' + ', '.join(sorted(roles))}")

    def param_values(self, vary: bool) -> dict[str, int]:
        """A value for each integer parameter: the default, a value the generator assumed
        (the hint) for one without, else a random one (always, in the second assignment,
        for most)."""
        out = {}
        for p, default in self.params.items():
            if default is None and not vary and self.hint and p in self.hint:
                out[p] = self.hint[p]
            elif default is None or (vary and self.rng.random() < 0.7):
                out[p] = self.rng.randint(1, max(2, 2 * (default or 4)))
            else:
                out[p] = default
        return out

    def assign(self, net, params: dict) -> dict | None:
        """Symbol values for ``net`` that make every stated size at least 1, or None (the
        reason in ``skipped``)."""
        dims = []
        for _, v in stated_values(net):
            if v.tensor is not None:
                dims += [*v.tensor.shape, None]
        env, why = choose(self.rng, dims, params, self.batch, self.hint)
        if env is None:
            self.out.skipped.append(f"{net.name} {params}: {why}")
            chosen = {p for p, v in params.items() if v != self.params[p]}  # by the oracle, not checked
            for d in never_positive(self.rng, [d for d in dims if d is None or not names_of(d) & chosen], params):
                shown = {p: v for p, v in params.items() if p in names_of(d)}
                self.find("size", f"`{render(d)}` is a stated size{' with ' + str(shown) if shown else ''}, and no "
                          "values up to 160 make it at least 1")
        elif value(stated_params(net), env) > MAX_PARAMS:
            self.out.skipped.append(f"{net.name} {params}: more than {MAX_PARAMS} parameters")
            env = None
        return env

    def one(self, params: dict[str, int]) -> None:
        env = self.assign(self.net, params)
        if env is None:
            return
        overrides = {p: v for p, v in params.items() if v != self.params[p]}
        checked = self.check_with(overrides) if overrides else None
        kwargs = {self.info.params[p]: v for p, v in params.items()}
        kwargs.update({kw: env[s] for s, kw in self.info.symbols.items() if s in env})
        try:
            model = self.spec.module_class(self.net.name)(**kwargs)
        except ValueError as e:
            if "holds only for that value" in str(e):
                self.rebuilt(checked, params)  # the class refuses the values: --set instead
            elif not self.assumed(e, env):
                self.refused(e, checked, env)
            return
        except Exception as e:  # noqa: BLE001 - any escape is a finding
            self.refused(e, checked, env)
            return
        trap = None
        if checked is not None and not checked.ok:
            d = next(d for d in checked.diagnostics if d.severity == "error")
            shown = ", ".join(f"{self.info.params[k]}={v}" for k, v in overrides.items())
            self.find("override", f"{self.info.class_name}({shown}) builds, but check --set refuses it: "
                      f"line {d.span.line}: error[{d.code}] {d.message}", env)
            trap = "pinned-parameters"  # what goes wrong in the run follows from it
        also = checked.network(self.net.name) if checked is not None and checked.ok else None
        Run(self, self.spec, self.net, model, env, trap, also).compare()

    def assumed(self, e: Exception, env: dict) -> bool:
        """Whether the class refused sizes a divisibility the check assumed (and warned of,
        or left to each use of a generic network) fails for: right when the two values it
        names do not divide; a finding when they do."""
        m = re.search(r"must be divisible by \w+ \(line \d+ of .*\); received (-?\d+) and (-?\d+)$", str(e))
        if not isinstance(e, ValueError) or m is None:
            return False
        size, by = int(m[1]), int(m[2])
        if by > 0 and size % by == 0:
            self.find("constructor", f"the class refuses sizes that divide: {last_line(e)}", env)
        else:
            self.out.skipped.append(f"{self.net.name} {env}: the class refuses the sizes: {e}")
        return True

    def refused(self, e: Exception, checked, env: dict) -> None:
        """The constructor raised: a finding; when check --set refuses the values too, the
        class should have refused them itself, saying why (a pinned parameter). A fact the
        class requires may also fail where check --set accepts the values but states other
        shapes than those the class was built for (a slice of `[:3]` of a dim `n` at n=2)."""
        if checked is not None and checked.ok and isinstance(e, ValueError) and REQUIRED.search(str(e)) \
                and self.states_otherwise(checked, env):
            self.out.skipped.append(f"{self.net.name} {env}: the class refuses the values it states no shapes for: {e}")
            return
        if checked is not None and not checked.ok:
            if isinstance(e, ValueError) and REQUIRED.search(str(e)):  # the class says the fact check --set refuses
                self.out.skipped.append(f"{self.net.name} {env}: the class refuses the values: {e}")
                return
            self.find("constructor", f"{last_line(e)} (check --set refuses these values too; the class "
                      "does not pin them)", env, "pinned-parameters")
        else:
            self.find("constructor", last_line(e), env)

    def states_otherwise(self, checked, env: dict) -> bool:
        """Whether check --set states other output shapes at ``env`` than the class's check."""
        try:
            mine = [shape_of(v.tensor, env) for _, v in self.net.outputs]
            theirs = [shape_of(v.tensor, env) for _, v in checked.network(self.net.name).outputs]
        except (KeyError, AttributeError):
            return False
        return mine != theirs

    def check_with(self, overrides: dict):
        return api.loads(self.spec.text, {**self.spec.overrides, **overrides}, file=self.spec.file, strict=False)

    def rebuilt(self, checked, params: dict) -> None:
        """The spec checked and built with the values (``--set``), compared with that check."""
        if checked is None or not checked.ok:
            return  # the class and the check both refuse the values
        self.out.warnings += tuple(d.code for d in checked.diagnostics if d.severity == "warning")
        net = checked.network(self.net.name)
        self.static_checks(net)
        env = self.assign(net, params)
        if env is None:
            return
        try:
            info = checked.class_info(net.name)
            model = checked.module(net.name, **{kw: env[s] for s, kw in info.symbols.items() if s in env})
        except Exception as e:  # noqa: BLE001 - any escape is a finding
            if not self.assumed(e, env):
                self.find("constructor", f"built with --set: {last_line(e)}", env)
            return
        Run(self, checked, net, model, env).compare()


# -- one run ----------------------------------------------------------------------------------

class Run:
    """One module run on one assignment, compared with what ``net`` (of ``spec``) states."""

    def __init__(self, owner: NetworkOracle, spec, net, model, env: dict, trap: str | None = None, also=None):
        self.owner = owner
        self.trap = trap
        self.also = also  # the network as check --set states it with these values, when it checks
        self.spec = spec
        self.net = net
        self.model = model.eval()
        self.env = env

    def find(self, what: str, message: str) -> None:
        inherited = self.trap if what in ("run", "shape", "dtype", "output", "params") else None
        self.owner.find(what, message, self.env, inherited)

    def compare(self) -> None:
        import observe
        import torch

        gen = torch.Generator().manual_seed(self.owner.rng.randrange(2**31))
        inputs = [self.tensor(v, gen) for v in self.net.inputs]
        other = perturbed(self, inputs, gen)  # before the run: an in-place layer may write into an input
        try:
            result, observed = observe.trace(self.spec, self.model, *inputs, network=self.net.name)
        except Exception as e:  # noqa: BLE001 - any escape is a finding
            self.find("run", f"forward raised {self.plain_error(inputs) or last_line(e)}")
            return
        self.owner.out.ran += 1
        if self.values(observed) and self.outputs(result):
            self.count()
            self.views(observed, inputs)
            batch_audit(self, observed, other)

    def plain_error(self, inputs) -> str | None:
        """The exception a run without the tracer raises (the tracer may hide it)."""
        import torch

        try:
            with torch.no_grad():
                self.model(*inputs)
        except Exception as e:  # noqa: BLE001 - reported
            return last_line(e)
        return None

    def tensor(self, v, gen):
        import torch

        shape = shape_of(v.tensor, self.env)
        dtype = getattr(torch, v.tensor.dtype)
        if dtype.is_floating_point:
            return torch.randn(shape, generator=gen).to(dtype)
        if dtype == torch.bool:
            return torch.randint(0, 2, shape, generator=gen).bool()
        return torch.randint(0, self.id_range(), shape, generator=gen, dtype=dtype)

    def id_range(self) -> int:
        """Integers below every Embedding's size: ids any of them may take."""
        sizes = [2]
        for node in self.net.nodes:
            n = getattr(node.args, "num_embeddings", None)
            if n is not None:
                try:
                    sizes.append(value(n, self.env))
                except KeyError:
                    pass
        return max(1, min(sizes))

    def values(self, observed) -> bool:
        for o in observed:
            stated = [(v.tensor.dtype, shape_of(v.tensor, self.env)) for v in o.node.outputs]
            actual = [(str(t.dtype).removeprefix("torch."), list(t.shape)) for t in o.outputs]
            if actual != stated:
                what = "dtype" if [s for _, s in actual] == [s for _, s in stated] else "shape"
                self.find(what, f"{o.network.name}: {o.node.kind_name} (line {o.node.span.line}"
                          f"{', ' + o.path if o.path else ''}): check states {stated}, torch made {actual}")
                return False
        if observed_nodes(observed) != count_nodes(self.net):
            self.find("unobserved", f"{observed_nodes(observed)} of {count_nodes(self.net)} nodes were observed")
        return True

    def outputs(self, result) -> bool:
        results = result if isinstance(result, tuple) else (result,)
        actual = [(str(t.dtype).removeprefix("torch."), list(t.shape)) for t in results]
        for net, how in ((self.net, "check"), (self.also, "check --set")):
            stated = [(v.tensor.dtype, shape_of(v.tensor, self.env)) for _, v in net.outputs] if net else actual
            if actual != stated:
                self.find("output", f"{how} states outputs {stated}, torch returned {actual}")
                return False
        return True

    def count(self) -> None:
        stated = value(stated_params(self.net), self.env)
        actual = sum(p.numel() for p in self.model.parameters())
        if actual != stated:
            self.find("params", f"check states {stated} parameters ({render(stated_params(self.net))}), "
                      f"the module has {actual}")

    def views(self, observed, inputs) -> None:
        """Every `view` stage, tried with torch's own .view on the tensor it got."""
        tensors = tensor_map(self.net, observed, inputs)
        lines = self.spec.lines
        for o in observed:
            node = o.node
            span = node.span
            text = lines[span.line - 1][span.column - 1:] if 0 < span.line <= len(lines) else ""
            if node.kind is None or not text.startswith("view") or not node.inputs:
                continue
            got = tensors.get(id(node.inputs[0]))
            if got is None:
                continue
            try:
                got.view(*o.outputs[0].shape)
            except RuntimeError as e:
                self.find("view", f"{node.kind_name} (line {span.line}): torch's .view refuses its input "
                          f"{list(got.shape)} with strides {list(got.stride())}: {last_line(e)[:120]}")


def count_nodes(net) -> int:
    return sum(1 + (count_nodes(n.block) if n.block is not None else 0) for n in net.nodes)


def observed_nodes(observed) -> int:
    """How many nodes ran: a scanned network step's run once per position, each compared."""
    return len({(id(o.node), o.path) for o in observed})


def tensor_map(net, observed, inputs) -> dict:
    """id(Value) -> the tensor it held in the run: the inputs, every node's results, and the
    inputs of networks used as stages (the values their uses passed)."""
    out = {id(v): t for v, t in zip(net.inputs, inputs)}
    for o in observed:
        for v, t in zip(o.node.outputs, o.outputs):
            out[id(v)] = t
    for o in observed:
        block = o.node.block
        if block is not None and block.inputs and o.node.inputs:
            passed = [*o.node.inputs, *o.node.state.values()]
            for v, w in zip(block.inputs, passed):
                if id(w) in out:
                    out[id(v)] = out[id(w)]
    return out


# -- the batch --------------------------------------------------------------------------------

def batch_axes(t, env: dict, names: set[str]) -> list[int]:
    return [k for k, d in enumerate(t.shape) if not isinstance(d, int) and render(d) in names
            and env.get(render(d), 0) >= 2]


def perturbed(run: Run, inputs: list, gen) -> list | None:
    """The inputs with sample 0 changed along every input's first batch axis (None when no
    input has a batch axis, or the spec allows a layout error)."""
    import torch

    if not run.owner.batch or "allow[layout]" in run.spec.text:
        return None
    out, changed = [], False
    for v, t in zip(run.net.inputs, inputs):
        axes = batch_axes(v.tensor, run.env, run.owner.batch)
        if not axes:
            out.append(t)
            continue
        t = t.clone()
        row = t.narrow(axes[0], 0, 1)
        if t.dtype.is_floating_point:
            row.add_(torch.randn(row.shape, generator=gen).to(t.dtype) + 1)
        elif t.dtype == torch.bool:
            row.logical_not_()
        else:
            row.copy_((row + 1) % run.id_range())
        out.append(t)
        changed = True
    return out if changed else None


REDUCTIONS = ("sum", "mean", "amax", "amin", "var", "std")


def mixes_on_purpose(node, env: dict, names: set[str]) -> bool:
    """A layer or op that reads across the batch axis by design: a softmax or a reduction
    over it, BatchNorm on batch statistics, a matmul or bmm whose operand holds the samples
    in its last dim (a Gram matrix, `x @ x.T`)."""
    kind = node.kind_name
    args = node.args
    ts = [v.tensor for v in node.inputs if v.tensor is not None]
    if kind in ("Softmax", "LogSoftmax", "softmax", "log_softmax", *REDUCTIONS) and ts and ts[0].rank:
        dim = getattr(args, "dim", None)
        dims = dim if isinstance(dim, tuple) else (dim,)
        if kind in REDUCTIONS and dim is None:
            return bool(batch_axes(ts[0], env, names))  # over every dim
        return any(isinstance(d, int) and d % ts[0].rank in batch_axes(ts[0], env, names) for d in dims)
    if kind in ("matmul", "bmm") and ts:
        return any(t.rank and t.rank - 1 in batch_axes(t, env, names) for t in ts)
    if kind == "einsum" and ts:
        return _einsum_mixes(str(getattr(args, "equation", "")), ts, env, names)
    if kind.startswith("BatchNorm") and getattr(args, "track_running_stats", True) is False:
        return True
    return False


def _einsum_mixes(equation: str, ts: list, env: dict, names: set[str]) -> bool:
    """Whether an einsum reads across samples: a batch axis summed over, or batch axes of
    its operands under different labels (`ij,kj->ik`: a Gram matrix)."""
    if "->" not in equation:
        return False
    lhs, rhs = equation.replace(" ", "").split("->")
    labels = []
    for spec, t in zip(lhs.split(","), ts):
        letters = spec.replace("...", "")
        for k in batch_axes(t, env, names):
            at = k - (t.rank - len(letters))  # the ellipsis takes the leading dims
            if 0 <= at < len(letters) and (spec.startswith("...") or at == k):
                labels.append(letters[at])
    return len(set(labels)) > 1 or any(c not in rhs for c in labels)


def batch_audit(run: Run, observed, other: list | None) -> None:
    """Run again on ``other`` (sample 0 changed): every result the check states with a batch
    axis keeps its other samples, up to the first layer that mixes them on purpose."""
    import observe

    if other is None:
        return
    try:
        _, again = observe.trace(run.spec, run.model, *other, network=run.net.name)
    except Exception:  # noqa: BLE001 - the first run went through; a second failing is not this check's
        return
    for o, p in zip(observed, again):
        if mixes_on_purpose(o.node, run.env, run.owner.batch):
            return
        for v, a, b in zip(o.node.outputs, o.values, p.values):
            for k in batch_axes(v.tensor, run.env, run.owner.batch):
                if not same_rows(a, b, k):
                    run.find("batch", f"{o.network.name}: {o.node.kind_name} (line {o.node.span.line}): dim {k} "
                             f"is stated as `{render(v.tensor.shape[k])}`, but changing sample 0 of the input "
                             "changes other samples there")
                    return


def same_rows(a, b, k: int) -> bool:
    import torch

    n = a.shape[k]
    x, y = a.narrow(k, 1, n - 1), b.narrow(k, 1, n - 1)
    if x.dtype.is_floating_point:
        return torch.allclose(x.double(), y.double(), rtol=1e-4, atol=1e-5, equal_nan=True)
    return torch.equal(x, y)


# -- what a finding is an instance of ------------------------------------------------------------

def classify(f: Finding, out: Outcome) -> str | None:
    """The trap of the issue (or a known finding) a finding is an instance of, or None."""
    simple = {"view": "view-contiguity", "batch": "batch-tracking", "data-sized": "data-sized-weights",
              "override": "pinned-parameters", "size": "positivity", "unused-param": "unused-parameter"}
    if f.what == "build" and "[duplicate]" in f.message:
        return "duplicate-as"
    if f.what == "build" and "do not form one pipeline" in f.message:
        return "as-pipeline"
    if f.what == "batch" and re.search(r": (RNN|LSTM|GRU) \(line", f.message):
        return "recurrent-layout"
    if f.what in ("constructor", "run") and re.search(r"negative dimension|must be (greater than zero|positive)"
                                                      r"|indexing axis dim should be positive", f.message):
        return "positivity"
    if f.what == "constructor" and "divisible by num_heads" in f.message:
        return "generic-assumption"
    if f.what in ("run", "shape", "output") and "unproven" in out.warnings:
        return "unproven"
    if f.what == "run" and re.search(r"select\(\): index -?\d+ out of range", f.message):
        return "select-range"
    if f.what == "constructor" and "proj_size has to be smaller than hidden_size" in f.message:
        return "proj-size"
    return simple.get(f.what)


# -- the directed traps -------------------------------------------------------------------------

@dataclass(frozen=True)
class Trap:
    """A small spec that `check` accepts today and build or torch refuses, or that check
    states wrongly: ``label`` is what :func:`classify` calls the oracle's finding on it."""

    name: str
    label: str
    text: str
    overrides: tuple = ()  # (parameter, value) to check it with, as --set does


def _net(head: str, *body: str) -> str:
    return f"network {head} {{\n" + "".join(f"    {line}\n" for line in body) + "}\n"


TRAPS = [
    Trap("duplicate-as", "duplicate-as",
         _net("DupAs", "input x: float[batch, 4]", "y = x -> Linear(8) as fc -> ReLU -> Linear(16) as fc", "output y")),
    Trap("view-after-transpose", "view-contiguity",
         _net("QstEncoder", "input words: float[seq, batch, 6]", "enc = words -> LSTM(5, num_layers=2)",
              "feature = cat(enc.h_n, enc.c_n, dim=2) -> transpose(0, 1) -> view(batch, -1)", "output feature")),
    Trap("conv-channels-from-seq", "data-sized-weights",
         _net("TextCNN", "input tokens: long[batch, seq]", "y = tokens -> Embedding(5000, 300) -> Conv1d(100, 3)",
              "output y")),
    Trap("linear-in-from-seq", "data-sized-weights",
         _net("LinearIn", "input x: float[batch, seq]", "y = x -> Linear(4)", "output y")),
    Trap("linear-out-seq", "data-sized-weights",
         _net("LinearOut", "input x: float[batch, seq, 4]", "y = x -> Linear(seq)", "output y")),
    Trap("reshape-mixes-batch", "batch-tracking",
         _net("Mix", "input words: float[seq, batch, 6]", "enc = words -> LSTM(5, num_layers=2)",
              "feature = cat(enc.h_n, enc.c_n, dim=2) -> reshape(batch, -1)", "output feature")),
    Trap("reshape-truncates", "unproven",
         _net("Trunc", "input x: float[batch, 12]", "y = x -> reshape(batch, 5, -1)", "output y")),
    Trap("reshape-count", "unproven",
         _net("Count", "input x: float[batch, 10]", "y = x -> reshape(batch, 3, 4)", "output y")),
    Trap("linear-negative", "positivity",
         _net("Neg", "input x: float[batch, 6]", "y = x -> Linear(-2)", "output y")),
    Trap("embedding-negative", "positivity",
         _net("NegEmb", "input t: long[batch, 7]", "y = t -> Embedding(-3, 4)", "output y")),
    Trap("embedding-empty", "positivity",
         _net("NoVocab(vocab=0)", "input t: long[batch, 7]", "y = t -> Embedding(vocab, 4)", "output y")),
    Trap("input-negative", "positivity",
         _net("NegIn", "input x: float[batch, -n]", "y = x -> ReLU", "output y")),
    Trap("set-zero", "positivity",
         _net("Zero(hidden=4)", "input x: float[batch, 6]", "y = x -> Linear(hidden)", "output y"),
         (("hidden", 0),)),
    Trap("assert-pins-parameter", "assert-pins",
         _net("HelloRNN(hidden_size=3)", "input x: float[seq, batch, 4]",
              "y = x -> RNN(hidden_size) -> reshape(-1, hidden_size) : [seq * batch, 3]", "output y")),
    Trap("unused-parameter", "unused-parameter",
         _net("Hello(input_size=5)", "input x: float[batch, 4]", "y = x -> Linear(2)", "output y")),
    # found by the oracle: a range checked with a parameter's value the class does not pin,
    # and an index into a size nothing bounds
    Trap("select-range-on-parameter", "pinned-parameters",
         _net("SelectParam(width=4)", "input x: float[batch, 8]", "y = x -> Linear(width) -> select(1, 3)",
              "output y")),
    Trap("select-on-symbol", "unproven",
         _net("SelectSym", "input x: float[batch, n]", "y = x -> select(1, 3)", "output y")),
    # found by the oracle: an `as` name over layers that are not one pipeline (split by an op,
    # or a repeated layer of several results) builds no module; a recurrent layer reading an
    # unbatched [batch, features] as a sequence over the batch
    Trap("conv-over-batch", "batch-tracking",
         _net("ConvOverBatch", "input x: float[batch, 4]", "y = x -> transpose(0, 1) -> Conv1d(2, 3, padding=1)",
              "output y")),
    # the batch merged with other dims, followed through einsum, a slice of the merged dim,
    # scan's states, and refused under a resampling that reads it as space
    Trap("einsum-merged-batch", "batch-tracking",
         _net("EinsumMerged", "input t: float[3, batch, 6]", "input w: float[6, 4]",
              'y = t -> flatten(0, 1) -> einsum("ij,jk->ik", w) -> reshape(batch, -1)', "output y")),
    Trap("slice-of-merged-batch", "batch-tracking",
         _net("SliceMerged", "input x: float[batch, 3, 6]", "y = x -> flatten(0, 1) -> narrow(0, 0, batch)",
              "output y")),
    Trap("scan-merged-batch", "batch-tracking",
         _net("ScanMerged", "input x: float[seq, batch, 3, 4]", "m = x -> flatten(1, 2)",
              "h0 = m -> select(0, 0) -> Linear(5)", "shared cell = GRUCell(5)", "states, last = m -> scan(cell, h0)",
              "y = last -> reshape(3, batch, 5)", "output y")),
    Trap("upsample-over-batch", "batch-tracking",
         _net("UpOverBatch", "input x: float[batch, 2, 4]", 'y = x -> transpose(0, 2) -> Upsample(scale_factor=2, mode="linear") -> reshape(4, 2, batch, 2)',
              "output y")),
    Trap("as-split-by-op", "as-pipeline",
         _net("AsSplit", "input x: float[batch, 4]", "y = x -> Linear(8) as fc -> reshape(batch, 2, 4) -> Linear(3) as fc",
              "output y")),
    Trap("as-repeated-cell", "as-pipeline",
         _net("CellRepeat", "input x: float[batch, 4]", "y = x -> LSTMCell(4) * 2 as cell", "output y")),
    Trap("recurrent-over-batch", "recurrent-layout",
         _net("Unbatched", "input x: float[batch, 6]", "y = x -> RNN(4)", "output y")),
    # found by the oracle: proj_size < hidden_size is checked for a literal hidden size only
    Trap("proj-size-on-parameter", "proj-size",
         _net("Proj(width=7)", "input x: float[seq, batch, 4]", "y = x -> LSTM(width, proj_size=6)", "output y"),
         (("width", 3),)),
]


# -- cases ------------------------------------------------------------------------------------

KINDS = ("mutant", "generated", "valid", "netgen", "trap")
WEIGHTS = {"mutant": 3, "generated": 3, "valid": 2, "netgen": 6, "trap": 1}


def make_case(seed: int, index: int, kind: str | None = None) -> Case:
    """Case ``index`` of the run seeded ``seed``: the same bytes every time."""
    rng = random.Random(seed * 1_000_003 + index)
    if kind is None:
        kind = rng.choices(KINDS, [WEIGHTS[k] for k in KINDS])[0]
    if kind == "netgen":
        g = netgen.generate(netgen.RandomDraw(rng), netgen.Options(extended=True))
        return Case(kind, seed, index, g.text.encode(), {**g.symbols, **g.required}, g.traps)
    if kind == "trap":
        t = rng.choice(TRAPS)
        return Case(f"trap {t.name}", seed, index, t.text.encode(), overrides=dict(t.overrides))
    d = fuzzgen.RandomDraw(rng)
    data = {"mutant": fuzzgen.mutant, "generated": fuzzgen.generated, "valid": fuzzgen.valid}[kind](d)
    return Case(kind, seed, index, data)


def run(case: Case, time_limit: float = TIME_LIMIT) -> Outcome:
    return run_case(case.data, case.seed * 1_000_003 + case.index, case.hint, time_limit=time_limit,
                    overrides=case.overrides)


def report(case: Case, f: Finding) -> str:
    """A finding, with what reproduces it."""
    text = case.data.decode("utf-8", "replace")
    return (f"{case}: {f}\n  reproduce: python scripts/fuzz.py --oracle --seed {case.seed} --case {case.index}"
            f"\n  --- spec ---\n{text}")

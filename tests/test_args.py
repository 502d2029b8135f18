"""Layer arguments validated on pydantic-core behave as pydantic's own models would.

netspec declares every kind's arguments like a pydantic model and validates them with
pydantic-core directly (netspec/kinds/args.py). The reference here is pydantic itself: for
each kind, a ``BaseModel`` with the same fields (``Before`` as ``BeforeValidator``, rules as
``model_validator(mode="after")``) is built with ``pydantic.create_model``, and both are fed
the same values, valid and not: the validated values, which fields count as given, and each
error's type, location and message must agree.
"""

from __future__ import annotations

import random
import sys
import typing
from typing import Annotated, Any

import pydantic
import pytest

from netspec.dims import sym
from netspec.kinds import REGISTRY, TensorArg, ValidationError
from netspec.kinds.args import Args, ArgValueError, Before

KINDS = sorted({type(k).__name__: k for k in REGISTRY.values()}.items())
ARG_CLASSES = sorted({k.Args for _, k in KINDS}, key=lambda c: c.__name__)


def _pydantic_type(tp):
    """The annotation with netspec's Before swapped for pydantic's BeforeValidator."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        inner, *meta = typing.get_args(tp)
        meta = [pydantic.BeforeValidator(m.func) if isinstance(m, Before) else m for m in meta]
        return Annotated[(_pydantic_type(inner), *meta)]
    if origin is typing.Union:
        return typing.Union[tuple(_pydantic_type(a) for a in typing.get_args(tp))]
    return tp


def reference_model(cls: type[Args]) -> type[pydantic.BaseModel]:
    module = vars(sys.modules[cls.__module__])
    fields = {}
    for f in cls.model_fields.values():
        tp = _pydantic_type(eval(f.annotation, module))  # noqa: S307 (netspec's own annotations)
        fields[f.name] = (tp, ...) if f.required else (tp, f.default)
    validators = {}
    for rule in cls._rules:
        def run(self, rule=rule):
            rule(self)
            return self
        validators[rule.__name__] = pydantic.model_validator(mode="after")(run)
    config = pydantic.ConfigDict(arbitrary_types_allowed=True, extra="forbid", frozen=True)
    return pydantic.create_model(f"Ref{cls.__name__}", __config__=config, __validators__=validators, **fields)


SAMPLES = [0, 1, 2, 3, 7, -1, -5, 64, 0.0, 0.5, 1.5, -0.1, True, False, None, "same", "valid", "tanh", "relu",
           "none", "zeros", "reflect", "bogus", "float16", "int64", (2, 3), (1,), (), (None, 4), (2, "x"), (1.5, 2),
           "row", "batch", "sum", "mean", "constant", "nearest", "bilinear", (1, -1), (0.5, 2.0)]


def _outcome(make, values):
    try:
        a = make(**values)
    except (ValidationError, pydantic.ValidationError) as e:
        return ("error", [(err["type"], _loc(err), err["msg"]) for err in e.errors()])
    return ("ok", {n: getattr(a, n) for n in type(a).model_fields}, set(a.model_fields_set))


def _loc(err) -> tuple:
    """Where an error points: a rule over several arguments (a model validator, loc ())
    that names the argument it refuses (ArgValueError) points at that argument."""
    cause = (err.get("ctx") or {}).get("error")
    return (cause.field,) if isinstance(cause, ArgValueError) else tuple(err["loc"])


def _draws(cls, rng: random.Random, n: int):
    """Values for the class's fields: mostly ones its field alone accepts (judged by
    pydantic), some of any kind, now and then an unknown name or a missing field."""
    module = vars(sys.modules[cls.__module__])
    pool = [*SAMPLES, TensorArg(None, "h"), sym("batch"), sym("batch") * 2]
    good = {}
    for name, f in cls.model_fields.items():
        adapter = pydantic.TypeAdapter(_pydantic_type(eval(f.annotation, module)),  # noqa: S307
                                       config=pydantic.ConfigDict(arbitrary_types_allowed=True))
        good[name] = []
        for v in pool:
            try:
                adapter.validate_python(v)
                good[name].append(v)
            except pydantic.ValidationError:
                pass
    for _ in range(n):
        values = {}
        for name, f in cls.model_fields.items():
            if rng.random() < (0.95 if f.required else 0.4):
                values[name] = rng.choice(good[name] if good[name] and rng.random() < 0.85 else pool)
        if rng.random() < 0.1:
            values["not_an_argument"] = 1
        yield values


@pytest.mark.parametrize("cls", ARG_CLASSES, ids=lambda c: c.__name__)
def test_arguments_validate_as_pydantic_models_do(cls):
    ref = reference_model(cls)
    rng = random.Random(cls.__name__)
    seen = set()
    for values in _draws(cls, rng, 400):
        ours = _outcome(cls, values)
        theirs = _outcome(ref, values)
        assert ours == theirs, values
        seen.add(ours[0])
    if cls.model_fields:
        assert seen == {"ok", "error"}, "the draws must reach both valid and invalid values"


def test_every_kind_arguments_are_covered():
    assert len(ARG_CLASSES) >= 25
    assert all(issubclass(c, Args) for c in ARG_CLASSES)


def test_args_are_immutable_hashable_and_copy_like_pydantic():
    linear = REGISTRY["Linear"].Args
    a = linear(in_features=4, out_features=3)
    b = linear(in_features=4, out_features=3)
    assert a == b and hash(a) == hash(b)
    assert a != linear(in_features=4, out_features=3, bias=True)  # bias given: another fields set
    with pytest.raises(AttributeError):
        a.out_features = 5
    c = a.model_copy(update={"out_features": 9})
    assert (c.out_features, a.out_features) == (9, 3)
    assert c.model_fields_set == {"in_features", "out_features"}
    assert a.model_copy() == a
    assert repr(a) == "LinearArgs(in_features=4, out_features=3, bias=True)"
    assert linear.model_fields["in_features"].is_required()
    assert not linear.model_fields["bias"].is_required()


def test_rules_refuse_like_model_validators():
    lstm = REGISTRY["LSTM"].Args
    with pytest.raises(ValidationError) as e:
        lstm(input_size=4, hidden_size=3, proj_size=3)
    [err] = e.value.errors()
    # a rule that names the argument it refuses points there (pydantic's own rules point at
    # the model, loc ()); the diagnostic then marks that argument
    assert err["type"] == "value_error" and err["loc"] == ("proj_size",)
    assert err["msg"] == "Value error, proj_size (3) has to be smaller than hidden_size (3)"
    with pytest.raises(ValidationError) as e:  # the base class's rule runs too
        lstm(input_size=4, hidden_size=3, dropout=2.0)
    assert "dropout should be a number in range [0, 1]" in e.value.errors()[0]["msg"]


def test_unsupported_annotation_is_refused_when_the_validator_is_built():
    class Odd(Args):
        x: dict = {}

    with pytest.raises(TypeError, match="no argument schema"):
        Odd(x={})


def test_annotation_kinds_map_to_pydantic_core_schemas():
    from netspec.kinds.args import _schema

    assert _schema(Any)["type"] == "any"
    assert _schema(typing.Literal["a", "b"]) == {"type": "literal", "expected": ["a", "b"]}
    assert _schema(typing.Optional[Annotated[Any, Before(int)]])["type"] == "nullable"
    assert _schema(Annotated[Any, Before(int)])["type"] == "function-before"


@pytest.mark.parametrize("stage, said", [
    ("Dropout(1e999)", "dropout probability has to be between 0 and 1, but got 1e999"),
    ("Dropout(p=-1E999)", "but got -1E999"),
    ("Dropout(q)", "but got 1e999"),  # a parameter's default, as its declaration writes it
    ("Linear(1e-999)", "expected an integer, received 1e-999"),
    ("Linear(2 * 1e999)", "`2 * 1e999` is not a finite real number"),
])
def test_a_float_literal_past_float_range_is_quoted_as_written(stage, said):
    """`1e999` is inf to Python (and to torch): a message quotes what the spec wrote."""
    from netspec.checker import check_text

    r = check_text(f"network N(q=1e999) {{\n    input x: float[batch, 3]\n    y = x -> {stage}\n    output y\n}}\n",
                   "n.net")
    (d,) = r.reporter.errors
    assert said in d.message and "inf" not in d.message, d.message

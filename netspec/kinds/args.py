"""Layer arguments: declared like pydantic models, validated by pydantic-core.

An ``Args`` subclass declares its fields as annotated class attributes with torch's names
and defaults (``stride: DimOrTuple = 1``) and its rules over several fields as methods
marked ``@after``, just as a pydantic model with ``model_validator(mode="after")`` would.
The class keeps the part of pydantic's model interface netspec reads (``model_fields``,
``model_fields_set``, ``model_copy``), and ``Args(**values)`` raises pydantic's
``ValidationError`` with pydantic's error types and messages.

The validator is pydantic-core's ``SchemaValidator`` (the engine pydantic's models run on)
over a typed-dict schema of the fields, forbidding unknown names, built on a class's first
use, once per process. Going to pydantic-core directly rather than through ``BaseModel``
keeps pydantic's model machinery (its schema generation, its plugin loader and what they
import) out of `netspec check`: about 0.1 s of a small check's 0.3 s start-up, measured
by benchmarks/bench_startup.py.
"""

from __future__ import annotations

import sys
import typing
from typing import Any, Callable, ClassVar

from pydantic_core import SchemaValidator, ValidationError
from pydantic_core import core_schema as cs

__all__ = ["ArgTypeError", "ArgValueError", "Args", "Before", "Field", "Positive", "Takes", "ValidationError", "after",
           "words"]


class Before:
    """Field metadata, as pydantic's ``BeforeValidator``: ``Annotated[Any, Before(f, takes)]``
    checks a value with ``f``, which returns it (or its normal form) or raises ValueError;
    ``takes`` says in words what ``f`` lets through ("a positive integer"), for help lines."""

    __slots__ = ("func", "takes")

    def __init__(self, func: Callable[[Any], Any], takes: str | None = None):
        self.func = func
        self.takes = takes


class Takes:
    """Field metadata: what an argument takes, in words, where its annotation cannot say it
    (``Annotated[Any, Takes('an integer, a tuple of integers, `same` or `valid`')]`` for an
    argument its kind checks itself), or says it other than torch does."""

    __slots__ = ("takes",)

    def __init__(self, takes: str):
        self.takes = takes


class Positive:
    """Field metadata: the argument is a size, at least 1 (``Annotated[Any, Before(f),
    Positive()]``). A literal below 1 is refused here; a size that comes from a network
    parameter (a symbol here) is checked once the parameter's value is known."""

    __slots__ = ()


class ArgTypeError(ValueError):
    """A value of the wrong type, raised by a field's ``Before`` function where the generic
    help line (what the field takes) is not the fix: it says how to fix it."""

    def __init__(self, message: str, help: str):
        super().__init__(message)
        self.help = help


class ArgValueError(ValueError):
    """A value torch refuses, raised by a rule over several arguments (``@after``): it names
    the argument it is about, so the error points there, and says how to fix it."""

    def __init__(self, field: str, message: str, help: str | None = None):
        super().__init__(message)
        self.field = field
        self.help = help


def after(method):
    """Mark an ``Args`` method as a rule over several fields, run once every field is valid;
    it raises ValueError to refuse the values."""
    method.__netspec_rule__ = True
    return method


class Field:
    """A declared argument: its name, its annotation and its default (if any)."""

    __slots__ = ("name", "annotation", "default", "required", "positive", "takes")

    def __init__(self, name: str, annotation: str, default: Any, required: bool):
        self.name = name
        self.annotation = annotation
        self.default = default
        self.required = required
        self.positive = False  # a size (Positive), known once the class's validator is built
        self.takes = ""  # what it takes, in words (see ``words``), known then too

    def is_required(self) -> bool:
        return self.required

    def __repr__(self) -> str:
        return f"Field({self.name!r}, {self.annotation!r}" + ("" if self.required else f", default={self.default!r}") + ")"


def _schema(tp) -> dict:
    """The core schema of a field's annotation: Any, Literal, Optional and Annotated[.., Before]."""
    if tp is Any:
        return cs.any_schema()
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        inner, *meta = typing.get_args(tp)
        schema = _schema(inner)
        for m in reversed(meta):
            if isinstance(m, Before):
                schema = cs.no_info_before_validator_function(m.func, schema)
        return schema
    if origin is typing.Literal:
        return cs.literal_schema(list(typing.get_args(tp)))
    if origin is typing.Union:
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(options) == 1 and len(options) < len(typing.get_args(tp)):
            return cs.nullable_schema(_schema(options[0]))
    if tp is tuple:
        return cs.tuple_variable_schema()
    raise TypeError(f"no argument schema for {tp!r}")


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def words(tp) -> str | None:
    """What a field's annotation lets through, in words, for a help line: the ``takes`` of
    its ``Takes`` or ``Before`` metadata, the values of a Literal ("one of `zeros`,
    `reflect` or `circular`"), and "or `None`" for an Optional. None: it cannot say."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        inner, *meta = typing.get_args(tp)
        said = [m.takes for m in meta if isinstance(m, Takes)] + [m.takes for m in meta if isinstance(m, Before)]
        return next((w for w in said if w), None) or words(inner)
    if origin is typing.Literal:
        return "one of " + _listed([f"`{v}`" for v in typing.get_args(tp)])
    if origin is typing.Union:
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(options) != 1 or len(options) == len(typing.get_args(tp)):
            return None
        if typing.get_origin(options[0]) is typing.Literal:
            return "one of " + _listed([f"`{v}`" for v in (*typing.get_args(options[0]), None)])
        said = words(options[0])
        return said and f"{said}{', or' if ' or ' in said else ' or'} `None`"
    return None


class Args:
    """The validated arguments of one layer or op; immutable."""

    model_fields: ClassVar[dict[str, Field]] = {}
    _rules: ClassVar[tuple[Callable, ...]] = ()
    _validator: ClassVar[SchemaValidator | None] = None

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        fields: dict[str, Field] = {}
        for base in reversed(cls.__mro__[1:]):  # every base's fields, as pydantic collects them
            fields.update(getattr(base, "model_fields", {}))
        for name, annotation in cls.__dict__.get("__annotations__", {}).items():
            if isinstance(annotation, str) and annotation.startswith("ClassVar"):
                continue
            missing = name not in cls.__dict__
            fields[name] = Field(name, annotation, None if missing else cls.__dict__[name], missing)
        cls.model_fields = fields
        rules = {}
        for klass in reversed(cls.__mro__):
            for name, value in klass.__dict__.items():
                if getattr(value, "__netspec_rule__", False):
                    rules[name] = value
        cls._rules = tuple(rules.values())
        cls._validator = None

    @classmethod
    def sizes(cls) -> list[str]:
        """The arguments that are sizes (Positive), each at least 1."""
        if cls._validator is None:
            cls._build()
        return [f.name for f in cls.model_fields.values() if f.positive]

    @classmethod
    def takes(cls, name: str) -> str:
        """What the argument ``name`` takes, in words: "a positive integer", "one of ..."."""
        if cls._validator is None:
            cls._build()
        return cls.model_fields[name].takes

    @classmethod
    def _build(cls) -> SchemaValidator:
        module = vars(sys.modules[cls.__module__])
        entries = {}
        for f in cls.model_fields.values():
            tp = eval(f.annotation, module) if isinstance(f.annotation, str) else f.annotation  # noqa: S307
            f.positive = typing.get_origin(tp) is typing.Annotated and any(
                isinstance(m, Positive) for m in typing.get_args(tp)[1:])
            schema = _schema(tp)
            f.takes = words(tp) or ""
            if not f.takes:  # a help line says what an argument takes: never "a value of its type"
                raise TypeError(f"{cls.__name__}.{f.name}: its annotation does not say what it takes; "
                                "give it a Takes(...) or its Before a takes")
            if not f.required:
                schema = cs.with_default_schema(schema, default=f.default)
            entries[f.name] = cs.typed_dict_field(schema, required=f.required)
        cls._validator = SchemaValidator(cs.typed_dict_schema(entries, extra_behavior="forbid"),
                                         cs.CoreConfig(title=cls.__name__))
        return cls._validator

    def __init__(self, **values):
        validator = type(self)._validator or type(self)._build()
        d = self.__dict__
        d.update(validator.validate_python(values))
        d["model_fields_set"] = set(values)
        for rule in self._rules:
            try:
                rule(self)
            except ValueError as e:
                loc = (e.field,) if isinstance(e, ArgValueError) else ()
                raise ValidationError.from_exception_data(
                    type(self).__name__, [{"type": "value_error", "loc": loc, "input": values, "ctx": {"error": e}}]
                ) from None

    def model_copy(self, update: dict[str, Any] | None = None) -> Args:
        """A copy with some values replaced, not validated again (as pydantic's)."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        if update:
            new.__dict__.update(update)
            new.__dict__["model_fields_set"] = self.model_fields_set | set(update)
        return new

    def _values(self) -> tuple:
        return tuple(self.__dict__[n] for n in self.model_fields)

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values() and self.model_fields_set == other.model_fields_set

    def __hash__(self):
        return hash((type(self), self._values()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(" + ", ".join(f"{n}={v!r}" for n, v in zip(self.model_fields, self._values())) + ")"

"""Reading the YAML file, and typed access to it whose errors name the file and dotted key."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from difflib import get_close_matches
from typing import Any, NoReturn

import yaml

from bot.config.times import parse_duration


class ConfigError(Exception):
    """A problem in the config file: which file, which dotted key, and what is wrong."""

    def __init__(self, file: str, key: str, problem: str) -> None:
        self.file = file
        self.key = key
        self.problem = " ".join(problem.split())  # always one line
        super().__init__(f"{file}: {key}: {self.problem}")


# --- reading the file ----------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """`yaml.safe_load`, with two fixes for hand-written config.

    Unquoted `9:00` stays the text "9:00" (YAML 1.1 would read it as 540, base 60), and a key
    written twice in one mapping is an error instead of silently keeping the last one.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str | int | float | bool | date) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} appears twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> date | datetime:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:  # 2026-13-01 looks like a date but is not one
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a real date ({exc})", node.start_mark
            ) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)
_SEXAGESIMAL = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
_Loader.yaml_implicit_resolvers = {
    first: list(resolvers) for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _first in "+-0123456789":
    _Loader.yaml_implicit_resolvers.setdefault(_first, []).insert(
        0, ("tag:yaml.org,2002:str", _SEXAGESIMAL)
    )


def _read_yaml(file: str) -> Any:
    try:
        with open(file, encoding="utf-8") as stream:
            return yaml.load(stream, Loader=_Loader)  # a SafeLoader subclass: still safe
    except FileNotFoundError:
        raise ConfigError(file, "(file)", "no such file") from None
    except IsADirectoryError:
        raise ConfigError(file, "(file)", "is a directory, not a YAML file") from None
    except OSError as exc:
        raise ConfigError(file, "(file)", f"cannot read it: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(file, "(file)", "is not UTF-8 text") from None
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(file, exc) from None
    except yaml.YAMLError as exc:
        raise ConfigError(file, "(file)", f"not valid YAML: {exc}") from None


def _yaml_error(file: str, exc: yaml.MarkedYAMLError) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}" if mark else "(file)"
    column = f" (column {mark.column + 1})" if mark else ""
    detail = " ".join(part for part in (exc.context, exc.problem) if part)
    return ConfigError(file, where, f"not valid YAML: {detail}{column}")


# --- typed access with precise errors ------------------------------------------------------

_KIND_NAMES = {
    str: "text",
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "a mapping",
    date: "a date (YYYY-MM-DD)",
}
_NUMBER = (int, float)


def _fail(file: str, key: str, problem: str) -> NoReturn:
    raise ConfigError(file, key, problem)


def _describe(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_type(file: str, key: str, value: Any, kinds: type | tuple[type, ...]) -> Any:
    """Return `value` if it is one of `kinds` (a bool is not a number here), else fail."""
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    wrong_bool = isinstance(value, bool) and bool not in kinds
    wrong_datetime = isinstance(value, datetime) and datetime not in kinds
    if wrong_bool or wrong_datetime or not isinstance(value, kinds):
        names = [_KIND_NAMES.get(kind, kind.__name__) for kind in kinds if kind is not int]
        if int in kinds and float not in kinds:
            names.insert(0, _KIND_NAMES[int])
        _fail(file, key, f"expected {' or '.join(names)}, got {_describe(value)}")
    return value


@dataclass(frozen=True)
class _Node:
    """A mapping from the file and where it sits in it, so every error can name its key."""

    file: str
    path: str  # dotted path of this mapping; "" at the top level
    data: Mapping[Any, Any]

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def fail(self, name: str, problem: str) -> NoReturn:
        _fail(self.file, self.key(name), problem)

    def get(self, name: str, kinds: type | tuple[type, ...], default: Any = None) -> Any:
        """The value under `name` checked against `kinds`; `default` if absent or empty."""
        value = self.data.get(name)
        if value is None:
            return default
        return _check_type(self.file, self.key(name), value, kinds)

    def child(self, name: str, allowed: tuple[str, ...]) -> _Node | None:
        """The mapping under `name`, with its keys checked against `allowed`; None if absent."""
        value = self.data.get(name)
        if value is None:
            return None
        return _node(self.file, self.key(name), value, allowed)

    def duration(self, name: str, default: timedelta | None) -> timedelta | None:
        value = self.data.get(name)
        if value is None:
            return default
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.fail(name, str(exc))


def _node(file: str, path: str, value: Any, allowed: tuple[str, ...]) -> _Node:
    """Wrap a mapping, rejecting keys outside `allowed` (typos such as `sla.hott`)."""
    _check_type(file, path or "(top level)", value, dict)
    for name in value:
        if name not in allowed:
            _fail(file, f"{path}.{name}" if path else str(name), _unknown_key(str(name), allowed))
    return _Node(file, path, value)


def _unknown_key(name: str, allowed: tuple[str, ...]) -> str:
    guess = get_close_matches(name, allowed, n=1)
    hint = f"did you mean {guess[0]!r}? " if guess else ""
    return f"unknown key; {hint}known keys here: {', '.join(allowed)}"


def _items(node: _Node, name: str, kinds: type | tuple[type, ...]) -> list[tuple[str, Any]] | None:
    """The list under `name` as (dotted key, checked item) pairs; None if absent."""
    values = node.get(name, list)
    if values is None:
        return None
    keyed = [(f"{node.key(name)}[{i}]", item) for i, item in enumerate(values)]
    return [(key, _check_type(node.file, key, item, kinds)) for key, item in keyed]

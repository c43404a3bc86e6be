"""Strict YAML reading for every YAML file the workflow reads (config, contrasts, schemas).

Plain YAML loses what the user wrote in two silent ways, and this module makes both loud:

- a key written twice in one mapping keeps only the last value: refused, naming the key and
  both line numbers (:class:`StrictLoader`);
- YAML 1.1 reads unquoted ``yes``/``no``/``on``/``off`` as booleans, ``010`` as octal 8,
  ``1_000`` as 1000 and ``null``/``~`` as nothing. Each such scalar is recorded with the text the
  user wrote (:attr:`YamlDocument.reinterpreted`) so that callers expecting a level or a name
  can say "write it in quotes" (:func:`refuse_reinterpreted`). Keys reinterpreted this way are
  refused outright: every key the workflow reads is a name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import InputError

MERGE_TAG = "tag:yaml.org,2002:merge"
Position = tuple  # keys and list indices from the document root, e.g. ("contrasts", "c1", "at")


@dataclass(frozen=True)
class Reinterpreted:
    """A plain scalar YAML turned into something other than the text written."""

    written: str  # the text in the file, e.g. "no"
    value: object  # what YAML made of it, e.g. False
    line: int  # 1-based line in the file


@dataclass
class YamlDocument:
    """A parsed YAML file and the scalars YAML 1.1 reinterpreted, by position."""

    path: str
    data: object
    reinterpreted: dict[Position, Reinterpreted] = field(default_factory=dict)


def _spelled(value: object) -> str:
    """How a value reads once the workflow turns it into a level (``str``)."""
    return str(value)


def _describe(value: object) -> str:
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} {value!r}"


def _quote_hint(written: str, value: object, line: int) -> str:
    shown = written if written else "(nothing)"
    return (
        f"you wrote {shown} on line {line}, which YAML 1.1 reads as {_describe(value)}, "
        f"not as the text {written!r}"
    )


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys and keys YAML 1.1 reinterprets."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict:
        first_line: dict[object, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:
                continue  # `<<: *anchor` merges are deliberate overrides
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key_node, ScalarNode) and key_node.style is None:
                if not isinstance(key, str) and _spelled(key) != key_node.value:
                    raise InputError(
                        f"a key: {_quote_hint(key_node.value, key, line)}",
                        path=self.name,
                        fix=f'write it in quotes: "{key_node.value}":',
                    )
            try:
                seen = first_line.get(key)
            except TypeError:  # an unhashable (complex) key: let SafeLoader explain
                break
            if seen is not None:
                raise InputError(
                    f"duplicate key {key!r} on line {seen} and line {line} of the same mapping "
                    "(YAML would silently keep only the last one)",
                    path=self.name,
                    fix="keep one of them: rename it if both entries are wanted, else delete one",
                )
            first_line[key] = line
        return super().construct_mapping(node, deep=deep)


def _collect(loader: StrictLoader, node: Node, data: object, position: Position, found: dict):
    if isinstance(node, MappingNode) and isinstance(data, dict):
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, str | int | float | bool) and key in data:
                _collect(loader, value_node, data[key], (*position, key), found)
    elif isinstance(node, SequenceNode) and isinstance(data, list):
        for index, (item_node, item) in enumerate(zip(node.value, data, strict=False)):
            _collect(loader, item_node, item, (*position, index), found)
    elif isinstance(node, ScalarNode) and node.style is None and not isinstance(data, str):
        if _spelled(data) != node.value:
            found[position] = Reinterpreted(node.value, data, node.start_mark.line + 1)


def load_yaml_document(path: str | Path) -> YamlDocument:
    """Parse a YAML (or JSON) file strictly.

    Parameters
    ----------
    path
        The file. A UTF-8 byte-order mark is accepted.

    Returns
    -------
    YamlDocument
        ``data`` as ``yaml.safe_load`` would give it (an empty file gives ``None``) and
        ``reinterpreted``: position -> :class:`Reinterpreted` for every plain scalar that YAML
        1.1 read as a boolean, number or null spelled differently from what was written.

    Raises
    ------
    InputError
        The file is missing, is not valid YAML, or has a duplicate key (both lines named) or a
        key YAML reinterprets ("write it in quotes").
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path=str(path), fix="check the path in config")
    text = path.read_text(encoding="utf-8-sig")
    loader = StrictLoader(text)
    loader.name = str(path)
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
        found: dict[Position, Reinterpreted] = {}
        if node is not None:
            _collect(loader, node, data, (), found)
    except yaml.YAMLError as err:
        raise InputError(f"not valid YAML: {err}", path=str(path)) from err
    finally:
        loader.dispose()
    return YamlDocument(str(path), data, found)


def read_yaml_mapping(path: str | Path) -> dict:
    """A strictly parsed YAML file whose top level must be a mapping (see load_yaml_document)."""
    document = load_yaml_document(path)
    if not isinstance(document.data, dict):
        raise InputError("expected a mapping (key: value lines) at the top level", path=str(path))
    return document.data


def position_text(position: Iterable) -> str:
    """``("contrasts", "c1", "compare", "medium", 0)`` -> ``contrasts.c1.compare.medium[0]``."""
    text = ""
    for part in position:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the top level"


def refuse_reinterpreted(
    document: YamlDocument,
    expects_text: Callable[[Position], bool] = lambda position: True,
    what: str = "a level or a name",
) -> None:
    """Raise for the first reinterpreted scalar at a position where text is expected.

    Parameters
    ----------
    document
        From :func:`load_yaml_document`.
    expects_text
        Predicate on a position: True where the workflow reads the value as a level or name.
    what
        What the value is, for the message.

    Raises
    ------
    InputError
        Naming the file, the position and line, what the user wrote and "write it in quotes".
    """
    for position, found in sorted(document.reinterpreted.items(), key=lambda item: item[1].line):
        if expects_text(position):
            where = position_text(position)
            raise InputError(
                f"{where} should be {what}, but "
                f"{_quote_hint(found.written, found.value, found.line)}",
                path=document.path,
                fix=f'write it in quotes: "{found.written}"',
            )

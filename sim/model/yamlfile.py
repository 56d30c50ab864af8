"""Reading a scenario's YAML file as its author meant it, and nothing else.

YAML is friendly to write and has traps for the reader: a key written twice silently keeps the last value,
`2.4e7` is text in YAML 1.1 (not a number), `no` and `on` are booleans, `010` is eight, a few hundred bytes of
aliases can expand to gigabytes ("billion laughs"), and some tags build arbitrary Python objects. This loader
reads the plain data a scenario is made of with the YAML 1.2 core schema's rules for numbers and booleans
(`2.4e7` and `1e5` are numbers, `010` is ten, only `true`/`false` are booleans, `yes`/`no`/`on`/`off` stay
text) and dates as YAML writes them (`2027-01-01`), and refuses, with the line where it happens:

- a key given twice in one mapping, and keys that are not plain names;
- explicit tags (`!!python/object`, `!!binary`, `!custom`, ...) other than the core ones (`!!str`, `!!int`, ...);
- more than one document, recursive aliases, nesting deeper than `MAX_YAML_DEPTH`, and more values than
  `SIM_MAX_YAML_NODES` once aliases are expanded (the limits are checked on the event stream, before
  anything is built, so a bomb costs nothing);
- files that are not regular files, larger than `SIM_MAX_SCENARIO_BYTES`, not UTF-8 text, or empty.

`load_yaml_file` returns plain dicts, lists, strings, numbers, booleans, None and dates.
"""

from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, ScalarNode

from sim.errors import ScenarioError
from sim.limits import MAX_YAML_DEPTH, limit, read_input_bytes

_CORE = "tag:yaml.org,2002:"
ALLOWED_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")}

# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution), plus digit grouping with "_"
# in numbers (unambiguous: 10_000_000) and YAML's dates (2027-01-01, as every scenario writes them)
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^(?:[-+]?[0-9](?:_?[0-9])*|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9](?:_?[0-9])*|[0-9](?:_?[0-9])*(?:\.(?:[0-9](?:_?[0-9])*)?)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_TIMESTAMP = re.compile(
    r"^(?:[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?)$"
)
_DATE_ONLY = re.compile(r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$")


# a decimal with one to three digits, a point and three more (38.000, 1.500, 42.125): a point between thousands
# is how much of Europe writes 38,000. Ending in a zero, a person typed it (Python and YAML writers never write
# the trailing zero); otherwise it is ambiguous only where a fraction cannot be meant (see `grouped_number`)
_GROUPED = re.compile(r"^[+]?[1-9][0-9]{0,2}\.[0-9]{3}$")


class ScenarioDumper(yaml.SafeDumper):
    """PyYAML's safe dumper, writing every float so that no reader takes its point for one between thousands:
    152.611 is written 152.6110 (the same number), as a scenario in won would otherwise refuse it."""

    def represent_float(self, data: float) -> Any:
        node = super().represent_float(data)
        if _GROUPED.match(node.value):
            node.value += "0"
        return node


ScenarioDumper.add_representer(float, ScenarioDumper.represent_float)


class GroupedFloat(float):
    """A float read from text such as `38.000` (kept as `text`): a scenario refuses it for an amount or a count."""

    text: str

    def __new__(cls, value: float, text: str = "") -> GroupedFloat:
        obj = super().__new__(cls, value)
        obj.text = text or repr(float(value))
        return obj

    def __getnewargs__(self) -> tuple[float, str]:  # type: ignore[override]  # pickle and copy keep the text
        return float(self), self.text

    def __repr__(self) -> str:
        return self.text


class _Refused(Exception):
    """A problem found while reading, with the YAML mark (line, column) where it is."""

    def __init__(self, message: str, mark: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


try:  # the C parser where PyYAML was built with libyaml: the same events, several times faster
    from yaml._yaml import CParser as _Parser

    _HAVE_C = True
except ImportError:  # pragma: no cover - pure-Python PyYAML
    _HAVE_C = False


class _ScenarioResolver(yaml.resolver.BaseResolver):
    """YAML 1.2 core schema's implicit types, plus dates and merge keys (`<<: *base`)."""


for _tag, _regexp, _first in (
    ("bool", _BOOL, "tTfF"),
    ("int", _INT, "-+0123456789"),
    ("float", _FLOAT, "-+0123456789."),
    ("null", _NULL, ["~", "n", "N", ""]),
    ("timestamp", _TIMESTAMP, "0123456789"),
    ("merge", re.compile(r"^<<$"), "<"),
):
    _ScenarioResolver.add_implicit_resolver(_CORE + _tag, _regexp, list(_first))


class _ScenarioConstructor(SafeConstructor):
    """Plain data only; duplicate keys refused; numbers, booleans and dates read by the rules above."""

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[str, Any]:
        if not isinstance(node, MappingNode):
            raise _Refused("expected a mapping of keys", node.start_mark)
        first_line: dict[str, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _CORE + "merge":
                continue
            if not isinstance(key_node, ScalarNode):
                raise _Refused("a key must be a plain name, not a list or a mapping", key_node.start_mark)
            key = key_node.value
            if key in first_line:
                raise _Refused(
                    f"key {key!r} is given twice in the same mapping (first on line {first_line[key]}); "
                    "keep one of them",
                    key_node.start_mark,
                )
            first_line[key] = key_node.start_mark.line + 1
        self.flatten_mapping(node)  # merge keys: explicit keys win over merged ones, as YAML says
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise _Refused("a key must be a plain name, not a list or a mapping", key_node.start_mark)
            mapping[str(key_node.value)] = self.construct_object(value_node, deep=deep)
        return mapping

    def construct_yaml_int(self, node: Any) -> int:
        text = str(self.construct_scalar(node)).replace("_", "")
        sign = -1 if text.startswith("-") else 1
        body = text.lstrip("+-")
        if body.startswith("0o"):
            return sign * int(body[2:], 8)
        if body.startswith("0x"):
            return sign * int(body[2:], 16)
        return sign * int(body, 10)  # decimal, leading zeros and all: 010 is ten (YAML 1.2), not eight

    def construct_yaml_float(self, node: Any) -> float:
        raw = str(self.construct_scalar(node))
        if _GROUPED.match(raw):
            return GroupedFloat(float(raw), raw)
        text = raw.replace("_", "").lower()
        if text in (".inf", "+.inf"):
            return float("inf")
        if text == "-.inf":
            return float("-inf")
        if text == ".nan":
            return float("nan")
        return float(text)

    def construct_yaml_bool(self, node: Any) -> bool:
        return str(self.construct_scalar(node)).lower() == "true"

    def construct_yaml_timestamp(self, node: Any) -> Any:
        text = str(self.construct_scalar(node))
        try:
            match = _DATE_ONLY.match(text)
            if match:
                return _dt.date(*(int(g) for g in match.groups()))
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise _Refused(f"{text!r} is not a date: {exc}", node.start_mark) from None

    def construct_undefined(self, node: Any) -> Any:
        raise _Refused(f"the YAML tag {_short_tag(node.tag)} is not allowed in a scenario", node.start_mark)


for _name in ("int", "float", "bool", "timestamp"):
    _ScenarioConstructor.add_constructor(_CORE + _name, getattr(_ScenarioConstructor, f"construct_yaml_{_name}"))
_ScenarioConstructor.add_constructor(None, _ScenarioConstructor.construct_undefined)
for _name in ("binary", "set", "omap", "pairs"):  # safe in PyYAML, but not plain scenario data
    _ScenarioConstructor.add_constructor(_CORE + _name, _ScenarioConstructor.construct_undefined)


if _HAVE_C:

    class _Loader(_Parser, _ScenarioConstructor, _ScenarioResolver):  # type: ignore[misc, valid-type]
        def __init__(self, stream: str) -> None:
            _Parser.__init__(self, stream)
            _ScenarioConstructor.__init__(self)
            _ScenarioResolver.__init__(self)

else:  # pragma: no cover

    class _Loader(  # type: ignore[no-redef]
        yaml.reader.Reader,
        yaml.scanner.Scanner,
        yaml.parser.Parser,
        yaml.composer.Composer,
        _ScenarioConstructor,
        _ScenarioResolver,
    ):
        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            _ScenarioConstructor.__init__(self)
            _ScenarioResolver.__init__(self)


def check_events(text: str) -> None:
    """Walk the YAML event stream once and refuse what must not be built: tags that are not plain data,
    several documents, recursive aliases, nesting deeper than `MAX_YAML_DEPTH`, and more values than
    SIM_MAX_YAML_NODES once every alias is expanded (each alias counts the values of the block it repeats).
    """
    max_nodes = limit("SIM_MAX_YAML_NODES")
    loader = _Loader(text)
    try:
        open_blocks: list[list[Any]] = []  # [anchor, values inside so far]
        sizes: dict[str, int] = {}  # anchor -> values of the block it names
        total = 0
        documents = 0

        def add(n: int, mark: Any) -> None:
            nonlocal total
            if open_blocks:
                open_blocks[-1][1] += n
            total += n
            if total > max_nodes:
                raise _Refused(
                    f"expands to more than {max_nodes:,} values (aliases such as *name repeat whole blocks); "
                    "a scenario has a few hundred (to raise the limit set SIM_MAX_YAML_NODES=N)",
                    mark,
                )

        while loader.check_event():
            event = loader.get_event()
            tag = getattr(event, "tag", None)
            if tag not in (None, "!") and tag not in ALLOWED_TAGS:
                raise _Refused(f"the YAML tag {_short_tag(tag)} is not allowed in a scenario", event.start_mark)
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise _Refused(
                        "holds more than one YAML document ('---'); a scenario is one document", event.start_mark
                    )
            elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                open_blocks.append([event.anchor, 1])
                if len(open_blocks) > MAX_YAML_DEPTH:
                    raise _Refused(
                        f"is nested more than {MAX_YAML_DEPTH} levels deep; a scenario is a few levels deep",
                        event.start_mark,
                    )
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                anchor, size = open_blocks.pop()
                if anchor is not None:
                    sizes[anchor] = size
                if open_blocks:
                    open_blocks[-1][1] += size
                total += 1  # the block itself (its contents were counted as they came)
            elif isinstance(event, yaml.ScalarEvent):
                if event.anchor is not None:
                    sizes[event.anchor] = 1
                add(1, event.start_mark)
            elif isinstance(event, yaml.AliasEvent):
                if any(block[0] == event.anchor for block in open_blocks):
                    raise _Refused(f"alias *{event.anchor} refers to a block that contains it", event.start_mark)
                add(sizes.get(event.anchor, 1), event.start_mark)
    finally:
        loader.dispose()


def parse_yaml(text: str, source: str, *, error: type[ScenarioError] = ScenarioError) -> Any:
    """The plain data of one YAML document (see the module docstring), or `error` naming the line."""
    try:
        check_events(text)
        loader = _Loader(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except _Refused as exc:
        raise error(exc.message, file=source, location=_where(exc.mark)) from None
    except (yaml.YAMLError, ConstructorError) as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or "not valid YAML"
        allowed = _tab_hint(text, mark)
        raise error(f"is not valid YAML: {problem}", file=source, location=_where(mark), allowed=allowed) from None
    except RecursionError:  # the depth limit makes this unreachable; kept so no traceback can escape
        raise error(f"is nested too deeply (more than {MAX_YAML_DEPTH} levels)", file=source) from None
    except (ValueError, OverflowError) as exc:  # a number or date the constructor could not build
        raise error(f"is not valid YAML: {exc}", file=source) from None


def load_yaml_file(path: str | Path, what: str = "a scenario YAML file", *, error=ScenarioError) -> Any:
    """Read a YAML file: a regular file of at most SIM_MAX_SCENARIO_BYTES, UTF-8 text, one document."""
    from sim.io import finish_interrupted

    source = str(path)
    finish_interrupted(Path(path).resolve().parent)  # a half-finished `sim calibrate` there: complete it first
    raw = read_input_bytes(
        path, what, max_bytes=limit("SIM_MAX_SCENARIO_BYTES"), raise_with="SIM_MAX_SCENARIO_BYTES", error=error
    )
    encoding = _utf16(raw)
    if encoding is not None:
        raise error(f"is {encoding} text", file=source, allowed="UTF-8 text (save the file again as UTF-8)")
    if b"\x00" in raw:
        at = raw.index(b"\x00")
        line = raw[:at].count(b"\n") + 1
        raise error("holds a NUL byte: a binary file, not YAML text", file=source, location=f"line {line}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise error(
            f"is not UTF-8 text (byte {exc.start})", file=source, location=f"line {line}", allowed="save it as UTF-8"
        ) from None
    if not text.strip():
        raise error("is empty", file=source, allowed=what)
    data = parse_yaml(text, source, error=error)
    if data is None:
        raise error("holds no data (only comments or blank lines)", file=source, allowed=what)
    return data


def _tab_hint(text: str, mark: Any) -> str | None:
    """'indent with spaces' when the line YAML stopped at (or the one before) is indented with a tab."""
    if mark is None:
        return None
    lines = text.splitlines()
    for n in (mark.line, mark.line - 1):
        if 0 <= n < len(lines) and "\t" in lines[n][: len(lines[n]) - len(lines[n].lstrip())]:
            return f"indentation with spaces: line {n + 1} is indented with a tab, which YAML does not allow"
    return None


def _utf16(raw: bytes) -> str | None:
    """'UTF-16' or 'UTF-32' when the bytes are text in that encoding (a byte-order mark, or every other byte
    NUL as in ASCII text saved as UTF-16, the way Windows tools write "Unicode" text), else None."""
    if raw.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "UTF-32"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16"
    head = raw[:400]
    if len(head) >= 8 and (head[1::2].count(0) > 0.9 * len(head[1::2]) or head[0::2].count(0) > 0.9 * len(head[0::2])):
        return "UTF-16"
    return None


def _short_tag(tag: str) -> str:
    """A tag as it is written in the file: `!!python/object:os.system`, not the expanded URI."""
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag


def _where(mark: Any) -> str | None:
    if mark is None:
        return None
    return f"line {mark.line + 1}, column {mark.column + 1}"

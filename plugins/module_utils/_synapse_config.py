# Copyright (c) 2026, homeserver.delegation developers
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""Edit top-level keys of a Synapse ``homeserver.yaml`` without touching any other byte.

This module is internal to the homeserver.delegation collection and may change at any time.

A YAML dump would lose the comments, order and quoting of an admin's file, so the edit is
made on the text: PyYAML's node positions tell where each top-level entry starts and where
its value ends, and only those character ranges are replaced. Before the new text is
accepted it is parsed again and compared with what was asked for.

Where things go (documented in the module):

* An entry's extent is its key line, its value, and the comment lines indented under it, up
  to the next line that starts in column 0. Blank lines and column-0 comments after it
  belong to whatever follows.
* A comment on the key's own line (``key: false  # why``) is kept when the value changes.
* A new key goes right after a column-0 commented-out default of the same key
  (``#serve_server_wellknown: false``), which stays as it is; with no such comment it goes
  after the last entry, before trailing blank lines and comments.
* A removed key takes its extent with it; a blank line that would double up is removed too.
  Comments above it are kept (they may describe more than that key).

Limits (documented in the module): a file larger than ``max_size`` bytes is not read, nesting
deeper than MAX_DEPTH levels and YAML aliases that would expand the file to more than
MAX_EXPANDED_NODES nodes are refused while composing, before anything walks the values.
Comparisons of values that share structure through aliases visit each shared pair once.

Secrets: :func:`is_secret_key` and :func:`redact_secrets` decide which values a diff shows as
``<redacted>``; :func:`secret_values` gives the values of ``settings`` that Ansible must treat as
``no_log`` values.
"""

from __future__ import annotations

import math
import os
import re
import stat

try:
    import yaml
except ImportError:  # pragma: no cover - the module reports it with missing_required_lib
    HAS_YAML = False
else:
    HAS_YAML = True

__all__ = [
    "DEFAULT_MAX_SIZE",
    "HAS_YAML",
    "KEY_GRAMMAR",
    "MAX_DEPTH",
    "MAX_EXPANDED_NODES",
    "REDACTED",
    "EditResult",
    "SynapseConfigError",
    "decode_config",
    "edit_config",
    "is_secret_key",
    "load_config",
    "read_config",
    "redact_secrets",
    "render_entry",
    "same_value",
    "secret_values",
]

# Synapse's full sample configuration (every option, commented) is about 100 KB; five times
# that is no homeserver.yaml, and parsing it in pure Python stays within seconds.
DEFAULT_MAX_SIZE = 512 * 1024
# Synapse's settings nest a handful of levels; this bounds the parser's recursion too.
MAX_DEPTH = 100
# A file of DEFAULT_MAX_SIZE bytes holds at most about 260,000 nodes without aliases; more
# than this many, with every alias expanded, is an alias bomb.
MAX_EXPANDED_NODES = 1000000
# Top-level keys the module sets or removes: Synapse's own keys are all of this form.
KEY_GRAMMAR = re.compile(r"\A[a-z][a-z0-9_]{0,127}\Z")
REDACTED = "<redacted>"
REDACTED_CHANGED = "<redacted, changed>"

_MERGE_TAG = "tag:yaml.org,2002:merge"
_NULL_TAG = "tag:yaml.org,2002:null"
# Characters that PyYAML counts as line breaks but the edit below does not.
_ODD_LINE_BREAKS = re.compile("\r(?!\n)|[\x85\u2028\u2029]")
_BLOCK_SCALAR_HEADER = re.compile(r"[|>]([-+0-9]*)")


class SynapseConfigError(Exception):
    """The file cannot be edited safely, or the request makes no sense; nothing is written.

    Attributes:
        problem: what is wrong, without the position.
        line, column: 1-based position in the file the problem is about, or None.
    """

    def __init__(self, problem, line=None, column=None):
        super().__init__(problem)
        self.problem = problem
        self.line = line
        self.column = column

    def __str__(self):
        if self.line is None:
            return self.problem
        if self.column is None:
            return "line %d: %s" % (self.line, self.problem)
        return "line %d, column %d: %s" % (self.line, self.column, self.problem)

    def located(self, path):
        """The message as ``path:line:column: problem`` (or ``path: problem`` without a position)."""
        if self.line is None:
            return "%s: %s" % (path, self.problem)
        if self.column is None:
            return "%s:%d: %s" % (path, self.line, self.problem)
        return "%s:%d:%d: %s" % (path, self.line, self.column, self.problem)


def _at_mark(problem, mark):
    """A SynapseConfigError at a PyYAML mark (0-based line and column)."""
    if mark is None:
        return SynapseConfigError(problem)
    return SynapseConfigError(problem, mark.line + 1, mark.column + 1)


def _position(text, index):
    """1-based (line, column) of character ``index`` in ``text``."""
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


class EditResult:
    """Outcome of :func:`edit_config`.

    Attributes:
        text: the new file content (equal to the input when nothing changed).
        changed_keys: the top-level keys whose value was set, added or removed, in the order
            they were asked for.
    """

    def __init__(self, text, changed_keys):
        self.text = text
        self.changed_keys = changed_keys

    @property
    def changed(self):
        """True when at least one key changed."""
        return bool(self.changed_keys)


if HAS_YAML:

    class _BoundedScanner:
        """Scanner hooks that refuse collections nested deeper than MAX_DEPTH, as they open.

        PyYAML's scanner keeps one possible simple key per flow level and checks all of them at
        every token, so ten thousand "[" cost minutes before a parser or composer could object;
        deep block nesting ("- - - - x") is slow to scan too.
        """

        def fetch_flow_collection_start(self, TokenClass):  # pylint: disable=invalid-name
            if self.flow_level >= MAX_DEPTH:
                raise _at_mark("values nested deeper than %d levels" % MAX_DEPTH, self.get_mark())
            super().fetch_flow_collection_start(TokenClass)

        def add_indent(self, column):
            # Each block collection opens one indentation level ("- - - x" opens three).
            if len(self.indents) >= MAX_DEPTH:
                raise _at_mark("values nested deeper than %d levels" % MAX_DEPTH, self.get_mark())
            return super().add_indent(column)

    class _EventLoader(_BoundedScanner, yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        """SafeLoader for yaml.parse, with the scanner's nesting bounded."""

    class _Replay:
        """Stands in for PyYAML's parser, handing out events parsed once already.

        Scanning is the slow part of PyYAML; the editor needs both the nodes' positions and
        the values, and gets both from one scan of the text.
        """

        def __init__(self, events):
            self._events = events
            self._next = 0

        def check_event(self, *choices):
            """True when an event (one of ``choices``, if given) comes next."""
            if self._next >= len(self._events):
                return False
            return not choices or isinstance(self._events[self._next], choices)

        def peek_event(self):
            """The next event, left in place."""
            return self._events[self._next]

        def get_event(self):
            """The next event, consumed."""
            event = self._events[self._next]
            self._next += 1
            return event

        def dispose(self):
            """Nothing to release."""

    class _BoundedComposer:
        """Composer hooks that refuse deep nesting, recursive aliases and alias bombs.

        Each composed node's size, with every alias expanded, is the sum of its children's, so
        the check costs one step per node written in the file, however far aliases would expand.
        """

        _depth = 0
        _sizes = None

        def _node_for_alias(self, event, anchored):  # pylint: disable=unused-argument
            return anchored

        def compose_node(self, parent, index):
            if self._sizes is None:
                self._sizes = {}
            if self.check_event(yaml.AliasEvent):
                event = self.get_event()
                anchored = self.anchors.get(event.anchor)
                if anchored is None:
                    raise _at_mark("alias *%s names no anchor defined before it" % event.anchor, event.start_mark)
                size = self._sizes.get(id(anchored))
                if size is None:
                    raise _at_mark(
                        "alias *%s is inside the value it names (a recursive structure)" % event.anchor,
                        event.start_mark,
                    )
                node = self._node_for_alias(event, anchored)
                self._sizes[id(node)] = size
                return node
            if self._depth >= MAX_DEPTH:
                raise _at_mark("values nested deeper than %d levels" % MAX_DEPTH, self.peek_event().start_mark)
            self._depth += 1
            try:
                node = super().compose_node(parent, index)
            finally:
                self._depth -= 1
            if isinstance(node, yaml.MappingNode):
                size = 1 + sum(self._sizes[id(key)] + self._sizes[id(value)] for key, value in node.value)
            elif isinstance(node, yaml.SequenceNode):
                size = 1 + sum(self._sizes[id(item)] for item in node.value)
            else:
                size = 1
            if size > MAX_EXPANDED_NODES:
                raise _at_mark(
                    "YAML aliases would expand this value to more than %d nodes (an alias bomb?)"
                    % MAX_EXPANDED_NODES,
                    node.start_mark,
                )
            self._sizes[id(node)] = size
            return node

    class _StrictLoader(  # pylint: disable=too-many-ancestors
        _Replay, _BoundedComposer, yaml.composer.Composer, yaml.constructor.SafeConstructor, yaml.resolver.Resolver
    ):
        """SafeLoader's composer and constructor over parsed events; duplicate mapping keys are refused.

        SafeLoader keeps the last of two equal keys; Synapse would then silently use it.
        """

        def __init__(self, events):
            _Replay.__init__(self, events)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

        def construct_object(self, node, deep=False):
            try:
                return super().construct_object(node, deep=deep)
            except (ValueError, TypeError, OverflowError) as exc:
                # A timestamp such as 2001-13-01, or "!!int x": SafeConstructor lets Python's error out.
                kind = node.tag.rsplit(":", 1)[-1]
                raise _at_mark("cannot read this %s value: %s" % (kind, exc), node.start_mark) from exc

        def construct_mapping(self, node, deep=False):
            seen = {}
            for key_node, dummy in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    earlier = seen.get(key)
                except TypeError:
                    # An unhashable key: let SafeLoader raise its own error.
                    break
                if earlier is not None:
                    raise _at_mark(
                        "duplicate key %r (first at line %d); Synapse would silently use the last one"
                        % (key, earlier.line + 1),
                        key_node.start_mark,
                    )
                seen[key] = key_node.start_mark
            return super().construct_mapping(node, deep=deep)

    class _AliasNode(yaml.ScalarNode):
        """Stands for an alias (``*name``) at the alias's own position in the text."""

        def __init__(self, event, anchored):
            super().__init__("!alias", "", event.start_mark, event.end_mark)
            self.anchored = anchored

    class _PositionLoader(  # pylint: disable=too-many-ancestors
        _Replay, _BoundedComposer, yaml.composer.Composer, yaml.resolver.Resolver
    ):
        """Composes parsed events into nodes for their positions only: an alias stays where it is written.

        PyYAML's composer returns the anchored node for an alias, whose marks point at the
        anchor's text; an edit needs the alias's own place.
        """

        def __init__(self, events):
            _Replay.__init__(self, events)
            yaml.composer.Composer.__init__(self)
            yaml.resolver.Resolver.__init__(self)

        def _node_for_alias(self, event, anchored):
            return _AliasNode(event, anchored)

    class _BlockDumper(yaml.SafeDumper):  # pylint: disable=too-many-ancestors
        """SafeDumper that indents sequences under their key, as Synapse's own files do."""

        def increase_indent(self, flow=False, indentless=False):
            return super().increase_indent(flow, False)


def _yaml_error(exc, text):
    """A SynapseConfigError at the position of PyYAML's error ``exc`` about ``text``."""
    if isinstance(exc, yaml.reader.ReaderError):
        line, column = _position(text, exc.position)
        return SynapseConfigError(
            "not valid YAML: character U+%04X is not allowed (%s)" % (exc.character, exc.reason), line, column
        )
    if not isinstance(exc, yaml.MarkedYAMLError):
        # Only the emitter raises others; str() of a marked error would quote the file's text.
        return SynapseConfigError("not valid YAML: %s" % type(exc).__name__)
    context, problem = exc.context, exc.problem
    mark = exc.problem_mark or exc.context_mark
    if problem == "second occurrence" and context and exc.context_mark is not None:
        # A duplicate anchor: PyYAML puts the problem in the context.
        problem = "%s at line %d, column %d, again here" % (
            context, exc.context_mark.line + 1, exc.context_mark.column + 1
        )
    elif context and exc.context_mark is not None and problem:
        problem = "%s (%s at line %d, column %d)" % (
            problem, context, exc.context_mark.line + 1, exc.context_mark.column + 1
        )
    return _at_mark("not valid YAML: %s" % (problem or context or type(exc).__name__), mark)


def _parse(function, text):
    """Call ``function`` (a PyYAML parse of ``text``), turning every failure into SynapseConfigError."""
    try:
        return function()
    except SynapseConfigError:
        raise
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text) from exc


def _events(text):
    """The YAML events of ``text`` (the parser keeps its own stack: any nesting is safe here)."""
    return _parse(lambda: list(yaml.parse(text, Loader=_EventLoader)), text)


def _compose_positions(text, events=None):
    """The root node of ``text`` (None when it has no document), aliases kept as _AliasNode."""
    events = _events(text) if events is None else events
    return _parse(lambda: _PositionLoader(events).get_single_node(), text)


def load_config(text, events=None):
    """Parse ``text`` like Synapse does (``yaml.safe_load``) but refuse duplicate keys.

    ``events``, when given, are the already parsed events of ``text``.

    Returns the top-level mapping (an empty dict for a file without content).
    Raises SynapseConfigError, with the line and column where PyYAML has them, when the text is
    not one YAML mapping or goes beyond MAX_DEPTH or MAX_EXPANDED_NODES.
    """
    try:
        data = _StrictLoader(_events(text) if events is None else events).get_single_data()
    except yaml.composer.ComposerError as exc:
        if "another document" in str(exc.problem):
            raise _at_mark(
                "holds several YAML documents; Synapse reads exactly one", exc.problem_mark
            ) from exc
        raise _yaml_error(exc, text) from exc
    except SynapseConfigError:
        raise
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SynapseConfigError(
            "the top level is a %s, not a mapping of settings" % type(data).__name__, 1, 1
        )
    return data


def decode_config(data):
    """Decode the bytes of a configuration file as UTF-8 (what Synapse reads).

    Raises SynapseConfigError at the line and column of the first byte that is not UTF-8.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        column = len(data[line_start:exc.start].decode("utf-8", "replace")) + 1
        raise SynapseConfigError(
            "not UTF-8 text: byte 0x%02x cannot be decoded (%s)" % (data[exc.start], exc.reason),
            data.count(b"\n", 0, exc.start) + 1,
            column,
        ) from exc


def read_config(path, max_size=DEFAULT_MAX_SIZE):
    """Read the configuration file ``path``, following symbolic links.

    Returns (real_path, data): the file the links lead to, which is the one to write, and its
    bytes. Raises SynapseConfigError when it is not a regular file, cannot be read, or is larger
    than ``max_size`` bytes (checked before it is read, so a huge file costs nothing).
    """
    real_path = os.path.realpath(path)
    via = "" if real_path == os.path.abspath(path) else " (a link to %s)" % real_path
    try:
        # O_NONBLOCK: a FIFO at the path must not block the open; it is refused just below.
        descriptor = os.open(real_path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
        with os.fdopen(descriptor, "rb", buffering=0) as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise SynapseConfigError("%s is not a regular file" % (real_path if via else "it"))
            if info.st_size > max_size:
                raise _too_large(info.st_size, max_size)
            data = handle.read(max_size + 1)
    except OSError as exc:
        raise SynapseConfigError("cannot read%s: %s" % (via, exc.strerror or exc)) from exc
    if len(data) > max_size:  # it grew while being read
        raise _too_large(len(data), max_size)
    return real_path, data


def _too_large(size, max_size):
    return SynapseConfigError(
        "is %d bytes, more than max_size (%d bytes); a homeserver.yaml is far smaller (Synapse's "
        "full sample is about 100 KB), so it is not read" % (size, max_size)
    )


def same_value(left, right, _started=None):
    """Compare two YAML values strictly: ``True`` is not ``1`` and ``1`` is not ``1.0``.

    Containers shared through YAML aliases are compared once per pair, so a file whose aliases
    nest (each level naming the one below ten times) costs as many steps as it has nodes, not
    ten to the power of its depth.
    """
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, (dict, list, tuple)) and isinstance(right, (dict, list, tuple)):
        if _started is None:
            _started = set()
        pair = (id(left), id(right))
        if pair in _started:
            # Compared already (a difference would have ended the whole comparison), or being
            # compared further up (a recursive structure).
            return True
        _started.add(pair)
        if isinstance(left, dict) and isinstance(right, dict):
            if len(left) != len(right):
                return False
            for key, value in left.items():
                if key not in right or not same_value(value, right[key], _started):
                    return False
            return True
        if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
            return len(left) == len(right) and all(
                same_value(a, b, _started) for a, b in zip(left, right)
            )
        return False
    if isinstance(left, str) and isinstance(right, str):
        return str(left) == str(right)
    if isinstance(left, float) and isinstance(right, float):
        return left == right or (math.isnan(left) and math.isnan(right))
    return type(left) is type(right) and left == right


def _plain(value, where):
    """Turn a value from Ansible into plain Python types that SafeDumper can render."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if math.isnan(value):
            raise SynapseConfigError("%s: NaN cannot be compared, refusing to write it" % where)
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        plain = {}
        for key, item in value.items():
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise SynapseConfigError(
                    "%s: mapping key %r of type %s cannot be written" % (where, key, type(key).__name__)
                )
            plain[_plain(key, where)] = _plain(item, "%s.%s" % (where, key))
        return plain
    if isinstance(value, (list, tuple)):
        return [_plain(item, "%s[%d]" % (where, index)) for index, item in enumerate(value)]
    raise SynapseConfigError(
        "%s: a value of type %s cannot be written to homeserver.yaml" % (where, type(value).__name__)
    )


def render_entry(key, value, label=None):
    """Render ``key: value`` as YAML lines ending in ``\\n``; sequences and mappings in block style.

    The result is checked: Synapse's ``yaml.safe_load`` must read back exactly ``{key: value}``.
    ``label`` names the setting in error messages (default: ``key``).
    """
    for allow_unicode in (True, False):
        # Readable UTF-8 first; escapes when a character (U+0085, say) does not survive raw.
        text = yaml.dump(
            {key: value},
            Dumper=_BlockDumper,
            default_flow_style=False,
            sort_keys=False,
            allow_unicode=allow_unicode,
            indent=2,
            width=1 << 30,
        )
        if _ODD_LINE_BREAKS.search(text):
            continue
        back = yaml.safe_load(text)
        if isinstance(back, dict) and len(back) == 1 and key in back and same_value(back[key], value):
            return text
    raise SynapseConfigError(
        "%s: value %s does not survive a YAML round trip" % (label or key, _shown(label or key, value))
    )


def _render_value(key, value):
    """Return (inline, block): the value as text after ``key:`` on the same line, or as lines."""
    # A placeholder key renders as "x:" in every style, so what follows it is the value.
    rest = render_entry("x", value, label=key)[2:]
    if rest.startswith("\n"):
        return None, rest[1:]
    return rest.strip(" ").rstrip("\n"), None


def _line_start(text, index):
    return text.rfind("\n", 0, index) + 1


def _line_end(text, index):
    """Index just after the line break of the line holding ``index`` (or the end of text)."""
    found = text.find("\n", index)
    return len(text) if found < 0 else found + 1


def _strip_break(line):
    if line.endswith("\r\n"):
        return line[:-2]
    if line.endswith("\n"):
        return line[:-1]
    return line


def _is_blank(line):
    return line.strip() == ""


def _is_indented_comment(line):
    return line[:1] in (" ", "\t") and line.lstrip(" \t").startswith("#")


def _content_end(text, node):
    """Index just after the last character that belongs to ``node``'s value."""
    if isinstance(node, yaml.ScalarNode):
        end = node.end_mark.index
        if node.style in ("|", ">"):
            header = _BLOCK_SCALAR_HEADER.match(text, node.start_mark.index)
            keeps_trailing_lines = header is not None and "+" in header.group(1)
            if not keeps_trailing_lines:
                # PyYAML's mark runs to the next token, past blank lines that are not content.
                body = text[node.start_mark.index:end].rstrip(" \t\r\n")
                end = _line_end(text, node.start_mark.index + len(body) - 1)
        return end
    if node.flow_style or not node.value:
        return node.end_mark.index
    # A block collection's end mark is the next token, after any comments; use its last child.
    last = node.value[-1]
    if isinstance(node, yaml.MappingNode):
        return max(_content_end(text, last[0]), _content_end(text, last[1]))
    return _content_end(text, last)


class _Entry:
    """One top-level ``key: value`` with the character ranges the edit needs."""

    def __init__(self, text, key_node, value_node):
        self.key_node = key_node
        self.value_node = value_node
        self.start = key_node.start_mark.index
        self.key_line_end = _line_end(text, self.start)
        self.colon = self._find_colon(text)
        self.value_start = value_node.start_mark.index
        self.content_end = _content_end(text, value_node)
        self.end = self._extent_end(text)

    def _find_colon(self, text):
        index = self.key_node.end_mark.index
        while index < len(text) and text[index] in " \t":
            index += 1
        if index >= len(text) or text[index] != ":":
            raise _at_mark(
                "top-level key %r is not written as `key: value`" % self.key_node.value, self.key_node.start_mark
            )
        return index

    def _extent_end(self, text):
        end = _line_end(text, max(self.content_end, self.colon + 1) - 1)
        scan = end
        while scan < len(text):
            line_end = _line_end(text, scan)
            line = text[scan:line_end]
            if _is_indented_comment(line):
                end = line_end
            elif not _is_blank(line):
                break
            scan = line_end
        return end

    @property
    def line(self):
        """1-based line number of the key."""
        return self.key_node.start_mark.line + 1


class _Document:
    """The parsed structure of a file: its entries and where a new entry may go."""

    def __init__(self, text):
        self.text = text
        self.newline = "\r\n" if "\r\n" in text[: _line_end(text, 0)] else "\n"
        events = _events(text)
        self._spans_of_anchors = [
            (event.start_mark.index, event.anchor)
            for event in events
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None)
        ]
        starts = [event for event in events if isinstance(event, yaml.DocumentStartEvent)]
        if len(starts) > 1:
            raise _at_mark(
                "holds %d YAML documents (a second one starts here); Synapse reads exactly one" % len(starts),
                starts[1].start_mark,
            )
        ends = [event for event in events if isinstance(event, yaml.DocumentEndEvent)]
        # The lines where entries may live: after an explicit "---" line, before "...".
        self.body_start = _line_end(text, starts[0].start_mark.index) if starts and starts[0].explicit else 0
        self.body_end = (
            _line_start(text, ends[0].start_mark.index) if ends and ends[0].explicit else len(text)
        )
        root = _compose_positions(text, events) if starts else None
        self.events = events
        self.entries = self._entries(root)

    def _entries(self, root):
        if root is None or (isinstance(root, yaml.ScalarNode) and root.tag == _NULL_TAG and root.value == ""):
            return []
        if not isinstance(root, yaml.MappingNode):
            raise _at_mark("the top level is not a mapping of settings", root.start_mark)
        if root.flow_style:
            flow_style = "the top-level mapping is written in flow style ({...}); only block style can be edited"
            raise _at_mark(flow_style, root.start_mark)
        entries = []
        for key_node, value_node in root.value:
            where = key_node.start_mark
            if key_node.tag == _MERGE_TAG:
                raise _at_mark("a top-level merge key (<<) cannot be edited safely", where)
            if (
                not isinstance(key_node, yaml.ScalarNode)
                or where.column != 0
                or key_node.end_mark.line != where.line
                or self.text[where.index] == "?"
            ):
                raise _at_mark("top-level keys must start in column 0 and fit on one line", where)
            entries.append(_Entry(self.text, key_node, value_node))
        return entries

    def anchors_in(self, entry):
        """Anchor and alias names used between the entry's key and the end of its value."""
        return sorted(
            {name for index, name in self._spans_of_anchors if entry.start <= index < entry.content_end}
        )

    def commented_default_end(self, key):
        """Index after a column-0 commented-out ``#key: ...`` default, or None.

        Commented-out lines nested under it (``#  option: value``, more indented after the
        ``#``) count as part of it, so a new entry never splits a commented example.
        """
        pattern = re.compile(r"#([ \t]*)%s[ \t]*:" % re.escape(key))
        index = self.body_start
        while index < self.body_end:
            line_end = _line_end(self.text, index)
            match = pattern.match(self.text, index)
            if match and not any(entry.start <= index < entry.end for entry in self.entries):
                depth = len(match.group(1))
                nested = re.compile(r"#(?:[ \t]{%d,}\S|[ \t]{%d}-)" % (depth + 2, depth))
                while line_end < self.body_end and nested.match(self.text, line_end):
                    line_end = _line_end(self.text, line_end)
                return line_end
            index = line_end
        return None

    def append_point(self):
        """Where new entries go when no commented default says otherwise."""
        if self.entries:
            return self.entries[-1].end
        return self.body_end


def _replacement(doc, entry, inline, block):
    """Text that replaces ``entry``'s extent so that its value becomes the rendered one."""
    text = doc.text
    key_line = text[entry.start:entry.key_line_end]
    key_line_content_end = entry.start + len(_strip_break(key_line))
    on_key_line = entry.value_start <= key_line_content_end
    if on_key_line and entry.content_end <= key_line_content_end:
        # A one-line value: keep the spacing after the colon and what follows the value
        # (usually a comment) on its line.
        prefix = text[entry.start:entry.value_start]
        suffix = text[entry.content_end:key_line_content_end]
    elif not on_key_line:
        # The value starts below the key: keep a comment on the key line.
        prefix = text[entry.start:entry.colon + 1]
        suffix = text[entry.colon + 1:key_line_content_end]
    else:
        # The old value starts on the key line and runs over several lines: replace it all.
        prefix = text[entry.start:entry.value_start]
        suffix = ""
    newline = doc.newline
    if inline is not None:
        if not prefix.endswith((" ", "\t")):
            prefix += " "
        new = prefix + inline.replace("\n", newline) + suffix + newline
    else:
        head = prefix.rstrip(" \t")
        if suffix.strip():
            head += suffix
        new = head + newline + block.replace("\n", newline)
    if not text[:entry.end].endswith("\n"):
        # The entry was the last line of a file without a final line break: keep it so.
        new = new[: -len(newline)]
    return new


def _removal_range(doc, entry):
    """The characters to delete to remove ``entry``, with one blank line if it would double up."""
    text = doc.text
    start, end = entry.start, entry.end
    before_blank = start == doc.body_start or _is_blank(text[_line_start(text, start - 1):start])
    if before_blank and end < len(text):
        next_line = text[end:_line_end(text, end)]
        if _is_blank(next_line) and next_line.endswith("\n"):
            end += len(next_line)
    return start, end


def _check_request(settings, absent):
    if not isinstance(settings, dict):
        raise SynapseConfigError("settings must be a mapping of top-level keys to values")
    for key in list(settings) + list(absent):
        if not isinstance(key, str) or not KEY_GRAMMAR.match(key):
            raise SynapseConfigError(
                "key %r is not a top-level setting name: it must be lowercase letters, digits and "
                "underscores, start with a letter, and be at most 128 characters long" % (key,)
            )
    both = sorted(set(settings) & set(absent))
    if both:
        raise SynapseConfigError("keys %s are both in settings and in absent" % ", ".join(both))


def edit_config(text, settings=None, absent=None):
    """Set ``settings`` and remove ``absent`` top-level keys in the YAML ``text``.

    Returns an EditResult. Raises SynapseConfigError, having changed nothing, when the text
    cannot be edited safely or the edited text would not read back as asked.
    """
    settings = dict(settings or {})
    absent = list(absent or [])
    _check_request(settings, absent)
    settings = {key: _plain(value, key) for key, value in settings.items()}
    odd = _ODD_LINE_BREAKS.search(text)
    if odd:
        raise SynapseConfigError(
            "contains a line break other than LF or CRLF (CR, U+0085, U+2028 or U+2029)",
            *_position(text, odd.start())
        )
    doc = _Document(text)
    old = load_config(text, doc.events)
    by_key = {}
    for entry in doc.entries:
        key = entry.key_node.value if entry.key_node.tag == "tag:yaml.org,2002:str" else None
        if key is not None:
            by_key[key] = entry

    edits = []  # (start, end, replacement, order)
    changed_keys = []
    order = 0
    for key, value in settings.items():
        order += 1
        entry = by_key.get(key)
        if entry is not None:
            if same_value(old[key], value):
                continue
            _refuse_anchors(doc, entry, key)
            inline, block = _render_value(key, value)
            edits.append((entry.start, entry.end, _replacement(doc, entry, inline, block), order))
        else:
            new = render_entry(key, value).replace("\n", doc.newline)
            point = doc.commented_default_end(key)
            if point is None:
                point = doc.append_point()
            if point > 0 and not text[:point].endswith("\n"):
                new = doc.newline + new
            edits.append((point, point, new, order))
        changed_keys.append(key)
    for key in absent:
        order += 1
        entry = by_key.get(key)
        if entry is None:
            continue
        _refuse_anchors(doc, entry, key)
        start, end = _removal_range(doc, entry)
        edits.append((start, end, "", order))
        changed_keys.append(key)

    if not edits:
        return EditResult(text, [])
    new_text = _apply(text, edits)
    _verify(old, new_text, settings, absent)
    return EditResult(new_text, changed_keys)


def _refuse_anchors(doc, entry, key):
    names = doc.anchors_in(entry)
    if names:
        raise _at_mark(
            "key %r uses YAML anchors or aliases (%s); edit it by hand"
            % (key, ", ".join("&/*" + name for name in names)),
            entry.key_node.start_mark,
        )


def _apply(text, edits):
    """Apply non-overlapping (start, end, replacement, order) edits; equal starts keep order."""
    pieces = []
    cursor = 0
    for start, end, replacement, dummy in sorted(edits, key=lambda edit: (edit[0], edit[3])):
        if start < cursor:
            if start != end:  # pragma: no cover - entry extents never overlap
                raise SynapseConfigError("internal error: overlapping edits")
            # An insertion inside a removed blank line goes where the removal ended.
            start = cursor
        pieces.append(text[cursor:start])
        pieces.append(replacement)
        cursor = max(cursor, end)
    pieces.append(text[cursor:])
    return "".join(pieces)


def _verify(old, new_text, settings, absent):
    """Parse the edited text and refuse unless exactly the requested keys differ."""
    try:
        new = load_config(new_text)
    except SynapseConfigError as exc:
        raise SynapseConfigError("refusing to write: the edited file would be invalid: %s" % exc) from exc
    expected = {key: value for key, value in old.items() if key not in absent}
    expected.update(settings)
    for key in expected:
        if key not in new:
            raise SynapseConfigError("refusing to write: key %r would be lost by the edit" % (key,))
        if not same_value(new[key], expected[key]):
            raise SynapseConfigError(
                "refusing to write: key %r would read back as %s instead of %s"
                % (key, _shown(key, new[key]), _shown(key, expected[key]))
            )
    extra = [key for key in new if key not in expected]
    if extra:
        raise SynapseConfigError("refusing to write: the edit would add keys %r" % (extra,))


# Words of a key's name that mark its value as a secret wherever it is (form_secret,
# registration_shared_secret, email.smtp_pass, redis.password, oidc_providers[].client_secret,
# sentry.dsn, experimental_features.msc3861.jwk...).
_SECRET_WORDS = frozenset(["pass", "passphrase", "dsn", "jwk", "psk"])
_SECRET_KEY_WORDS = frozenset(["private", "api", "access", "signing", "secret"])


def is_secret_key(name):
    """True when a mapping key's name says its value is a secret.

    These are: names containing ``secret``, ``password``, ``passwd`` or starting with
    ``signing_key``; names with a word ``pass``, ``passphrase``, ``dsn``, ``jwk`` or ``psk``;
    names ending in the word ``token`` or ``tokens``; and names ending in ``private_key``,
    ``api_key``, ``access_key`` (and ``*_keys``). Words are separated by anything but letters and digits.
    """
    if not isinstance(name, str):
        return False
    lowered = name.lower()
    if any(part in lowered for part in ("secret", "password", "passwd")) or lowered.startswith("signing_key"):
        return True
    words = [word for word in re.split(r"[^a-z0-9]+", lowered) if word]
    if not words:
        return False
    if _SECRET_WORDS.intersection(words) or words[-1] in ("token", "tokens"):
        return True
    return len(words) >= 2 and words[-1] in ("key", "keys") and words[-2] in _SECRET_KEY_WORDS


def _secret_below(path, key):
    """True when the value of ``key``, in the mapping at ``path`` (keys from the top), is secret.

    Besides keys named like secrets, the whole of ``database.args`` and of every
    ``databases.<name>.args`` is: the database driver's connection arguments.
    """
    if is_secret_key(key):
        return True
    return key == "args" and (path == ("database",) or (len(path) == 2 and path[0] == "databases"))


def _shown(key, value):
    """``value`` for an error message, or REDACTED when ``key`` holds or may hold a secret."""
    if _holds_secret(key, value):
        return REDACTED
    return repr(value)


def _holds_secret(key, value, path=()):
    if _secret_below(path, key):
        return True
    if isinstance(value, dict):
        return any(_holds_secret(inner, item, path + (key,)) for inner, item in value.items())
    if isinstance(value, (list, tuple)):
        return any(_holds_secret(None, item, path + (key,)) for item in value)
    return False


def secret_values(settings):
    """The values in ``settings`` that must never be shown: scalars under a key named like a secret.

    The module hands them to Ansible as ``no_log`` values, which masks them in its output and
    logs. Only names count here (see is_secret_key): masking every value of ``database.args``,
    such as a user name ``synapse``, would mask that word everywhere in the output.
    """
    found = set()

    def collect(value, secret):
        if isinstance(value, dict):
            for key, item in value.items():
                collect(item, secret or is_secret_key(key))
        elif isinstance(value, (list, tuple)):
            for item in value:
                collect(item, secret)
        elif secret and value is not None and not isinstance(value, bool):
            text = str(value)
            if text:
                found.add(text)

    if isinstance(settings, dict):
        collect(settings, False)
    return found


def _secret_ranges(text):
    """[(start, end, path, source)] of the scalars of ``text`` that hold secrets.

    ``path`` is where the value sits (keys and indexes from the top); an alias inside a secret
    value makes what it names secret too, at that alias's path.
    """
    if not text.strip():
        return []
    root = _compose_positions(text)
    ranges = []

    def leaves(node, path, visited):
        if isinstance(node, _AliasNode):
            if id(node.anchored) not in visited:
                visited.add(id(node.anchored))
                leaves(node.anchored, path, visited)
        elif isinstance(node, yaml.ScalarNode):
            start = node.start_mark.index
            end = _content_end(text, node) if node.style in ("|", ">") else node.end_mark.index
            if end > start:
                ranges.append((start, end, path, text[start:end]))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                leaves(item, path + (index,), visited)
        elif isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                leaves(value_node, path + (_key_name(key_node),), visited)

    def walk(node, path):
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = _key_name(key_node)
                if _secret_below(path, key):
                    leaves(value_node, path + (key,), set())
                else:
                    walk(value_node, path + (key,))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, path + (index,))

    walk(root, ())
    return ranges


def _key_name(key_node):
    return key_node.value if isinstance(key_node, yaml.ScalarNode) else None


_COMMENTED_SETTING = re.compile(r"(?m)^([ \t]*#[ \t]*([A-Za-z0-9_.-]+)[ \t]*:[ \t]*)(\S[^\r\n]*)(?=\r?\n|\Z)")


def _redact(text, ranges, changed_paths):
    pieces = []
    cursor = 0
    for start, end, path, dummy in sorted(ranges, key=lambda item: item[0]):
        if start < cursor:
            continue  # the same anchored scalar, reached again through another alias
        placeholder = REDACTED_CHANGED if path in changed_paths else REDACTED
        if text[start:end].endswith("\n"):
            placeholder += "\r\n" if text[start:end].endswith("\r\n") else "\n"
        pieces.append(text[cursor:start])
        pieces.append(placeholder)
        cursor = end
    pieces.append(text[cursor:])
    redacted = "".join(pieces)
    # Commented-out settings (an old "#macaroon_secret_key: ..." kept for reference).
    return _COMMENTED_SETTING.sub(
        lambda match: match.group(1) + REDACTED if is_secret_key(match.group(2)) else match.group(0), redacted
    )


def redact_secrets(before, after=None):
    """Copies of ``before`` (and ``after``) with the values of secret settings replaced, for a diff.

    Secret values are those under keys named like secrets (see is_secret_key), the whole of
    ``database.args`` and ``databases.<name>.args``, and commented-out lines that set such a key.
    A value becomes REDACTED; in ``after``, a secret whose text differs from the one at the same
    place in ``before`` becomes REDACTED_CHANGED, so the diff still shows that it changed.
    Keys, comments and every other value stay as they are. Returns one text, or a pair.
    """
    before_ranges = _secret_ranges(before)
    redacted_before = _redact(before, before_ranges, ())
    if after is None:
        return redacted_before
    old = {path: source for dummy, dummy2, path, source in before_ranges}
    after_ranges = _secret_ranges(after)
    changed = {path for dummy, dummy2, path, source in after_ranges if old.get(path) != source}
    return redacted_before, _redact(after, after_ranges, changed)

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
"""

from __future__ import annotations

import math
import re

try:
    import yaml
except ImportError:  # pragma: no cover - the module reports it with missing_required_lib
    HAS_YAML = False
else:
    HAS_YAML = True

__all__ = [
    "HAS_YAML",
    "EditResult",
    "SynapseConfigError",
    "edit_config",
    "load_config",
    "render_entry",
    "same_value",
]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_NULL_TAG = "tag:yaml.org,2002:null"
# Characters that PyYAML counts as line breaks but the edit below does not.
_ODD_LINE_BREAKS = re.compile("\r(?!\n)|[\x85\u2028\u2029]")
_BLOCK_SCALAR_HEADER = re.compile(r"[|>]([-+0-9]*)")


class SynapseConfigError(Exception):
    """The file cannot be edited safely, or the request makes no sense; nothing is written."""


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

    class _StrictLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        """SafeLoader that refuses duplicate mapping keys instead of keeping the last one."""

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
                    raise SynapseConfigError(
                        "duplicate key %r at lines %d and %d; Synapse would silently use the last one"
                        % (key, earlier.line + 1, key_node.start_mark.line + 1)
                    )
                seen[key] = key_node.start_mark
            return super().construct_mapping(node, deep=deep)

    class _AliasNode(yaml.ScalarNode):
        """Stands for an alias (``*name``) at the alias's own position in the text."""

        def __init__(self, event):
            super().__init__("!alias", "", event.start_mark, event.end_mark)

    class _PositionLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        """Composes nodes for their positions only: an alias stays where it is written.

        PyYAML's composer returns the anchored node for an alias, whose marks point at the
        anchor's text; an edit needs the alias's own place.
        """

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                return _AliasNode(self.get_event())
            return super().compose_node(parent, index)

    class _BlockDumper(yaml.SafeDumper):  # pylint: disable=too-many-ancestors
        """SafeDumper that indents sequences under their key, as Synapse's own files do."""

        def increase_indent(self, flow=False, indentless=False):
            return super().increase_indent(flow, False)


def _describe_yaml_error(exc):
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return "%s (line %d, column %d)" % (problem, mark.line + 1, mark.column + 1)
    return problem


def load_config(text):
    """Parse ``text`` like Synapse does (``yaml.safe_load``) but refuse duplicate keys.

    Returns the top-level mapping (an empty dict for a file without content).
    Raises SynapseConfigError when the text is not one YAML mapping.
    """
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # nosec B506 - SafeLoader subclass
    except SynapseConfigError:
        raise
    except yaml.composer.ComposerError as exc:
        if "another document" in str(exc.problem):
            raise SynapseConfigError(
                "holds several YAML documents (the second starts at line %d); Synapse reads exactly one"
                % (exc.problem_mark.line + 1)
            ) from exc
        raise SynapseConfigError("not valid YAML: %s" % _describe_yaml_error(exc)) from exc
    except yaml.YAMLError as exc:
        raise SynapseConfigError("not valid YAML: %s" % _describe_yaml_error(exc)) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SynapseConfigError(
            "the top level is a %s, not a mapping of settings" % type(data).__name__
        )
    return data


def same_value(left, right):
    """Compare two YAML values strictly: ``True`` is not ``1`` and ``1`` is not ``1.0``."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, dict) and isinstance(right, dict):
        if len(left) != len(right):
            return False
        for key, value in left.items():
            if key not in right or not same_value(value, right[key]):
                return False
        return True
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return len(left) == len(right) and all(same_value(a, b) for a, b in zip(left, right))
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
    raise SynapseConfigError("%s: value %r does not survive a YAML round trip" % (label or key, value))


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
            raise SynapseConfigError(
                "line %d: top-level key %r is not written as `key: value`"
                % (self.key_node.start_mark.line + 1, self.key_node.value)
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
        events = self._events(text)
        self._spans_of_anchors = [
            (event.start_mark.index, event.anchor)
            for event in events
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None)
        ]
        starts = [event for event in events if isinstance(event, yaml.DocumentStartEvent)]
        if len(starts) > 1:
            raise SynapseConfigError(
                "holds %d YAML documents (a second one starts at line %d); Synapse reads exactly one"
                % (len(starts), starts[1].start_mark.line + 1)
            )
        ends = [event for event in events if isinstance(event, yaml.DocumentEndEvent)]
        # The lines where entries may live: after an explicit "---" line, before "...".
        self.body_start = _line_end(text, starts[0].start_mark.index) if starts and starts[0].explicit else 0
        self.body_end = (
            _line_start(text, ends[0].start_mark.index) if ends and ends[0].explicit else len(text)
        )
        root = yaml.compose(text, Loader=_PositionLoader) if starts else None
        self.entries = self._entries(root)

    @staticmethod
    def _events(text):
        try:
            return list(yaml.parse(text, Loader=yaml.SafeLoader))
        except yaml.YAMLError as exc:
            raise SynapseConfigError("not valid YAML: %s" % _describe_yaml_error(exc)) from exc

    def _entries(self, root):
        if root is None or (isinstance(root, yaml.ScalarNode) and root.tag == _NULL_TAG and root.value == ""):
            return []
        if not isinstance(root, yaml.MappingNode):
            raise SynapseConfigError("the top level is not a mapping of settings")
        if root.flow_style:
            raise SynapseConfigError(
                "the top-level mapping is written in flow style ({...}); only block style can be edited"
            )
        entries = []
        for key_node, value_node in root.value:
            where = key_node.start_mark
            if key_node.tag == _MERGE_TAG:
                raise SynapseConfigError(
                    "line %d: a top-level merge key (<<) cannot be edited safely" % (where.line + 1)
                )
            if (
                not isinstance(key_node, yaml.ScalarNode)
                or where.column != 0
                or key_node.end_mark.line != where.line
                or self.text[where.index] == "?"
            ):
                raise SynapseConfigError(
                    "line %d: top-level keys must start in column 0 and fit on one line" % (where.line + 1)
                )
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
        if not isinstance(key, str) or not key:
            raise SynapseConfigError("key %r is not a non-empty string" % (key,))
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
    if _ODD_LINE_BREAKS.search(text):
        raise SynapseConfigError(
            "contains a line break other than LF or CRLF (CR, U+0085, U+2028 or U+2029)"
        )
    doc = _Document(text)
    old = load_config(text)
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
        raise SynapseConfigError(
            "line %d: key %r uses YAML anchors or aliases (%s); edit it by hand"
            % (entry.line, key, ", ".join("&/*" + name for name in names))
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
                "refusing to write: key %r would read back as %r instead of %r" % (key, new[key], expected[key])
            )
    extra = [key for key in new if key not in expected]
    if extra:
        raise SynapseConfigError("refusing to write: the edit would add keys %r" % (extra,))

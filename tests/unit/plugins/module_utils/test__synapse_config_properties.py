# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Property tests: on generated YAML files full of comments, only the named keys change.

A file is built from segments whose text is known: gaps (blank lines, column-0 comments,
commented-out defaults) and entries (a key with a value in one of many styles, comments
indented under it). After an edit, every segment that holds no named key must still be in the
output, byte for byte and in order; what lies between them may only be entries of the named keys.
"""

from __future__ import annotations

import re

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ansible_collections.homeserver.delegation.plugins.module_utils._synapse_config import (
    SynapseConfigError,
    edit_config,
    same_value,
)

KEYS = ["k_%s" % letter for letter in "abcdefghij"]

INLINE_VALUES = [" 1", " -3", " true", " false", ' "quoted"', " 'single'", " plain text", " [1, 2]",
                 " {a: 1, b: [x]}", " ~", "", " 2.5", " 'a: b'"]
BLOCK_VALUES = [
    "\n  a: 1\n  # indented comment\n  b:\n    - x\n    - y\n",
    "\n  - 1\n  - a: 2\n    b: 3\n",
    "\n  # comment first\n  - only\n",
    "\n  nested:\n\n    deeper: {x: 1}\n",
    "\n  [1,\n   2]\n",
]
BLOCK_SCALARS = [" |\n  line one\n\n  # content, not a comment\n", " >-\n  folded\n  text\n",
                 " |2\n    indented\n", " |+\n  keep\n\n"]
KEY_LINE_COMMENTS = ["", "  # why", " #x"]
TRAILING_COMMENTS = ["", "  # trailing\n", "  # one\n\n  # two\n"]


@st.composite
def entries(draw, key):
    """Text of one entry for ``key``, from the key line to its last indented comment."""
    kind = draw(st.sampled_from(["inline", "block", "scalar"]))
    if kind == "inline":
        value = draw(st.sampled_from(INLINE_VALUES))
        text = "%s:%s%s\n" % (key, value, draw(st.sampled_from(KEY_LINE_COMMENTS)))
        return text + draw(st.sampled_from(TRAILING_COMMENTS))
    if kind == "block":
        comment = draw(st.sampled_from(KEY_LINE_COMMENTS))
        return "%s:%s%s" % (key, comment, draw(st.sampled_from(BLOCK_VALUES))) + draw(
            st.sampled_from(TRAILING_COMMENTS)
        )
    # Indented comments after a block scalar would be part of its content.
    return "%s:%s" % (key, draw(st.sampled_from(BLOCK_SCALARS)))


@st.composite
def gaps(draw, commented_keys):
    """Blank lines and column-0 comments, some of them commented-out defaults, as a list of pieces.

    A new key may go between two pieces (after a commented-out default), never inside one.
    """
    return draw(
        st.lists(
            st.one_of(
                st.just("\n"),
                st.just("# A comment about what follows.\n"),
                st.just("#\n"),
                st.sampled_from(commented_keys).map(lambda key: "#%s: old default\n" % key),
                st.sampled_from(commented_keys).map(lambda key: "#%s:\n#  nested: example\n" % key),
            ),
            max_size=4,
        )
    )


@st.composite
def documents(draw):
    """A list of (key or None, text) segments that together make a valid YAML mapping."""
    present = draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=6))
    segments = [(None, piece) for piece in draw(gaps(KEYS))]
    for key in present:
        entry = draw(entries(key))
        segments.append((key, entry))
        if "|+" in entry:
            # Blank lines after a "keep" block scalar would be part of its value.
            segments.append((None, "# after keep\n"))
        segments.extend((None, piece) for piece in draw(gaps(KEYS)))
    return segments


JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=True),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
)
VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(alphabet="abcxyz._", min_size=1, max_size=6), inner, max_size=3),
    ),
    max_leaves=6,
)


def _entry_lines_pattern(keys):
    alternatives = "|".join(re.escape(key) for key in keys) or "(?!)"
    # Zero or more entries of the given keys: a key line, then indented or blank continuation.
    return r"(?:(?:%s):[^\n]*\n(?:[ \t][^\n]*\n|\n(?=[ \t]))*)*" % alternatives


def _layout_pattern(segments, touched, removed):
    """A regular expression for every output that keeps the untouched segments byte for byte."""
    entry = "(%s)" % _entry_lines_pattern(sorted(touched))
    parts = [entry]
    previous_removed = False
    for key, text in segments:
        if key in touched:
            parts.append(entry)
        else:
            if previous_removed and text.startswith("\n"):
                # A blank line that would double up after a removed entry may go with it.
                parts.append("\n?" + re.escape(text[1:]))
            else:
                parts.append(re.escape(text))
            parts.append(entry)
        previous_removed = key in removed
    return "".join(parts)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_only_named_keys_change(data):
    segments = data.draw(documents())
    text = "".join(segment for dummy, segment in segments)
    try:
        original = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        assume(False)
    present = [key for key, dummy in segments if key]
    to_set = data.draw(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=3))
    to_remove = data.draw(st.lists(st.sampled_from([k for k in KEYS if k not in to_set]), unique=True, max_size=2))

    result = edit_config(text, to_set, to_remove)

    wanted = {key: value for key, value in original.items() if key not in to_remove}
    wanted.update(to_set)
    assert same_value(yaml.safe_load(result.text) or {}, wanted)
    changed = [key for key in to_set if key not in original or not same_value(original[key], to_set[key])]
    changed += [key for key in to_remove if key in original]
    assert result.changed_keys == changed
    assert result.changed == (result.text != text)

    touched = set(changed)
    removed = {key for key in to_remove if key in present}
    match = re.fullmatch(_layout_pattern(segments, touched, removed), result.text)
    assert match, "a segment outside the named keys changed:\n%r\n->\n%r" % (text, result.text)
    # A key that was present keeps its place; none of them is written twice.
    for key in touched - removed:
        assert len(re.findall(r"(?m)^%s:" % re.escape(key), result.text)) == 1
    for key in removed:
        assert not re.search(r"(?m)^%s:" % re.escape(key), result.text)

    # Running again changes nothing.
    again = edit_config(result.text, to_set, to_remove)
    assert again.text == result.text
    assert again.changed_keys == []


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_adding_then_removing_new_keys_restores_every_byte(data):
    segments = data.draw(documents())
    text = "".join(segment for dummy, segment in segments)
    try:
        yaml.safe_load(text)
    except yaml.YAMLError:
        assume(False)
    present = {key for key, dummy in segments if key}
    new_keys = data.draw(st.lists(st.sampled_from([k for k in KEYS if k not in present]), unique=True, min_size=1))
    values = {key: data.draw(VALUES) for key in new_keys}
    added = edit_config(text, values, []).text
    assert edit_config(added, {}, new_keys).text == text


@st.composite
def valid_text(draw):
    segments = draw(documents())
    text = "".join(segment for dummy, segment in segments)
    try:
        yaml.safe_load(text)
    except yaml.YAMLError:
        assume(False)
    return text, [key for key, dummy in segments if key]


def _refuses(text, to_set, to_remove=()):
    try:
        edit_config(text, to_set, list(to_remove))
    except SynapseConfigError:
        return True
    return False


@settings(max_examples=150, deadline=None)
@given(document=valid_text(), key=st.sampled_from(KEYS), value=VALUES)
def test_duplicate_top_level_keys_always_refuse(document, key, value):
    text, present = document
    assume(present)
    duplicated = present[0]
    if not text.endswith("\n") and text:
        text += "\n"
    assert _refuses(text + "%s: again\n" % duplicated, {key: value})


@settings(max_examples=150, deadline=None)
@given(document=valid_text(), value=VALUES)
def test_a_second_document_always_refuses(document, value):
    text, dummy = document
    if not text.endswith("\n") and text:
        text += "\n"
    # The first document holds at least one key, so "---" really starts a second one.
    assert _refuses("k_y: 0\n" + text + "---\nk_z: 1\n", {"k_a": value})


@settings(max_examples=150, deadline=None)
@given(document=valid_text(), value=VALUES, remove=st.booleans())
def test_anchors_on_a_changed_key_always_refuse(document, value, remove):
    text, present = document
    if not text.endswith("\n") and text:
        text += "\n"
    text += "k_anchored: &shared {x: 1}\nk_alias: *shared\n"
    if remove:
        assert _refuses(text, {}, ["k_anchored"])
        assert _refuses(text, {}, ["k_alias"])
    else:
        assume(not same_value(value, {"x": 1}))
        assert _refuses(text, {"k_anchored": value})
        assert _refuses(text, {"k_alias": value})
    del present

"""UUID normalisation of a whole batch: the one-pass check accepts exactly what normalize_uuid would keep."""

from __future__ import annotations

import uuid as uuidlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from soulsync_idmap.errors import ConfigError
from soulsync_idmap.mapping.store import normalize_uuid, normalize_uuids

CANONICAL = st.uuids().map(str)
# Canonical UUIDs with a character replaced, inserted or dropped, from an alphabet that
# can fool a check counting lengths and dashes (hex, dashes, the separator, upper case).
EDIT = st.tuples(st.integers(0, 36), st.sampled_from("0123456789abcdefABCDEF-\n{} "), st.sampled_from("rid"))


def _edited(value: str, edit: tuple[int, str, str]) -> str:
    at, char, how = edit
    if how == "r":
        return value[:at] + char + value[at + 1 :]
    if how == "i":
        return value[:at] + char + value[at:]
    return value[:at] + value[at + 1 :]


@given(st.lists(st.one_of(CANONICAL, st.tuples(CANONICAL, EDIT).map(lambda p: _edited(*p))), max_size=6))
def test_a_batch_normalises_as_each_value_does(values: list[str]) -> None:
    try:
        expected: list[str] | None = [normalize_uuid(v) for v in values]
    except ConfigError:
        expected = None
    try:
        got = normalize_uuids(values)
    except ConfigError:
        assert expected is None
        return
    assert expected is not None and list(got) == expected
    if got is values:  # taken as they are only when each one is canonical already
        assert all(normalize_uuid(v) == v for v in values)


def test_a_canonical_batch_comes_back_as_it_is_and_others_are_normalised() -> None:
    canonical = [str(uuidlib.uuid4()) for _ in range(1000)]
    assert normalize_uuids(canonical) is canonical
    assert normalize_uuids([u.upper() for u in canonical]) == canonical
    assert normalize_uuids([]) == []
    # Lengths, dashes and separators all add up, but the first is one short and the second one long.
    with pytest.raises(ConfigError):
        normalize_uuids([canonical[0][:35], "a" + canonical[1]])

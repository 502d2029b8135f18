"""Every command's output over a fixed corpus equals the reviewed golden files.

A change that moves code without changing behaviour leaves them byte-identical; a change of
behaviour regenerates them (``python tests/snapshots.py --regen``) and the diff shows what
a user sees differently. See tests/snapshots.py.
"""

from __future__ import annotations

import base64

import pytest
import snapshots

SPEC_CASES = snapshots.spec_cases()


@pytest.mark.parametrize("key,spec", SPEC_CASES, ids=[k for k, _ in SPEC_CASES])
def test_spec_outputs_are_the_golden_ones(key, spec):
    folder = snapshots.HERE / key
    want = {p.name: p.read_text() for p in folder.iterdir()}
    got = snapshots.spec_outputs(spec)
    assert sorted(got) == sorted(want)
    for name in sorted(want):
        assert got[name] == want[name], f"{key}/{name} differs from the golden file"


def test_corpus_outputs_are_the_golden_ones():
    rows = snapshots.corpus()
    assert len(rows) >= 200
    differ = []
    for i, row in enumerate(rows):
        got = snapshots.corpus_hashes(base64.b64decode(row["data"]))
        bad = sorted(k for k in row["hashes"] if got.get(k) != row["hashes"][k])
        if bad or sorted(got) != sorted(row["hashes"]):
            differ.append(f"case {i}: {', '.join(bad) or 'outputs added or removed'}")
    assert not differ, "\n".join(differ)

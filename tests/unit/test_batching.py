"""Regrouping a record stream into output batches (replay's micro-batches, load-episodes' documents)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from harvester.pipeline import batched


@given(st.integers(0, 200), st.integers(1, 50))
def test_batched_keeps_order_and_sizes(n, size):
    batches = list(batched(({"i": i} for i in range(n)), size))
    assert [r["i"] for b in batches for r in b] == list(range(n))
    assert all(len(b) == size for b in batches[:-1])
    assert not batches or 1 <= len(batches[-1]) <= size
    assert len(batches) == -(-n // size)


def test_batched_is_lazy():
    def endless():
        i = 0
        while True:
            yield {"i": i}
            i += 1

    gen = batched(endless(), 3)
    assert [r["i"] for r in next(gen)] == [0, 1, 2]
    assert [r["i"] for r in next(gen)] == [3, 4, 5]

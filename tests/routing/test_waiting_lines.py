"""A group's class lines (heaps with lazily removed entries) against a plain sorted model."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cc_core.routing.waiting import ClassGroup

# (op, class id, key): add an entry, take a line's best, remove an arbitrary live entry.
OPS = st.lists(
    st.tuples(st.sampled_from(["add", "take", "drop"]), st.integers(0, 2), st.integers(0, 60)),
    max_size=400,
)


@settings(max_examples=300, deadline=None)
@given(OPS)
def test_lines_match_a_sorted_model(ops: list[tuple[str, int, int]]) -> None:
    group = ClassGroup()
    model: dict[int, list[tuple[float, float, int]]] = {}
    for op, class_id, key in ops:
        line = model.get(class_id, [])
        if op == "add":
            # Entries are unique; the same entry may come back after leaving (a re-queue).
            entry = (float(key % 7), float(key), key)
            if entry in line:
                continue
            opened = group.add(class_id, entry)
            assert opened == (not line)
            model[class_id] = sorted([*line, entry])
        elif not line:
            continue
        else:
            entry = line[0] if op == "take" else line[key % len(line)]
            group.remove(class_id, entry)
            line.remove(entry)
            if not line:
                del model[class_id]
        assert set(group.lines) == set(model) == set(group.heads)
        for cid, expected in model.items():
            assert group.heads[cid] == expected[0]
            assert list(group.in_order(cid)) == expected
            # No entry is held twice, and dead ones are all still in the heap.
            heap = group.lines[cid]
            assert len(set(heap)) == len(heap)
            assert group.dead.get(cid, set()) <= set(heap)


def test_a_line_nobody_takes_from_stays_bounded() -> None:
    group = ClassGroup()
    group.add(0, (0.0, 0.0, 0))  # the head stays; everything behind it comes and goes
    for n in range(1, 5000):
        group.add(0, (1.0, float(n), n))
        group.remove(0, (1.0, float(n), n))
    assert len(group.lines[0]) < 200
    assert list(group.in_order(0)) == [(0.0, 0.0, 0)]

"""The charts' layout: fault labels stacked in lanes never overlap."""

from __future__ import annotations

import re

from harness.report.charts import (
    LANE_PX,
    TOP,
    Window,
    label_lanes,
    label_width,
    line_chart,
)


def test_overlapping_labels_go_to_separate_lanes_and_free_lanes_are_reused() -> None:
    spans = [(0.0, 100.0), (50.0, 150.0), (104.0, 200.0), (60.0, 70.0), (300.0, 310.0)]
    lanes = label_lanes(spans)
    # (0,100) lane 0; (50,150) overlaps it: 1; (60,70) overlaps both: 2; (104,200) starts
    # 4 px after lane 0's end: lane 0 again; (300,310) is clear of everything: lane 0
    assert lanes == [0, 1, 0, 2, 0]
    for a in range(len(spans)):
        for b in range(a + 1, len(spans)):
            if lanes[a] == lanes[b]:
                (a0, a1), (b0, b1) = spans[a], spans[b]
                assert a1 + 4 <= b0 or b1 + 4 <= a0, (spans[a], spans[b])


def test_a_dense_mixed_schedule_prints_no_label_over_another() -> None:
    windows = [Window(f"fault-{n} (target_{n})", start, start + 3.0)
               for n, start in enumerate((5.0, 6.0, 7.5, 8.0, 20.0, 21.0, 40.0))]
    svg = line_chart("Throughput", "req/s", [], windows, 60.0)
    labels = re.findall(r'<text class="fault-label" x="([\d.]+)" y="([\d.]+)"'
                        r' data-lane="(\d+)">([^<]+)</text>', svg)
    assert len(labels) == len(windows)
    boxes = [(float(x), float(x) + label_width(text), float(y)) for x, y, _, text in labels]
    for i, (x0, x1, y) in enumerate(boxes):
        for u0, u1, v in boxes[i + 1:]:
            assert y != v or x1 <= u0 or u1 <= x0, (boxes[i], (u0, u1, v))
    assert {int(lane) for *_, lane, _ in labels} == {0, 1, 2, 3}
    assert {float(y) for _, y, _, _ in labels} == {TOP + 11 + n * LANE_PX for n in range(4)}

from __future__ import annotations

import io
import math
from datetime import UTC, datetime, timedelta

import matplotlib.image
import pytest

from bot.slack.charts import render_metric_chart

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TIMES = [T0 + timedelta(minutes=i) for i in range(120)]
VALUES = [40 + 10 * math.sin(i / 8) + (45 if 90 <= i < 100 else 0) for i in range(120)]
SCORES = [0.95 if 90 <= i < 100 else 0.2 for i in range(120)]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _read(png: bytes):  # type: ignore[no-untyped-def]
    return matplotlib.image.imread(io.BytesIO(png), format="png")


def test_chart_with_scores_is_a_readable_png() -> None:
    png = render_metric_chart(
        TIMES,
        VALUES,
        scores=SCORES,
        threshold=0.9,
        value_threshold=80,
        title="CPUUtilization prod/api",
        unit="%",
    )
    assert png.startswith(PNG_SIGNATURE)
    assert len(png) > 20_000
    image = _read(png)
    height, width = image.shape[:2]
    assert width >= 900
    assert height >= 450


def test_chart_from_flags_only_with_gaps() -> None:
    values: list[float | None] = list(VALUES)
    values[10] = None
    flagged = [90 <= i < 100 for i in range(120)]
    naive_times = [t.replace(tzinfo=None) for t in TIMES]
    png = render_metric_chart(naive_times, values, flagged=flagged, title="Glue job duration")
    assert png.startswith(PNG_SIGNATURE)
    assert len(png) > 10_000
    assert _read(png).shape[1] >= 900


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"timestamps": [], "values": []}, id="empty"),
        pytest.param({"timestamps": TIMES, "values": VALUES[:-1]}, id="values-short"),
        pytest.param({"timestamps": TIMES, "values": VALUES, "scores": SCORES[:5]}, id="scores-short"),
    ],
)
def test_bad_input_is_a_value_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"no points|same length"):
        render_metric_chart(title="x", **kwargs)  # type: ignore[arg-type]

"""Where the map puts cluster names: at their centres, or nearest them where names would cover each other, and
always inside the plot; names cut at a word's end."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from embc.report.labels import inside, moved, overlaps, placed
from embc.wording import shortened

AREA = (0.0, 0.0, 800.0, 600.0)


def _shifted(boxes, shifts):
    return [moved(box, *shift) for box, shift in zip(boxes, shifts)]


def test_names_at_one_centre_spread_out_around_it_the_first_staying_there():
    boxes = [(350.0, 293.0, 450.0, 307.0)] * 12  # twelve clusters whose centres fall on one spot
    drawn = _shifted(boxes, placed(boxes, AREA))
    assert drawn[0] == boxes[0]
    assert not any(overlaps(a, b) for n, a in enumerate(drawn) for b in drawn[n + 1:])
    assert all(inside(box, AREA) for box in drawn)
    assert max(abs(box[1] - 293.0) for box in drawn) < 120  # near the centre, not scattered over the plot


def test_a_name_at_the_edge_moves_inside_and_off_the_legend():
    legend = (700.0, 0.0, 800.0, 40.0)
    boxes = [(760.0, 10.0, 860.0, 24.0)]  # a centre near the lower right corner, its name past the edge
    [drawn] = _shifted(boxes, placed(boxes, AREA, [legend]))
    assert inside(drawn, AREA) and not overlaps(drawn, legend)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 700), st.floats(0, 580), st.floats(20, 100), st.floats(10, 20)),
                min_size=1, max_size=15))
def test_a_few_names_anywhere_never_cover_each_other_and_stay_inside(spots):
    boxes = [(x, y, x + w, y + h) for x, y, w, h in spots]
    drawn = _shifted(boxes, placed(boxes, AREA))
    assert all(inside(box, AREA) for box in drawn)
    assert not any(overlaps(a, b) for n, a in enumerate(drawn) for b in drawn[n + 1:])


def test_names_are_cut_at_a_word_end_with_a_mark():
    assert shortened("calendar, quarter, sunday, tuesday", 28) == "calendar, quarter, sunday…"
    assert shortened("body parts", 28) == "body parts"
    assert shortened("dactylopiidae", 8) == "dactylo…"
    assert all(len(shortened("antibiotic, inhalant, drug, dose", w)) <= w for w in range(2, 40))


@settings(max_examples=300, deadline=None)
@given(st.text(), st.integers(1, 300))
def test_a_cut_text_is_its_own_start_and_a_mark_within_the_width(text, width):
    cut = shortened(text, width)
    assert len(cut) <= width
    assert cut == text or (cut.endswith("…") and text.startswith(cut[:-1]))


def test_the_map_draws_names_at_one_centre_apart_and_inside_the_plot():
    """The shifts `placed` finds in pixels are drawn where it found them (figures converts them to points)."""
    from matplotlib.text import Text

    from embc.report import figures

    plt = figures._pyplot()
    fig, ax = plt.subplots(figsize=(10, 8))
    ax.scatter([0, 1], [0, 1])
    figures._name_clusters(fig, ax, [((0.5, 0.5), f"{n}: a cluster's name", "red") for n in range(12)], None)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    drawn = [tuple(Text.get_window_extent(label, renderer).extents) for label in ax.texts]  # the text alone
    plt.close(fig)
    assert len(drawn) == 12
    assert all(inside(box, tuple(ax.bbox.extents)) for box in drawn)
    assert not any(overlaps(a, b) for n, a in enumerate(drawn) for b in drawn[n + 1:])

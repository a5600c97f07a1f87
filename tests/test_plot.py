"""Pictures: heatmaps and curves are real PNG files of the size the layout promises."""

import pytest
import torch
from PIL import Image

from s2s.plot import attention_heatmap, heatmap_size, training_curves


def test_a_heatmap_is_a_png_of_the_expected_size_with_any_script(tmp_path):
    src = ["\u2581Der", "\u2581Hund", "\u2581\u4e2d\u6587", "\u2581\u05e2\u05d1", "\u2581\U0001F600", "</s>"]
    tgt = ["\u2581The", "\u2581dog", "\u2581\u0395\u03bb", "</s>"]
    weights = torch.softmax(torch.randn(len(tgt), len(src)), dim=-1)
    attention_heatmap(weights, src, tgt, tmp_path / "a.png", title="The dog \u0395\u03bb")
    with Image.open(tmp_path / "a.png") as image:
        assert image.format == "PNG" and image.size == heatmap_size(len(src), len(tgt))
        image.load()
    long = heatmap_size(60, 50)
    assert long[0] > heatmap_size(6, 4)[0] and long[1] > heatmap_size(6, 4)[1]  # grows with the sentence


def test_a_heatmap_refuses_labels_that_do_not_match(tmp_path):
    with pytest.raises(ValueError, match="do not match"):
        attention_heatmap(torch.ones(2, 3), ["a", "b"], ["x", "y"], tmp_path / "a.png")
    assert not (tmp_path / "a.png").exists()


def test_training_curves_are_drawn_from_the_logs(tmp_path):
    train_log = [{"step": s, "loss": 5.0 / s, "tokens_per_s": 100.0, "lr": 1e-3} for s in range(10, 110, 10)]
    valid_log = [{"step": s, "valid_loss": 4.0 / s, "valid_bleu": s / 5} for s in (50, 100)]
    training_curves(train_log, valid_log, tmp_path / "curves.png")
    with Image.open(tmp_path / "curves.png") as image:
        assert image.format == "PNG" and image.size == (700, 600)


@pytest.mark.parametrize("n_src, n_tgt", [(1, 1), (2, 3), (5, 8), (40, 30)])
def test_no_label_of_a_heatmap_overlaps_another_or_leaves_the_picture(n_src, n_tgt):
    import matplotlib.pyplot as plt
    from s2s.plot import heatmap_figure
    src = [f"\u2581piece{i}" for i in range(n_src - 1)] + ["</s>"]
    tgt = [f"\u2581out{i}" for i in range(n_tgt - 1)] + ["</s>"]
    fig = heatmap_figure(torch.rand(n_tgt, n_src), src, tgt, title="Ka vorn mi miset vidit.")
    try:
        renderer = fig.canvas.get_renderer()
        ax = fig.axes[0]
        boxes = {"source label": ax.xaxis.label, "output label": ax.yaxis.label, "caption": fig._supxlabel,
                 "heatmap": ax.images[0]}
        boxes = {name: artist.get_window_extent(renderer) for name, artist in boxes.items()}
        ticks = [t.get_window_extent(renderer) for t in ax.get_xticklabels() + ax.get_yticklabels()]
        picture = fig.bbox
        for name, box in boxes.items():
            assert picture.x0 <= box.x0 and box.x1 <= picture.x1 + 1 and picture.y0 <= box.y0 and box.y1 <= picture.y1 + 1, name
            for other, box2 in boxes.items():
                if other != name:
                    assert not box.overlaps(box2), (name, other)
            if name != "heatmap":
                assert not any(box.overlaps(tick) for tick in ticks), name
    finally:
        plt.close(fig)

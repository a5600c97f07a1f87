"""Training length statistics: percentiles as defined, kept through a checkpoint, used to judge output."""

import pytest

from s2s.lengths import MIN_CHECKED, Lengths


def test_percentiles_of_source_lengths_and_ratios():
    src = list(range(1, 101))  # 1..100 pieces
    tgt = [s // 2 if s >= MIN_CHECKED else s for s in src]  # half as long, for the long ones
    tgt[-1] = 100  # one pair far from the rest
    lengths = Lengths.measure(src, tgt)
    assert (lengths.pairs, lengths.src_median, lengths.part_limit, lengths.src_max) == (100, 50, 99, 100)
    assert lengths.ratio_median == 0.5 and lengths.ratio_low == pytest.approx(4 / 9, abs=1e-4)  # s = 9


def test_short_sources_are_never_judged_and_long_ones_by_the_low_ratio():
    lengths = Lengths(pairs=10, src_median=10, part_limit=20, src_max=30, ratio_median=1.0, ratio_low=0.6)
    assert not lengths.too_short(MIN_CHECKED - 1, 0)
    assert lengths.shortest_usual(20) == 12
    assert lengths.too_short(20, 11) and not lengths.too_short(20, 12)


def test_statistics_survive_a_checkpoint_and_unknown_versions_are_ignored():
    lengths = Lengths.measure([10, 20, 30], [11, 19, 33])
    assert Lengths.from_state(lengths.state()) == lengths
    assert Lengths.from_state({"pairs": 3}) is None and Lengths.from_state(None) is None
    assert Lengths.from_state({**lengths.state(), "new_field": 1}) == lengths


def test_a_corpus_of_only_short_pairs_has_no_ratio_to_judge_by():
    lengths = Lengths.measure([1, 2, 3], [1, 2, 3])
    assert lengths.ratio_low == 0.0 and not lengths.too_short(40, 0)
    with pytest.raises(ValueError):
        Lengths.measure([], [])


def test_a_trained_run_keeps_its_lengths_in_every_checkpoint(demo_corpus, tmp_path):
    from s2s import checkpoint
    from s2s.run import train
    from tests.conftest import tiny_config
    train(tiny_config(demo_corpus, max_steps=10, valid_every=10), tmp_path / "run")
    for name in ("best.pt", "last.pt"):
        lengths = Lengths.from_state(checkpoint.load(tmp_path / "run" / name)["lengths"])
        assert 1000 < lengths.pairs <= 2000 and 0 < lengths.src_median <= lengths.part_limit <= lengths.src_max <= 40
        assert 0 < lengths.ratio_low <= lengths.ratio_median


def test_counted_percentiles_equal_sorted_ones():
    import random

    from s2s.lengths import LOW_PERCENTILE, PART_PERCENTILE

    def nearest_rank(values, percent):
        rank = max(1, -(-len(values) * percent // 100))
        return values[int(rank) - 1]

    rng = random.Random(2)
    for n in (1, 9, 1000, 50_000):
        src = [rng.randint(1, 60) for _ in range(n)]
        tgt = [max(1, int(s * rng.uniform(0.3, 2.0))) for s in src]
        ratios = sorted(t / s for s, t in zip(src, tgt) if s >= MIN_CHECKED)
        lengths = Lengths.measure(src, tgt)
        assert lengths.src_median == nearest_rank(sorted(src), 50)
        assert lengths.part_limit == nearest_rank(sorted(src), PART_PERCENTILE) and lengths.src_max == max(src)
        assert lengths.ratio_median == (round(nearest_rank(ratios, 50), 4) if ratios else 0.0)
        assert lengths.ratio_low == (round(nearest_rank(ratios, LOW_PERCENTILE), 4) if ratios else 0.0)

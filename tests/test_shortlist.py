"""The lexical shortlist: what it learns, decoding over it, and the commands that make and use it."""

import shutil

import pytest
import torch
from click.testing import CliRunner

from s2s.cli import main
from s2s.config import DecoderConfig, EncoderConfig, ModelConfig
from s2s.data import source_batch
from s2s.errors import UserError
from s2s.model import Seq2Seq
from s2s.quantize import quantize
from s2s.search import beam_search, greedy
from s2s.shortlist import Rows, Shortlist, ShortlistModel, path_for
from s2s.tokenizer import BOS, EOS, PAD

V = 30
SRC = [[4, 5, 6, EOS], [7, EOS], [8, 8, 5, 6, 7, EOS]]


def small_model(tied: bool = False) -> Seq2Seq:
    torch.manual_seed(3)
    config = ModelConfig(embed_dim=8, dropout=0.0, tie_embeddings=tied, encoder=EncoderConfig(hidden_size=8),
                         decoder=DecoderConfig(hidden_size=12))
    return Seq2Seq.from_config(config, V, V).eval()


def everything(top: int = V) -> Shortlist:
    """A shortlist holding every target id for every source id."""
    table = torch.arange(top).repeat(V + 1, 1)  # (V + 1, top)
    return Shortlist(table, torch.arange(4), "test")


def test_each_source_piece_keeps_the_targets_it_translates_to_best_first():
    # source piece 10 is always translated by 20, 11 by 21; 12 by 22 twice as often as by 23
    src = [[10, 11], [10], [11, 12], [12], [12], [12], [12, 10]]
    tgt = [[20, 21], [20], [21, 22], [22], [22], [23], [23, 20]]
    found = Shortlist.learn(src, tgt, 15, 25, top=2, frequent=1, tokenizer="t")
    assert found.table.shape == (16, 2)
    assert found.table[10 + 1, 0] == 20 and found.table[11 + 1, 0] == 21
    assert found.table[12 + 1].tolist() == [22, 23]
    assert (found.table[5 + 1] == -1).all()  # a piece never seen translates to nothing of its own
    assert {0, 1, 2, 3, 20}.issubset(set(found.always.tolist()))  # specials and the most frequent piece
    assert 21 not in found.always.tolist()
    ids, allowed = found.columns(torch.tensor([[11, PAD], [12, 12]]))
    assert ids.tolist() == sorted(set(ids.tolist()))  # sorted, no repeats
    assert ids[:4].tolist() == [0, 1, 2, 3]  # the special ids keep their own columns
    assert allowed.shape == (2, len(ids)) and allowed[:, :4].all()
    own = [set(ids[row].tolist()) for row in allowed]
    assert 21 in own[0] and 21 not in own[1]  # 11's translation is in its sentence's shortlist only
    assert {22, 23} <= own[1]


def test_a_shortlist_of_everything_decodes_as_the_full_model():
    model = small_model()
    src, src_len = source_batch(SRC)
    short = ShortlistModel(model, everything())
    for full, cut in zip(greedy(model, src, src_len), greedy(short, src, src_len)):
        assert cut.tokens == full.tokens
        assert abs(cut.score - full.score) < 1e-5
        torch.testing.assert_close(cut.attention, full.attention)
    for full, cut in zip(beam_search(model, src, src_len, beam=3, nbest=3),
                         beam_search(short, src, src_len, beam=3, nbest=3)):
        assert [h.tokens for h in cut] == [h.tokens for h in full]


@pytest.mark.parametrize("tied", [False, True])
def test_scores_are_the_models_renormalised_over_the_shortlist(tied):
    model = small_model(tied)
    keep = torch.tensor([0, 1, 2, 3, 9, 12, 17, 25])
    table = keep.repeat(V + 1, 1)
    short = ShortlistModel(model, Shortlist(table, torch.arange(4), "test"))
    src, src_len = source_batch(SRC)
    memory, state = short.encode(src, src_len)
    assert memory.vocabulary.tolist() == keep.tolist()
    prev = torch.full((len(SRC),), BOS)
    log_probs, weights, _ = short.decode_step(prev, memory, state)
    full, full_weights, _ = model.decode_step(prev, *model.encode(src, src_len))
    torch.testing.assert_close(log_probs, torch.log_softmax(full[:, keep], dim=-1))
    torch.testing.assert_close(weights, full_weights)
    for hyp in greedy(short, src, src_len) + [h for hs in beam_search(short, src, src_len, beam=3) for h in hs]:
        assert set(hyp.tokens) <= set(keep.tolist()) - {PAD, BOS, EOS}


class Masked:
    """The full model with log-probabilities renormalised over the ids `keep`: what decoding
    over a shortlist of `keep` must give, in target ids."""

    def __init__(self, model, keep):
        self.model, self.keep = model, keep

    def encode(self, src, src_len):
        return self.model.encode(src, src_len)

    def decode_step(self, prev, memory, state):
        log_probs, weights, state = self.model.decode_step(prev, memory, state)
        outside = torch.ones(log_probs.size(1), dtype=torch.bool)
        outside[self.keep] = False
        return torch.log_softmax(log_probs.masked_fill(outside, float("-inf")), dim=-1), weights, state


def test_search_over_a_shortlist_finds_what_the_masked_full_model_finds():
    model = small_model()
    keep = torch.tensor([0, 1, 2, 3, 5, 8, 13, 14, 21, 22, 27, 29])
    short = ShortlistModel(model, Shortlist(keep.repeat(V + 1, 1), torch.arange(4), "test"))
    src, src_len = source_batch(SRC)
    masked = Masked(model, keep)
    for a, b in zip(greedy(short, src, src_len), greedy(masked, src, src_len)):
        assert a.tokens == b.tokens and abs(a.score - b.score) < 1e-4
    for a, b in zip(beam_search(short, src, src_len, beam=4, nbest=4), beam_search(masked, src, src_len, beam=4, nbest=4)):
        assert [h.tokens for h in a] == [h.tokens for h in b]
        assert [round(h.score, 4) for h in a] == [round(h.score, 4) for h in b]
    seen = {t for hs in beam_search(short, src, src_len, beam=4, nbest=4) for h in hs for t in h.tokens}
    assert seen - set(range(len(keep)))  # ids that differ from their columns: a missing mapping would show


def test_a_sentence_translates_the_same_alone_and_in_a_batch():
    model = small_model()
    table = torch.stack([torch.arange(6) * 3 % (V - 4) + 4 + e % 3 for e in range(V + 1)])  # (V + 1, 6) differing rows
    short = ShortlistModel(model, Shortlist(table, torch.arange(4), "test"))
    src, src_len = source_batch(SRC)
    together = beam_search(short, src, src_len, beam=3, nbest=2)
    for i, sentence in enumerate(SRC):
        alone = beam_search(short, *source_batch([sentence]), beam=3, nbest=2)[0]
        assert [h.tokens for h in alone] == [h.tokens for h in together[i]]
        assert all(abs(a.score - b.score) < 1e-4 for a, b in zip(alone, together[i]))


def test_the_int8_output_layer_cut_to_rows_is_the_same_layer(recwarn):
    model = quantize(small_model(), "int8", torch.device("cpu"))
    ids = torch.tensor([0, 3, 4, 11, 29])
    x = torch.randn(5, 12)
    torch.testing.assert_close(Rows(model.output).cut(ids)(x), model.output(x)[:, ids])
    assert not [w for w in recwarn if "deprecat" in str(w.message).lower()]  # torch's notes stay quiet
    fp32 = small_model()
    torch.testing.assert_close(Rows(fp32.output).cut(ids)(x), fp32.output(x)[:, ids])


@pytest.fixture(scope="module")
def run(fitted, tmp_path_factory):
    """A copy of the fitted run: these tests write shortlists into it."""
    found = tmp_path_factory.mktemp("shortlist") / "run"
    shutil.copytree(fitted, found)
    return found


def test_shortlist_command_writes_a_file_that_translate_uses(run, demo_corpus, tmp_path):
    from s2s.translator import Translator

    result = CliRunner().invoke(main, ["shortlist", "-m", str(run), "--top", "5", "--frequent", "3"])
    assert result.exit_code == 0, result.output
    assert path_for(run) == run / "shortlist.pt" and path_for(run).is_file()
    src = demo_corpus / "valid.src"
    lines = src.read_text().splitlines()
    out = tmp_path / "hyp.txt"
    for extra in ([], ["--quantize", "int8"], ["--beam", "1"]):
        result = CliRunner().invoke(main, ["translate", "-m", str(run), "-i", str(src), "-o", str(out),
                                           "--shortlist", *extra])
        assert result.exit_code == 0, result.output
        assert len(out.read_text().splitlines()) == len(lines)
    translator = Translator.load(run, torch.device("cpu"))
    full = translator.translate(lines)
    short = translator.with_search(shortlist=True)
    assert short.shortlist is None  # loaded when first needed
    short.load_shortlist()
    assert short.shortlist.top == 5
    same = sum(a == b for a, b in zip(full, short.translate(lines)))
    made = short.shortlisted
    short.translate(lines[:2])
    assert made is not None and short.shortlisted is made  # the int8 or fp32 rows' source is made once
    assert same >= len(lines) * 0.8  # what the model translates to is mostly in its sources' shortlist
    result = CliRunner().invoke(main, ["eval", "-m", str(run), "--src", str(src), "--ref",
                                       str(demo_corpus / "valid.tgt"), "--shortlist"])
    assert result.exit_code == 0, result.output


def test_a_missing_or_foreign_shortlist_and_an_ensemble_are_named(run, tmp_path):

    from s2s.translator import Translator

    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    (copy / "shortlist.pt").unlink(missing_ok=True)
    result = CliRunner().invoke(main, ["translate", "-m", str(copy), "--shortlist"], input="a b\n")
    assert result.exit_code == 1
    assert f"no shortlist at {copy / 'shortlist.pt'}" in result.output and "s2s shortlist -m" in result.output
    Shortlist(torch.zeros(3, 1, dtype=torch.long), torch.arange(4), "another").save(copy / "shortlist.pt", {})
    with pytest.raises(UserError, match="another tokenizer"):
        Translator.load(copy, torch.device("cpu")).with_search(shortlist=True).translate(["a b"])
    with pytest.raises(UserError, match="not an ensemble"):
        Translator.load([run, copy], torch.device("cpu")).with_search(shortlist=True).load_shortlist()


def test_no_shortlist_overrides_a_config_that_asks_for_one(run, tmp_path, demo_corpus):

    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    (copy / "shortlist.pt").unlink(missing_ok=True)
    for name in ("best.pt", "last.pt"):
        if (copy / name).exists():
            content = torch.load(copy / name, weights_only=True)
            content["config"]["search"]["shortlist"] = True
            torch.save(content, copy / name)
    src = str(demo_corpus / "valid.src")
    result = CliRunner().invoke(main, ["translate", "-m", str(copy), "-i", src])
    assert result.exit_code == 1 and "no shortlist at" in result.output
    result = CliRunner().invoke(main, ["translate", "-m", str(copy), "-i", src, "--no-shortlist"])
    assert result.exit_code == 0, result.output


def test_shortlist_names_training_text_that_is_not_there(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "gone"
    content = torch.load(run / "last.pt", weights_only=True)
    content["config"]["data"]["train"] = str(missing)
    torch.save(content, tmp_path / "moved.pt")
    result = CliRunner().invoke(main, ["shortlist", "-m", str(tmp_path / "moved.pt")])
    assert result.exit_code == 1
    assert "the run's training text: file not found" in result.output and str(missing) in result.output


def test_the_estimate_is_fitted_by_default_and_a_stale_one_is_named(run, tmp_path, demo_corpus):

    from s2s import checkpoint
    from s2s.translator import Translator

    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    result = CliRunner().invoke(main, ["shortlist", "-m", str(copy), "--top", "5", "--frequent", "3"])
    assert result.exit_code == 0, result.output
    assert "mean absolute error" in result.output
    lines = (demo_corpus / "valid.src").read_text().splitlines()
    short = Translator.load(copy, torch.device("cpu")).with_search(shortlist=True)
    assert len(short.translate(lines)) == len(lines)
    assert short.shortlisted.normaliser is not None  # fitted to this very checkpoint
    content = checkpoint.load(copy / "shortlist.pt")
    content["shortlist"]["normaliser"]["fitted_to"] = "another checkpoint"
    checkpoint.save(copy / "shortlist.pt", {key: value for key, value in content.items() if key != "format"})
    out = tmp_path / "hyp.txt"
    result = CliRunner().invoke(main, ["translate", "-m", str(copy), "-i", str(demo_corpus / "valid.src"),
                                       "-o", str(out), "--shortlist"])
    assert result.exit_code == 0, result.output
    assert "fitted to another checkpoint" in result.output and "normalises over the shortlist alone" in result.output
    assert len(out.read_text().splitlines()) == len(lines)
    stale = Translator.load(copy, torch.device("cpu")).with_search(shortlist=True)
    stale.translate(lines[:2])
    assert stale.shortlisted.normaliser is None
    result = CliRunner().invoke(main, ["shortlist", "-m", str(copy), "--top", "5", "--no-estimate"])
    assert result.exit_code == 0, result.output
    assert checkpoint.load(copy / "shortlist.pt")["shortlist"].get("normaliser") is None

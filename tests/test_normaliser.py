"""The estimate of the mass a shortlist leaves out: its targets, its fit, and decoding with it."""

import torch
from torch.nn import functional as F

from s2s.data import source_batch
from s2s.normaliser import Normaliser, Positions, fingerprint, fit, positions
from s2s.search import beam_search
from s2s.shortlist import Shortlist, ShortlistModel
from s2s.tokenizer import BOS, EOS
from tests.test_shortlist import SRC, V, everything, small_model

PAIRS = [([4, 5, 6], [7, 8]), ([9], [10, 11, 12, 13]), ([14, 4, 15, 16, 5], [17])]


def some(keep: list[int]) -> Shortlist:
    """A shortlist holding the specials and `keep` for every source id."""
    return Shortlist(torch.tensor(keep).repeat(V + 1, 1), torch.arange(4), "test")


def test_each_position_holds_the_mass_its_shortlist_leaves_out():
    model = small_model()
    shortlist = some([5, 7, 8, 10, 17])
    found = positions(model, shortlist.columns, PAIRS, batch_size=2)  # padding within each batch
    assert found.delta.shape == (sum(len(t) + 1 for _, t in PAIRS),)  # every target piece and EOS, none of the padding
    expected = []
    with torch.no_grad():
        for s, t in PAIRS:  # one pair at a time, step by step through the full model
            src, src_len = source_batch([s + [EOS]])  # the source's EOS, as positions gives it
            memory, state = model.encode(src, src_len)
            ids, allowed = shortlist.columns(src)
            prev = torch.tensor([BOS])
            for piece in t + [EOS]:
                log_probs, _, state = model.decode_step(prev, memory, state)  # (1, V), the full vocabulary
                expected.append(-torch.logsumexp(log_probs[0, ids[allowed[0]]], dim=0))  # log Z_full - log Z_short
                prev = torch.tensor([piece])
    torch.testing.assert_close(found.delta, torch.stack(expected), atol=1e-5, rtol=1e-5)
    assert (found.delta > 0.01).all()  # a small model spreads its mass: five pieces never hold all of it
    nothing_left = positions(model, everything().columns, PAIRS)
    assert nothing_left.delta.abs().max() < 1e-5


def test_the_fit_learns_what_the_inputs_say_and_folds_their_scale_in():
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(6000, 6, generator=generator) * torch.tensor([1.0, 50.0, 0.01, 1.0, 3.0, 1.0]) + 7.0
    delta = F.softplus(inputs[:, 0] - inputs[:, 1] / 50 + inputs[:, 4] / 3 - 7.0 + 7.0 / 50 - 7.0 / 3)
    train = Positions(inputs[:5000], delta[:5000])
    held_out = Positions(inputs[5000:], delta[5000:])
    net, error = fit(train, held_out, steps=1500)
    assert error["estimate"] < 0.1 * error["shortlist"]  # the raw, unscaled inputs go in: the scale is folded in
    assert error["fitted"] == 5000 and error["held_out"] == 1000
    again = Normaliser.from_state(net.state("x", error))
    with torch.no_grad():
        torch.testing.assert_close(again(held_out.inputs), net(held_out.inputs))


def test_decoding_with_the_estimate_subtracts_it_from_the_shortlists_log_probabilities():
    model = small_model()
    shortlist = some([5, 7, 8, 10, 17])
    torch.manual_seed(1)
    net = Normaliser(model.output.in_features).eval()
    plain, estimated = ShortlistModel(model, shortlist), ShortlistModel(model, shortlist, net)
    src, src_len = source_batch(SRC)
    with torch.no_grad():
        memory, state = estimated.encode(src, src_len)
        prev = torch.full((len(SRC),), BOS)
        for _ in range(3):
            attentional, _, _ = model.decoder.step(prev, memory.memory, state)
            log_probs, _, _ = plain.decode_step(prev, memory, state)
            corrected, _, state = estimated.decode_step(prev, memory, state)
            logits = model.output(model.features(attentional))[:, memory.vocabulary] + memory.outside  # (B, V')
            log_z = torch.logsumexp(logits, dim=-1, keepdim=True)  # (B, 1)
            delta = net(torch.cat([model.features(attentional), log_z, log_z - logits.amax(-1, keepdim=True)], 1))
            assert (delta > 0).all()
            torch.testing.assert_close(corrected, log_probs - delta)  # -inf stays -inf outside the shortlist
            prev = memory.vocabulary[corrected.argmax(dim=-1)].clamp(min=4)  # columns -> piece ids
    hyps = beam_search(estimated, src, src_len, beam=3, nbest=3)
    assert all(len(h) == 3 for h in hyps)
    allowed = {0, 1, 2, 3, 5, 7, 8, 10, 17}
    assert all(set(h.tokens) <= allowed for found in hyps for h in found)


def test_an_estimate_is_used_with_the_output_layer_it_was_fitted_to_only():
    model = small_model()
    net = Normaliser(model.output.in_features)
    mine = fingerprint(model.output)
    shortlist = Shortlist(some([5]).table, torch.arange(4), "test", net.state(mine, {}))
    assert isinstance(shortlist.estimate_for(mine), Normaliser)
    assert Shortlist.from_state(shortlist.state()).estimate_for(mine) is not None
    other = small_model()
    with torch.no_grad():
        other.output.weight[0, 0] += 1.0
    assert fingerprint(other.output) != mine
    assert shortlist.estimate_for(fingerprint(other.output)) is None
    assert some([5]).estimate_for(mine) is None  # a shortlist without an estimate

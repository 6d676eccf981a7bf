import pytest
import torch
import torch.nn.functional as F

from molvae.models.config import ModelConfig
from molvae.models.vae import GRUVAE, kl_divergence
from molvae.tokens import Vocabulary


def make_model(**kw) -> GRUVAE:
    torch.manual_seed(0)
    cfg = ModelConfig(
        vocab_size=12,
        embedding_dim=8,
        encoder_hidden=16,
        latent_dim=4,
        decoder_hidden=24,
        max_length=20,
        **kw,
    )
    return GRUVAE(cfg).eval()


def batch(lengths):
    t = max(lengths)
    tokens = torch.zeros(len(lengths), t, dtype=torch.long)
    for i, n in enumerate(lengths):
        tokens[i, : n - 1] = torch.randint(
            4, 12, (n - 1,), generator=torch.Generator().manual_seed(i)
        )
        tokens[i, n - 1] = Vocabulary.eos_id
    dec_in = torch.cat([torch.full((len(lengths), 1), Vocabulary.bos_id), tokens[:, :-1]], 1)
    return tokens, torch.tensor(lengths), dec_in


def test_shapes_with_predictor():
    model = make_model(properties=["logP", "QED"], predictor_ensemble=3)
    tokens, lengths, dec_in = batch([7, 5, 3])
    out = model(tokens, lengths, dec_in)
    assert out["mu"].shape == (3, 4) and out["logvar"].shape == (3, 4)
    assert out["logits"].shape == (3, 7, 12)
    assert out["properties"].shape == (3, 3, 2)
    assert kl_divergence(out["mu"], out["logvar"]).shape == (3, 4)


def test_encoding_ignores_padding_both_directions():
    for kw in ({"bidirectional": True, "encoder_layers": 2}, {"bidirectional": False}):
        model = make_model(**kw)
        tokens, lengths, _ = batch([9, 4])
        mu_batch, _ = model.encode(tokens, lengths)
        mu_alone, _ = model.encode(tokens[1:, :4], lengths[1:])
        torch.testing.assert_close(mu_batch[1], mu_alone[0], atol=1e-5, rtol=1e-5)


def test_generate_stops_and_pads_after_eos():
    model = make_model()
    ids = model.generate(
        torch.randn(16, 4),
        strategy="sample",
        temperature=2.0,
        generator=torch.Generator().manual_seed(0),
    )
    assert ids.shape[0] == 16 and ids.shape[1] <= 20
    for row in ids.tolist():
        if Vocabulary.eos_id in row:
            after = row[row.index(Vocabulary.eos_id) + 1 :]
            assert all(t == Vocabulary.pad_id for t in after)
        assert Vocabulary.bos_id not in row and Vocabulary.unk_id not in row


def test_top_k_one_equals_greedy():
    model = make_model()
    z = torch.randn(8, 4)
    greedy = model.generate(z, strategy="greedy")
    top1 = model.generate(z, strategy="sample", top_k=1, generator=torch.Generator().manual_seed(1))
    assert torch.equal(greedy, top1)


def test_log_likelihood_matches_cross_entropy():
    """log p(x|z) of each sequence is minus its summed token cross-entropy, padding excluded."""
    model = make_model()
    tokens, lengths, dec_in = batch([6, 4])  # the second sequence is padded after its eos
    z = torch.randn(2, 4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ll = model.sequence_log_likelihood(z, dec_in, tokens)
        logits = model.decode_logits(z, dec_in)
    expected = torch.stack(
        [
            -F.cross_entropy(logits[i, :n], tokens[i, :n], reduction="sum")
            for i, n in enumerate(lengths.tolist())
        ]
    )
    assert ll.shape == (2,) and (ll < 0).all()
    torch.testing.assert_close(ll, expected)
    # Counting the padding positions as targets would change the padded sequence only.
    with_padding = -F.cross_entropy(logits[1], tokens[1], reduction="sum")
    assert not torch.isclose(ll[1], with_padding)


def test_fast_generation_matches_teacher_forced_decoder():
    """Greedy tokens equal the argmax of the GRU module's teacher-forced logits, step by step."""
    for layers in (1, 2):
        model = make_model(decoder_layers=layers)
        with torch.no_grad():
            for p in model.parameters():  # larger weights: sequences of varied tokens
                p.mul_(3.0)
        z = torch.randn(32, 4, generator=torch.Generator().manual_seed(layers))
        ids = model.generate(z, strategy="greedy")
        dec_in = torch.cat([torch.full((32, 1), Vocabulary.bos_id), ids[:, :-1]], dim=1)
        dec_in = dec_in.masked_fill(dec_in == Vocabulary.eos_id, Vocabulary.pad_id)
        with torch.no_grad():
            logits = model.decode_logits(z, dec_in)
        logits[:, :, [Vocabulary.pad_id, Vocabulary.bos_id, Vocabulary.unk_id]] = float("-inf")
        expected = logits.argmax(-1)
        alive = torch.ones(32, dtype=torch.bool)
        for t in range(ids.shape[1]):
            assert torch.equal(ids[alive, t], expected[alive, t])
            alive &= ids[:, t] != Vocabulary.eos_id
        assert len(set(ids.flatten().tolist())) > 3


def _masked_log_likelihood(model: GRUVAE, z: torch.Tensor, row: torch.Tensor) -> float:
    """log p(row|z) with pad/bos/unk excluded from the softmax, as the decoders do."""
    ids = row.tolist()
    n = ids.index(Vocabulary.eos_id) + 1 if Vocabulary.eos_id in ids else len(ids)
    targets = row[:n].unsqueeze(0)
    dec_in = torch.cat([torch.tensor([[Vocabulary.bos_id]]), targets[:, :-1]], 1)
    with torch.no_grad():
        logits = model.decode_logits(z.unsqueeze(0), dec_in).float()
    logits[..., [Vocabulary.pad_id, Vocabulary.bos_id, Vocabulary.unk_id]] = float("-inf")
    logp = torch.log_softmax(logits, -1).gather(2, targets.unsqueeze(2))
    return float(logp.sum())


def test_beam_search_scores_are_log_likelihoods_best_first():
    model = make_model()
    z = torch.randn(5, 4, generator=torch.Generator().manual_seed(2))
    ids, scores = model.beam_search(z, beam_width=4)
    assert ids.shape[:2] == (5, 4) and scores.shape == (5, 4)
    assert (scores[:, :-1] >= scores[:, 1:]).all()
    greedy = model.generate(z, strategy="greedy")
    for b in range(5):
        for k in range(4):
            expected = _masked_log_likelihood(model, z[b], ids[b, k])
            assert abs(expected - float(scores[b, k])) < 1e-3
        # Distinct strings, and the best is at least as likely as greedy decoding's.
        assert len({tuple(r.tolist()) for r in ids[b]}) == 4
        assert float(scores[b, 0]) >= _masked_log_likelihood(model, z[b], greedy[b]) - 1e-4


def test_beam_of_one_is_greedy():
    model = make_model()
    z = torch.randn(6, 4, generator=torch.Generator().manual_seed(3))
    greedy = model.generate(z, strategy="greedy")
    beam, _ = model.beam_search(z, beam_width=1)
    width = max(greedy.shape[1], beam.shape[2])
    pad = torch.nn.functional.pad
    assert torch.equal(pad(greedy, (0, width - greedy.shape[1]), value=Vocabulary.pad_id),
                       pad(beam[:, 0], (0, width - beam.shape[2]), value=Vocabulary.pad_id))


def test_a_forced_prefix_is_written_and_the_decoder_goes_on_from_it():
    """Forced tokens are written as given; after a row's first pad the decoder is free, and it
    continues as it would have had it written the prefix itself (greedy equals the
    teacher-forced argmax after the prefix)."""
    model = make_model()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    z = torch.randn(6, 4, generator=torch.Generator().manual_seed(3))
    pad = Vocabulary.pad_id
    # Rows 0-2 forced for 1-3 tokens; row 3 wholly free; row 4 has a token after a pad,
    # which must be ignored; row 5 is forced with an eos, which ends it.
    prefix = torch.tensor([
        [5, pad, pad, pad],
        [6, 7, pad, pad],
        [8, 9, 10, pad],
        [pad, pad, pad, pad],
        [11, pad, 4, pad],
        [5, Vocabulary.eos_id, pad, pad],
    ])
    ids = model.generate(z, strategy="greedy", prefix=prefix)
    free = model.generate(z, strategy="greedy")
    assert ids[0, 0] == 5 and ids[1, :2].tolist() == [6, 7] and ids[2, :3].tolist() == [8, 9, 10]
    n = min(ids.shape[1], free.shape[1])  # padding after eos may differ in width
    assert torch.equal(ids[3, :n], free[3, :n]) and not torch.equal(ids[0, :n], free[0, :n])
    assert ids[4, 0] == 11
    assert ids[5, :2].tolist() == [5, Vocabulary.eos_id] and (ids[5, 2:] == pad).all()
    # After the prefix, greedy decoding follows the teacher-forced argmax.
    dec_in = torch.cat([torch.full((6, 1), Vocabulary.bos_id), ids[:, :-1]], dim=1)
    dec_in = dec_in.masked_fill(dec_in == Vocabulary.eos_id, pad)
    with torch.no_grad():
        logits = model.decode_logits(z, dec_in)
    logits[:, :, [pad, Vocabulary.bos_id, Vocabulary.unk_id]] = float("-inf")
    expected = logits.argmax(-1)
    for row, n in ((0, 1), (1, 2), (2, 3), (4, 1)):
        alive = [t for t in range(n, ids.shape[1]) if Vocabulary.eos_id not in ids[row, :t]]
        assert all(ids[row, t] == expected[row, t] for t in alive)
    with pytest.raises(ValueError, match="prefix"):
        model.generate(z, prefix=prefix[:2])

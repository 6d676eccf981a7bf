import numpy as np
import pytest

from molvae.data.encoding import LengthBucketSampler, collate, encode_molecules, split_indices
from molvae.tokens import Vocabulary


def test_encode_rejects_are_reported_with_rows_and_tokens():
    smiles = ["CCO", "c1ccccc1", "C" * 30, "CBr"]
    vocab = Vocabulary.build([["[C]", "[O]"], ["[C]"]])
    ds, _, rejects = encode_molecules(smiles, [10, 11, 12, 13], "selfies", vocab, max_length=20)
    assert ds.smiles == ["CCO"] and ds.rows.tolist() == [10]
    reasons = dict(zip(rejects["row"], rejects["reason"], strict=True))
    assert reasons[12] == "too long (30 tokens > max 20)"
    assert "'[Br]'" in reasons[13] and "not in vocabulary" in reasons[13]
    assert "'[=C]'" in reasons[11]
    assert len(ds) + len(rejects) == len(smiles)


def test_encode_builds_vocab_and_offsets():
    ds, vocab, rejects = encode_molecules(["CCO", "CN"], [1, 2], "smiles", None, 10)
    assert rejects.empty and len(ds) == 2
    assert ds.lengths.tolist() == [4, 3]  # tokens + eos
    assert vocab.decode(ds.ids[ds.offsets[0] : ds.offsets[1]]) == ["C", "C", "O"]
    sub = ds.subset(np.array([1]))
    assert sub.smiles == ["CN"] and sub.lengths.tolist() == [3]


def test_split_is_seeded_and_disjoint():
    a = split_indices(100, 0.1, 1000, seed=3)
    b = split_indices(100, 0.1, 1000, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    train, val = a
    assert len(val) == 10 and not set(train) & set(val) and len(train) + len(val) == 100
    assert len(split_indices(100, 0.5, 7, seed=0)[1]) == 7


def test_bucket_sampler_covers_everything_once_and_is_deterministic():
    lengths = np.random.default_rng(0).integers(5, 40, size=1000)
    sampler = LengthBucketSampler(lengths, 32, seed=1, bucket_batches=4)
    batches = sampler.batches(0)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(1000))
    assert len(batches) == len(sampler)
    assert all(np.array_equal(x, y) for x, y in zip(batches, sampler.batches(0), strict=True))
    assert not np.array_equal(np.concatenate(sampler.batches(1)), flat)
    # bucketing keeps the length spread within a batch small compared with random batches
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < 0.5 * np.ptp(lengths)


def test_collate_pads_and_shifts():
    ds, _, _ = encode_molecules(["CCO", "CN"], [1, 2], "smiles", None, 10)
    b = collate(ds, np.array([0, 1]))
    assert b.tokens.shape == (2, 4)
    assert b.tokens[1, 3].item() == Vocabulary.pad_id
    assert b.decoder_inputs[:, 0].tolist() == [Vocabulary.bos_id] * 2
    assert b.decoder_inputs[0, 1:].tolist() == b.tokens[0, :3].tolist()
    assert Vocabulary.eos_id not in b.decoder_inputs.tolist()[1]
    with pytest.raises(AttributeError):
        _ = b.missing

"""Maintainer script: the ZINC-250k train/test split of the ``zinc`` model, and its shipped samples.

Not run-time code (molvae never runs it). It reads ZINC-250k from the workspace's shared data
folder, leaves out the 800 molecules of the constrained penalized-logP benchmark, and writes a
seeded 90/10 train/test split of the rest outside the repository (the full files are several MB),
plus small samples of both splits next to this script. Usage, from the repository root::

    python datasets/make_zinc.py --out /work/data/zinc \
        [--zinc ../shared/datasets/zinc250k/zinc250k.csv.gz] \
        [--benchmark ../shared/benchmarks/constrained_plogp/opt.test.logP-SA]

What it does, in order:

1. Every ZINC SMILES is written as RDKit isomeric canonical SMILES (stereo marks and formal
   charges kept). A row RDKit cannot parse is counted and left out; a molecule that appears
   twice (same isomeric canonical SMILES) is kept once.
2. Benchmark molecules are left out: a ZINC molecule is removed if its isomeric canonical SMILES
   is one of the 800 benchmark molecules', or if its flattened form (stereo removed, largest
   fragment, neutralized: ``molvae.chem.flattened_smiles``) is one of theirs, so no stereoisomer
   or protonation state of a benchmark seed is trained on. Both counts are reported.
3. The rest is shuffled with ``numpy.random.default_rng(SEED).permutation``; the first 10% is
   the test split, the rest the training split. A test molecule with a SELFIES symbol that no
   training molecule has moves to the training split (a model's vocabulary comes from its
   training data, so it could not encode that molecule). Each split is written in ZINC's file
   order as gzipped CSV (header ``SMILES``, no name or time stamp in the gzip header, so
   byte-reproducible).
4. Statistics (``stats.json`` in ``--out``, and printed): molecules read, removed, split sizes,
   share with stereo marks and with charges, whether each molecule's SELFIES decodes back to
   the same isomeric canonical SMILES (failures counted by cause), the SELFIES vocabulary of
   each split and the SELFIES length distribution, and the elements present.

The shipped samples (``zinc_sample.csv``: 2,000 training molecules; ``zinc_test_sample.csv``:
1,000 test molecules) are drawn from the splits with the same seed, written in split order.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import selfies as sf
from rdkit import Chem

from molvae import chem
from molvae.runtime import map_chunks
from molvae_datasets.make_samples import write_sample

HERE = Path(__file__).resolve().parent

SEED = 20180101
TEST_FRACTION = 0.10
DEFAULT_ZINC = HERE.parent.parent / "shared" / "datasets" / "zinc250k" / "zinc250k.csv.gz"
DEFAULT_BENCHMARK = (
    HERE.parent.parent / "shared" / "benchmarks" / "constrained_plogp" / "opt.test.logP-SA"
)
# shipped sample file -> (split, number of molecules)
SAMPLES: dict[str, tuple[str, int]] = {
    "zinc_sample.csv": ("train", 2_000),
    "zinc_test_sample.csv": ("test", 1_000),
}


def describe(smiles: str) -> dict | None:
    """Canonical and flattened forms, stereo/charge flags, SELFIES round trip of one molecule.

    ``None`` if RDKit cannot parse the SMILES. ``roundtrip`` is ``ok`` when the SELFIES string
    decodes to the same isomeric canonical SMILES, else the cause: ``encoder error``,
    ``decoder error``, ``stereo lost`` (the decoded molecule equals the input without its
    stereo marks), ``charge changed``, or ``other mismatch``.
    """
    mol = chem.parse_smiles(smiles)
    if mol is None:
        return None
    canonical = chem.canonical_smiles(mol)
    if canonical is None:
        return None
    charged = any(a.GetFormalCharge() != 0 for a in mol.GetAtoms())
    stereo = "@" in canonical or "/" in canonical or "\\" in canonical
    elements = sorted({a.GetSymbol() for a in mol.GetAtoms()})
    flat = chem.flattened_smiles(canonical)
    selfies = ""
    try:
        selfies = sf.encoder(canonical, strict=True) or ""
        back = sf.decoder(selfies) if selfies else None
        if back is None:
            roundtrip = "decoder error"
        else:
            back_canonical = chem.canonical_smiles(back)
            if back_canonical == canonical:
                roundtrip = "ok"
            elif back_canonical is not None and chem.canonical_smiles(
                back_canonical, isomeric=False
            ) == chem.canonical_smiles(canonical, isomeric=False):
                roundtrip = "stereo lost"
            elif back_canonical is not None and _neutral_key(back_canonical) == _neutral_key(
                canonical
            ):
                roundtrip = "charge changed"
            else:
                roundtrip = "other mismatch"
    except sf.EncoderError:
        roundtrip = "encoder error"
    except Exception:  # the decoder raises on a few malformed strings
        roundtrip = "decoder error"
    return {
        "canonical": canonical,
        "flat": flat,
        "stereo": stereo,
        "charged": charged,
        "elements": elements,
        "selfies": selfies,
        "roundtrip": roundtrip,
    }


def _neutral_key(smiles: str) -> str | None:
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    for atom in mol.GetAtoms():
        atom.SetFormalCharge(0)
        atom.SetNoImplicit(False)
        atom.SetNumExplicitHs(0)
    try:
        Chem.SanitizeMol(mol)
    except Exception:
        return None
    return Chem.MolToSmiles(mol, isomericSmiles=False)


def _describe_chunk(smiles: Sequence[str]) -> list[dict | None]:
    return [describe(s) for s in smiles]


def write_smiles(smiles: Sequence[str], path: Path) -> str:
    """Write a ``SMILES`` CSV as the MOSES samples are written (``make_samples.write_sample``:
    gzipped without name or time stamp for ``.gz``); its sha256."""
    write_sample(pd.DataFrame({"SMILES": list(smiles)}), path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def length_stats(lengths: np.ndarray) -> dict[str, float]:
    """Max, mean and upper percentiles of SELFIES lengths (symbols, without eos)."""
    return {
        "max": int(lengths.max()),
        "mean": round(float(lengths.mean()), 2),
        "p99": float(np.percentile(lengths, 99)),
        "p99.9": float(np.percentile(lengths, 99.9)),
        "p99.99": float(np.percentile(lengths, 99.99)),
    }


def main() -> None:
    """Build the split, write it to ``--out``, the samples next to this script, and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for train/test files")
    parser.add_argument("--zinc", type=Path, default=DEFAULT_ZINC)
    parser.add_argument("--benchmark", type=Path, default=DEFAULT_BENCHMARK)
    parser.add_argument("--no-samples", action="store_true", help="do not rewrite the samples")
    args = parser.parse_args()
    chem.set_rdkit_logging(False)

    raw = pd.read_csv(args.zinc, dtype={"SMILES": str})["SMILES"].fillna("").str.strip()
    info = map_chunks(_describe_chunk, raw.tolist(), chunk_size=5000, min_parallel=10000)
    bench_raw = [
        line.split()[0] for line in args.benchmark.read_text().splitlines() if line.strip()
    ]
    bench = [describe(s) for s in bench_raw]
    if any(b is None for b in bench):
        raise SystemExit("a benchmark SMILES does not parse")
    bench_iso = {b["canonical"] for b in bench}
    bench_flat = {b["flat"] for b in bench}

    n_read = len(raw)
    n_invalid = sum(d is None for d in info)
    seen: set[str] = set()
    keep: list[int] = []
    n_duplicate = removed_iso = removed_flat_only = 0
    for i, d in enumerate(info):
        if d is None:
            continue
        if d["canonical"] in seen:
            n_duplicate += 1
            continue
        seen.add(d["canonical"])
        if d["canonical"] in bench_iso:
            removed_iso += 1
        elif d["flat"] in bench_flat:
            removed_flat_only += 1
        else:
            keep.append(i)
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(keep))
    n_test = round(TEST_FRACTION * len(keep))
    test_rows = np.sort(np.asarray(keep)[order[:n_test]])
    train_rows = np.sort(np.asarray(keep)[order[n_test:]])
    # The vocabulary is built from the training split: a test molecule with a SELFIES symbol no
    # training molecule has could not be encoded, so it moves to the training split.
    train_tokens = {t for i in train_rows for t in sf.split_selfies(info[i]["selfies"])}
    unseen = [i for i in test_rows
              if not set(sf.split_selfies(info[i]["selfies"])) <= train_tokens]
    if unseen:
        test_rows = np.setdiff1d(test_rows, unseen)
        train_rows = np.sort(np.concatenate([train_rows, unseen]))
    splits = {"train": train_rows, "test": test_rows}

    args.out.mkdir(parents=True, exist_ok=True)
    stats: dict = {
        "source": str(args.zinc),
        "source_sha256": hashlib.sha256(args.zinc.read_bytes()).hexdigest(),
        "seed": SEED,
        "read": n_read,
        "unparsable": n_invalid,
        "duplicates": n_duplicate,
        "benchmark_molecules": len(bench_raw),
        "benchmark_distinct_isomeric": len(bench_iso),
        "benchmark_distinct_flat": len(bench_flat),
        "removed_isomeric_match": removed_iso,
        "removed_flat_match_only": removed_flat_only,
        "moved_to_train_unseen_symbols": [info[i]["canonical"] for i in unseen],
        "splits": {},
    }
    vocab: dict[str, Counter] = {}
    for name, rows in splits.items():
        ds = [info[i] for i in rows]
        smiles = [d["canonical"] for d in ds]
        path = args.out / f"{name}.csv.gz"
        sha = write_smiles(smiles, path)
        counts: Counter = Counter()
        lengths = []
        for d in ds:
            if d["selfies"]:
                tokens = list(sf.split_selfies(d["selfies"]))
                counts.update(tokens)
                lengths.append(len(tokens))
        vocab[name] = counts
        lengths = np.asarray(lengths)
        roundtrip = Counter(d["roundtrip"] for d in ds)
        stats["splits"][name] = {
            "file": str(path),
            "sha256": sha,
            "molecules": len(ds),
            "with_stereo": sum(d["stereo"] for d in ds),
            "charged": sum(d["charged"] for d in ds),
            "selfies_roundtrip": dict(roundtrip),
            "selfies_vocabulary": len(counts),
            "selfies_length": length_stats(lengths),
            "elements": sorted({e for d in ds for e in d["elements"]}),
        }
    train_flat = {info[i]["flat"] for i in train_rows}
    stats["test_flat_twin_in_train"] = sum(info[i]["flat"] in train_flat for i in test_rows)
    stats["test_tokens_missing_from_train"] = sorted(set(vocab["test"]) - set(vocab["train"]))
    stats["train_vocabulary"] = dict(vocab["train"].most_common())
    stats["train_stereo_charge_tokens"] = sorted(
        t for t in vocab["train"] if any(m in t for m in ("@", "+", "-", "/", "\\"))
    )
    failures = [
        (info[i]["canonical"], info[i]["roundtrip"])
        for rows in splits.values()
        for i in rows
        if info[i]["roundtrip"] != "ok"
    ]
    stats["roundtrip_failure_examples"] = failures[:20]

    if not args.no_samples:
        stats["samples"] = {}
        for out_name, (split, size) in SAMPLES.items():
            rows = splits[split]
            picked = np.sort(np.random.default_rng(SEED).choice(len(rows), size, replace=False))
            sha = write_smiles([info[rows[j]]["canonical"] for j in picked], HERE / out_name)
            stats["samples"][out_name] = {"split": split, "molecules": size, "sha256": sha}

    (args.out / "stats.json").write_text(json.dumps(stats, indent=1) + "\n")
    print(json.dumps(stats, indent=1))


if __name__ == "__main__":
    main()

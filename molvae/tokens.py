"""Tokenizers (SMILES regex, SELFIES symbols) and the vocabulary that maps tokens to ids.

Both tokenizers round-trip exactly: ``"".join(tokenize(s)) == s`` for every string they accept,
so a decoded token sequence is the molecule string and nothing is silently rewritten. A string
that cannot be tokenized, or holds a token outside the vocabulary, raises ``TokenizationError``
naming the offending piece; the data layer turns that into a reported reject.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import selfies as sf

__all__ = [
    "TOKENIZERS",
    "SelfiesTokenizer",
    "SmilesTokenizer",
    "TokenizationError",
    "Tokenizer",
    "Vocabulary",
    "get_tokenizer",
]


class TokenizationError(ValueError):
    """A string cannot be represented: not tokenizable, or a token missing from the vocabulary."""

    def __init__(self, message: str, token: str | None = None):
        super().__init__(message)
        self.token = token


class Tokenizer:
    """Base class: turns a molecule string (SMILES) into tokens of the model's representation."""

    name: ClassVar[str] = ""

    def encode_string(self, smiles: str) -> str:
        """The representation string of ``smiles`` (identity for SMILES, SELFIES for SELFIES)."""
        raise NotImplementedError

    def tokenize(self, text: str) -> list[str]:
        """Split a representation string into tokens; ``"".join(tokens) == text``."""
        raise NotImplementedError

    def detokenize(self, tokens: Sequence[str]) -> str:
        """Join tokens back into a representation string."""
        return "".join(tokens)

    def to_smiles(self, text: str) -> str | None:
        """SMILES for a representation string, ``None`` if it cannot be converted."""
        raise NotImplementedError

    def smiles_to_tokens(self, smiles: str) -> list[str]:
        """Tokens of a SMILES in this representation (raises ``TokenizationError``)."""
        return self.tokenize(self.encode_string(smiles))


# Bracket atoms, two-letter halogens, %nn ring closures, then any single character of the
# SMILES alphabet. Anything else fails the coverage check below and is reported, never dropped.
_SMILES_REGEX = re.compile(
    r"(\[[^\[\]]+\]|Br|Cl|%\d{2}|[BCNOPSFIbcnops]|[0-9]|\(|\)|\.|=|#|-|\+|\\|/|:|~|@|\?|>|\*|\$)"
)


class SmilesTokenizer(Tokenizer):
    """Regex SMILES tokenizer (as in Schwaller et al. 2019), exact round-trip."""

    name = "smiles"

    def encode_string(self, smiles: str) -> str:
        return smiles

    def tokenize(self, text: str) -> list[str]:
        tokens = _SMILES_REGEX.findall(text)
        if sum(len(t) for t in tokens) != len(text):
            # Find the first character the regex did not cover, for a precise report.
            pos = 0
            for tok in _SMILES_REGEX.finditer(text):
                if tok.start() != pos:
                    break
                pos = tok.end()
            bad = text[pos] if pos < len(text) else text[-1]
            raise TokenizationError(f"cannot tokenize SMILES at position {pos}: {bad!r}", bad)
        return tokens

    def to_smiles(self, text: str) -> str | None:
        return text


class SelfiesTokenizer(Tokenizer):
    """SELFIES 2.x symbols: every token sequence decodes to a valid molecule."""

    name = "selfies"

    def encode_string(self, smiles: str) -> str:
        try:
            encoded = sf.encoder(smiles, strict=True)
        except sf.EncoderError as exc:
            raise TokenizationError(f"SELFIES cannot encode: {_first_line(exc)}") from None
        if encoded is None:
            raise TokenizationError("SELFIES cannot encode this molecule")
        return encoded

    def tokenize(self, text: str) -> list[str]:
        tokens = list(sf.split_selfies(text))
        if "".join(tokens) != text:
            raise TokenizationError(f"not a SELFIES string: {text[:40]!r}")
        return tokens

    def to_smiles(self, text: str) -> str | None:
        try:
            return sf.decoder(text)
        except Exception:
            return None


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# Registry: ``--repr`` choices are exactly these names.
TOKENIZERS: dict[str, type[Tokenizer]] = {t.name: t for t in (SelfiesTokenizer, SmilesTokenizer)}


def get_tokenizer(name: str) -> Tokenizer:
    """Tokenizer by representation name (``selfies`` or ``smiles``)."""
    try:
        return TOKENIZERS[name.lower()]()
    except KeyError:
        choices = ", ".join(TOKENIZERS)
        raise ValueError(f"unknown representation {name!r}; choose one of {choices}") from None


PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK)


@dataclass
class Vocabulary:
    """Token <-> id mapping with pad/bos/eos/unk at ids 0-3, stored as JSON.

    ``<unk>`` exists so that a model can be asked about any string, but data preparation refuses
    molecules with unknown tokens (they would be silently mangled otherwise).
    """

    tokens: list[str]
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.tokens:
            raise ValueError("vocabulary is empty")
        if tuple(self.tokens[:4]) != SPECIAL_TOKENS:
            raise ValueError(f"vocabulary must start with {SPECIAL_TOKENS}")
        if len(set(self.tokens)) != len(self.tokens):
            repeated = next(t for t, n in Counter(self.tokens).items() if n > 1)
            raise ValueError(f"vocabulary has duplicate tokens ({repeated!r} repeats)")
        if "" in self.tokens:
            raise ValueError("vocabulary has an empty token")
        self.index = {t: i for i, t in enumerate(self.tokens)}

    pad_id: ClassVar[int] = 0
    bos_id: ClassVar[int] = 1
    eos_id: ClassVar[int] = 2
    unk_id: ClassVar[int] = 3

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], min_count: int = 1) -> Vocabulary:
        """Vocabulary of every token seen at least ``min_count`` times, most frequent first."""
        counts: Counter[str] = Counter()
        for toks in token_lists:
            counts.update(toks)
        return cls.from_counts(counts, min_count)

    @classmethod
    def from_counts(cls, counts: Mapping[str, int], min_count: int = 1) -> Vocabulary:
        """Vocabulary from token counts (as ``build``; lets workers count their chunks)."""
        kept = sorted(
            (t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t)
        )
        return cls(list(SPECIAL_TOKENS) + [t for t in kept if t not in SPECIAL_TOKENS])

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self.index

    def encode(self, tokens: Sequence[str], strict: bool = True) -> list[int]:
        """Ids of ``tokens``; with ``strict`` an unknown token raises ``TokenizationError``."""
        ids = []
        for tok in tokens:
            i = self.index.get(tok)
            if i is None:
                if strict:
                    raise TokenizationError(f"token {tok!r} not in vocabulary", tok)
                i = self.unk_id
            ids.append(i)
        return ids

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of ``ids`` up to the first ``<eos>``, skipping pad/bos."""
        out = []
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            if i in (self.pad_id, self.bos_id):
                continue
            out.append(self.tokens[i])
        return out

    def to_dict(self) -> dict:
        return {"tokens": list(self.tokens)}

    @classmethod
    def from_dict(cls, data: dict) -> Vocabulary:
        tokens = data.get("tokens") if isinstance(data, Mapping) else None
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise ValueError("vocabulary JSON needs a 'tokens' list of strings")
        return cls(tokens)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        return cls.from_dict(json.loads(Path(path).read_text()))


def in_canonical_form(text: str, canonical: str | None, tokenizer: Tokenizer) -> bool:
    """Whether a decoded string is exactly how training data write its molecule.

    Training strings are the tokenizer's encoding of canonical SMILES, so a model that has
    learnt the data writes each molecule one way. A decoded string that is not that writing
    went off the training language somewhere: a SELFIES string whose later symbols SELFIES had
    to repair or ignore (a bond beyond an atom's valence, a ring or branch symbol with nothing
    to act on) still decodes to a valid molecule, but one the model did not mean. These
    strings are to a SELFIES model what invalid strings are to a SMILES model, and their
    molecules are measurably less realistic (``benchmarks/canonical_form.py``).
    """
    if canonical is None:
        return False
    try:
        return tokenizer.encode_string(canonical) == text
    except TokenizationError:
        return False

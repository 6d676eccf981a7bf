"""The GRU variational autoencoder and its latent property predictor.

Embedding -> GRU encoder -> (mu, log sigma^2) -> z = mu + sigma * eps -> GRU decoder conditioned
on z twice: z sets the decoder's initial hidden state and is concatenated to every input step, so
the decoder cannot easily learn to ignore it. The model owns generation (``generate``), so every
caller decodes the same way.

A conditional model (``config.conditions``) also takes a condition vector c = [value * mask,
mask] of standardized property values (Lim et al. 2018): c is concatenated to the encoder's final
state before (mu, logvar) and to z wherever the decoder reads z (its initial state and every input
step), so internally the decoder is driven by [z, c]. Every method takes ``condition`` (batch,
2 * n) or one row for the whole batch; None means no condition asked for (an all-zero mask), so
callers that know nothing of conditions use a conditional model unconditionally. An
unconditional model has no condition inputs at all: its weights and outputs are unchanged.

With ``config.conditional_prior`` the prior is learned too: p(z|c) = N(mu_c, sigma_c^2), a small
MLP of c (``prior``), and the KL term is taken against it instead of N(0, I). Without it z is
drawn from N(0, I) whatever is asked for, while the property heads make z carry the very
properties c names, so z and c disagree at sampling time and the molecules follow z. Rows with
nothing asked for (an all-zero mask) get exactly N(0, I), so unconditional sampling is unchanged.

The encoder runs unpacked GRUs and reads each sequence's final state at its own length: packed
sequences are 4x slower on CPU here, and with length-bucketed batches padding is small. The
backward direction runs on each sequence reversed within its length, which is exact.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from molvae.models.config import ModelConfig
from molvae.tokens import Vocabulary

__all__ = ["GRUVAE", "PropertyEnsemble", "kl_divergence"]


def _reverse_index(lengths: Tensor, max_len: int) -> Tensor:
    """Per-row index that reverses the first ``length`` positions and leaves padding in place."""
    t = torch.arange(max_len, device=lengths.device).unsqueeze(0)
    lengths = lengths.unsqueeze(1)
    return torch.where(t < lengths, lengths - 1 - t, t)


class PropertyEnsemble(nn.Module):
    """``k`` independent MLPs from mu to standardized properties; their spread is the uncertainty.

    The members are computed as one batched matmul (weights stacked on a leading axis), which is
    as fast as a single MLP of ``k`` times the width.
    """

    def __init__(self, latent_dim: int, hidden: int, n_outputs: int, k: int):
        super().__init__()
        self.k, self.n_outputs = k, n_outputs
        self.w1 = nn.Parameter(torch.empty(k, latent_dim, hidden))
        self.b1 = nn.Parameter(torch.zeros(k, 1, hidden))
        self.w2 = nn.Parameter(torch.empty(k, hidden, hidden))
        self.b2 = nn.Parameter(torch.zeros(k, 1, hidden))
        self.w3 = nn.Parameter(torch.empty(k, hidden, n_outputs))
        self.b3 = nn.Parameter(torch.zeros(k, 1, n_outputs))
        for w in (self.w1, self.w2, self.w3):
            for i in range(k):  # independent initializations make the ensemble disagree
                nn.init.kaiming_uniform_(w[i].T, a=5**0.5)

    def forward(self, z: Tensor) -> Tensor:
        """Predictions of every member: shape (k, batch, n_outputs), standardized units."""
        h = F.silu(torch.baddbmm(self.b1, z.unsqueeze(0).expand(self.k, -1, -1), self.w1))
        h = F.silu(torch.baddbmm(self.b2, h, self.w2))
        return torch.baddbmm(self.b3, h, self.w3)


def kl_divergence(
    mu: Tensor,
    logvar: Tensor,
    prior_mu: Tensor | None = None,
    prior_logvar: Tensor | None = None,
) -> Tensor:
    """KL(q(z|x) || p(z)) per sample and latent dimension, shape (batch, latent), for the
    prior N(0, I) or, given ``prior_mu`` and ``prior_logvar``, a diagonal Gaussian."""
    if prior_mu is None or prior_logvar is None:
        return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)
    return 0.5 * (
        prior_logvar - logvar + (logvar.exp() + (mu - prior_mu).pow(2)) / prior_logvar.exp() - 1.0
    )


class GRUVAE(nn.Module):
    """Sequence VAE over token ids; see the module docstring for the architecture."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        config.validate()
        self.config = config
        c = config
        self.embedding = nn.Embedding(c.vocab_size, c.embedding_dim, padding_idx=Vocabulary.pad_id)
        directions = 2 if c.bidirectional else 1
        self.encoder_forward = nn.ModuleList()
        self.encoder_backward = nn.ModuleList()
        for layer in range(c.encoder_layers):
            in_dim = c.embedding_dim if layer == 0 else c.encoder_hidden * directions
            self.encoder_forward.append(nn.GRU(in_dim, c.encoder_hidden, batch_first=True))
            if c.bidirectional:
                self.encoder_backward.append(nn.GRU(in_dim, c.encoder_hidden, batch_first=True))
        self.dropout = nn.Dropout(c.dropout)
        cond = c.condition_dim
        self.to_latent = nn.Linear(c.encoder_hidden * directions + cond, 2 * c.latent_dim)
        self.latent_to_hidden = nn.Linear(
            c.latent_dim + cond, c.decoder_hidden * c.decoder_layers
        )
        self.decoder = nn.GRU(
            c.embedding_dim + c.latent_dim + cond,
            c.decoder_hidden,
            num_layers=c.decoder_layers,
            batch_first=True,
            dropout=c.dropout if c.decoder_layers > 1 else 0.0,
        )
        self.output = nn.Linear(c.decoder_hidden, c.vocab_size)
        self.prior_net: nn.Sequential | None = None
        if c.conditional_prior:
            self.prior_net = nn.Sequential(
                nn.Linear(cond, c.prior_hidden),
                nn.SiLU(),
                nn.Linear(c.prior_hidden, 2 * c.latent_dim),
            )
            # Starts as N(0, I) for every request, so a model fine-tuned into having a learned
            # prior starts from the prior it was trained with.
            nn.init.zeros_(self.prior_net[2].weight)
            nn.init.zeros_(self.prior_net[2].bias)
        self.predictor = (
            PropertyEnsemble(
                c.latent_dim, c.predictor_hidden, len(c.properties), c.predictor_ensemble
            )
            if c.properties
            else None
        )
        # One ensemble per property fitted after training, keyed by position (names may hold
        # characters a module name cannot).
        self.fitted_predictors = nn.ModuleDict(
            {
                str(i): PropertyEnsemble(c.latent_dim, c.predictor_hidden, 1, c.predictor_ensemble)
                for i in range(len(c.fitted_properties))
            }
        )

    # ------------------------------------------------------------------ conditions
    @staticmethod
    def condition_input(values: Tensor) -> Tensor:
        """The condition vector [value * mask, mask] of standardized ``values`` (batch, n),
        where NaN marks a condition not asked for (mask 0)."""
        mask = torch.isfinite(values)
        return torch.cat(
            [torch.where(mask, values, torch.zeros_like(values)), mask.to(values.dtype)], dim=-1
        )

    def _condition(self, condition: Tensor | None, batch: int, like: Tensor) -> Tensor | None:
        """``condition`` as a (batch, 2n) tensor in ``like``'s dtype and device; zeros (nothing
        asked for) when None; None for an unconditional model."""
        width = self.config.condition_dim
        if width == 0:
            if condition is not None and condition.shape[-1] != 0:
                raise ValueError("this model has no conditions")
            return None
        if condition is None:
            return like.new_zeros(batch, width)
        if condition.shape[-1] != width:
            raise ValueError(
                f"condition must have {width} columns (value and mask of each of "
                f"{len(self.config.conditions)} conditions), got {condition.shape[-1]}"
            )
        condition = condition.to(device=like.device, dtype=like.dtype)
        return condition.expand(batch, -1) if condition.ndim == 1 else condition

    def prior(self, condition: Tensor | None, batch: int) -> tuple[Tensor, Tensor]:
        """(mu, logvar) of the prior p(z|c) for ``batch`` rows, in fp32: zeros (N(0, I)) for
        a model without a learned prior and for rows with nothing asked for."""
        device = self.output.weight.device
        zeros = torch.zeros(batch, self.config.latent_dim, device=device)
        if self.prior_net is None:
            return zeros, zeros
        c = self._condition(condition, batch, zeros)
        n = len(self.config.conditions)
        asked = (c[:, n:].sum(dim=-1, keepdim=True) > 0).float()
        with torch.autocast(device.type, enabled=False):
            mu, logvar = (self.prior_net(c) * asked).chunk(2, dim=-1)
        return mu, logvar.clamp(-20.0, 10.0)

    def _decoder_latent(self, z: Tensor, condition: Tensor | None) -> Tensor:
        """What the decoder reads as its latent: z, or [z, c] for a conditional model."""
        c = self._condition(condition, z.shape[0], z)
        return z if c is None else torch.cat([z, c], dim=-1)

    # ------------------------------------------------------------------ encoder
    def encode(
        self, tokens: Tensor, lengths: Tensor, condition: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """(mu, logvar) of q(z|x) for padded token ids (batch, time) with true ``lengths``
        (and, for a conditional model, the ``condition`` the molecule is encoded under)."""
        x = self.dropout(self.embedding(tokens))
        batch, max_len = tokens.shape
        rows = torch.arange(batch, device=tokens.device)
        last = (lengths - 1).clamp(min=0)
        rev = _reverse_index(lengths, max_len).unsqueeze(-1) if self.config.bidirectional else None
        finals: list[Tensor] = []
        for layer, gru_f in enumerate(self.encoder_forward):
            out_f, _ = gru_f(x)
            finals = [out_f[rows, last]]
            if rev is not None:
                gru_b = self.encoder_backward[layer]
                x_rev = x.gather(1, rev.expand(-1, -1, x.shape[-1]))
                out_b, _ = gru_b(x_rev)
                finals.append(out_b[rows, last])
                out_b = out_b.gather(1, rev.expand(-1, -1, out_b.shape[-1]))  # back to time order
                out_f = torch.cat([out_f, out_b], dim=-1)
            x = self.dropout(out_f)
        # The latent statistics are computed in fp32 even under autocast: mu feeds the property
        # predictor and gradient-based optimization, where bf16's 3 digits are too coarse.
        final = torch.cat(finals, dim=-1).float()
        c = self._condition(condition, batch, final)
        if c is not None:
            final = torch.cat([final, c], dim=-1)
        with torch.autocast(tokens.device.type, enabled=False):
            stats = self.to_latent(final)
        mu, logvar = stats.chunk(2, dim=-1)
        return mu, logvar.clamp(-20.0, 10.0)

    @staticmethod
    def reparameterize(
        mu: Tensor, logvar: Tensor, generator: torch.Generator | None = None
    ) -> Tensor:
        """z = mu + sigma * eps (the reparameterization trick)."""
        eps = torch.randn(mu.shape, device=mu.device, dtype=mu.dtype, generator=generator)
        return mu + eps * torch.exp(0.5 * logvar)

    # ------------------------------------------------------------------ decoder
    def initial_hidden(self, z: Tensor) -> Tensor:
        """Decoder's initial hidden state from its latent (z, or [z, c]: ``_decoder_latent``),
        shape (layers, batch, hidden)."""
        c = self.config
        h = torch.tanh(self.latent_to_hidden(z))
        return h.view(z.shape[0], c.decoder_layers, c.decoder_hidden).transpose(0, 1).contiguous()

    def decode_logits(
        self, z: Tensor, inputs: Tensor, condition: Tensor | None = None
    ) -> Tensor:
        """Teacher-forced logits (batch, time, vocab) for decoder ``inputs`` (starting with bos)."""
        z = self._decoder_latent(z, condition)
        emb = self.dropout(self.embedding(inputs))
        z_steps = z.unsqueeze(1).expand(-1, inputs.shape[1], -1).to(emb.dtype)
        out, _ = self.decoder(torch.cat([emb, z_steps], dim=-1), self.initial_hidden(z))
        return self.output(self.dropout(out))

    def forward(
        self,
        tokens: Tensor,
        lengths: Tensor,
        decoder_inputs: Tensor,
        sample: bool = True,
        condition: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """Encode, sample z, decode with teacher forcing; also predict properties from mu.

        ``condition`` (conditional models) goes to both the encoder and the decoder.
        """
        mu, logvar = self.encode(tokens, lengths, condition)
        z = self.reparameterize(mu, logvar) if sample else mu
        logits = self.decode_logits(z, decoder_inputs, condition)
        out = {"mu": mu, "logvar": logvar, "z": z, "logits": logits}
        if self.prior_net is not None:
            out["prior_mu"], out["prior_logvar"] = self.prior(condition, tokens.shape[0])
        if self.predictor is not None:
            with torch.autocast(mu.device.type, enabled=False):
                out["properties"] = self.predictor(mu.float())
        return out

    def predict_properties(self, mu: Tensor) -> Tensor:
        """Standardized predictions of every ensemble member, (k, batch, n), in fp32.

        Columns follow ``config.all_properties``: the jointly trained head, then fitted heads.
        """
        heads = ([self.predictor] if self.predictor is not None else []) + [
            self.fitted_predictors[str(i)] for i in range(len(self.fitted_predictors))
        ]
        if not heads:
            raise ValueError("this model has no property predictor")
        with torch.autocast(mu.device.type, enabled=False):
            return torch.cat([head(mu.float()) for head in heads], dim=-1)

    @torch.no_grad()
    def generate(
        self,
        z: Tensor,
        max_length: int | None = None,
        strategy: str = "greedy",
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
        condition: Tensor | None = None,
        prefix: Tensor | None = None,
    ) -> Tensor:
        """Decode all of ``z`` in parallel; token ids (batch, <= max_length), padded after eos.

        Stops as soon as every sequence has produced ``<eos>``. ``strategy`` is ``greedy`` or
        ``sample`` (multinomial at ``temperature``, optionally restricted to the ``top_k``).
        ``condition``: see the module docstring.

        ``prefix`` (batch, P) forces each row's first tokens: where it holds a token other than
        ``<pad>``, that token is written at that step instead of the decoder's choice, and the
        decoder continues from it; ``<pad>`` leaves the step to the decoder (a row's prefix
        ends at its first ``<pad>``). The rest of the string is decoded from ``z`` as usual,
        so a molecule's own prefix with its encoding rewrites only its end.
        """
        if strategy not in ("greedy", "sample"):
            raise ValueError(f"strategy must be 'greedy' or 'sample', got {strategy!r}")
        max_length = max_length or self.config.max_length
        batch = z.shape[0]
        device = z.device
        z = self._decoder_latent(z, condition)
        hidden = list(self.initial_hidden(z).unbind(0))
        step, z_proj = self._decoder_step(z)
        token = torch.full((batch,), Vocabulary.bos_id, dtype=torch.long, device=device)
        out = torch.full((batch, max_length), Vocabulary.pad_id, dtype=torch.long, device=device)
        # Rows still decoding. Finished rows are dropped from the batch (their hidden states,
        # z projections and tokens), so the cost follows the mean length, not the longest one.
        rows = torch.arange(batch, device=device)
        if prefix is not None:
            if prefix.shape[0] != batch:
                raise ValueError(f"prefix has {prefix.shape[0]} rows for {batch} latent points")
            prefix = prefix.to(device, torch.long)
            # Positions after a row's first pad are free, whatever follows.
            prefix = prefix.masked_fill(
                (prefix == Vocabulary.pad_id).long().cummax(dim=1).values.bool(),
                Vocabulary.pad_id,
            )
        next_logits = self._next_token_logits(z_proj.dtype)
        for t in range(max_length):
            hidden = step(token, hidden, z_proj)
            logits = next_logits(hidden[-1])
            if strategy == "greedy":
                token = logits.argmax(dim=-1)
            else:
                logits = logits / max(temperature, 1e-6)
                if top_k is not None and 0 < top_k < logits.shape[-1]:
                    kth = logits.topk(top_k, dim=-1).values[:, -1:]
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                probs = torch.softmax(logits, dim=-1)
                token = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            if prefix is not None and t < prefix.shape[1]:
                forced = prefix[rows, t]
                token = torch.where(forced != Vocabulary.pad_id, forced, token)
            out[rows, t] = token
            going = token != Vocabulary.eos_id
            if not bool(going.all()):
                if not bool(going.any()):
                    return out[:, : t + 1]
                rows, token, z_proj = rows[going], token[going], z_proj[going]
                hidden = [h[going] for h in hidden]
        return out

    @torch.no_grad()
    def beam_search(
        self,
        z: Tensor,
        beam_width: int = 8,
        max_length: int | None = None,
        condition: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """The ``beam_width`` most likely strings found for each z, best first.

        Returns token ids (batch, beam_width, <= max_length), padded after eos, and each
        string's log p(x|z) (batch, beam_width). Greedy decoding commits to the likeliest token
        at each step and can miss the likeliest string; a beam keeps the ``beam_width`` best
        prefixes. Finished strings stay in the beam with their final score.
        """
        if beam_width < 1:
            raise ValueError(f"beam_width must be >= 1, got {beam_width}")
        max_length = max_length or self.config.max_length
        batch, k = z.shape[0], beam_width
        device = z.device
        zk = self._decoder_latent(z, condition).repeat_interleave(k, dim=0)
        hidden = list(self.initial_hidden(zk).unbind(0))
        step, z_proj = self._decoder_step(zk)
        next_logits = self._next_token_logits(z_proj.dtype)
        vocab = self.output.out_features
        token = torch.full((batch * k,), Vocabulary.bos_id, dtype=torch.long, device=device)
        seqs = torch.full((batch * k, max_length), Vocabulary.pad_id, dtype=torch.long,
                          device=device)
        # All beams start as the same empty prefix: only the first may expand at step 0.
        scores = torch.full((batch, k), float("-inf"), device=device)
        scores[:, 0] = 0.0
        finished = torch.zeros(batch * k, dtype=torch.bool, device=device)
        offsets = (torch.arange(batch, device=device) * k).unsqueeze(1)
        length = max_length
        for t in range(max_length):
            hidden = step(token, hidden, z_proj)
            logp = torch.log_softmax(next_logits(hidden[-1]), dim=-1)
            # A finished string can only be carried on (as padding) at no cost.
            logp[finished] = float("-inf")
            logp[finished, Vocabulary.pad_id] = 0.0
            top, index = (scores.reshape(-1, 1) + logp).view(batch, k * vocab).topk(k, dim=1)
            source = (offsets + index // vocab).view(-1)
            token = (index % vocab).view(-1)
            seqs = seqs[source]
            seqs[:, t] = token
            hidden = [h[source] for h in hidden]
            finished = finished[source] | (token == Vocabulary.eos_id) | (
                token == Vocabulary.pad_id
            )
            scores = top
            if bool(finished.all()):
                length = t + 1
                break
        return seqs.view(batch, k, max_length)[:, :, :length], scores

    def _next_token_logits(self, dtype: torch.dtype):
        """``hidden -> logits`` (float32) over the vocabulary, for generating.

        Special tokens other than eos are never generated: their output bias is -inf. The
        weight is cast once to the decoder's compute dtype (bf16 under autocast).
        """
        weight = self.output.weight.to(dtype)
        bias = self.output.bias.detach().clone().float()
        bias[[Vocabulary.pad_id, Vocabulary.bos_id, Vocabulary.unk_id]] = float("-inf")

        def logits(hidden: Tensor) -> Tensor:
            with torch.autocast(hidden.device.type, enabled=False):
                return F.linear(hidden, weight).float() + bias

        return logits

    def _decoder_step(self, z: Tensor):
        """One decoder step ``(token, hidden list, z_proj) -> hidden list``, and ``z_proj``.

        The first layer's input projection is split: the token part is precomputed for the
        whole vocabulary (a table lookup per step) and the z part (with a conditional model,
        ``z`` here is the decoder latent [z, c]) once per sequence (returned
        as ``z_proj`` so the caller can drop finished rows from it), so each step multiplies
        only by the recurrent weights. Under autocast the weights are cast once here, not at
        every step. The gate arithmetic is fused (one add and one sigmoid for both gates,
        ``addcmul`` and ``lerp``); results equal ``nn.GRU`` up to rounding.
        """
        gru = self.decoder
        e_dim = self.config.embedding_dim
        hid = self.config.decoder_hidden
        w_ih = gru.weight_ih_l0
        token_proj = F.linear(self.embedding.weight, w_ih[:, :e_dim])  # (vocab, 3H)
        z_proj = F.linear(z, w_ih[:, e_dim:], gru.bias_ih_l0)  # (batch, 3H)
        dtype = token_proj.dtype  # bf16 under CPU autocast, else the parameters' dtype

        def cast(t: Tensor) -> Tensor:
            return t.to(dtype)

        layers = [(None, cast(gru.weight_hh_l0), None, cast(gru.bias_hh_l0))] + [
            tuple(
                cast(getattr(gru, f"{name}_l{k}"))
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            )
            for k in range(1, gru.num_layers)
        ]
        # Reorder so each layer's tuple is (w_ih, b_ih, w_hh, b_hh).
        layers = [(wi, bi, wh, bh) for wi, wh, bi, bh in layers]

        def cell(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor) -> Tensor:
            with torch.autocast(h.device.type, enabled=False):
                gh = F.linear(h, w_hh, b_hh)
                ru = torch.sigmoid(gi[:, : 2 * hid] + gh[:, : 2 * hid])
                r, u = ru[:, :hid], ru[:, hid:]
                n = torch.tanh(torch.addcmul(gi[:, 2 * hid :], r, gh[:, 2 * hid :]))
                return torch.lerp(n, h, u)

        def step(token: Tensor, hidden: list[Tensor], z_proj: Tensor) -> list[Tensor]:
            # The state is kept in the compute dtype (bf16 under autocast, as nn.GRU would).
            hidden = [h.to(dtype) for h in hidden]
            new = []
            x: Tensor | None = None
            for k, (wi, bi, wh, bh) in enumerate(layers):
                if k == 0:
                    gi = token_proj[token] + z_proj
                else:
                    with torch.autocast(x.device.type, enabled=False):
                        gi = F.linear(x, wi, bi)
                x = cell(gi, hidden[k], wh, bh)
                new.append(x)
            return new

        return step, z_proj

    def sequence_log_likelihood(
        self,
        z: Tensor,
        decoder_inputs: Tensor,
        targets: Tensor,
        condition: Tensor | None = None,
    ) -> Tensor:
        """log p(x|z) (log p(x|z, c) with ``condition``) summed over tokens (padding excluded),
        per sequence."""
        logits = self.decode_logits(z, decoder_inputs, condition).float()
        nll = F.cross_entropy(
            logits.transpose(1, 2), targets, ignore_index=Vocabulary.pad_id, reduction="none"
        )
        return -nll.sum(dim=1)

"""The sequence-to-sequence model: a recurrent encoder, attention, and a recurrent decoder.

One file meant to be read in one sitting (nanoGPT's rule). The pieces follow the lecture:

* **Encoder** (Sutskever et al. 2014; bidirectional as in Bahdanau et al. 2015): embeddings, then a
  stack of fused ``nn.LSTM``/``nn.GRU``/``nn.RNN`` layers run on packed sequences.
* **Attention** (Luong et al. 2015 ``dot``/``general``; Bahdanau et al. 2015 ``additive``) is a
  function of (query, keys, values, mask) that *returns* its weights; ``none`` gives the lecture's
  bottleneck model where one vector must carry the whole source.
* **Decoder**: one step function, ``Seq2Seq.decode_step``, serves teacher forcing, greedy and beam search
  (JoeyNMT's decomposition). Input feeding (Luong et al. 2015) concatenates the previous attentional
  vector to the next input.

Every recurrent call goes through ``recurrent.RecurrentStack.forward(..., trace=...)``: with ``trace=False``
it runs the fused kernels (the fast path, used for training and decoding); with ``trace=True`` it runs
``replay.replay_rnn`` on the same parameters and returns every gate (the readable twin, used for
inspection). Shapes: B batch, S source length, T target length, H hidden size, V vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from . import teacher_forcing
from .config import ModelConfig
from .losses import summed_cross_entropy
from .recurrent import RecurrentStack
from .replay import LayerTrace


# --------------------------------------------------------------------------------------- attention
class Attention(nn.Module):
    """Scores a decoder query against every source position and returns (context, weights).

    dot:      e_i = s . k_i, with k_i = h_i (projected to the query size if the sizes differ)
    general:  e_i = s^T W h_i                         (Luong et al. 2015, "multiplicative")
    additive: e_i = v^T tanh(W_1 h_i + W_2 s)          (Bahdanau et al. 2015; computed with a sigmoid, below)
    Keys depend only on the source, so ``keys()`` is computed once per sentence and passed back in
    as a value (never cached on the module, which would break under beam search).
    """

    def __init__(self, kind: str, query_size: int, value_size: int):
        super().__init__()
        self.kind = kind
        if kind == "dot":
            self.key_proj = nn.Identity() if value_size == query_size else nn.Linear(value_size, query_size, bias=False)
        elif kind == "general":
            self.key_proj = nn.Linear(value_size, query_size, bias=False)
        elif kind == "additive":
            self.key_proj = nn.Linear(value_size, query_size, bias=False)
            self.query_proj = nn.Linear(query_size, query_size, bias=False)
            self.v = nn.Linear(query_size, 1, bias=False)
        else:
            raise ValueError(f"unknown attention {kind!r}")

    def keys(self, values: Tensor) -> Tensor:
        """values: (B, S, He) -> keys (B, S, H)."""
        return self.key_proj(values)

    def textbook_scores(self, query: Tensor, keys: Tensor) -> Tensor:
        """The scores e as the papers write them, the readable twin of the fast form in ``forward`` (a test proves
        their softmaxes equal): dot and general e_i = s^T k_i; additive e_i = v^T tanh(W_1 h_i + W_2 s).
        query: (B, T, H); keys: (B, S, H) = ``keys(values)``. Returns (B, T, S), before masking."""
        if self.kind == "additive":
            return self.v(torch.tanh(keys.unsqueeze(1) + self.query_proj(query).unsqueeze(2))).squeeze(-1)
        return query @ keys.transpose(1, 2)

    def forward(self, query: Tensor, keys: Tensor, values: Tensor, mask: Tensor,
                blocked: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """query: (B, T, H); keys: (B, S, H); values: (B, S, He); mask: (B, S) True at real tokens.

        ``blocked`` (B, S) optionally removes source positions (an inspection intervention).
        Returns context (B, T, He) and weights (B, T, S) whose rows sum to 1.
        """
        if self.kind == "additive":
            # v . tanh(z) with tanh(z) = 2 sigmoid(2z) - 1: the -sum(v) it adds to every score cancels in the
            # softmax, so 2 v . sigmoid(2z) gives the same weights. Why: on CPU torch's sigmoid is ~4x faster
            # than its tanh, and this (B, T, S, H) tensor is the largest elementwise one of the decoder step
            # (beam search +13%). In place: nothing in the graph reads the sum or the doubled sum.
            hidden = (keys.unsqueeze(1) + self.query_proj(query).unsqueeze(2)).mul_(2).sigmoid_()  # (B, T, S, H)
            scores = 2 * self.v(hidden).squeeze(-1)  # (B, T, S), equal to v . tanh(z) + sum(v)
        else:
            scores = query @ keys.transpose(1, 2)  # (B, T, S)
        allowed = mask if blocked is None else mask & ~blocked
        scores = scores.masked_fill(~allowed.unsqueeze(1), float("-inf"))
        # softmax in at least float32 (half precision under autocast), never below the model's dtype
        weights = torch.softmax(scores.float() if scores.dtype != torch.float64 else scores, dim=-1).to(values.dtype)
        return weights @ values, weights


# --------------------------------------------------------------------------------------- state
@dataclass
class EncoderOutput:
    """The encoded source, everything the decoder reads. Reorder with ``index_select`` for beams."""

    outputs: Tensor  # (B, S, He) top-layer states, both directions concatenated
    keys: Tensor | None  # (B, S, H) attention keys, None without attention
    mask: Tensor  # (B, S) bool, True at real tokens
    lengths: Tensor  # (B,) source lengths
    final_h: Tensor  # (B, D*H) top encoder layer's final hidden state, directions concatenated
    final_c: Tensor | None  # (B, D*H) the same for the LSTM cell state
    traces: list[LayerTrace] = field(default_factory=list)  # filled only with trace=True

    def index_select(self, index: Tensor) -> EncoderOutput:
        """Pick/repeat sentences (e.g. k copies per sentence for beam search). Traces are dropped."""
        def pick(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.index_select(0, index.to(t.device))
        return EncoderOutput(pick(self.outputs), pick(self.keys), pick(self.mask), pick(self.lengths),
                             pick(self.final_h), pick(self.final_c))


@dataclass
class DecoderState:
    """Recurrent state between decoder steps: h, c (L, B, H) and the previous attentional vector."""

    h: Tensor
    c: Tensor | None
    feed: Tensor | None  # (B, H) previous attentional vector h~_{t-1} (input feeding), else None

    def detached(self) -> DecoderState:
        """The same values with no history: truncated BPTT carries the state across a window edge, but the
        gradient stops there."""
        cut = lambda t: None if t is None else t.detach()  # noqa: E731
        return DecoderState(self.h.detach(), cut(self.c), cut(self.feed))

    def index_select(self, index: Tensor) -> DecoderState:
        """Reorder hypotheses (beam search backpointers): the same index for h, c and feed."""
        return DecoderState(
            self.h.index_select(1, index),
            None if self.c is None else self.c.index_select(1, index),
            None if self.feed is None else self.feed.index_select(0, index),
        )


@dataclass
class StepOutput:
    logits: Tensor | None  # (B, V); None only inside teacher forcing (see ``Seq2Seq._recurrent_step``)
    state: DecoderState
    attention: Tensor | None  # (B, S) this step's attention weights
    traces: list[LayerTrace] = field(default_factory=list)  # decoder gates for this step (trace=True)
    attentional: Tensor | None = None  # (B, H) h~_t, the vector the output layer reads


@dataclass(frozen=True)
class Intervention:
    """A change applied while decoding, for what-if inspection (see ``nmt_core.inspection``)."""

    blocked_source: tuple[int, ...] = ()  # source positions attention may not look at
    # (side "encoder"/"decoder", layer, direction, gate, unit, value): fix one unit of one gate at every
    # step, e.g. ("decoder", 0, 0, "f", 5, 0.0) forgets everything in unit 5. Replay path (trace=True) only.
    clamp_gates: tuple[tuple[str, int, int, str, int, float], ...] = ()

    def clamps(self, side: str) -> dict[tuple[int, int], dict[str, tuple[tuple[int, float], ...]]]:
        """This side's gate clamps as {(layer, direction): {gate: ((unit, value), ...)}} for the replay."""
        out: dict = {}
        for s, layer, direction, gate, unit, value in self.clamp_gates:
            if s == side:
                per_gate = out.setdefault((layer, direction), {})
                per_gate[gate] = (*per_gate.get(gate, ()), (unit, float(value)))
        return out


# --------------------------------------------------------------------------------------- model
class Seq2Seq(nn.Module):
    """Encoder-decoder with optional attention. Explicit methods, no mode strings."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if cfg.src_vocab_size <= 0 or cfg.tgt_vocab_size <= 0:
            raise ValueError("ModelConfig needs src_vocab_size and tgt_vocab_size (set from the tokenizer)")
        self.cfg = cfg
        e, h = cfg.embedding_size, cfg.hidden_size
        enc_out = h * (2 if cfg.bidirectional else 1)
        self.src_embed = nn.Embedding(cfg.src_vocab_size, e, padding_idx=cfg.pad_id)
        self.tgt_embed = nn.Embedding(cfg.tgt_vocab_size, e, padding_idx=cfg.pad_id)
        self.encoder = RecurrentStack(cfg.cell, e, h, cfg.encoder_layers, cfg.bidirectional, cfg.dropout, cfg.residual)
        self.decoder = RecurrentStack(cfg.cell, e + (h if cfg.input_feeding else 0), h, cfg.decoder_layers,
                                      False, cfg.dropout, cfg.residual)
        # The bridge: the encoder's final states initialise every decoder layer (h, and c for LSTM).
        self.bridge_h = nn.Linear(enc_out, h * cfg.decoder_layers)
        self.bridge_c = nn.Linear(enc_out, h * cfg.decoder_layers) if cfg.cell == "lstm" else None
        self.attention = None if cfg.attention == "none" else Attention(cfg.attention, h, enc_out)
        # Attentional vector h~_t = tanh(W_c [a_t; s_t]) (Luong et al. 2015); without attention, tanh(W_c s_t).
        self.combine = nn.Linear(h + (enc_out if self.attention else 0), h)
        self.out = nn.Linear(h, cfg.tgt_vocab_size)
        if cfg.tie_embeddings:  # Press & Wolf 2017: one matrix for "which word came in" and "which goes out"
            self.out.weight = self.tgt_embed.weight
        self.dropout = nn.Dropout(cfg.dropout)
        self._init_forget_bias(cfg.forget_bias)

    def _init_forget_bias(self, value: float) -> None:
        """Start LSTM forget gates open: bias_ih forget slice = value, bias_hh forget slice = 0."""
        if self.cfg.cell != "lstm":
            return
        h = self.cfg.hidden_size
        with torch.no_grad():
            for stack in (self.encoder, self.decoder):
                for rnn in stack.layers:
                    for name, p in rnn.named_parameters():
                        if name.startswith("bias_"):
                            p[h:2 * h] = value if name.startswith("bias_ih") else 0.0

    # ---- encoder
    def encode(self, src: Tensor, lengths: Tensor, *, trace: bool = False,
               intervention: Intervention | None = None) -> EncoderOutput:
        """src: (B, S) ids; lengths: (B,). Returns the encoded source (with gate traces if asked).
        ``intervention`` applies its encoder gate clamps (needs ``trace=True``)."""
        mask = src != self.cfg.pad_id  # (B, S)
        x = self.dropout(self.src_embed(src))  # (B, S, E)
        clamp = intervention.clamps("encoder") if intervention is not None else None
        outputs, (h_n, c_n), traces = self.encoder(x, lengths, trace=trace, clamp=clamp)
        outputs = self.dropout(outputs)  # (B, S, He)
        keys = None if self.attention is None else self.attention.keys(outputs)
        final_c = None if c_n is None else self._top_layer(c_n)
        return EncoderOutput(outputs, keys, mask, lengths, self._top_layer(h_n), final_c, traces)

    def _top_layer(self, states: Tensor) -> Tensor:
        """(L*D, B, H) -> (B, D*H): the top layer's final state, directions concatenated."""
        d = self.encoder.directions
        return torch.cat(list(states[-d:]), dim=-1)

    def init_state(self, enc: EncoderOutput) -> DecoderState:
        h_fin, c_fin = enc.final_h, enc.final_c
        b, layers, hidden = h_fin.shape[0], self.cfg.decoder_layers, self.cfg.hidden_size
        h0 = torch.tanh(self.bridge_h(h_fin)).view(b, layers, hidden).transpose(0, 1).contiguous()
        c0 = None
        if self.bridge_c is not None:
            c0 = self.bridge_c(c_fin).view(b, layers, hidden).transpose(0, 1).contiguous()
        feed = h_fin.new_zeros(b, hidden) if self.cfg.input_feeding else None
        return DecoderState(h0, c0, feed)

    # ---- decoder
    def decode_step(self, y_prev: Tensor, state: DecoderState, enc: EncoderOutput, *,
                    trace: bool = False, intervention: Intervention | None = None) -> StepOutput:
        """One target token for every row. y_prev: (B,) previous token ids. The one step function
        used by teacher forcing (with input feeding), greedy, sampling and beam search."""
        step = self._recurrent_step(self.dropout(self.tgt_embed(y_prev)), state, enc, trace, intervention)
        step.logits = self.out(self.dropout(step.attentional))  # (B, V)
        return step

    def _recurrent_step(self, emb: Tensor, state: DecoderState, enc: EncoderOutput, trace: bool = False,
                        intervention: Intervention | None = None) -> StepOutput:
        """``decode_step`` up to the attentional vector h~_t, without the output layer (``logits`` is
        None). emb: (B, E) the previous token's embedding, after dropout. Teacher forcing applies the output
        layer to all steps at once afterwards: one large matrix product instead of T small ones."""
        x = emb.unsqueeze(1)  # (B, 1, E)
        if state.feed is not None:
            x = torch.cat([x, state.feed.unsqueeze(1)], dim=-1)  # (B, 1, E+H)
        clamp = intervention.clamps("decoder") if intervention is not None else None
        s, (h, c), traces = self.decoder(x, None, (state.h, state.c), trace=trace, clamp=clamp)  # s: (B, 1, H)
        attentional, attn = self._attend(s, enc, intervention)  # (B, 1, H), (B, 1, S)
        attentional = attentional.squeeze(1)  # (B, H)
        feed = attentional if self.cfg.input_feeding else None
        return StepOutput(None, DecoderState(h, c, feed), None if attn is None else attn.squeeze(1),
                          traces, attentional)

    def _attend(self, s: Tensor, enc: EncoderOutput, intervention: Intervention | None):
        """s: (B, T, H) decoder outputs -> attentional vectors (B, T, H) and weights (B, T, S) or None."""
        if self.attention is None:
            return torch.tanh(self.combine(s)), None
        blocked = None
        if intervention is not None and intervention.blocked_source:
            blocked = torch.zeros_like(enc.mask)
            blocked[:, list(intervention.blocked_source)] = True
        context, weights = self.attention(s, enc.keys, enc.outputs, enc.mask, blocked)
        return torch.tanh(self.combine(torch.cat([context, s], dim=-1))), weights

    def decode_teacher_forced(self, tgt_in: Tensor, enc: EncoderOutput) -> tuple[Tensor, Tensor | None]:
        """tgt_in: (B, T) = <s> y_1 .. y_{T-1}. Returns logits (B, T, V) and attention (B, T, S) or None."""
        attentional, attn = self._teacher_forced_attentional(tgt_in, enc)
        return self.out(self.dropout(attentional)), attn

    def _teacher_forced_attentional(self, tgt_in: Tensor, enc: EncoderOutput, tbptt: int | None = None,
                                    readable: bool = False) -> tuple[Tensor, Tensor | None]:
        """The attentional vectors h~_t (B, T, H) for every target position, and attention (B, T, S).

        Without input feeding the decoder RNN does not depend on attention, so the fused RNN runs over
        the whole target at once and attention is computed for all steps in one batched product. With
        input feeding each step needs the previous attentional vector, so the recurrent part of the step
        function is unrolled; the output layer is left to the caller, to run once over all steps.

        ``tbptt=k``: truncated backpropagation through time in the decoder: the target is read in windows of k
        steps, the state is carried from one window to the next (the forward pass is unchanged) but detached,
        so no gradient flows back across a window edge through the recurrence (attention still reaches the
        encoder from every step).

        In training, the common model (one LSTM layer, input feeding, attention) takes ``teacher_forcing.py``,
        the same loop with its backward pass written by hand (1.10-1.13x faster training steps);
        ``readable=True`` forces the loop below, which that module is tested against.
        """
        state = self.init_state(enc)
        if not self.cfg.input_feeding:
            x = self.dropout(self.tgt_embed(tgt_in))  # (B, T, E)
            if not tbptt:
                s, _, _ = self.decoder(x, None, (state.h, state.c))  # (B, T, H)
                return self._attend(s, enc, None)
            outputs = []
            for window in x.split(tbptt, dim=1):  # (B, k, E) each
                s, (h, c), _ = self.decoder(window, None, (state.h, state.c))
                outputs.append(s)
                state = DecoderState(h, c, None).detached()
            return self._attend(torch.cat(outputs, dim=1), enc, None)
        emb = self.dropout(self.tgt_embed(tgt_in))  # (B, T, E): one lookup and one dropout call for all steps
        if not readable and teacher_forcing.can_run(self):
            return teacher_forcing.teacher_forced_lstm(self, emb, state, enc, tbptt)
        attentional, attns = [], []
        for t, emb_t in enumerate(emb.unbind(1)):  # unbind, not emb[:, t]: one stack in backward, not T copies
            if tbptt and t and t % tbptt == 0:
                state = state.detached()
            step = self._recurrent_step(emb_t, state, enc)
            state = step.state
            attentional.append(step.attentional)
            attns.append(step.attention)
        attn = None if self.attention is None else torch.stack(attns, dim=1)
        return torch.stack(attentional, dim=1), attn

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher-forced logits (B, T, V)."""
        return self.decode_teacher_forced(tgt_in, self.encode(src, src_lengths))[0]

    def loss(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor, tgt_out: Tensor,
             label_smoothing: float = 0.0, tbptt: int | None = None) -> tuple[Tensor, Tensor]:
        """Summed token cross-entropy and the number of target tokens (pad excluded), both tensors,
        so the caller can average over any number of batches without a host synchronisation.

        On CPU the output layer, the largest matrix product of the model, runs on the real (non-pad)
        positions only. Selecting them needs their count on the host, a device sync on a GPU, so CUDA/MPS
        keep the padded (B, T) grid (``ignore_index`` drops the padding from the loss)."""
        attentional, _ = self._teacher_forced_attentional(tgt_in, self.encode(src, src_lengths), tbptt)  # (B, T, H)
        real = tgt_out != self.cfg.pad_id  # (B, T)
        if attentional.device.type == "cpu":
            attentional, target = attentional[real], tgt_out[real]  # (N, H), (N,)
        else:
            attentional, target = attentional.flatten(0, 1), tgt_out.flatten()  # (B*T, H), (B*T,)
        logits = self.out(self.dropout(attentional))  # (N, V)
        if logits.dtype in (torch.float16, torch.bfloat16):  # autocast: the softmax in float32
            logits = logits.float()
        # = F.cross_entropy(..., reduction="sum"), with a backward pass that reuses the log-probabilities
        # in place (losses.py: 7.8% faster training steps on CPU, small configuration)
        loss = summed_cross_entropy(logits, target, ignore_index=self.cfg.pad_id, label_smoothing=label_smoothing)
        return loss, real.sum()

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

"""The hidden attention of Mamba-2: each mixer's state-space scan written as a masked attention matrix.

By state-space duality (Dao & Gu 2024, "Transformers are SSMs"), a Mamba-2 head's scan over a sequence is

    y_t = sum_{s <= t} (C_t . B_s) * exp(sum_{k=s+1..t} dt_k * A) * dt_s * x_s  +  D * x_t

that is ``y = M x + D x`` with ``M = L o (C Bᵀ) diag(dt)``: ``L`` the causal decay mask built from the time steps
``dt`` (softplus of the projection plus ``dt_bias``, clamped to ``time_step_limit``) and ``A = -exp(A_log)``, and
``C Bᵀ`` the scores of the input-dependent output and input projections. ``M`` is the head's attention matrix,
one per layer and head, lower-triangular like a causal transformer's (no softmax; entries can be negative).

``mixer_inputs`` recomputes ``x``, ``B``, ``C`` and ``dt`` from a ``Mamba2Mixer``'s own parameters and its input
(as its PyTorch path does: in_proj, causal depthwise conv + activation, padding zeroed); ``ssd_matrices`` builds
``M``; ``forward_with_hidden_matrices`` runs a model once and returns every mixer's ``M`` from the inputs that pass
really gave its mixers (forward hooks). ``M x + D x`` reproduces the mixer's scan output (before its gated norm)
to float32 rounding: ``tests/test_mamba2.py`` checks it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers.models.mamba2.modeling_mamba2 import Mamba2Mixer


@dataclass
class MixerInputs:
    """What a mixer's scan reads, per position: ``x`` [B, T, H, P], ``B`` and ``C`` [B, T, H, N] (each head's
    group's), ``dt`` [B, T, H] (after softplus and clamping), ``A`` [H] and ``D`` [H]."""

    x: torch.Tensor
    B: torch.Tensor
    C: torch.Tensor
    dt: torch.Tensor
    A: torch.Tensor
    D: torch.Tensor


def mixer_inputs(mixer: Mamba2Mixer, hidden_states: torch.Tensor,
                 attention_mask: torch.Tensor | None = None) -> MixerInputs:
    """The scan's inputs of ``mixer`` for its input ``hidden_states`` [B, T, hidden] (``attention_mask`` [B, T]:
    the 2D mask the mixer was given, or ``None``), in float32."""
    def masked(t: torch.Tensor) -> torch.Tensor:
        return t if attention_mask is None else t * attention_mask[:, :, None].to(t.dtype)

    batch_size, seq_len, _ = hidden_states.shape
    projected = mixer.in_proj(masked(hidden_states))
    _, xbc, dt = projected.split([mixer.intermediate_size, mixer.conv_dim, mixer.num_heads], dim=-1)
    conv = mixer.conv1d(xbc.transpose(1, 2))[..., :seq_len]  # the layer's padding is causal: cut the tail
    xbc = masked(mixer.act(conv).transpose(1, 2))
    group_width = mixer.n_groups * mixer.ssm_state_size
    x, B, C = xbc.split([mixer.intermediate_size, group_width, group_width], dim=-1)
    per_group = mixer.num_heads // mixer.n_groups

    def heads(t: torch.Tensor) -> torch.Tensor:  # [B, T, G * N] -> [B, T, H, N]
        t = t.reshape(batch_size, seq_len, mixer.n_groups, mixer.ssm_state_size).float()
        return t.repeat_interleave(per_group, dim=2)

    low, high = mixer.time_step_limit
    dt = F.softplus(dt.float() + mixer.dt_bias.float()).clamp(min=low, max=high)
    return MixerInputs(x=x.reshape(batch_size, seq_len, mixer.num_heads, mixer.head_dim).float(), B=heads(B),
                       C=heads(C), dt=dt, A=-torch.exp(mixer.A_log.float()), D=mixer.D.float())


def decay_mask(dt: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """``L`` [B, H, T, T]: ``exp(sum_{k=s+1..t} dt_k A)`` for ``s <= t``, 0 above the diagonal (``dt`` [B, T, H])."""
    log_decay = (dt * A).permute(0, 2, 1)  # [B, H, T]
    cumulative = log_decay.cumsum(-1)
    seq_len = dt.shape[1]
    causal = torch.tril(torch.ones(seq_len, seq_len, dtype=torch.bool, device=dt.device))
    # differences of cumulative sums, masked before exp so that the upper triangle cannot overflow
    exponent = (cumulative[..., :, None] - cumulative[..., None, :]).masked_fill(~causal, -torch.inf)
    return torch.exp(exponent)


def ssd_matrices(inputs: MixerInputs) -> torch.Tensor:
    """``M = L o (C Bᵀ) diag(dt)`` [B, H, T, T]: row t, column s is what ``x_s`` adds to ``y_t``."""
    scores = torch.einsum("bthn,bshn->bhts", inputs.C, inputs.B)
    return decay_mask(inputs.dt, inputs.A) * scores * inputs.dt.permute(0, 2, 1)[:, :, None, :]


def apply_matrices(matrices: torch.Tensor, inputs: MixerInputs) -> torch.Tensor:
    """``y = M x + D x`` [B, T, H * P]: the scan output the matrices stand for."""
    y = torch.einsum("bhts,bshp->bthp", matrices, inputs.x) + inputs.D[:, None] * inputs.x
    return y.reshape(*y.shape[:2], -1)


class MixerRecorder:
    """Forward hooks on every ``Mamba2Mixer`` of a model, in module order: each call's input and mask
    (``inputs``), and the scan output its gated norm received (``scan_outputs``, the ``y`` the matrices
    reproduce). Use as a context manager; the hooks are removed on exit."""

    def __init__(self, model: nn.Module):
        self.mixers = [(name, m) for name, m in model.named_modules() if isinstance(m, Mamba2Mixer)]
        self.inputs: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}
        self.scan_outputs: dict[str, torch.Tensor] = {}
        self._handles: list = []

    def __enter__(self) -> MixerRecorder:
        for name, mixer in self.mixers:
            self._handles.append(mixer.register_forward_pre_hook(self._keep_input(name), with_kwargs=True))
            self._handles.append(mixer.norm.register_forward_pre_hook(self._keep_scan(name)))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _keep_input(self, name: str):
        def hook(module, args, kwargs):
            hidden = args[0] if args else kwargs["hidden_states"]
            self.inputs[name] = (hidden.detach(), kwargs.get("attention_mask"))
        return hook

    def _keep_scan(self, name: str):
        def hook(module, args):
            self.scan_outputs[name] = args[0].detach()
        return hook

    def matrices(self) -> dict[str, torch.Tensor]:
        """Every recorded mixer's ``M`` [B, H, T, T], by module name."""
        named = dict(self.mixers)
        with torch.no_grad():
            return {name: ssd_matrices(mixer_inputs(named[name], hidden, mask))
                    for name, (hidden, mask) in self.inputs.items()}


def forward_with_hidden_matrices(model: nn.Module, **model_inputs):
    """One forward pass of ``model`` (no gradients) and every mixer's hidden attention from that pass:
    ``(output, {mixer module name: M [B, H, T, T]})``, in module order (the forward stack's layers, then the
    backward stack's, whose rows and columns are in its own right-to-left order)."""
    with MixerRecorder(model) as recorder, torch.no_grad():
        out = model(**model_inputs)
    return out, recorder.matrices()


def display_weights(matrices: dict[str, torch.Tensor]) -> tuple[torch.Tensor, list[str]]:
    """The heatmap of one unpadded row's matrices: ``[layer, head, T, T]`` of ``|M|`` with each row scaled to sum
    to 1 (how much of a token's output each earlier token's input makes up, whatever its sign), and the layers'
    labels. A backward stack's layers are turned back to left-to-right order (upper-triangular)."""
    layers, labels = [], []
    for name, matrix in matrices.items():
        weights = matrix[0].abs()
        backward = ".backward_backbone." in f".{name}"
        if backward:
            weights = weights.flip(-1).flip(-2)
        layers.append(weights / weights.sum(-1, keepdim=True).clamp(min=1e-12))
        labels.append(f"{'backward' if backward else 'forward'} layer {name.split('.layers.')[-1].split('.')[0]}")
    return torch.stack(layers), labels


def hidden_attention_maps(model: nn.Module, tokenizer, ids: list[int], text: str, model_name: str,
                          prompt_length: int | None = None, input_start: int = 0, **model_inputs):
    """One forward pass over ``ids`` (one row, no padding) and its :class:`hf_rnn.families.attention.AttentionMaps` of
    kind ``"self-attention"``: every mixer's hidden attention, normalised for display (``display_weights``);
    ``meta`` says what the weights are. Returns ``(output, maps)``."""
    from hf_rnn.families.attention import AttentionMaps, token_strings

    device = next(model.parameters()).device
    tensor = torch.tensor([list(ids)], dtype=torch.long, device=device)
    out, matrices = forward_with_hidden_matrices(model, input_ids=tensor, **model_inputs)
    weights, labels = display_weights(matrices)
    tokens = token_strings(tokenizer, ids)
    meta = {"family": "mamba2", "input_start": int(input_start), "layers": labels,
            "weights": "hidden attention of the state-space scan, |L o C B^T diag(dt)| with rows scaled to sum to 1"}
    maps = AttentionMaps(tokens, list(tokens), weights.cpu().numpy(), "self-attention", model_name,
                         prompt_length=prompt_length if prompt_length is not None and prompt_length < len(ids)
                         else None, text=text, meta=meta)
    return out, maps

"""Inside the vision tower, captured in the same forward pass that gives the embedding:

* per-head attention maps (the CLS row over the patches, or the mean attention each patch receives
  without a CLS token), before the heads are averaged;
* the direct contributions of each layer's each head to the image embedding (Gandelsman, Efros &
  Steinhardt, ICLR 2024): a CLIP embedding is ``P(LN(x_L))`` with ``x_L = x_0 + sum_l (attn_l +
  mlp_l)`` at the CLS token and ``attn_l = sum_h W_O[:, h] z_lh + b_O``; the final layer norm is
  linearised with the statistics of ``x_L`` itself, so each term ``c`` contributes
  ``P(gamma * (c - mean(c)) / sigma)``. The heads' terms and the rest (``x_0``, the MLPs, the biases,
  ``beta``), each from its own captured tensor, add up to the embedding;
* the logit lens: each layer's tokens through the final layer norm and the projection (CLIP: the
  CLS token; SigLIP: its pooling head over all tokens), an embedding per layer.
"""

from __future__ import annotations

import contextlib

from ..errors import ModelLoadError


def direct_available(model) -> str | None:
    """None when the model's embedding decomposes by heads (a CLS-pooled CLIP); else why not."""
    vision = getattr(model, "vision_model", None)
    if getattr(model, "visual_projection", None) is None or getattr(vision, "post_layernorm", None) is None:
        return f"{type(model).__name__} does not pool a CLS token through a final layer norm and projection"
    if getattr(vision, "head", None) is not None:
        return f"{type(model).__name__} pools with an attention head: no direct decomposition by heads"
    return None


@contextlib.contextmanager
def capture_direct(model, layers):
    """Hooks for the direct decomposition: per layer the heads' outputs at the CLS token (the input of
    ``out_proj``) and the MLP's output there. Yields a dict filled by the forward pass."""
    found: dict = {"heads": [], "mlp": []}
    handles = []
    for attention in layers:
        handles.append(
            attention.out_proj.register_forward_pre_hook(lambda _m, args: found["heads"].append(args[0][:, 0]))
        )
    for layer in model.vision_model.encoder.layers:
        handles.append(layer.mlp.register_forward_hook(lambda _m, _a, out: found["mlp"].append(out[:, 0])))
    try:
        yield found
    finally:
        for handle in handles:
            handle.remove()


def direct_contributions(model, layers, found: dict, hidden_states) -> tuple:
    """((N, L, H, D) each head's direct contribution, (N, D) the rest), from the captured tensors and
    the hidden states (their first: x_0, the input of the first layer; their last: x_L)."""
    import torch

    vision = model.vision_model
    ln, projection = vision.post_layernorm, model.visual_projection
    x0, xl = hidden_states[0][:, 0].float(), hidden_states[-1][:, 0].float()
    sigma = torch.sqrt(xl.var(dim=-1, unbiased=False, keepdim=True) + ln.eps)

    def through(c, beta=False):  # c: (N, ..., d), sigma per image
        scale = sigma.reshape(len(sigma), *([1] * (c.ndim - 1)))
        centred = (c - c.mean(dim=-1, keepdim=True)) * ln.weight.float() / scale
        return projection((centred + (ln.bias.float() if beta else 0.0)).to(projection.weight.dtype)).float()

    heads = []
    for attention, z in zip(layers, found["heads"]):
        count = attention.num_heads
        w = attention.out_proj.weight.float()  # (d, H * dh)
        z = z.float().reshape(len(z), count, -1)  # (N, H, dh)
        per_head = torch.einsum("nhk,dhk->nhd", z, w.reshape(w.shape[0], count, -1))  # (N, H, d)
        heads.append(through(per_head))
    rest = x0 + sum(m.float() for m in found["mlp"])
    rest = rest + sum(a.out_proj.bias.float() for a in layers if a.out_proj.bias is not None)
    return torch.stack(heads, dim=1), through(rest, beta=True)


def lens_embeddings(model, hidden_states):
    """(N, L, D): each layer's output tokens through the final layer norm and the projection."""
    import torch

    vision = model.vision_model
    out = []
    for tokens in hidden_states[1:]:
        if getattr(vision, "head", None) is not None:  # SigLIP: the pooling head over every token
            out.append(vision.head(vision.post_layernorm(tokens)))
        elif getattr(model, "visual_projection", None) is not None:
            out.append(model.visual_projection(vision.post_layernorm(tokens[:, 0])))
        else:
            raise ModelLoadError(f"{type(model).__name__}: no final projection to read the layers through")
    return torch.stack([o.float() for o in out], dim=1)


class TowerRead:
    """Hooks for one forward pass: the attention maps (heads averaged, and per head when asked), the
    direct decomposition and the logit lens; ``result`` puts them on the ``Encoded``."""

    def __init__(self, model, layers, grid, attention: bool, tower: frozenset, name: str):
        self.model, self.layers, self.grid, self.attention, self.tower, self.name = (
            model,
            layers,
            grid,
            attention,
            tower,
            name,
        )
        if "direct" in tower and direct_available(model) is not None:
            raise ModelLoadError(f"{name}: direct contributions are not available: {direct_available(model)}")
        self.maps, self.per_head, self.hidden, self.direct, self.lens = [], [], None, None, None
        self._stack = contextlib.ExitStack()

    def __enter__(self):
        if self.attention:
            n_patches = self.grid[0] * self.grid[1]

            def hook(_module, _inputs, output):
                weights = output[1] if isinstance(output, tuple) and len(output) > 1 else None
                if weights is None:
                    self.maps.append(None)
                    return
                heads = weights.float()  # (B, H, T, T)
                if heads.shape[-1] == n_patches + 1:  # CLS token first: its row over the patches
                    maps = heads[:, :, 0, 1:]
                else:  # no CLS (SigLIP): the mean attention each patch receives
                    maps = heads[:, :, :, -n_patches:].mean(dim=2)
                self.maps.append(maps.mean(dim=1))  # heads averaged: the map every attention metric reads
                if "heads" in self.tower:
                    self.per_head.append(maps)

            for layer in self.layers:
                handle = layer.register_forward_hook(hook)
                self._stack.callback(handle.remove)
        if "direct" in self.tower:
            self.found = self._stack.enter_context(capture_direct(self.model, self.layers))
        return self

    def __exit__(self, *exc):
        self._stack.close()
        return False

    def after_forward(self, out) -> None:
        """Inside the forward's inference mode: what is read off its hidden states."""
        self.hidden = getattr(out, "hidden_states", None)
        if "direct" in self.tower:
            self.direct = direct_contributions(self.model, self.layers, self.found, self.hidden)
        if "lens" in self.tower:
            self.lens = lens_embeddings(self.model, self.hidden)

    def result(self, encoded, hidden_states: bool):
        import torch

        if self.attention:
            if len(self.maps) != len(self.layers) or any(m is None for m in self.maps):
                import transformers

                raise ModelLoadError(
                    f"{self.name}: expected one attention map per layer ({len(self.layers)}), got "
                    f"{sum(m is not None for m in self.maps)} with attn_implementation="
                    f"{self.model.config._attn_implementation!r} under transformers {transformers.__version__}; "
                    "attention capture needs eager attention"
                )
            maps = torch.stack(self.maps, dim=1)
            encoded.attention = maps.reshape(maps.shape[0], maps.shape[1], *self.grid).cpu().numpy()
        if self.per_head:
            maps = torch.stack(self.per_head, dim=1)  # (B, L, H, n_patches)
            encoded.head_attention = maps.reshape(*maps.shape[:3], *self.grid).cpu().numpy()
        if (hidden_states or self.tower & {"direct", "lens"}) and not self.hidden:
            raise ModelLoadError(f"{self.name}: the model returned no hidden states")
        if hidden_states:
            encoded.hidden_states = torch.stack(self.hidden, dim=1).float().cpu().numpy()
        if self.direct is not None:
            encoded.direct_heads, encoded.direct_rest = (t.cpu().numpy() for t in self.direct)
        if self.lens is not None:
            encoded.lens = self.lens.cpu().numpy()
        return encoded

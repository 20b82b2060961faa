"""The attention viewer: pick an input sequence, a block and a head; see where each token looks.

Plain functions first (the static version, for viewers that cannot run widgets):

- :func:`attention_maps` runs one sequence through a model built from :class:`labs_lib.models.TransformerBlock`
  layers and returns every block's attention weights, shape ``(num_blocks, num_heads, seq_len, seq_len)``;
- :func:`plot_attention` draws one map as a heat map beside a "who attends where" diagram (a line from each
  query token to each key token, as thick and dark as its weight);
- :func:`strongest_links` says the same in words.

:class:`AttentionViewer` wires an input slider and block, head and query dropdowns to them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ipywidgets as widgets
import keras
import numpy as np
from IPython.display import Image
from IPython.display import display as ipy_display
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from labs_lib import models
from labs_lib.widgets import display

MEAN_OF_HEADS = -1  # the head choice that averages all heads


def transformer_blocks(model: keras.Model) -> list[models.TransformerBlock]:
    """The model's Transformer blocks, in order."""
    blocks = [layer for layer in model.layers if isinstance(layer, models.TransformerBlock)]
    if not blocks:
        raise ValueError(f"model {model.name!r} has no labs_lib.models.TransformerBlock layer: the viewer "
                         "reads attention weights from those (build it with models.build_transformer or "
                         "build_gpt)")
    return blocks


def _block_inputs(model: keras.Model) -> keras.Model:
    """A model from the inputs to every block's input (what each block's attention sees)."""
    blocks = transformer_blocks(model)
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs  # the structure the model was built with
    return keras.Model(inputs, [block.input for block in blocks], name=f"{model.name}_block_inputs")


def attention_maps(model: keras.Model, tokens: np.ndarray, feeder: keras.Model | None = None) -> np.ndarray:
    """Attention weights of every block and head for one sequence: ``(num_blocks, num_heads, seq_len, seq_len)``.

    Row ``i`` of a map is query position ``i``; its entries, which sum to 1, say how much that position takes
    from each key position. ``feeder`` (from a previous call, to save time) maps the inputs to each block's input.
    """
    tokens = np.asarray(tokens)
    if tokens.ndim == 1:
        tokens = tokens[None, :]  # (1, seq_len)
    if tokens.ndim != 2 or len(tokens) != 1:
        raise ValueError(f"pass one sequence of token ids, shape (seq_len,); got shape {tokens.shape}")
    feeder = feeder or _block_inputs(model)
    inputs = feeder(tokens.astype("int32"), training=False)
    inputs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    maps = [keras.ops.convert_to_numpy(block.attention_scores(x))[0]  # (heads, seq_len, seq_len)
            for block, x in zip(transformer_blocks(model), inputs, strict=True)]
    return np.stack(maps).astype(np.float64)


def select(maps: np.ndarray, block: int, head: int) -> np.ndarray:
    """One map from :func:`attention_maps`: ``block`` from 1, ``head`` from 1 or :data:`MEAN_OF_HEADS`."""
    if not 1 <= block <= len(maps):
        raise ValueError(f"block must be between 1 and {len(maps)}, got {block}")
    if head == MEAN_OF_HEADS:
        return maps[block - 1].mean(axis=0)
    if not 1 <= head <= maps.shape[1]:
        raise ValueError(f"head must be between 1 and {maps.shape[1]} (or MEAN_OF_HEADS), got {head}")
    return maps[block - 1, head - 1]


def strongest_links(weights: np.ndarray, query_labels: Sequence[str], key_labels: Sequence[str],
                    query: int | None = None, top: int = 2) -> list[str]:
    """In words: for each query position (or just ``query``, from 0), the ``top`` keys it attends to most."""
    rows = range(len(weights)) if query is None else [query]
    lines = []
    for i in rows:
        order = np.argsort(-weights[i], kind="stable")[:top]
        targets = ", ".join(f"position {j + 1} ('{key_labels[j]}') {weights[i, j]:.2f}" for j in order)
        lines.append(f"position {i + 1} ('{query_labels[i]}') attends most to {targets}")
    return lines


def plot_attention(weights: np.ndarray, query_labels: Sequence[str], key_labels: Sequence[str], title: str = "",
                   query: int | None = None, fig: Figure | None = None) -> Figure:
    """Left: the map (rows: queries, columns: keys); right: lines from each query to each key, weighted.

    With ``query`` (a position from 0) only that row is drawn on the right and it is framed on the left.
    """
    weights = np.asarray(weights)
    n_q, n_k = weights.shape
    if len(query_labels) != n_q or len(key_labels) != n_k:
        raise ValueError(f"{n_q} query and {n_k} key labels needed, got {len(query_labels)} and {len(key_labels)}")
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(10, 4.2))
    ax_map, ax_links = fig.subplots(1, 2, gridspec_kw={"left": 0.09, "right": 0.97, "bottom": 0.14, "top": 0.86,
                                                       "wspace": 0.3, "width_ratios": [1.15, 1]})
    image = ax_map.imshow(weights, cmap="viridis", vmin=0, vmax=max(float(weights.max()), 1e-9))
    fig.colorbar(image, ax=ax_map, fraction=0.046, pad=0.03)
    ax_map.set_xticks(range(n_k), [str(s) for s in key_labels], fontsize=8)
    ax_map.set_yticks(range(n_q), [str(s) for s in query_labels], fontsize=8)
    ax_map.set_xlabel("key (attended to)")
    ax_map.set_ylabel("query (attending)")
    if query is not None:
        ax_map.add_patch(Rectangle((-0.5, query - 0.5), n_k, 1, fill=False, edgecolor="red", linewidth=2))
    rows = range(n_q) if query is None else [query]
    top = max(float(weights.max()), 1e-9)
    for i in rows:
        for j in range(n_k):
            w = weights[i, j] / top
            if w > 0.02:
                ax_links.plot([0, 1], [i, j], color="#1f4e79", alpha=min(1.0, 0.1 + 0.9 * w), lw=0.5 + 3.5 * w)
    for i, label in enumerate(query_labels):
        ax_links.text(-0.04, i, str(label), ha="right", va="center", fontsize=8,
                      color="red" if query == i else "black")
    for j, label in enumerate(key_labels):
        ax_links.text(1.04, j, str(label), ha="left", va="center", fontsize=8)
    ax_links.set_xlim(-0.3, 1.3)
    ax_links.set_ylim(max(n_q, n_k) - 0.5, -0.5)
    ax_links.axis("off")
    ax_links.set_title("queries (left) attend to keys (right)", fontsize=9, y=1.01)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


class AttentionViewer:
    """Pick an input, a block and a head: the attention map and which tokens attend where.

    ``inputs`` are token ids ``(num_examples, seq_len)``; ``token_names`` turns an id into text (a list indexed by
    id, or a function), by default the id itself; ``targets`` (optional, same shape) label each query row as
    ``input→target``, as in lesson 09's sorting task.
    """

    def __init__(self, model: keras.Model, inputs: np.ndarray,
                 token_names: Sequence[str] | Callable[[int], str] | None = None,
                 targets: np.ndarray | None = None, height: str = "370px"):
        self.model = model
        self.inputs = np.asarray(inputs)
        if self.inputs.ndim != 2 or len(self.inputs) == 0:
            raise ValueError(f"inputs must be token ids of shape (num_examples, seq_len), got {self.inputs.shape}")
        self.targets = None if targets is None else np.asarray(targets)
        self.token_names = token_names
        self.blocks = transformer_blocks(model)
        self.num_heads = self.blocks[0].num_heads
        self._feeder = _block_inputs(model)
        self._cache: dict[int, np.ndarray] = {}
        self.errors: list[str] = []
        self.png = b""
        self.weights: np.ndarray | None = None  # the map drawn last, (seq_len, seq_len)
        style = {"description_width": "60px"}
        seq_len = self.inputs.shape[1]
        self.example = widgets.IntSlider(value=0, min=0, max=len(self.inputs) - 1, description="input",
                                         continuous_update=False, style=style)
        self.block = widgets.Dropdown(options=[(f"block {i}", i) for i in range(1, len(self.blocks) + 1)],
                                      value=1, description="block", style=style, layout={"width": "160px"})
        self.head = widgets.Dropdown(options=[(f"head {h}", h) for h in range(1, self.num_heads + 1)]
                                     + [("mean of heads", MEAN_OF_HEADS)], value=1, description="head", style=style,
                                     layout={"width": "200px"})
        self.query = widgets.Dropdown(options=[("all positions", -1)] + [(f"position {i + 1}", i) for i in range(seq_len)],
                                      value=-1, description="query", style=style, layout={"width": "200px"})
        self.status = widgets.HTML()
        self.links = widgets.HTML()
        controls = {"example": self.example, "block": self.block, "head": self.head, "query": self.query}
        self.output = widgets.interactive_output(self._update, controls)
        self.output.layout = widgets.Layout(height=height, overflow="hidden")
        self.widget = widgets.VBox([widgets.HBox([self.example, self.block, self.head, self.query]), self.status,
                                    self.output, self.links])
        self.widget.add_class("labs-attention-viewer")

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _name(self, token: int) -> str:
        if self.token_names is None:
            return str(int(token))
        if callable(self.token_names):
            return str(self.token_names(int(token)))
        return str(self.token_names[int(token)])

    def labels(self, example: int) -> tuple[list[str], list[str]]:
        """Row (query) and column (key) labels of an input."""
        keys = [self._name(t) for t in self.inputs[example]]
        if self.targets is None:
            return keys, keys
        return [f"{k}→{self._name(t)}" for k, t in zip(keys, self.targets[example], strict=True)], keys

    def maps(self, example: int) -> np.ndarray:
        """All maps of one input (computed once, then cached)."""
        if example not in self._cache:
            self._cache[example] = attention_maps(self.model, self.inputs[example], self._feeder)
        return self._cache[example]

    def _update(self, example: int, block: int, head: int, query: int) -> None:
        """Compute (once per input) and draw (called by ``interactive_output`` with the controls' values)."""
        with display.errors_shown_in(self.status, self.errors):
            weights = select(self.maps(example), block, head)
            rows, keys = self.labels(example)
            chosen = None if query < 0 else query
            head_name = "mean of heads" if head == MEAN_OF_HEADS else f"head {head}"
            fig = plot_attention(weights, rows, keys, f"input {example}: block {block}, {head_name}", chosen,
                                 display.new_figure(10, 4.4))
            self.png = display.figure_png(fig)
            self.weights = weights
            lines = strongest_links(weights, rows, keys, chosen, top=2)
            self.links.value = "<br>".join(display.message_html(line) for line in lines[:12])
            self.status.value = ""
            ipy_display(Image(self.png))


def attention_viewer(model: keras.Model, inputs: np.ndarray, **kwargs) -> AttentionViewer:
    """The attention viewer (see :class:`AttentionViewer`)."""
    return AttentionViewer(model, inputs, **kwargs)

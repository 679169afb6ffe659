"""The lecture's RNN layer, written exactly as its equations, one time step at a time.

Lecture (CS344 "Advanced Recurrent Neural Networks", slides "RNN Forward Propagation"):

    A = [[0 0 ... 0]]                      # (1, units)
    for t = 0 .. T-1:
        A   = g(X_t . W_X + A . W_A + b_A)  # g = tanh
        y_t = g(A . W_Y + b_Y)              # g = sigmoid, softmax or linear, depending on the problem

    Shapes: W_X (d, units), W_A (units, units), b_A (units,), W_Y (units, ?), b_Y (?,)

`SimpleRNN` keeps its parameters in exactly those shapes (a batch dimension is added in front of `A`), so it can
be read side by side with the slides. It is a teaching/reference implementation: a Python loop, slow; the models
in `modeling_rnn.py` use the fused `nn.RNN` kernel, and `copy_from_fused` / `from_model` show that the two
compute the same function.
"""

from __future__ import annotations

import torch
from torch import nn

OUTPUT_ACTIVATIONS = {
    "linear": lambda z: z,
    "sigmoid": torch.sigmoid,
    "softmax": lambda z: torch.softmax(z, dim=-1),
}


class SimpleRNN(nn.Module):
    """One RNN layer plus its output layer, as in the lecture.

    Args:
        input_size (`int`): `d`, features per time step (e.g. the embedding size).
        units (`int`): number of RNN units.
        output_size (`int`): size of `y_t` (the slides' `?`).
        output_activation (`str`, *optional*, defaults to `"linear"`): `g` of the output layer: `"linear"`,
            `"sigmoid"` or `"softmax"`. The hidden activation is tanh, as in the slides and in `nn.RNN`.

    Parameters: `W_X` (d, units), `W_A` (units, units), `b_A` (units,), `W_Y` (units, output_size),
    `b_Y` (output_size,).
    """

    def __init__(self, input_size: int, units: int, output_size: int, output_activation: str = "linear"):
        super().__init__()
        if output_activation not in OUTPUT_ACTIVATIONS:
            raise ValueError(
                f"output_activation must be one of {sorted(OUTPUT_ACTIVATIONS)}, got {output_activation!r}."
            )
        self.output_activation = output_activation
        bound = units**-0.5
        self.W_X = nn.Parameter(torch.empty(input_size, units).uniform_(-bound, bound))
        self.W_A = nn.Parameter(torch.empty(units, units).uniform_(-bound, bound))
        self.b_A = nn.Parameter(torch.zeros(units))
        self.W_Y = nn.Parameter(torch.empty(units, output_size).uniform_(-bound, bound))
        self.b_Y = nn.Parameter(torch.zeros(output_size))

    def forward(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the slides' loop.

        Args:
            X (`torch.Tensor` of shape `(batch_size, T, d)`): the inputs `X_0 ... X_{T-1}`.

        Returns:
            `(y, A_all)`: `y` of shape `(batch_size, T, output_size)` (every `y_t`; take `y[:, -1]` for a
            non-sequence output such as sentiment classification) and `A_all` of shape `(batch_size, T, units)`
            (the activation `A` after each step).
        """
        g_out = OUTPUT_ACTIVATIONS[self.output_activation]
        A = X.new_zeros(X.shape[0], self.W_A.shape[0])  # A = [[0 0 ... 0]]
        ys, activations = [], []
        for t in range(X.shape[1]):
            A = torch.tanh(X[:, t] @ self.W_X + A @ self.W_A + self.b_A)
            y_t = g_out(A @ self.W_Y + self.b_Y)
            activations.append(A)
            ys.append(y_t)
        return torch.stack(ys, dim=1), torch.stack(activations, dim=1)

    @torch.no_grad()
    def copy_from_fused(self, rnn: nn.RNN, output_layer: nn.Linear) -> SimpleRNN:
        """Copy weights from a one-layer, unidirectional, tanh `nn.RNN` and its output `nn.Linear`.

        PyTorch stores `weight_ih` as (units, d) and computes `x W_ih^T + b_ih + h W_hh^T + b_hh`, so
        `W_X = W_ih^T`, `W_A = W_hh^T` and `b_A = b_ih + b_hh` (PyTorch's two biases only act through their sum;
        with `keras_bias=True` `b_hh` is a zero buffer). Likewise `W_Y = W_out^T`, `b_Y = b_out`.
        """
        if rnn.num_layers != 1 or rnn.bidirectional or rnn.nonlinearity != "tanh":
            raise ValueError(
                "copy_from_fused needs a one-layer, unidirectional, tanh nn.RNN (the lecture's layer)."
            )
        self.W_X.copy_(rnn.weight_ih_l0.T)
        self.W_A.copy_(rnn.weight_hh_l0.T)
        self.b_A.copy_(rnn.bias_ih_l0 + rnn.bias_hh_l0)
        self.W_Y.copy_(output_layer.weight.T)
        self.b_Y.copy_(output_layer.bias)
        return self

    @classmethod
    def from_model(cls, model, output_activation: str = "linear") -> SimpleRNN:
        """Build the step-by-step twin of an `RNNForTokenClassification` / `RNNForSequenceClassification` with
        `cell="rnn"`, one layer, unidirectional, no attention and no hidden classifier layers.

        Feed it `model.get_input_embeddings()(input_ids)`: its `y` equals the model's logits (token
        classification) or `y[:, -1]` equals them (sequence classification), up to float rounding.
        """
        config = model.config
        if config.cell != "rnn" or config.classifier_hidden_sizes or config.attention != "none":
            raise ValueError("from_model needs cell='rnn', attention='none' and classifier_hidden_sizes=[].")
        output_layer = model.classifier.layers[-1]
        twin = cls(config.embedding_size, config.hidden_size, output_layer.out_features, output_activation)
        return twin.copy_from_fused(model.rnn.layers, output_layer)

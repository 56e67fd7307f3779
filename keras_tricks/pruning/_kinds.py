"""The table of layer kinds: what pruning masks in each kind of Keras layer.

`layer_kind(layer)` names the kind (by `isinstance`, so a user's subclass of
`Dense` is a dense layer; a layer of any class opts in with a method
`get_prunable_weights()`), `prunable_variables(layer, kind)` lists the
variables that get masks, and `UNIT_AXIS` says which kinds can be pruned by
whole output units and along which kernel axis.
"""

import keras

# Kinds of layers whose whole output units can be ranked and removed, and the
# kernel axis that indexes those units.
UNIT_AXIS = {
    "dense": -1,
    "conv": -1,
    "conv_transpose": -2,
    "separable": -1,
    "embedding": -1,
    "custom": -1,
}

_TRANSPOSES = (
    keras.layers.Conv1DTranspose,
    keras.layers.Conv2DTranspose,
    keras.layers.Conv3DTranspose,
)
_SEPARABLES = (keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)
_CONVS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)

# Checked in order; the first class that matches names the kind.
_KINDS = (
    (keras.layers.Dense, "dense"),
    (keras.layers.EinsumDense, "einsum"),
    (_TRANSPOSES, "conv_transpose"),
    (_SEPARABLES, "separable"),
    (_CONVS, "conv"),
    (keras.layers.Embedding, "embedding"),
    (keras.layers.MultiHeadAttention, "attention"),
    (keras.layers.Bidirectional, "bidirectional"),
    (keras.layers.RNN, "recurrent"),  # the cell's kernel and recurrent kernel
)


def layer_kind(layer):
    """What part of `layer` can be pruned, as a short name, or `None`."""
    if hasattr(layer, "get_prunable_weights"):
        return "custom"
    for classes, kind in _KINDS:
        if isinstance(layer, classes):
            return kind
    return None


def cell_kernels(rnn):
    """The kernel and recurrent kernel of a recurrent layer's cell (those it has)."""
    cell = rnn.cell
    names = ("kernel", "recurrent_kernel")
    return [getattr(cell, n) for n in names if getattr(cell, n, None) is not None]


def prunable_variables(layer, kind):
    """The variables of a built `layer` that pruning masks."""
    if kind == "custom":
        return list(layer.get_prunable_weights())
    if kind in ("dense", "einsum", "conv", "conv_transpose"):
        return [layer.kernel]
    if kind == "separable":
        return [layer.pointwise_kernel]
    if kind == "embedding":
        return [layer.embeddings]
    if kind == "attention":
        denses = (layer.query_dense, layer.key_dense, layer.value_dense)
        return [d.kernel for d in denses] + [layer.output_dense.kernel]
    if kind == "recurrent":
        return cell_kernels(layer)
    if kind == "bidirectional":
        return cell_kernels(layer.forward_layer) + cell_kernels(layer.backward_layer)
    return []


def unit_bias(layer, kind):
    """The bias pruned with its units under `granularity="unit"`, or `None`."""
    if kind in ("dense", "conv", "conv_transpose", "separable") and layer.use_bias:
        return layer.bias
    return None

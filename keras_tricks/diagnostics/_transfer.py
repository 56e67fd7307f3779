"""Transfer learning by the seeds' table, with fine-tuning at a tenth of the learning
rate.

`FineTuneOptimizer` lives in `keras_tricks.optimizers.fine_tune`; it is
re-exported from `keras_tricks.diagnostics` as the same class.
"""

from keras_tricks import _checks
from keras_tricks.diagnostics import _data, _layers
from keras_tricks.diagnostics._report import Report
from keras_tricks.optimizers.fine_tune import FineTuneOptimizer

_TABLE = {
    ("little", "similar"): ("Use Linear Classifier on top layer", "none"),
    ("much", "similar"): ("Finetune a few layers", "few"),
    ("much", "different"): ("Finetune a larger number of layers", "many"),
    ("little", "different"): (
        "You're in trouble. Try linear classifier from different stages",
        "none",
    ),
}


def plan_transfer_learning(
    model,
    head_layers,
    data_size,
    similarity,
    optimizer,
    few_layers=2,
    many_fraction=0.5,
    multiplier=0.1,
):
    """Freeze, fine-tune and train a pretrained model by the seeds' table.

    - very little data, very similar dataset: linear classifier on top
    - very little data, very different dataset: in trouble: try linear
      classifiers from different stages
    - quite a lot of data, very similar dataset: fine-tune a few layers
    - quite a lot of data, very different dataset: fine-tune a larger number of
      layers

    The new head (`head_layers`) always trains at the full learning rate.
    Pretrained layers with weights are frozen, except the top `few_layers`
    ("a few") or the top `many_fraction` of them ("a larger number"), which
    are fine-tuned at `multiplier` (a tenth) of the learning rate through a
    `FineTuneOptimizer`. The function sets `layer.trainable` on the model;
    compile it afterwards with `report.optimizer`. Frozen BatchNormalization
    layers run in inference mode in Keras 3, as fine-tuning wants.

    Backends: every backend.

    Args:
        model: `keras.Model`, pretrained layers followed by the new head.
        head_layers: int (the last `head_layers` layers with weights) or
            list of str (layer names): the new, randomly initialised head.
        data_size: `"little"` or `"much"`.
        similarity: `"similar"` or `"different"`, the new dataset versus the
            one the model was pretrained on.
        optimizer: `keras.optimizers.Optimizer` or name, with a float rate.
        few_layers: int >= 1, layers fine-tuned for much, similar data.
            Defaults to `2`.
        many_fraction: float in (0, 1], fraction of pretrained layers
            fine-tuned for much, different data. Defaults to `0.5`.
        multiplier: float in (0, 1], fine-tuning rate over the head's rate.
            Defaults to `0.1`.

    Returns:
        `Report` with the table's advice, numbers (layer counts), and the
        attributes `optimizer` (`FineTuneOptimizer`), `head_layers`,
        `fine_tune_layers`, `frozen_layers` (lists of names).

    Example:
    >>> plan = keras_tricks.diagnostics.plan_transfer_learning(
    ...     model, head_layers=1, data_size="much", similarity="similar",
    ...     optimizer=keras.optimizers.Adam(1e-3))
    >>> model.compile(optimizer=plan.optimizer, loss="sparse_categorical_crossentropy")

    Reference:
    - [Yosinski et al., 2014, How transferable are features](https://arxiv.org/abs/1411.1792)
    - [CS231n, Transfer learning](https://cs231n.github.io/transfer-learning/)
    """
    _data.check_model(model)
    data_size = _checks.check_choice("data_size", data_size, ("little", "much"))
    similarity = _checks.check_choice(
        "similarity", similarity, ("similar", "different")
    )
    few_layers = _checks.check_int("few_layers", few_layers, minimum=1)
    many_fraction = _checks.check_range(
        "many_fraction", many_fraction, 0.0, 1.0, low_closed=False, high_closed=True
    )
    # Checked before any layer's `trainable` is set.
    multiplier = _checks.check_range(
        "multiplier", multiplier, 0.0, 1.0, low_closed=False, high_closed=True
    )
    weighted = [layer for layer in _layers.walk(model) if layer.weights]
    names = [layer.name for layer in weighted]
    head = _head_names(names, head_layers)
    body = [n for n in names if n not in head]
    advice, depth = _TABLE[(data_size, similarity)]
    tuned = _fine_tuned_names(body, depth, few_layers, many_fraction)
    for layer in weighted:
        layer.trainable = layer.name in head or layer.name in tuned
    frozen = [n for n in body if n not in tuned]
    summary = (
        f"{data_size} data, {similarity} dataset: {advice}; head {len(head)} layer(s) "
        f"at the full rate, {len(tuned)} fine-tuned at {multiplier:g}x, "
        f"{len(frozen)} frozen"
    )
    report = Report(
        "transfer learning plan",
        True,
        summary,
        {"head": len(head), "fine_tuned": len(tuned), "frozen": len(frozen)},
        advice=_extra_advice(data_size, similarity),
    )
    report.optimizer = FineTuneOptimizer(
        optimizer, fine_tune_layers=tuned, multiplier=multiplier
    )
    report.head_layers = head
    report.fine_tune_layers = tuned
    report.frozen_layers = frozen
    return report


def _head_names(names, head_layers):
    """The head's layer names: the last `head_layers` of `names`, or the names given."""
    if isinstance(head_layers, int) and not isinstance(head_layers, bool):
        head_layers = _checks.check_int("head_layers", head_layers, minimum=1)
        if head_layers >= len(names):
            _checks.fail(
                "head_layers",
                head_layers,
                "must leave pretrained layers below the head "
                f"({len(names)} layers with weights)",
            )
        return names[-head_layers:]
    if isinstance(head_layers, (list, tuple)) and all(n in names for n in head_layers):
        return list(head_layers)
    _checks.fail(
        "head_layers",
        head_layers,
        "must be an int or a list of names of layers with weights",
    )


def _fine_tuned_names(body, depth, few_layers, many_fraction):
    """The top layers of `body` to fine-tune: none, `few_layers`, or `many_fraction` of
    them."""
    if depth == "none":
        return []
    if depth == "few":
        return body[-few_layers:]
    return body[-max(1, round(many_fraction * len(body))) :]


def _extra_advice(data_size, similarity):
    if (data_size, similarity) != ("little", "different"):
        return []
    return [
        "Features from the top of a network trained on a very different "
        "dataset transfer poorly: try linear classifiers on earlier stages."
    ]

"""Transfer learning by the seeds' table, with fine-tuning at a tenth of the learning rate."""

import difflib

import keras

from keras_tricks import _checks
from keras_tricks.diagnostics import _data
from keras_tricks.diagnostics._lint import _walk
from keras_tricks.diagnostics._report import Report


@keras.saving.register_keras_serializable(package="keras_tricks")
class FineTuneOptimizer(keras.optimizers.Optimizer):
    """Train the layers being fine-tuned at `multiplier` times the learning rate.

    Keras 3 compiles one optimizer per model. This wrapper holds two copies of
    `optimizer`: one at its own learning rate for every variable outside
    `fine_tune_layers` (the new head), one at `multiplier` times that rate
    for the variables of `fine_tune_layers` (the pretrained layers being
    fine-tuned). Each copy keeps its own state for its own variables, so the
    rule holds for adaptive optimizers too: scaling the gradients of Adam by
    0.1 would change nothing, since Adam divides by the gradient's own scale;
    scaling its learning rate does. Setting `learning_rate` sets both rates.
    `iterations` counts the wrapper's steps, whichever group they touched
    (every layer may be fine-tuned). A name in `fine_tune_layers` that no
    trainable variable of the model belongs to raises a `ValueError` when
    the optimizer is built (at the first step of `fit`), naming the
    unknown name, the closest layer name and the model's layers.

    Args:
        optimizer: `keras.optimizers.Optimizer` (or its name), with a float
            learning rate (not a schedule).
        fine_tune_layers: list of str, names of the layers trained at the
            lower rate. A variable belongs to them when a component of its
            `path` is one of these names (nested models work).
        multiplier: float in (0, 1], ratio of the fine-tuning rate to the
            head's. Defaults to `0.1` ("1/10 of original LR is a good
            starting point").
        name: str, the optimizer's name. Defaults to `"fine_tune_optimizer"`.

    Example:
    >>> opt = keras_tricks.diagnostics.FineTuneOptimizer(
    ...     keras.optimizers.Adam(1e-3), fine_tune_layers=["block5_conv3"])
    >>> model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")

    Reference:
    - [CS231n, Transfer learning](https://cs231n.github.io/transfer-learning/)
    """

    def __init__(self, optimizer, fine_tune_layers, multiplier=0.1, name=None, **kwargs):
        if kwargs:
            raise ValueError(
                "`FineTuneOptimizer` takes no base optimizer arguments; set them on "
                f"`optimizer`. Received: kwargs={sorted(kwargs)!r}"
            )
        if isinstance(optimizer, (str, dict)):
            optimizer = keras.optimizers.get(optimizer)
        if not isinstance(optimizer, keras.optimizers.Optimizer):
            raise ValueError(
                "`optimizer` must be a keras.optimizers.Optimizer. "
                f"Received: optimizer={optimizer!r}"
            )
        config = optimizer.get_config()
        if not isinstance(config.get("learning_rate"), (int, float)):
            raise ValueError(
                "`optimizer` must have a float learning rate, not a schedule. "
                f"Received: optimizer={type(optimizer).__name__} with "
                f"learning_rate={config.get('learning_rate')!r}"
            )
        if isinstance(fine_tune_layers, str) or not all(
            isinstance(n, str) for n in fine_tune_layers
        ):
            raise ValueError(
                "`fine_tune_layers` must be a list of layer names. "
                f"Received: fine_tune_layers={fine_tune_layers!r}"
            )
        multiplier = _checks.check_range(
            "multiplier", multiplier, 0.0, 1.0, low_closed=False, high_closed=True
        )
        super().__init__(learning_rate=0.0, name=name or "fine_tune_optimizer")
        self.head_optimizer = optimizer
        body_config = dict(config)
        body_config["learning_rate"] = float(config["learning_rate"]) * multiplier
        body_config["name"] = f"{config['name']}_fine_tune"
        self.body_optimizer = type(optimizer).from_config(body_config)
        self.fine_tune_layers = list(fine_tune_layers)
        self.multiplier = multiplier

    def _in_body(self, variable):
        parts = variable.path.split("/")[:-1]
        return any(part in self.fine_tune_layers for part in parts)

    def _check_names(self, var_list):
        """Refuse names that no trainable variable belongs to (a typo would train the body at full rate)."""
        known = list(dict.fromkeys(part for v in var_list for part in v.path.split("/")[:-1]))
        unknown = [n for n in self.fine_tune_layers if n not in known]
        if not unknown:
            return
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, known, n=1)
            if close:
                hints.append(f"{name!r} -> did you mean {close[0]!r}?")
        raise ValueError(
            "`fine_tune_layers` must name layers of the model that have trainable "
            f"weights; unknown: {unknown}"
            + (f" ({'; '.join(hints)})" if hints else "")
            + f". Layers with trainable weights: {known}. "
            f"Received: fine_tune_layers={self.fine_tune_layers!r}"
        )

    def build(self, var_list):
        self._check_names(var_list)
        mask = tuple(self._in_body(v) for v in var_list)
        self._body_mask = mask
        head = [v for v, m in zip(var_list, mask, strict=True) if not m]
        body = [v for v, m in zip(var_list, mask, strict=True) if m]
        self.head_optimizer.build(head)
        self.body_optimizer.build(body)
        super().build(var_list)

    @property
    def variables(self):
        return self._variables + self.head_optimizer.variables + self.body_optimizer.variables

    def _split(self, values, variables):
        head, body = ([], []), ([], [])
        for value, variable in zip(values, variables, strict=True):
            group = body if self._in_body(variable) else head
            group[0].append(value)
            group[1].append(variable)
        return head, body

    def apply(self, grads, trainable_variables=None):
        if not self.built:
            self.build(trainable_variables)
            self.built = True
        variables = (
            list(trainable_variables) if trainable_variables is not None else self._trainable_variables
        )
        head, body = self._split(list(grads), variables)
        for optimizer, (group_grads, group_vars) in (
            (self.head_optimizer, head),
            (self.body_optimizer, body),
        ):
            if any(g is not None for g in group_grads):
                optimizer.apply(group_grads, group_vars)
        # Count every step, whichever group it touched (all layers may be fine-tuned).
        self._iterations.assign_add(1)

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        own = len(self._variables)
        n_head = len(self.head_optimizer.variables)
        head_state = list(optimizer_variables[own : own + n_head])
        body_state = list(optimizer_variables[own + n_head :])
        mask = self._body_mask
        new_values = list(trainable_variables)
        for optimizer, flag, state in (
            (self.head_optimizer, False, head_state),
            (self.body_optimizer, True, body_state),
        ):
            index = [i for i, m in enumerate(mask) if m == flag]
            if not index:
                continue
            values, new_state = optimizer.stateless_apply(
                state, [grads[i] for i in index], [trainable_variables[i] for i in index]
            )
            for i, value in zip(index, values, strict=True):
                new_values[i] = value
            state[:] = new_state
        own_state = list(optimizer_variables[:own])
        for i, variable in enumerate(self._variables):
            if variable is self._iterations:
                own_state[i] = own_state[i] + 1
        return new_values, own_state + head_state + body_state

    @property
    def learning_rate(self):
        return self.head_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        # The base class sets its own rate during __init__, before the copies exist.
        if "head_optimizer" not in self.__dict__:
            self._learning_rate = learning_rate
            return
        self.head_optimizer.learning_rate = learning_rate
        self.body_optimizer.learning_rate = float(learning_rate) * self.multiplier

    def finalize_variable_values(self, var_list):
        head, body = self._split(var_list, var_list)
        if head[1]:
            self.head_optimizer.finalize_variable_values(head[1])
        if body[1]:
            self.body_optimizer.finalize_variable_values(body[1])

    def get_config(self):
        return {
            "name": self.name,
            "optimizer": keras.optimizers.serialize(self.head_optimizer),
            "fine_tune_layers": list(self.fine_tune_layers),
            "multiplier": self.multiplier,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        optimizer = keras.optimizers.deserialize(config.pop("optimizer"), custom_objects=custom_objects)
        return cls(optimizer, **config)


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

    |                    | very similar dataset | very different dataset |
    |--------------------|----------------------|------------------------|
    | very little data   | linear classifier on top | in trouble: try linear classifiers from different stages |
    | quite a lot of data| fine-tune a few layers | fine-tune a larger number of layers |

    The new head (`head_layers`) always trains at the full learning rate.
    Pretrained layers with weights are frozen, except the top `few_layers`
    ("a few") or the top `many_fraction` of them ("a larger number"), which
    are fine-tuned at `multiplier` (a tenth) of the learning rate through a
    `FineTuneOptimizer`. The function sets `layer.trainable` on the model;
    compile it afterwards with `report.optimizer`. Frozen BatchNormalization
    layers run in inference mode in Keras 3, as fine-tuning wants.

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
    similarity = _checks.check_choice("similarity", similarity, ("similar", "different"))
    few_layers = _checks.check_int("few_layers", few_layers, minimum=1)
    many_fraction = _checks.check_range(
        "many_fraction", many_fraction, 0.0, 1.0, low_closed=False, high_closed=True
    )
    # Checked before any layer's `trainable` is set.
    multiplier = _checks.check_range(
        "multiplier", multiplier, 0.0, 1.0, low_closed=False, high_closed=True
    )
    weighted = [layer for layer in _walk(model) if layer.weights]
    names = [layer.name for layer in weighted]
    if isinstance(head_layers, int) and not isinstance(head_layers, bool):
        head_layers = _checks.check_int("head_layers", head_layers, minimum=1)
        if head_layers >= len(weighted):
            raise ValueError(
                f"`head_layers` must leave pretrained layers below the head "
                f"({len(weighted)} layers with weights). Received: head_layers={head_layers}"
            )
        head = names[-head_layers:]
    elif isinstance(head_layers, (list, tuple)) and all(n in names for n in head_layers):
        head = list(head_layers)
    else:
        raise ValueError(
            "`head_layers` must be an int or a list of names of layers with weights. "
            f"Received: head_layers={head_layers!r}"
        )
    body = [n for n in names if n not in head]
    advice, depth = _TABLE[(data_size, similarity)]
    if depth == "none":
        tuned = []
    elif depth == "few":
        tuned = body[-few_layers:]
    else:
        tuned = body[-max(1, round(many_fraction * len(body))) :]
    for layer in weighted:
        layer.trainable = layer.name in head or layer.name in tuned
    frozen = [n for n in body if n not in tuned]
    fine_tune = FineTuneOptimizer(optimizer, fine_tune_layers=tuned, multiplier=multiplier)
    summary = (
        f"{data_size} data, {similarity} dataset: {advice}; head {len(head)} layer(s) "
        f"at the full rate, {len(tuned)} fine-tuned at {multiplier:g}x, {len(frozen)} frozen"
    )
    extra = []
    if (data_size, similarity) == ("little", "different"):
        extra.append(
            "Features from the top of a network trained on a very different "
            "dataset transfer poorly: try linear classifiers on earlier stages."
        )
    report = Report(
        "transfer learning plan",
        True,
        summary,
        {"head": len(head), "fine_tuned": len(tuned), "frozen": len(frozen)},
        advice=extra,
    )
    report.optimizer = fine_tune
    report.head_layers = head
    report.fine_tune_layers = tuned
    report.frozen_layers = frozen
    return report

"""FineTuneOptimizer: pretrained layers at a fraction of the head's learning rate.

What this wrapper relies on in Keras (and nothing else of Keras's internals;
`tests/diagnostics/test_fine_tune_keras_contract.py` checks each point and
fails loudly if a Keras upgrade changes one):

1. `keras.optimizers.Optimizer.variables` (the base property) lists the
   optimizer's own variables, `iterations` among them (the very object), and
   nothing else when the learning rate is a float. `_own_variables` reads
   it; the wrapper's `variables` appends its two copies' states after it.
2. `Optimizer.__init__` stores its learning rate without calling the
   `learning_rate` property setter (which this class overrides).
3. Saving and loading go through `optimizer.variables`
   (`save_own_variables`, `load_own_variables`), so both copies' states are
   saved with the model.
4. The trainers call `optimizer.build(trainable_variables)` then
   `optimizer.apply(grads, trainable_variables)` (TensorFlow, PyTorch) or
   `optimizer.stateless_apply(values of optimizer.variables, grads,
   values of trainable_variables)` (JAX), so overriding these routes every
   step through the two copies.
"""

import difflib

import keras

from keras_tricks import _checks


class _Untracked:
    """Holds the model's variables out of Keras's automatic tracking.

    An optimizer adopts as its own state any `keras.Variable` set on it, in a
    list or tuple too; the model's variables must not become optimizer
    variables (nor be saved with it).
    """

    def __init__(self, variables):
        self.variables = list(variables)


def _own_variables(optimizer):
    """The variables the base `Optimizer` tracks for `optimizer` itself (point 1
    above)."""
    return keras.optimizers.Optimizer.variables.fget(optimizer)


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

    Backends: every backend (`apply` on TensorFlow and PyTorch,
    `stateless_apply` on JAX).

    Also importable as `keras_tricks.diagnostics.FineTuneOptimizer` (the same
    class, registered as `keras_tricks>FineTuneOptimizer`).

    Example:
    >>> opt = keras_tricks.diagnostics.FineTuneOptimizer(
    ...     keras.optimizers.Adam(1e-3), fine_tune_layers=["block5_conv3"])
    >>> model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")

    Reference:
    - [CS231n, Transfer learning](https://cs231n.github.io/transfer-learning/)
    """

    def __init__(
        self, optimizer, fine_tune_layers, multiplier=0.1, name=None, **kwargs
    ):
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
        """Refuse names that no trainable variable belongs to (a typo would train the
        body at full rate)."""
        known = list(
            dict.fromkeys(part for v in var_list for part in v.path.split("/")[:-1])
        )
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
        self._built_variables = _Untracked(var_list)
        head = [v for v, m in zip(var_list, mask, strict=True) if not m]
        body = [v for v, m in zip(var_list, mask, strict=True) if m]
        self.head_optimizer.build(head)
        self.body_optimizer.build(body)
        super().build(var_list)

    @property
    def variables(self):
        """The wrapper's own variables, then the head copy's, then the body copy's."""
        return (
            _own_variables(self)
            + self.head_optimizer.variables
            + self.body_optimizer.variables
        )

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
            list(trainable_variables)
            if trainable_variables is not None
            else self._built_variables.variables
        )
        head, body = self._split(list(grads), variables)
        for optimizer, (group_grads, group_vars) in (
            (self.head_optimizer, head),
            (self.body_optimizer, body),
        ):
            if any(g is not None for g in group_grads):
                optimizer.apply(group_grads, group_vars)
        # Count every step, whichever group it touched (all layers may be fine-tuned).
        self.iterations.assign_add(1)

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        own_variables = _own_variables(self)
        own = len(own_variables)
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
                state,
                [grads[i] for i in index],
                [trainable_variables[i] for i in index],
            )
            for i, value in zip(index, values, strict=True):
                new_values[i] = value
            state[:] = new_state
        own_state = list(optimizer_variables[:own])
        for i, variable in enumerate(own_variables):
            if variable is self.iterations:
                own_state[i] = own_state[i] + 1
        return new_values, own_state + head_state + body_state

    @property
    def learning_rate(self):
        return self.head_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        if "head_optimizer" not in self.__dict__:
            return  # before the copies exist: the wrapper's own rate is never read
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
        optimizer = keras.optimizers.deserialize(
            config.pop("optimizer"), custom_objects=custom_objects
        )
        return cls(optimizer, **config)

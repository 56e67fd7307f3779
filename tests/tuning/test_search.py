"""Keras Tuner's four tuners over ImageClassifierHyperModel, on the digits.

One module fixture runs RandomSearch, Hyperband, BayesianOptimization and
GridSearch (two trials each, one or two epochs on a subset) with a 2-replica
`MirroredStrategy`, and keeps, per tuner, the best model as the tuner reloads
it. "The score the tuner recorded" is the best trial's `score`: its best
epoch's `val_loss`, measured on the validation data with the weights the
tuner checkpointed at that epoch. Evaluating the reloaded best model on the
same validation data (deterministic: no augmentation or dropout at
inference, BatchNorm on its moving statistics) must give it back.

The models here leave augmentation out: tracing it under the strategy doubles
the search time. test_search_spaces.py saves and reloads a model with it.
"""

import json
import os
import subprocess
import sys
import textwrap
import warnings

import keras
import numpy as np
import pytest

import keras_tricks
from keras_tricks import tuning

keras_tuner = pytest.importorskip("keras_tuner")
tfds = pytest.importorskip("tensorflow_datasets")

_TUNERS = ("random_search", "hyperband", "bayesian_optimization", "grid_search")
_SKIPPING = "Skipping variable loading for optimizer"
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(keras_tricks.__file__)))


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    data = keras_tricks.datasets.load(data_dir=str(tmp_path_factory.mktemp("tfds")))
    train = data.train.take(192)
    validation = data.test.take(96)
    x, y = (np.stack(a) for a in zip(*tfds.as_numpy(train), strict=True))
    x_val, y_val = (np.stack(a) for a in zip(*tfds.as_numpy(validation), strict=True))
    return {
        "data": data,
        "train": train,
        "validation": validation,
        "x": x,
        "y": y,
        "x_val": x_val,
        "y_val": y_val,
    }


def _tuner(kind, hypermodel, strategy, directory):
    common = dict(
        objective="val_loss",
        directory=directory,
        project_name=kind,
        overwrite=True,
        seed=3,
        distribution_strategy=strategy,
    )
    if kind == "random_search":
        return keras_tuner.RandomSearch(hypermodel, max_trials=2, **common)
    if kind == "hyperband":
        # One bracket of two trials, two epochs each.
        return keras_tuner.Hyperband(hypermodel, max_epochs=2, factor=3, **common)
    if kind == "bayesian_optimization":
        # Its Gaussian process's acquisition, by finite differences over every
        # dimension, took 58 s over the whole space (about 50 dimensions) on
        # 2 busy cores: two dimensions here, the rest at their defaults.
        hp = keras_tuner.HyperParameters()
        hp.Choice("optimizer", ["adam", "radam"])
        hp.Float("dropout", 0.2, 0.5, step=0.1)
        return keras_tuner.BayesianOptimization(
            hypermodel,
            max_trials=2,
            num_initial_points=1,
            hyperparameters=hp,
            tune_new_entries=False,
            **common,
        )
    # A small discrete grid: the optimizer and the normalization are searched,
    # every other hyperparameter stays at its default.
    hp = keras_tuner.HyperParameters()
    hp.Choice("optimizer", ["adam", "radam"])
    hp.Choice("normalization", ["group"])
    return keras_tuner.GridSearch(
        hypermodel, max_trials=2, hyperparameters=hp, tune_new_entries=False, **common
    )


@pytest.fixture(scope="module")
def searches(digits, strategy, tmp_path_factory):
    root = tmp_path_factory.mktemp("searches")
    validation = (digits["x_val"], digits["y_val"])
    records = {}
    for kind in _TUNERS:
        hypermodel = tuning.ImageClassifierHyperModel(
            digits["data"].input_shape,
            digits["data"].num_classes,
            filters=(8,),
            max_blocks=1,
            batch_sizes=(32, 64),
            augment=False,
        )
        tuner = _tuner(kind, hypermodel, strategy, str(root))
        if kind == "random_search":
            # The unbatched tf.data the datasets module gives; fit batches it.
            tuner.search(
                digits["train"],
                validation_data=digits["validation"],
                epochs=1,
                verbose=0,
            )
        else:
            tuner.search(
                digits["x"],
                digits["y"],
                validation_data=validation,
                epochs=1,
                verbose=0,
            )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            best = tuner.get_best_models(1)[0]
        trial = tuner.oracle.get_best_trials(1)[0]
        evaluated = best.evaluate(*validation, verbose=0, return_dict=True)
        path = str(root / f"{kind}.keras")
        best.save(path)
        slots = root / f"{kind}_optimizer.npz"
        np.savez(
            slots, *[keras.ops.convert_to_numpy(v) for v in best.optimizer.variables]
        )
        records[kind] = {
            "tuner": tuner,
            "trials": [
                t for t in tuner.oracle.trials.values() if t.status == "COMPLETED"
            ],
            "score": trial.score,
            "evaluated": evaluated["loss"],
            "warnings": [str(w.message) for w in caught],
            "iterations": int(keras.ops.convert_to_numpy(best.optimizer.iterations)),
            "path": path,
            "slots": str(slots),
        }
    np.savez(root / "validation.npz", x=digits["x_val"], y=digits["y_val"])
    records["validation"] = str(root / "validation.npz")
    return records


@pytest.mark.parametrize("kind", _TUNERS)
def test_search_runs_its_trials(searches, kind):
    record = searches[kind]
    assert len(record["trials"]) == 2
    assert all(np.isfinite(t.score) for t in record["trials"])
    if kind == "grid_search":
        drawn = sorted(t.hyperparameters.get("optimizer") for t in record["trials"])
        assert drawn == ["adam", "radam"]


@pytest.mark.parametrize("kind", _TUNERS)
def test_best_model_reloads_with_its_optimizer_state_and_no_warning(searches, kind):
    record = searches[kind]
    assert not [w for w in record["warnings"] if _SKIPPING in w], record["warnings"]
    # The checkpoint's optimizer state came back: steps were taken.
    assert record["iterations"] > 0


@pytest.mark.parametrize("kind", _TUNERS)
def test_best_model_evaluates_to_the_recorded_score(searches, kind):
    record = searches[kind]
    np.testing.assert_allclose(record["evaluated"], record["score"], rtol=1e-5)


def test_best_models_reload_from_keras_files_in_a_fresh_process(searches):
    """One fresh process (no keras_tuner importable) loads every saved best model."""
    cases = {
        k: {
            "path": searches[k]["path"],
            "slots": searches[k]["slots"],
            "score": searches[k]["score"],
        }
        for k in _TUNERS
    }
    script = textwrap.dedent(
        """
        import json, sys, warnings
        sys.modules["keras_tuner"] = None  # the saved models must not need it
        import numpy as np, keras, keras_tricks
        assert callable(keras_tricks.tuning.optimizer)
        cases, validation = json.loads(sys.argv[1]), np.load(sys.argv[2])
        out = {}
        for kind, case in cases.items():
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                model = keras.models.load_model(case["path"])
            saved = np.load(case["slots"])
            slots = [keras.ops.convert_to_numpy(v) for v in model.optimizer.variables]
            same = len(slots) == len(saved.files) and all(
                np.array_equal(a, saved[f"arr_{i}"]) for i, a in enumerate(slots))
            loss = model.evaluate(validation["x"], validation["y"], verbose=0,
                                  return_dict=True)["loss"]
            out[kind] = {"same_slots": bool(same), "loss": loss,
                         "iterations": int(model.optimizer.iterations),
                         "warnings": [str(w.message) for w in caught]}
        try:
            keras_tricks.tuning.ImageClassifierHyperModel
        except ImportError:
            out["no_tuner"] = True
        print("RESULT" + json.dumps(out))
        """
    )
    env = {**os.environ, "PYTHONPATH": _ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(cases), searches["validation"]],
        capture_output=True,
        text=True,
        env=env,
        # A hang guard, not a timing: a fresh TensorFlow import on a busy machine
        # took minutes (300 s timed out).
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert _SKIPPING not in done.stderr
    out = json.loads(done.stdout.split("RESULT", 1)[1])
    assert out.pop("no_tuner") is True
    for kind, result in out.items():
        assert result["same_slots"], kind
        assert result["iterations"] > 0
        assert not result["warnings"], result["warnings"]
        np.testing.assert_allclose(result["loss"], cases[kind]["score"], rtol=1e-5)

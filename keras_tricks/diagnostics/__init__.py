"""keras_tricks.diagnostics: checks that catch training bugs before they cost a run.

Overfit one batch, the loss at initialization, an input-independent baseline,
a batch-dependency check, a loss-curve monitor, a model linter and a
transfer-learning plan; `diagnose` runs the checks in order.

The linter is a list of rules (`LINT_RULES`), each a function of a
`LintContext`; pass your own with `lint_model(model, rules=[...])`.
`FineTuneOptimizer` lives in `keras_tricks.optimizers.fine_tune` and is
re-exported here.
"""

from keras_tricks.diagnostics._diagnose import diagnose
from keras_tricks.diagnostics._lint import LINT_RULES, LintContext, lint_model
from keras_tricks.diagnostics._monitor import DIAGNOSIS_CODES, LossCurveMonitor
from keras_tricks.diagnostics._probe_checks import (
    check_batch_dependence,
    check_initial_loss,
)
from keras_tricks.diagnostics._report import SEVERITIES, DiagnosisReport, Report
from keras_tricks.diagnostics._training_checks import (
    input_independent_baseline,
    overfit_one_batch,
)
from keras_tricks.diagnostics._transfer import plan_transfer_learning
from keras_tricks.optimizers.fine_tune import FineTuneOptimizer

__all__ = [
    "DIAGNOSIS_CODES",
    "DiagnosisReport",
    "FineTuneOptimizer",
    "LINT_RULES",
    "LintContext",
    "SEVERITIES",
    "LossCurveMonitor",
    "Report",
    "check_batch_dependence",
    "check_initial_loss",
    "diagnose",
    "input_independent_baseline",
    "lint_model",
    "overfit_one_batch",
    "plan_transfer_learning",
]

"""Report objects returned by every diagnostic check."""

import math

import numpy as np

from keras_tricks import _checks

#: Severities of findings, mildest first. Only `"error"` predicts a broken run.
SEVERITIES = ("info", "warning", "error")


def _format_number(value):
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.3e}"
    return f"{value:.4g}"


class Report:
    """The outcome of one diagnostic check.

    A report holds a one-line verdict, the numbers behind it, plain-word advice
    and, where a curve says more than words, the curves themselves.
    `print(report)` gives a readable summary; `report.figure()` draws the curves
    with matplotlib (no display needed).

    Args:
        check: str, name of the check, e.g. `"overfit one batch"`.
        passed: bool, whether the check passed.
        summary: str, one-line verdict.
        numbers: dict of str to number, the measurements behind the verdict.
        advice: list of str, likely causes and fixes in plain words.
        curves: dict of str to list of float, curves worth plotting.
        findings: list of dict, individual findings (linter, loss monitor),
            each with at least a `"code"` and a `"message"`, and a
            `"severity"`: `"info"` (advice), `"warning"` (worth a look) or
            `"error"` (predicts a broken run).
        skipped: bool, whether the check did not apply to this model.
            A skipped check counts as passed. Defaults to `False`.
        severity: `"warning"` or `"error"`, how serious a failure is:
            `"error"` predicts a broken run and fails `diagnose`; a
            `"warning"` (status `WARN`) is a sign worth fixing that does
            not. Defaults to `"error"`.

    Example:
    >>> report = keras_tricks.diagnostics.overfit_one_batch(model, (x, y))
    >>> report.passed, report.numbers["final_loss"]
    """

    def __init__(
        self,
        check,
        passed,
        summary,
        numbers=None,
        advice=None,
        curves=None,
        findings=None,
        skipped=False,
        severity="error",
    ):
        self.check = check
        # NumPy's bools (what a comparison of arrays gives) count as bools.
        self.passed = _checks.check_bool(
            "passed", bool(passed) if isinstance(passed, np.bool_) else passed
        )
        self.summary = summary
        self.numbers = dict(numbers or {})
        self.advice = list(advice or [])
        self.curves = {k: [float(v) for v in c] for k, c in (curves or {}).items()}
        self.findings = list(findings or [])
        self.skipped = _checks.check_bool(
            "skipped", bool(skipped) if isinstance(skipped, np.bool_) else skipped
        )
        if severity not in SEVERITIES[1:]:
            raise ValueError(
                "`severity` must be one of 'warning', 'error'. "
                f"Received: severity={severity!r}"
            )
        self._failure_severity = severity

    @property
    def severity(self):
        """The worst severity of the report: `"error"` when it failed, else the
        worst of its findings' severities, `None` when it has none."""
        if not self.passed and not self.skipped:
            return self._failure_severity
        found = [f.get("severity", "warning") for f in self.findings]
        return max(found, key=SEVERITIES.index) if found else None

    @property
    def status(self):
        """`"PASS"`, `"WARN"` (failed with severity warning), `"FAIL"` or `"SKIP"`."""
        if self.skipped:
            return "SKIP"
        if self.passed:
            return "PASS"
        return "FAIL" if self.severity == "error" else "WARN"

    def __str__(self):
        lines = [f"[{self.status}] {self.check}: {self.summary}"]
        if self.numbers:
            numbers = ", ".join(
                f"{k}={_format_number(v)}" for k, v in self.numbers.items()
            )
            lines.append(f"    numbers: {numbers}")
        for finding in self.findings:
            severity = finding.get("severity")
            tag = f"[{severity}] " if severity else ""
            lines.append(f"    - {tag}{finding['message']}")
        for item in self.advice:
            lines.append(f"    * {item}")
        return "\n".join(lines)

    def __repr__(self):
        return f"<Report {self.check!r}: {self.status}>"

    def _repr_pretty_(self, printer, cycle):
        printer.text(str(self))

    def figure(self):
        """Draw the report's curves; returns a `matplotlib.figure.Figure`.

        Uses the object-oriented matplotlib API, so it works without a display
        and leaves pyplot's global state alone (the Agg canvas renders it).
        Returns `None` when the report has no curves.
        """
        if not self.curves:
            return None
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6, 3.5))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        for label, values in self.curves.items():
            ax.plot(range(len(values)), values, label=label)
        positive = all(
            v > 0 for c in self.curves.values() for v in c if math.isfinite(v)
        )
        if positive:
            ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_title(f"{self.check}: {self.status}")
        ax.legend()
        fig.tight_layout()
        return fig


class DiagnosisReport(Report):
    """The reports of several checks, in the order they ran.

    `passed` is true when no check failed with severity `"error"` (skipped
    checks count as passed; a check failing with severity `"warning"`
    shows as `WARN` and does not fail the whole);
    `reports` lists the individual reports and `report[name]` finds one by its
    check name.

    Args:
        reports: list of `Report`.
    """

    def __init__(self, reports):
        reports = list(reports)
        failed = [r.check for r in reports if r.severity == "error"]
        warned = [r.check for r in reports if not r.passed and r.severity == "warning"]
        summary = (
            f"all {len(reports)} checks passed"
            if not failed
            else f"{len(failed)} of {len(reports)} checks failed: {', '.join(failed)}"
        )
        if warned:
            summary += f"; warning from {', '.join(warned)}"
        curves = {}
        for r in reports:
            for name, curve in r.curves.items():
                curves[f"{r.check}: {name}"] = curve
        super().__init__("diagnose", not failed, summary, curves=curves)
        self.reports = reports

    @property
    def severity(self):
        """The worst severity of its reports (`None` when none has any)."""
        found = [r.severity for r in self.reports if r.severity is not None]
        return max(found, key=SEVERITIES.index) if found else None

    def __getitem__(self, check):
        for report in self.reports:
            if report.check == check:
                return report
        raise KeyError(check)

    def __str__(self):
        lines = [f"[{self.status}] {self.check}: {self.summary}"]
        lines.extend(str(r) for r in self.reports)
        return "\n".join(lines)

"""The documentation builds, and every Python block in it runs as pasted.

- `mkdocs build --strict` (warnings are errors) into a temporary folder.
- Every ```` ```python ```` block of README.md and of each docs/*.md runs: the
  blocks of one file in order, in one namespace of its own, in an empty
  working directory of its own (files the blocks write land there), with
  Keras's global settings as a fresh process has them. Two Python processes
  share the files out, so TensorFlow is imported twice, not once per file.
  A failure names the file and the line its block starts on.
  Blocks marked ```` ```bash ```` or with no language are not run.
"""

import importlib.util
import json
import os
import pathlib
import queue
import re
import subprocess
import sys
import textwrap
import threading

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# A guard against a hung file, not a timing assertion.
HANG_GUARD_S = 900

_FENCE = re.compile(r"^```(\S*)\s*$")


def python_blocks(path):
    """`[(line, source), ...]` for each ```` ```python ```` block of `path`.

    `line` is the 1-based line of the opening fence.
    """
    blocks, language, start, lines = [], None, 0, []
    for number, line in enumerate(pathlib.Path(path).read_text().splitlines(), 1):
        fence = _FENCE.match(line)
        if language is None:
            if fence:
                language, start, lines = fence.group(1), number, []
        elif line.strip() == "```":
            if language == "python":
                blocks.append((start, "\n".join(lines) + "\n"))
            language = None
        else:
            lines.append(line)
    if language is not None:
        raise ValueError(f"{path}:{start}: code block is never closed")
    return blocks


# The child: a loop that takes one file's blocks per line on stdin, runs them
# in order in a fresh namespace and a fresh working directory, and answers one
# JSON line. What the blocks print (from Python or C) goes to the log on fd 2,
# not to the answers.
_RUNNER = textwrap.dedent(
    """
    import json, os, sys, traceback, warnings
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    ENVIRON, ARGV, FILTERS = dict(os.environ), list(sys.argv), list(warnings.filters)

    def reset():
        # What one file may leave behind that the next would see.
        os.environ.clear()
        os.environ.update(ENVIRON)
        sys.argv[:] = ARGV
        warnings.filters[:] = FILTERS
        if "keras" in sys.modules:
            import keras
            keras.backend.clear_session()
            keras.mixed_precision.set_global_policy("float32")
            keras.config.set_floatx("float32")
            keras.config.set_epsilon(1e-7)
            keras.config.set_image_data_format("channels_last")
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")

    def run(name, blocks):
        namespace = {"__name__": "__main__"}
        for line, source in blocks:
            try:
                exec(compile(source, f"{name}:{line}", "exec"), namespace)
            except BaseException:
                return {"failed_at": f"{name}:{line}", "error": traceback.format_exc()}
        return {"failed_at": None, "error": ""}

    for request in sys.stdin:
        request = json.loads(request)
        reset()
        os.chdir(request["cwd"])
        answers.write(json.dumps(run(request["name"], request["blocks"])) + "\\n")
    """
)


def test_python_blocks_are_found(tmp_path):
    text = (
        "a\n```python\nx = 1\n```\n```bash\nls\n```\n```\nplain\n```\n"
        "```python\ny = x\n```\n"
    )
    path = tmp_path / "sample.md"
    path.write_text(text)
    assert python_blocks(path) == [(2, "x = 1\n"), (11, "y = x\n")]


def _doc_name(path):
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def _start_runner(work, data_dir, log):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.setdefault("KERAS_BACKEND", "tensorflow")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["MPLBACKEND"] = "Agg"
    env["TFDS_DATA_DIR"] = str(data_dir)  # what `load()` writes stays out of ~
    return subprocess.Popen(
        [sys.executable, str(work / "runner.py")],
        cwd=work,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )


def _serve(jobs, work, data_dir, results):
    """Run `jobs` (a queue of `(name, blocks, cwd)`) through one child at a
    time, a new one only if the last died; fills `results[name]`."""
    runner, log_path = None, work / f"log-{threading.get_ident()}.txt"
    with open(log_path, "a") as log:
        while True:
            try:
                name, blocks, cwd = jobs.get_nowait()
            except queue.Empty:
                break
            runner = runner or _start_runner(work, data_dir, log)
            guard = threading.Timer(HANG_GUARD_S, runner.kill)  # a hang, not a timing
            guard.start()
            runner.stdin.write(
                json.dumps({"name": name, "blocks": blocks, "cwd": str(cwd)}) + "\n"
            )
            runner.stdin.flush()
            answer = runner.stdout.readline()
            guard.cancel()
            if answer:
                results[name] = json.loads(answer)
                continue
            runner.wait()
            runner = None
            log.flush()
            tail = log_path.read_text()[-4000:]
            results[name] = {"failed_at": name, "error": f"the process died:\n{tail}"}
        if runner is not None:
            runner.stdin.close()
            runner.wait()


def run_doc_files(paths, work, data_dir, processes=2):
    """Run each file's python blocks; `{name: {"failed_at", "error"}}`.

    The files are shared out, as each becomes free, among `processes`
    long-lived Python processes (each mostly TensorFlow's single-threaded
    import, paid once per process rather than once per file). Each file still
    gets its own namespace and an empty working directory, and Keras's global
    settings, the environment and warning filters are reset between files.
    A file without python blocks is left out.
    """
    work.mkdir(parents=True)
    (work / "runner.py").write_text(_RUNNER)
    jobs = queue.Queue()
    for i, path in enumerate(paths):
        blocks = python_blocks(path)
        if blocks:
            cwd = work / f"cwd{i}"
            cwd.mkdir()
            jobs.put((_doc_name(path), blocks, cwd))
    results = {}
    threads = [
        threading.Thread(target=_serve, args=(jobs, work, data_dir, results))
        for _ in range(processes)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.fixture(scope="module")
def sample_runs(tmp_path_factory):
    """Four small pages through one process, so that they share it."""
    base = tmp_path_factory.mktemp("sample_pages")
    pages = {
        "first": "```python\nvalue = 1\nopen('out.txt', 'w').close()\n```\n\n"
        "```python\nassert value == 2\n```\n",
        # Names and files of one page are not seen by another.
        "second": "```python\nimport os\nassert not os.path.exists('out.txt')\n"
        "value\n```\n",
        "setter": "```python\nimport keras\nkeras.config.set_floatx('float16')\n"
        "keras.mixed_precision.set_global_policy('mixed_float16')\n```\n",
        "reader": "```python\nimport keras\nassert keras.config.floatx() == 'float32'\n"
        "assert keras.mixed_precision.global_policy().name == 'float32'\n```\n",
    }
    paths = []
    for name, text in pages.items():
        paths.append(base / f"{name}.md")
        paths[-1].write_text(text)
    return run_doc_files(paths, base / "run", base / "data", processes=1)


def test_a_failing_block_is_named_by_file_and_line(sample_runs):
    first = sample_runs["first.md"]
    assert first["failed_at"] == "first.md:6"  # its second block, same namespace
    assert "AssertionError" in first["error"]
    second = sample_runs["second.md"]
    assert second["failed_at"] == "second.md:1"
    assert "NameError: name 'value'" in second["error"]


def test_keras_settings_are_reset_between_files(sample_runs):
    assert sample_runs["setter.md"] == {"failed_at": None, "error": ""}
    assert sample_runs["reader.md"] == {"failed_at": None, "error": ""}


@pytest.fixture(scope="module")
def doc_runs(tmp_path_factory):
    """Every file's blocks, run once (see `run_doc_files`).

    The digits dataset is written once into a shared TFDS folder first (the
    blocks find it through `$TFDS_DATA_DIR`), so that two processes never
    build it at the same time.
    """
    from keras_tricks import datasets

    base = tmp_path_factory.mktemp("doc_blocks")
    data_dir = base / "tensorflow_datasets"
    datasets.load("digits", data_dir=str(data_dir))
    return run_doc_files(DOC_FILES, base / "run", data_dir)


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_doc_blocks_run_as_pasted(path, doc_runs):
    name = str(path.relative_to(ROOT))
    if name not in doc_runs:
        pytest.skip(f"{name} has no python block")
    result = doc_runs[name]
    if result["failed_at"] is not None:
        pytest.fail(
            f"code block at {result['failed_at']} failed:\n{result['error'][-4000:]}",
            pytrace=False,
        )


def test_mkdocs_build_strict(tmp_path):
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (the `test` extra installs it)")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.setdefault("KERAS_BACKEND", "tensorflow")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--site-dir",
            str(tmp_path / "site"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert (tmp_path / "site" / "index.html").exists()
    assert (tmp_path / "site" / "migration" / "index.html").exists()

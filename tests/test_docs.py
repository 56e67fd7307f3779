"""The documentation builds, and every Python block in it runs as pasted.

- `mkdocs build --strict` (warnings are errors) into a temporary folder.
- Every ```` ```python ```` block of README.md and of each docs/*.md runs: the
  blocks of one file in order, in one namespace, in a fresh Python process per
  file whose working directory is a temporary folder (files the blocks write
  land there). A failure names the file and the line its block starts on.
  Blocks marked ```` ```bash ```` or with no language are not run.
"""

import concurrent.futures
import importlib.util
import json
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

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


# Runs in the child: executes each block in one namespace, stops at the
# first failure and says which block failed.
_RUNNER = textwrap.dedent(
    """
    import json, sys, traceback
    blocks = json.load(open(sys.argv[1]))
    namespace = {"__name__": "__main__"}
    for line, source in blocks:
        try:
            exec(compile(source, f"{sys.argv[2]}:{line}", "exec"), namespace)
        except BaseException:
            traceback.print_exc()
            print(f"DOC-BLOCK-FAILED {sys.argv[2]}:{line}", file=sys.stderr)
            sys.exit(1)
    """
)


def test_python_blocks_are_found(tmp_path):
    text = "a\n```python\nx = 1\n```\n```bash\nls\n```\n```\nplain\n```\n```python\ny = x\n```\n"
    path = tmp_path / "sample.md"
    path.write_text(text)
    assert python_blocks(path) == [(2, "x = 1\n"), (11, "y = x\n")]


def _run_file(path, work, data_dir):
    """Run the python blocks of `path` in a fresh process; `(name, rc, stderr)`."""
    name = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name
    blocks = python_blocks(path)
    if not blocks:
        return name, None, ""
    work.mkdir(parents=True)
    (work / "blocks.json").write_text(json.dumps(blocks))
    (work / "runner.py").write_text(_RUNNER)
    cwd = work / "cwd"
    cwd.mkdir()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.setdefault("KERAS_BACKEND", "tensorflow")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["MPLBACKEND"] = "Agg"
    env["TFDS_DATA_DIR"] = str(data_dir)  # what `load()` writes stays out of ~
    done = subprocess.run(
        [sys.executable, str(work / "runner.py"), str(work / "blocks.json"), name],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return name, done.returncode, done.stderr


def test_a_failing_block_is_named_by_file_and_line(tmp_path):
    path = tmp_path / "sample.md"
    path.write_text("```python\nvalue = 1\n```\n\n```python\nassert value == 2\n```\n")
    name, rc, stderr = _run_file(path, tmp_path / "run", tmp_path / "data")
    assert name == "sample.md" and rc == 1
    assert "DOC-BLOCK-FAILED sample.md:5" in stderr  # the second block, same namespace
    assert "AssertionError" in stderr


@pytest.fixture(scope="module")
def doc_runs(tmp_path_factory):
    """Every file's blocks, run once, two files at a time (each process is
    mostly TensorFlow's single-threaded import); `{name: (rc, stderr)}`.

    The digits dataset is written once into a shared TFDS folder first (the
    blocks find it through `$TFDS_DATA_DIR`), so that two processes never
    build it at the same time.
    """
    from keras_tricks import datasets

    base = tmp_path_factory.mktemp("doc_blocks")
    data_dir = base / "tensorflow_datasets"
    datasets.load("digits", data_dir=str(data_dir))
    runs = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(_run_file, path, base / str(i), data_dir)
            for i, path in enumerate(DOC_FILES)
        ]
        for future in futures:
            name, rc, err = future.result()
            if rc is not None:
                runs[name] = (rc, err)
    return runs


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_doc_blocks_run_as_pasted(path, doc_runs):
    name = str(path.relative_to(ROOT))
    if name not in doc_runs:
        pytest.skip(f"{name} has no python block")
    rc, stderr = doc_runs[name]
    if rc != 0:
        failed = re.search(r"DOC-BLOCK-FAILED (\S+)", stderr)
        where = failed.group(1) if failed else name
        pytest.fail(f"code block at {where} failed:\n{stderr[-4000:]}", pytrace=False)


def test_mkdocs_build_strict(tmp_path):
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (the `test` extra installs it)")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.setdefault("KERAS_BACKEND", "tensorflow")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert (tmp_path / "site" / "index.html").exists()
    assert (tmp_path / "site" / "migration" / "index.html").exists()

"""MkDocs hook: leave out the pages of work not merged yet, and only those.

`docs/tuning.md`, `docs/command.md` and the API page of `keras_tricks.tuning`
arrive with other branches. Until then (a checkout without them) the nav
entries and the API page are dropped here, with an INFO line, so that
`mkdocs build --strict` still checks everything else. Once they exist this
hook changes nothing; delete it (and its `hooks:` entry in mkdocs.yml) when
every pending page is on the main branch.
"""

import logging
import pathlib

log = logging.getLogger("mkdocs.hooks.pending")

# page -> the module it documents (None: a hand-written page).
PENDING = {"tuning.md": None, "command.md": None, "api/tuning.md": "keras_tricks.tuning"}
_missing_now = set()


def _missing(config):
    docs = pathlib.Path(config["docs_dir"])
    missing = set()
    for page, module in PENDING.items():
        if not (docs / page).exists():
            missing.add(page)
        elif module is not None:
            source = pathlib.Path(config["config_file_path"]).parent / module.replace(".", "/")
            if not source.is_dir() and not source.with_suffix(".py").exists():
                missing.add(page)
    return missing


def _prune(nav, missing):
    kept = []
    for entry in nav:
        if isinstance(entry, dict):
            (title, value), = entry.items()
            if isinstance(value, list):
                kept.append({title: _prune(value, missing)})
            elif value not in missing:
                kept.append(entry)
        elif entry not in missing:
            kept.append(entry)
    return kept


def on_config(config):
    _missing_now.clear()
    _missing_now.update(_missing(config))
    if _missing_now:
        log.info("pages not merged yet, left out: %s", ", ".join(sorted(_missing_now)))
        config["nav"] = _prune(config["nav"], _missing_now)
    return config


def on_files(files, config):
    for page in sorted(_missing_now):
        found = files.get_file_from_path(page)
        if found is not None:
            files.remove(found)
    return files

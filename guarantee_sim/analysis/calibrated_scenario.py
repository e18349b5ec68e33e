"""``guarantee-sim calibrate --write-scenario PATH``: the base scenario's YAML with the
fitted values in place of the fitted keys' values.

The file is read and written by ruamel.yaml's round trip, so its comments (every number's
source), key order and layout stay; a header comment names the observed file, the fit and
its date, and each fitted key's line says it was calibrated. Loading the written file
gives the fitted values exactly (a float's ``repr`` is written). Relative paths inside the
scenario are not rewritten: write it beside the base when it has any.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
from collections.abc import MutableMapping, MutableSequence
from pathlib import Path

import xarray as xr

from ..config import ScenarioError


def calibrated_yaml(base: str | Path, fit: xr.Dataset) -> str:
    """The base scenario's text with the fitted values (``fit``: :func:`.calibrate`'s
    Dataset) and a header comment."""
    from ruamel.yaml import YAML

    yaml = YAML()  # round trip: comments, order and quotes kept
    yaml.preserve_quotes = True
    yaml.width = 4096  # long lines stay as they were written
    data = yaml.load(Path(base).read_text(encoding="utf-8"))
    for key, value, se in zip(
        fit.parameter.values, fit.estimate.values, fit.std_error.values, strict=True
    ):
        _set(data, str(key), float(value), base, math.nan if se is None else float(se))
    created = str(fit.attrs.get("created", ""))[:10]
    header = "\n".join(
        [
            f"Calibrated by guarantee-sim calibrate on {created} from {base}:",
            f"observed file {fit.attrs.get('observed_file', '')} "
            f"({fit.attrs.get('observed_name', '')}), {fit.attrs.get('paths', '')} paths "
            f"a point, seed {fit.attrs.get('seed', '')}, {fit.attrs.get('evaluations', '')} "
            "evaluations;",
            f"J statistic {float(fit.j_statistic):.4g} on {int(fit.j_df)} degrees of freedom, "
            f"Jacobian rank {int(fit.jacobian_rank)}. Fitted (estimate, standard error):",
            *(
                f"  {k} = {float(v)!r} (se {float(s):.3g})"
                for k, v, s in zip(
                    fit.parameter.values, fit.estimate.values, fit.std_error.values, strict=True
                )
            ),
            "Everything else is the base scenario's, comments included.",
        ]
    )
    out = io.StringIO()
    out.write("".join(f"# {line}\n" for line in header.splitlines()) + "#\n")
    yaml.dump(data, out)
    return out.getvalue()


def _set(data, dotted: str, value: float, base, se: float) -> None:
    """``data[dotted] = value`` through mappings (and list indices), as an override does;
    the key's line gains a comment saying it was calibrated."""
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        node = _child(node, part, dotted, base)
    last = parts[-1]
    if isinstance(node, MutableSequence):
        node[int(last)] = value
        return
    if not isinstance(node, MutableMapping):
        raise ScenarioError(f"{base}: {dotted}: not a mapping on the way", path=str(base))
    node[last] = value
    if hasattr(node, "yaml_add_eol_comment"):
        node.yaml_add_eol_comment(f"calibrated (se {se:.3g})", last)


def _child(node, part: str, dotted: str, base):
    if isinstance(node, MutableSequence) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    if isinstance(node, MutableMapping):
        if part not in node:  # the scenario's default: written out now
            from ruamel.yaml.comments import CommentedMap

            node[part] = CommentedMap()
        return node[part]
    raise ScenarioError(f"{base}: {dotted}: {part!r} is not a key on the way", path=str(base))


def write_calibrated_scenario(base: str | Path, fit: xr.Dataset, path: str | Path) -> Path:
    """Write :func:`calibrated_yaml` to ``path`` (to a temporary name, then renamed: whole
    or absent); the path written."""
    path = Path(path)
    text = calibrated_yaml(base, fit)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path

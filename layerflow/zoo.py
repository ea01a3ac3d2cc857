"""Models by name: the configs of `configs/` and the model folders of `models/`, shipped
inside the package, so that `layerflow train lenet` works from any folder after
`pip install .`.

    from layerflow.zoo import resolve, models
    resolve("lenet")          # -> Path of the packaged configs/lenet.yaml
    resolve("my.yaml")        # a path that exists wins over a name: Path("my.yaml")

The repository's top-level `configs/` and `models/` are the source. A wheel carries them as
the package-data folders `layerflow/zoo_configs` and `layerflow/zoo_models` (setup.py maps
them); a checkout or an editable install reads them where they are, beside the package.

A name is a `configs/NAME.yaml` or a `models/NAME/` folder; a model folder's config is its
`*_solver.yaml` (or its only YAML), and a folder with a README but no YAML (models/lenet)
documents the config of the same name. What a model reaches is the `Reaches:` line of its
README (or a `# Reaches:` comment at the top of its config).

Snapshot prefixes in these configs are relative (`snapshots/lenet`) and resolve against the
current folder, so a named model's snapshots are written where the command runs, never into
site-packages.
"""
import re
from dataclasses import dataclass
from pathlib import Path

_HERE = Path(__file__).resolve().parent


@dataclass
class Model:
    name: str
    config: Path            # the file `layerflow train NAME` runs
    readme: Path | None     # models/NAME/README.md, where there is one
    reaches: str            # one line: what it reaches, as measured ('' when not said)


def zoo_folders():
    """(configs folder, models folder): the packaged copies, else the checkout's."""
    for configs, models in ((_HERE / "zoo_configs", _HERE / "zoo_models"),
                            (_HERE.parent / "configs", _HERE.parent / "models")):
        if configs.is_dir() or models.is_dir():
            return configs, models
    return None, None


def _reaches(*files):
    for f in files:
        if f is None or not f.is_file():
            continue
        for line in f.read_text(encoding="utf-8", errors="replace").splitlines()[:80]:
            m = re.match(r"\s*(?:#\s*)?Reaches:\s*(.+)", line)
            if m:
                return m.group(1).strip()
    return ""


def _model_config(folder):
    yamls = sorted(folder.glob("*.yaml"))
    solvers = [y for y in yamls if y.stem.endswith("_solver")]
    if solvers:
        return solvers[0]
    with_solver = [y for y in yamls if re.search(r"^solver:", y.read_text(encoding="utf-8"),
                                                 re.M)]
    return (with_solver or yamls or [None])[0]


def models():
    """Every named model, sorted by name."""
    configs, folders = zoo_folders()
    found = {}
    if configs is not None and configs.is_dir():
        for y in sorted(configs.glob("*.yaml")):
            found[y.stem] = Model(y.stem, y, None, _reaches(y))
    if folders is not None and folders.is_dir():
        for d in sorted(p for p in folders.iterdir() if p.is_dir()):
            readme = d / "README.md"
            config = _model_config(d) or (found[d.name].config if d.name in found else None)
            if config is None:
                continue
            found[d.name] = Model(d.name, config, readme if readme.is_file() else None,
                                  _reaches(readme, config))
    return [found[k] for k in sorted(found)]


def resolve(name_or_path):
    """A config path for `train`, `test`, `time`...: an existing file (or anything that
    looks like a file name) as given, a model folder's solver config, else the packaged
    model of that name; a bare word that is none of these is a ValueError naming the
    closest models."""
    path = Path(name_or_path)
    if path.is_dir():                     # a model folder: its solver config
        config = _model_config(path)
        if config is not None:
            return config
    elif path.exists() or path.suffix or len(path.parts) > 1:
        return path
    ms = models()
    for m in ms:
        if m.name == str(name_or_path):
            return m.config
    from .config.errors import did_you_mean
    raise ValueError(f"{name_or_path}: no such file, and no model of that name"
                     + did_you_mean(name_or_path, [m.name for m in ms])
                     + " (`layerflow models` lists them)")


def names():
    return [m.name for m in models()]


def listing():
    """The text of `layerflow models`."""
    ms = models()
    if not ms:
        return "no models found (this installation has no zoo_configs/zoo_models data)"
    width = max(len(m.name) for m in ms)
    lines = []
    for m in ms:
        lines.append(f"{m.name:<{width}}  {m.reaches or '(no measured result recorded)'}")
    configs, _ = zoo_folders()
    lines.append("")
    lines.append(f"`layerflow train NAME` runs one of these (files under {configs.parent}); "
                 "a path to a YAML file wins over a name.")
    return "\n".join(lines)

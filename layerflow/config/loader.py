"""Find the net and solver sections of a config: one file holding `solver:` and `net:`, a
solver whose `net:` names a net file (relative to the solver file), or a bare net file."""
from pathlib import Path

from .errors import ConfigError, did_you_mean, shown
from .schema import Where
from .yaml_loader import MarkedDict, load_yaml

# labels: a file of class names, one a line, for `layerflow predict`
NET_KEYS = ("name", "force_backward", "layers", "plugins", "labels")
ROOT_KEYS = ("name", "solver", "net", "plugins", "labels")


def load_config(config_or_path):
    """A path or an already-parsed mapping -> (mapping, file name or None)."""
    if isinstance(config_or_path, dict):
        return config_or_path, getattr(config_or_path, "file", None)
    path = Path(config_or_path)
    root = load_yaml(path)
    if not isinstance(root, dict):
        raise ConfigError("a config must be a mapping with 'layers' or 'net'", path, 1, 1)
    return root, str(path)


def _check_keys(mapping, allowed, file):
    for key in mapping:
        if key not in allowed:
            line, col = mapping.mark_of(key) if isinstance(mapping, MarkedDict) else (None, None)
            raise ConfigError(f"unknown key {shown(key)}" + did_you_mean(key, allowed), file,
                              line, col)


def _check_shape(holder, file):
    """The net-level keys a Net reads before any schema: `name` a string, `plugins` a list of
    module names, `force_backward` a bool, every entry of `layers` a mapping with a string
    `type` (so that no later message has to echo a hostile value whole)."""
    where = Where(file)
    for key, kind, what in (("name", str, "a string"), ("force_backward", bool, "true or false"),
                            ("plugins", list, "a list of module names")):
        if holder.get(key) is not None and not isinstance(holder[key], kind):
            raise where.at(holder, key).error(f"'{key}' must be {what}, got "
                                              f"{shown(holder[key])}")
    for i, module in enumerate(holder.get("plugins") or ()):
        if not isinstance(module, str):
            raise where.at(holder["plugins"], i).error(
                f"'plugins[{i}]' must be a module name, got {shown(module)}")
    layers = holder.get("layers")
    if not isinstance(layers, list):
        return
    for i, cfg in enumerate(layers):
        lw = where.at(layers, i)
        if not isinstance(cfg, dict):
            raise lw.error(f"layer {i} must be a mapping, got {shown(cfg)}")
        type_name = cfg.get("type")
        if type_name is not None and not isinstance(type_name, str):
            raise lw.at(cfg, "type").error(f"'type' must be a name, got {shown(type_name)}")
        if cfg.get("name") is not None and not isinstance(cfg["name"], str):
            raise lw.at(cfg, "name").error(f"'name' must be a string, got {shown(cfg['name'])}")


def net_section(root, file):
    """(net mapping, its file, plug-in modules) from a config root."""
    _check_shape(root, file)
    plugins = list(root.get("plugins") or [])
    if "layers" in root:
        _check_keys(root, NET_KEYS, file)
        return root, file, plugins
    if "net" not in root:
        raise ConfigError("no 'layers' and no 'net' in this config", file, 1, 1)
    _check_keys(root, ROOT_KEYS, file)
    net = root["net"]
    if isinstance(net, str):
        base = Path(file).parent if file else Path(".")
        net_file = base / net
        net, file = load_yaml(net_file), str(net_file)
        if not isinstance(net, dict) or "layers" not in net:
            raise ConfigError("a net file must be a mapping with 'layers'", file, 1, 1)
    elif not isinstance(net, dict):
        w = Where(file).at(root, "net")
        raise w.error("'net' must be a mapping with 'layers' or the name of a net file")
    _check_keys(net, NET_KEYS, file)
    _check_shape(net, file)
    return net, file, plugins + list(net.get("plugins") or [])


def solver_section(root, file):
    """The solver mapping of a config root (ConfigError when it has none)."""
    solver = root.get("solver")
    if not isinstance(solver, dict):
        raise ConfigError("this config has no 'solver:' mapping", file, 1, 1)
    if "type" in solver and not isinstance(solver["type"], str):
        raise Where(file).at(solver, "type").error(
            f"'type' must be a solver name, got {shown(solver['type'])}")
    return solver

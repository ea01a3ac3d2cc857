"""Layer-type registry: built-ins register by decorator, plug-ins by module path or entry point.

    @register_layer("Scale2")
    class Scale2(Layer): ...

A config names a type as `Scale2`, or as `mypkg.layers:Scale2` to import it on the spot;
`plugins: [mypkg.layers]` imports modules that register; installed packages may register
through the entry-point group `layerflow.layers` (name = type, value = module:Class).

Trust: importing a plug-in runs its top-level code, so a config that names plug-ins is code
(as a Caffe Python layer is). `plugins_allowed(False)` (the CLI's `--no-plugins`, or
`Net(..., allow_plugins=False)`) refuses every import a config would cause: `plugins:`,
`module:Class` types and entry points not loaded yet. Types already registered in the
process (built-ins, classes the calling program registered itself) stay usable.
"""
import contextlib
import contextvars
import importlib
import re
from importlib import metadata

from .config.errors import shown

_REGISTRY = {}
_builtins_loaded = False
_entry_points_loaded = False
_plugins_off = contextvars.ContextVar("layerflow_plugins_off", default=False)
_MODULE_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


class PluginsDisabled(ImportError):
    """A config asked for a plug-in import while plug-ins are turned off."""


@contextlib.contextmanager
def plugins_allowed(allowed=True):
    """Within this block, plug-in imports are refused when `allowed` is False. Nesting only
    narrows: `plugins_allowed(True)` inside a refusing block still refuses."""
    token = _plugins_off.set(_plugins_off.get() or not allowed)
    try:
        yield
    finally:
        _plugins_off.reset(token)


def _refuse_if_off(what):
    if _plugins_off.get():
        raise PluginsDisabled(f"{what} is a plug-in import, and plug-ins are turned off "
                              "(--no-plugins / allow_plugins=False)")


def _check_module_path(module_name):
    if not isinstance(module_name, str) or not _MODULE_PATH.fullmatch(module_name):
        raise ImportError(f"{shown(module_name)} is not a module path like 'mypkg.layers'")


def register_layer(type_name):
    """Class decorator: make `type_name` usable as `type:` in configs. Twice is an error."""
    def wrap(cls):
        if type_name in _REGISTRY and _REGISTRY[type_name] is not cls:
            old = _REGISTRY[type_name]
            raise ValueError(f"layer type '{type_name}' is already registered "
                             f"(by {old.__module__}.{old.__qualname__})")
        cls.type_name = type_name
        _REGISTRY[type_name] = cls
        return cls
    return wrap


def _load_builtins():
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        importlib.import_module("layerflow.layers")


def _load_entry_points():
    global _entry_points_loaded
    if _entry_points_loaded or _plugins_off.get():
        return
    _entry_points_loaded = True
    for ep in metadata.entry_points(group="layerflow.layers"):
        if ep.name not in _REGISTRY:
            cls = ep.load()
            register_layer(ep.name)(cls)


def import_plugin(module_name):
    """Import a plug-in module so that its @register_layer calls run."""
    _check_module_path(module_name)
    _refuse_if_off(f"plug-in module '{module_name}'")
    importlib.import_module(module_name)


def load_class(path):
    """`pkg.mod:Class` -> the class; raises ImportError/AttributeError with a plain message."""
    module_name, _, attr = path.partition(":")
    _check_module_path(module_name)
    if not attr.isidentifier():
        raise ImportError(f"{shown(attr)} after ':' is not a class name (write "
                          "'mypkg.layers:MyLayer')")
    _refuse_if_off(f"'{path}'")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise AttributeError(f"module '{module_name}' has no attribute '{attr}'") from None


def get_layer_class(type_name):
    """The class for a config's `type:`; KeyError when unknown (the caller words the error)."""
    _load_builtins()
    if ":" in type_name:
        from .layer import Layer
        cls = load_class(type_name)
        if not (isinstance(cls, type) and issubclass(cls, Layer)):
            raise TypeError(f"'{type_name}' is not a subclass of layerflow.Layer")
        return cls
    if type_name not in _REGISTRY:
        _load_entry_points()
    return _REGISTRY[type_name]


def layer_types():
    """Every registered type name, sorted."""
    _load_builtins()
    _load_entry_points()
    return sorted(_REGISTRY)

"""Layer-type registry: built-ins register by decorator, plug-ins by module path or entry point.

    @register_layer("Scale2")
    class Scale2(Layer): ...

A config names a type as `Scale2`, or as `mypkg.layers:Scale2` to import it on the spot;
`plugins: [mypkg.layers]` imports modules that register; installed packages may register
through the entry-point group `layerflow.layers` (name = type, value = module:Class).
"""
import importlib
from importlib import metadata

_REGISTRY = {}
_builtins_loaded = False
_entry_points_loaded = False


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
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in metadata.entry_points(group="layerflow.layers"):
        if ep.name not in _REGISTRY:
            cls = ep.load()
            register_layer(ep.name)(cls)


def import_plugin(module_name):
    """Import a plug-in module so that its @register_layer calls run."""
    importlib.import_module(module_name)


def load_class(path):
    """`pkg.mod:Class` -> the class; raises ImportError/AttributeError with a plain message."""
    module_name, _, attr = path.partition(":")
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

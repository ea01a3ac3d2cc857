"""Config loading: safe YAML with positions, schema validation, clear errors."""
from .errors import ConfigError
from .loader import load_config, net_section, solver_section
from .schema import Where, from_mapping, bounded
from .yaml_loader import load_yaml, load_yaml_text

__all__ = ["ConfigError", "Where", "bounded", "from_mapping", "load_config", "load_yaml",
           "load_yaml_text", "net_section", "solver_section"]

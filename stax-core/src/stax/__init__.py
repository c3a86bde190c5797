"""stax: a sampling CPU profiler for Linux and macOS.

Only the plugin marker and version live here so that ``import stax`` stays cheap;
everything else is imported from its own module.
"""

from stax.plugin_markers import hookimpl

__version__ = "0.1.0"
__all__ = ["hookimpl", "__version__"]

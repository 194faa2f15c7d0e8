"""The notebook layer: kernel integration (``_kernel``), magics (``_magics``) and the graph (``graph/``).

Runs in the driver (the notebook kernel). Imports IPython and ipywidgets
lazily, so plain scripts never pay for them. Nothing in ``agentnb.server``
imports this package.
"""

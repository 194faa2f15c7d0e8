"""The notebook layer: session registry, output routing, reprs, magics, the graph widget.

Runs in the driver (the notebook kernel). Imports IPython and ipywidgets
lazily, so plain scripts never pay for them. Nothing in ``agentnb.server``
imports this package.

The graph: ``_graph`` wires _graph_model -> _graph_render (graphviz) -> _graph_widget (DOM contract).
"""

"""The notebook layer: session registry, output routing, reprs, magics, the graph widget.

Runs in the driver (the notebook kernel). Imports IPython and ipywidgets
lazily, so plain scripts never pay for them. Nothing in ``agentnb.server``
imports this package.

The graph: ``_graph`` wires _graph_model (events -> nodes, edges, calls) -> _graph_group (big graphs)
-> _graph_render (_graph_dot: graphviz; _graph_template: recolouring; _graph_html: caption, legend)
-> _graph_widget (anywidget + _graph_front's JS; DOM contract; static copy for saved notebooks),
with _graph_critical (where the time went) and _graph_timeline (the second view).
"""

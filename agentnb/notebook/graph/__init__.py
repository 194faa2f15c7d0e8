"""The live dataflow graph: ``agentnb.graph()``.

``_graph`` wires _model (events -> nodes, edges, calls) -> _group (big graphs)
-> _render (_dot: graphviz; _template: recolouring; _html: caption, legend)
-> _widget (anywidget + _front's JS; DOM contract; static copy for saved notebooks),
with _critical (where the time went) and _timeline (the second view).
"""

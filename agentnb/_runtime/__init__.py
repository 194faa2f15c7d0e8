"""The driver's runtime: one background asyncio thread that owns every gRPC channel.

Cells and scripts use the sync facade (``agentnb._dist``, ``agentnb._placeholder``),
which submits coroutines here with ``run_coroutine_threadsafe``. Only this
package (and ``agentnb.server``) imports the generated stubs in ``agentnb._proto``.
"""

"""Task bodies on a Dask cluster (the optional extra: `pip install 'flow-tui[dask]'`).

    from flow_tui.dask import DaskInvoker
    runner = TaskRunnerBuilder(ctx).with_invoker(DaskInvoker(address=None)).build()

Only this package imports dask and distributed; the core, `flow-tui --help` and a local
run never do.
"""

from flow_tui.dask.invoker import DaskInvoker

__all__ = ["DaskInvoker"]

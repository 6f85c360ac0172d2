"""Front ends beside the CLI: ``synergywarp app`` (a local web page) and ``synergywarp live`` (a
camera drives the portrait). They call :mod:`synergywarp.inference` and nothing imports them.

- :mod:`.options`: page/flag values → a validated ``AnimateOptions``.
- :mod:`.jobs`: a FIFO queue with one background worker; per-job temp folders, cleaned up.
- :mod:`.server`: the Starlette app (one offline HTML page, JSON API, MJPEG live view) and uvicorn.
- :mod:`.live`: the capture thread (newest frame only), the per-frame loop, the display sinks.
"""

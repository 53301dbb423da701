"""gunicorn's settings (``gunicorn -c config/gunicorn.py config.wsgi``), for the embedded
default (scripts/run) and production alike.

Threaded workers (gthread): a worker's main loop accepts connections and waits for their
first bytes without holding a thread, and each worker has SHULIAN_WEB_THREADS threads
(default 32) for requests, so that a handful of slow clients (headers sent half, a body
trickled in) hold a few threads and never the service. In production nginx sits in front
and passes on only complete requests (docs/nginx.conf). Requests are bounded: the request
line and each header 8 KiB, at most 100 headers; a worker that stops answering its master
for SHULIAN_WEB_TIMEOUT seconds is restarted.
"""

import os

bind = os.environ.get("SHULIAN_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = int(os.environ.get("SHULIAN_WEB_WORKERS", "2"))
threads = int(os.environ.get("SHULIAN_WEB_THREADS", "32"))
timeout = int(os.environ.get("SHULIAN_WEB_TIMEOUT", "60"))
graceful_timeout = 5
keepalive = 5
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = "-"

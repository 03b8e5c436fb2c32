# Gunicorn settings in the style of Heroku's python-getting-started app.
# Gunicorn loads ./gunicorn.conf.py automatically, so the Procfile stays `web: gunicorn app:app`.
# Docs: https://docs.gunicorn.org/en/stable/settings.html

import os

# Web dynos must listen on $PORT. "[::]" accepts IPv6 and (unless IPV6_V6ONLY is set) IPv4 too.
bind = [f"[::]:{os.environ.get('PORT', '5000')}"]

# The Python buildpack sets WEB_CONCURRENCY at dyno boot from the dyno's RAM and CPU count.
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))

# Threaded workers cope better with blocking I/O than the default sync worker.
worker_class = "gthread"
threads = 5

# Import the app once in the master before forking, to share memory and speed up boot.
preload_app = True

# Worker heartbeat timeout, and time to finish requests on restart (dynos get 30 s to stop).
timeout = 20
graceful_timeout = 20

# Request log to stdout, which Heroku collects.
accesslog = "-"

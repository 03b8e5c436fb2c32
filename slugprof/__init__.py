"""slugprof: slug and memory profiler for Heroku Python apps."""

__version__ = "0.1.0"

"""The resident service (`recall serve`): one process per index that keeps the models and the
index loaded, so `recall search` and `recall ask` answer in a fraction of a cold start.

- ``address``: where a service's socket and lock live, and what it is keyed by (stdlib only).
- ``client``: the `recall` entry point; hands a search or ask to the service, else runs it here.
- ``server``: the service itself (a Unix socket, one request at a time, an idle timeout).
- ``resident``: what the service keeps loaded between requests, and when it reloads the index.
"""

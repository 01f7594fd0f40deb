"""A local server of the compression, fine-tune and deployment APIs, for developing and testing
DAGs offline. Run it with ``python -m airflow_provider_compress.emulator --port 8089``; see
docs/emulator.md.

The emulator deliberately does NOT reuse the client's rules (``protocol``, ``validation``,
``specs``): it is written from the API document alone, as the independent oracle of the tests. A
rule the client gets wrong then fails a test instead of being copied into the server that checks it.

- ``service``: ``Emulator``, the account and what each endpoint does; ``app``: the HTTP layer;
- ``machines``: the resources' state machines; ``catalog``: the seed models and templates;
- ``checks``: the checks of requests; ``errors``: the error catalogue;
- ``faults``: fault injection; ``process``: the emulator as a subprocess (tests, demos).
"""

from airflow_provider_compress.emulator.app import create_app
from airflow_provider_compress.emulator.service import Config, Emulator

__all__ = ["Config", "Emulator", "create_app"]

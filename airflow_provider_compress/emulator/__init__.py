"""A local server of the compression API, for developing and testing DAGs offline.

Run it with ``python -m airflow_provider_compress.emulator --port 8089``; see docs/emulator.md.
"""

from airflow_provider_compress.emulator.app import Config, Emulator, create_app

__all__ = ["Config", "Emulator", "create_app"]

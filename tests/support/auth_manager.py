"""An auth manager for the live tests of per-DAG authorization: Airflow's simple auth manager, except
that the user ``outsider`` may read no DAG named in ``$TESTS_HIDDEN_DAGS`` (comma-separated), nor
every DAG at once. The api-server imports it (``[core] auth_manager``)."""

from __future__ import annotations

import os

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

OUTSIDER = "outsider"


class DagRestrictedAuthManager(SimpleAuthManager):
    def is_authorized_dag(self, *, method, user, access_entity=None, details=None) -> bool:
        if user.get_name() == OUTSIDER:
            hidden = set(filter(None, os.environ.get("TESTS_HIDDEN_DAGS", "").split(",")))
            if details is None or details.id is None or details.id in hidden:
                return False
        return super().is_authorized_dag(
            method=method, user=user, access_entity=access_entity, details=details
        )

"""Run in a subprocess by the memory tests (``python -m tests.support.memory_probe sync|async
JOB_ID...``): a hook reads job ``warm`` once (imports, session, pools), then each job named; it
prints, as JSON on its last line, what each read raised and how much the process's peak RSS grew
meanwhile, in KiB. A process of its own, so that nothing else counts in its peak."""

from __future__ import annotations

import json
import resource
import sys


def main() -> None:
    from tests.support import Twin

    transport, *job_ids = sys.argv[1:]
    hook = Twin(transport)
    hook.get_job("warm")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    raised = []
    for job_id in job_ids:
        try:
            hook.get_job(job_id)
            raised.append(None)
        except Exception as err:
            raised.append(type(err).__name__)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(json.dumps({"raised": raised, "grown_kib": grown}))


if __name__ == "__main__":
    main()

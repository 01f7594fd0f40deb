"""Run in a subprocess by the memory tests (``python -m tests.support.memory_probe sync|async
JOB_ID...``): a hook reads job ``warm`` once (imports, session, pools), then each job named; it
prints, as JSON on its last line, what each read raised and the most memory the reads held at
once, in KiB (tracemalloc's peak: every bytes object a transport reads or unpacks). A process of
its own, so that nothing else counts in its peak."""

from __future__ import annotations

import json
import sys
import tracemalloc


def main() -> None:
    from tests.support import Twin

    transport, *job_ids = sys.argv[1:]
    hook = Twin(transport)
    hook.get_job("warm")
    tracemalloc.start()
    raised = []
    for job_id in job_ids:
        try:
            hook.get_job(job_id)
            raised.append(None)
        except Exception as err:
            raised.append(type(err).__name__)
    print(json.dumps({"raised": raised, "peak_kib": tracemalloc.get_traced_memory()[1] // 1024}))


if __name__ == "__main__":
    main()

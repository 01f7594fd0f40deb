"""``python -m airflow_provider_compress.emulator``: serve the emulated API on 127.0.0.1."""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import logging
import os
import socket
import sys
from collections.abc import AsyncIterator

import uvicorn

from airflow_provider_compress.emulator.app import create_app
from airflow_provider_compress.emulator.faults import KINDS
from airflow_provider_compress.emulator.service import Config

READY = "compress emulator ready on"
# The key can come from the environment, so that it is not on the command line (visible in ps).
KEY_VARIABLE = "DASHSCOPE_EMULATOR_API_KEY"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_compress.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089, help="0 picks a free port (printed when ready)")
    parser.add_argument(
        "--api-key",
        default=os.environ.get(KEY_VARIABLE, "sk-emulator"),
        help=f"the only key the emulator accepts (default: ${KEY_VARIABLE}, else sk-emulator)",
    )
    parser.add_argument("--job-seconds", type=float, default=30.0, help="time from PENDING to the end state")
    parser.add_argument("--cancel-seconds", type=float, default=1.0, help="time spent in CANCELING")
    parser.add_argument("--log-lines", type=int, default=20, help="progress lines a job writes while RUNNING")
    parser.add_argument("--workspace", action="append", default=[], help="accepted workspace id (repeatable)")
    parser.add_argument("--max-active-jobs", type=int, default=None, help="more active jobs: 429 on create")
    parser.add_argument(
        "--start-seconds", type=float, default=None, help="job create to RUNNING (default: 20%% of it)"
    )
    parser.add_argument(
        "--usage-while-running", action="store_true", help="report a job's usage so far while it runs"
    )
    parser.add_argument("--deploy-seconds", type=float, default=None, help="deployment create to RUNNING")
    parser.add_argument("--delete-seconds", type=float, default=1.0, help="time a deleted deployment stays")
    parser.add_argument("--deploy-capacity", type=int, default=32, help="model units available to deploy")
    parser.add_argument(
        "--fault-rate", type=float, default=0.0, help="fraction of requests given a random fault"
    )
    parser.add_argument("--fault-kinds", default=",".join(KINDS), help="comma-separated: " + ",".join(KINDS))
    parser.add_argument("--slow-seconds", type=float, default=35.0, help="delay of a 'slow' answer")
    parser.add_argument("--fault-seed", type=int, default=None, help="seed of the random faults")
    parser.add_argument(
        "--ssl-certfile", help="serve HTTPS with this certificate (PEM), e.g. of a private CA"
    )
    parser.add_argument("--ssl-keyfile", help="the certificate's private key (PEM)")
    parser.add_argument("--access-log", action="store_true", help="log every request (method, path, status)")
    return parser.parse_args(argv)


def exposure_warning(host: str) -> str | None:
    """A warning when ``host`` is reachable from other machines: the emulator is for tests."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return None
    return (
        f"WARNING: binding {host}: the emulator is a test double, reachable from other machines on "
        "this address. Use 127.0.0.1 unless you mean it."
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if warning := exposure_warning(args.host):
        print(warning, file=sys.stderr, flush=True)
    config = Config(
        api_key=args.api_key,
        job_seconds=args.job_seconds,
        cancel_seconds=args.cancel_seconds,
        log_lines=args.log_lines,
        workspaces=tuple(args.workspace),
        max_active_jobs=args.max_active_jobs,
        usage_while_running=args.usage_while_running,
        start_seconds=args.start_seconds,
        deploy_seconds=args.deploy_seconds,
        delete_seconds=args.delete_seconds,
        deploy_capacity=args.deploy_capacity,
        fault_rate=args.fault_rate,
        fault_kinds=tuple(k for k in args.fault_kinds.split(",") if k),
        slow_seconds=args.slow_seconds,
        fault_seed=args.fault_seed,
    )
    # Bind before serving so that port 0 works and the printed address is already accepting.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(2048)
    host, port = sock.getsockname()[:2]
    app = create_app(config)

    @contextlib.asynccontextmanager
    async def announce(_app: object) -> AsyncIterator[None]:
        scheme = "https" if args.ssl_certfile else "http"
        print(f"{READY} {scheme}://{host}:{port}", flush=True)
        yield

    app.router.lifespan_context = announce
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=args.access_log,
            lifespan="on",
            backlog=2048,
            ssl_certfile=args.ssl_certfile,
            ssl_keyfile=args.ssl_keyfile,
        )
    )
    if args.access_log:  # at log level "warning", uvicorn's access lines (INFO) would be dropped
        logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()

"""Starts moto's server with mailinfra's extension installed and requests counted.

    python -m mailinfra_emulator.server -H 127.0.0.1 -p 5055
"""

import argparse
import signal
import sys

from werkzeug.serving import run_simple


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5055)
    args = parser.parse_args()

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

    from . import install
    from .front import Front

    install()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, Front(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()

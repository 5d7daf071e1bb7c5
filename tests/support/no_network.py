"""Run the `recall` CLI with every socket to a non-loopback address refused and recorded.

``python -m tests.support.no_network index PATH`` behaves like ``recall index PATH``; an audit
hook sees every connect the process makes from Python, refuses any that is not loopback or a
Unix socket, and appends it to the file named by ``NO_NETWORK_LOG``. The privacy test also runs
this inside an empty network namespace, which refuses what native code might try.
"""
from __future__ import annotations

import ipaddress
import os
import socket
import sys


def _is_local(address: object) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    if isinstance(address, tuple) and address:
        host = address[0]
        if host in ("localhost", ""):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False
    return False


def _hook(event: str, args: tuple) -> None:
    if event in ("socket.connect", "socket.sendto") and len(args) >= 2:
        sock, address = args[0], args[-1]
        if getattr(sock, "family", None) == socket.AF_UNIX or _is_local(address):
            return
        with open(os.environ.get("NO_NETWORK_LOG", os.devnull), "a") as log:
            log.write(f"{event} {address!r}\n")
        raise PermissionError(f"network access refused by the privacy test: {address!r}")
    if event == "socket.getaddrinfo" and args and not _is_local((args[0],)):
        with open(os.environ.get("NO_NETWORK_LOG", os.devnull), "a") as log:
            log.write(f"{event} {args[0]!r}\n")


def main() -> None:
    sys.addaudithook(_hook)
    if sys.argv[1:2] == ["chat-pilot"]:  # the chat app, headless, for one typed and one spoken turn
        from tests.support.chat_pilot import main as chat_main

        chat_main(sys.argv[2:])
        return
    from recall.cli import main as recall_main

    sys.argv = ["recall", *sys.argv[1:]]
    recall_main()


if __name__ == "__main__":
    main()

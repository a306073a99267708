#!/usr/bin/env python3
"""A slow-client attacker for the benchmark: keeps N connections open to a Cairn node from one
address, half silent before the TLS handshake and half stopped in the middle of a request's head,
opening a new one whenever the node cuts one off. Runs until killed; prints how many connections
it opened and how many the node ended, on SIGTERM.

    bench/slow_clients.py --port 8443 --connections 1000 [--sources 127.0.0.2,127.0.0.3]
"""
import argparse
import select
import signal
import socket
import ssl
import sys
import time

HEAD = b"PUT /mdm HTTP/1.1\r\nHost: cairn\r\nContent-Len"


def open_one(port, source, tls, context):
    raw = socket.create_connection(("127.0.0.1", port), source_address=(source, 0))
    if not tls:
        return raw
    conn = context.wrap_socket(raw, server_hostname="localhost")
    conn.sendall(HEAD)
    return conn


def ended(conn):
    if not select.select([conn], [], [], 0)[0]:
        return False
    try:
        conn.setblocking(False)
        return conn.recv(1) == b""
    except (ssl.SSLWantReadError, BlockingIOError):
        return False
    except (OSError, ssl.SSLError):
        return True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--sources", default="127.0.0.2", help="client addresses, in turn")
    args = parser.parse_args()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    opened = cut = 0
    running = True

    def stop(*_):
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    sources = args.sources.split(",")
    slots = [None] * args.connections
    while running:
        for i, conn in enumerate(slots):
            if conn is not None and ended(conn):
                conn.close()
                cut += 1
                conn = slots[i] = None
            if conn is None and running:
                try:
                    slots[i] = open_one(args.port, sources[i % len(sources)], i % 2 == 1, context)
                    opened += 1
                except OSError:
                    pass  # refused or reset: try again on the next round
        time.sleep(0.5)
    print(f"opened {opened} cut {cut}", flush=True)


if __name__ == "__main__":
    sys.exit(main())

"""Measures TCP goodput through one container's veth, from the host that runs it.

`down PID BYTES`: a receiver runs in the container's network namespace (nsenter) and this
process, in the host's namespace, sends BYTES to it: the traffic goes into the container.
`up PID BYTES`: this process receives on the container's gateway address and a sender in the
container's namespace sends BYTES to it: the traffic comes out of the container.

Prints one JSON object: bytes received, the goodput in kbit/s over the transfer, and the
largest amount that arrived within any 10 ms (how smooth the shaping is). Python 3.9 or later,
standard library only: it runs on the test machine and inside the netem guest alike.
"""

import json
import socket
import subprocess
import sys
import time

RECV_PORT = 9100
CHUNK = 64 * 1024
# The goodput leaves out the last bytes: a shaper may release them as one lump already paid
# for, which would make a short transfer look faster than the rate.
TAIL_BYTES = 70 * 1024
WINDOW_SECS = 0.010


def ns_cmd(pid, *args):
    return ["nsenter", "-t", str(pid), "-n", *args]


def container_addresses(pid):
    """The container's eth0 IPv4 address and its default gateway."""
    addr = json.loads(subprocess.check_output(ns_cmd(pid, "ip", "-j", "-4", "addr", "show", "eth0")))
    route = json.loads(subprocess.check_output(ns_cmd(pid, "ip", "-j", "route", "show", "default")))
    return addr[0]["addr_info"][0]["local"], route[0]["gateway"]


def receive(listener):
    conn, _ = listener.accept()
    arrivals = []
    while True:
        data = conn.recv(1 << 20)
        if not data:
            break
        arrivals.append((time.monotonic(), len(data)))
    end = time.monotonic()
    conn.close()
    return arrivals, end


def summarise(arrivals, end, sent):
    total = sum(n for _, n in arrivals)
    if total == 0:
        return {"bytes": 0, "sent": sent}
    first = arrivals[0][0]
    # Bytes before the arrival that starts the last TAIL_BYTES, over the time up to it.
    counted = 0
    goodput = None
    for t, n in arrivals:
        if counted + n >= total - TAIL_BYTES and t > first:
            goodput = counted * 8 / 1000 / (t - first)
            break
        counted += n
    peak = 0
    start = 0
    in_window = 0
    for t, n in arrivals:
        in_window += n
        while arrivals[start][0] < t - WINDOW_SECS:
            in_window -= arrivals[start][1]
            start += 1
        peak = max(peak, in_window)
    return {
        "bytes": total,
        "sent": sent,
        "goodput_kbit": goodput,
        "whole_kbit": total * 8 / 1000 / (end - first) if end > first else None,
        "secs": end - first,
        "peak_10ms_bytes": peak,
    }


def send(host, port, count):
    deadline = time.monotonic() + 15
    while True:
        try:
            sock = socket.create_connection((host, port), timeout=5)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    sock.settimeout(300)
    chunk = b"q" * CHUNK
    left = count
    while left > 0:
        n = min(left, CHUNK)
        sock.sendall(chunk[:n])
        left -= n
    sock.shutdown(socket.SHUT_WR)
    sock.recv(1)
    sock.close()


def main():
    mode = sys.argv[1]
    if mode == "send":
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    if mode == "recv":
        listener = socket.create_server(("0.0.0.0", RECV_PORT))
        print("ready", flush=True)
        arrivals, end = receive(listener)
        print(json.dumps([[t, n] for t, n in arrivals] + [[end, 0]]), flush=True)
        return

    pid, count = int(sys.argv[2]), int(sys.argv[3])
    ip, gateway = container_addresses(pid)
    script = sys.argv[0]
    if mode == "down":
        receiver = subprocess.Popen(
            ns_cmd(pid, sys.executable, script, "recv"), stdout=subprocess.PIPE, text=True
        )
        assert receiver.stdout.readline().strip() == "ready"
        send(ip, RECV_PORT, count)
        out, _ = receiver.communicate(timeout=300)
        rows = json.loads(out)
        arrivals, end = [(t, n) for t, n in rows[:-1]], rows[-1][0]
    elif mode == "up":
        listener = socket.create_server((gateway, 0))
        port = listener.getsockname()[1]
        sender = subprocess.Popen(ns_cmd(pid, sys.executable, script, "send", gateway, str(port), str(count)))
        arrivals, end = receive(listener)
        sender.wait(timeout=60)
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(summarise(arrivals, end, count)))


if __name__ == "__main__":
    main()

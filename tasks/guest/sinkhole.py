"""The in-guest sinkhole: a resolver and a catch-all listener for the redirected traffic of the
tasks that declare `network: 'sinkhole'` (see vm-agent/src/sinkhole.ts for the routes and the
nftables rules that bring that traffic here).

Started by the agent as root, it binds its sockets, opens the conntrack table (the original
destination of a redirected UDP datagram is there), then drops to an unprivileged uid of its own
before it reads a byte from package code. Stdlib only.

- DNS (UDP and TCP): every A query gets SINK_V4, every AAAA SINK_V6, anything else an empty NOERROR.
- TCP: TLS ClientHello -> the SNI is recorded and the connection closed; HTTP -> method, host, path,
  headers and the first KiB of the body are recorded and answered `200 OK` with a body that is
  valid sh and valid Python; anything else is read (limit, short timeout) and closed.
- UDP to other ports: recorded, not answered.

Output: one JSON object a line on stdout, records and control lines (`{"ctl": ...}`). Commands on
stdin: `flush ID` writes every record of the connections still open, then `{"ctl": "flushed",
"id": ID}`; the agent cuts each task's share of the records there.
"""
import base64
import json
import os
import select
import socket
import struct
import sys
import threading
import time

SINK_V4 = "198.51.100.7"
SINK_V6 = "2001:db8::7"
TTL = 300
BODY = b"#!/bin/sh\n# sinkhole\n"
KEEP = 1024            # payload bytes kept per record
READ_LIMIT = 1 << 20   # bytes read per connection at most
IDLE = 1.5             # seconds without data before a connection is closed
FIRST_BYTE = 5.0       # seconds the first bytes may take (a client under emulation may load its CA file first)
CONN_SECONDS = 10.0    # longest a connection is kept
MAX_CONNS = 64         # connections served at once; more are recorded and closed at once
MAX_RECORDS = 5000     # records per flush window; more are counted only
SO_ORIGINAL_DST = 80
IP6T_SO_ORIGINAL_DST = 80

_out_lock = threading.Lock()
_state_lock = threading.Lock()
_open = {}             # id(conn record) -> record, for flush
_window = {"records": 0, "suppressed": 0}
_conntrack_fd = None


def emit(obj):
    line = json.dumps(obj, separators=(",", ":"), ensure_ascii=True) + "\n"
    with _out_lock:
        sys.stdout.write(line)
        sys.stdout.flush()


def record(rec):
    with _state_lock:
        if _window["records"] >= MAX_RECORDS:
            _window["suppressed"] += 1
            return
        _window["records"] += 1
    emit(rec)


def clip(s, n):
    return s if len(s) <= n else s[:n]


def text(b, n):
    return clip(b.decode("latin-1"), n)


def plain(addr):
    """An address as people write it: IPv4-mapped IPv6 becomes IPv4, IPv6 is compressed."""
    if addr.startswith("::ffff:") and "." in addr:
        return addr[7:]
    try:
        return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, addr))
    except OSError:
        return addr


def original_tcp(conn, peer):
    """The destination a redirected TCP connection asked for (conntrack's original tuple)."""
    try:
        if plain(peer[0]).count(".") == 3:
            r = conn.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
            return socket.inet_ntoa(r[4:8]), struct.unpack("!H", r[2:4])[0]
        r = conn.getsockopt(socket.IPPROTO_IPV6, IP6T_SO_ORIGINAL_DST, 28)
        return plain(socket.inet_ntop(socket.AF_INET6, r[8:24])), struct.unpack("!H", r[2:4])[0]
    except OSError:
        return "unknown", 0


def original_udp(peer, local_port):
    """The destination of a redirected datagram, from the conntrack table (opened before the drop)."""
    if _conntrack_fd is None:
        return "unknown", 0
    src, sport = plain(peer[0]), peer[1]
    data = b""
    try:
        while len(data) < (4 << 20):
            chunk = os.pread(_conntrack_fd, 1 << 16, len(data))
            if not chunk:
                break
            data += chunk
    except OSError:
        return "unknown", 0
    for line in data.decode("latin-1").splitlines():
        if " udp " not in line:
            continue
        kv = [f.split("=", 1) for f in line.split() if "=" in f]
        orig = {}
        reply = {}
        for k, v in kv:
            (reply if k in orig else orig).setdefault(k, v)
        if orig.get("sport") == str(sport) and reply.get("sport") == str(local_port) and plain(orig.get("src", "")) == src:
            return plain(orig.get("dst", "unknown")), int(orig.get("dport", "0"))
    return "unknown", 0


# --- DNS ---------------------------------------------------------------------------------------

QTYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV", 65: "HTTPS", 255: "ANY"}


def parse_query(msg):
    """(id, flags, name, qtype, question bytes) of a DNS query, or None."""
    if len(msg) < 17:
        return None
    qid, flags, qd = struct.unpack("!HHH", msg[:6])
    if flags & 0x8000 or qd < 1:
        return None
    i, labels = 12, []
    while True:
        if i >= len(msg):
            return None
        n = msg[i]
        if n == 0:
            i += 1
            break
        if n > 63 or i + 1 + n > len(msg) or len(labels) > 127:
            return None
        label = msg[i + 1:i + 1 + n]
        labels.append("".join(chr(c) if 0x21 <= c < 0x7f and c not in (0x2e, 0x5c) else "\\%03d" % c for c in label))
        i += 1 + n
    if i + 4 > len(msg):
        return None
    qtype, _qclass = struct.unpack("!HH", msg[i:i + 4])
    return qid, flags, ".".join(labels), qtype, msg[12:i + 4]


def answer(q):
    qid, flags, _name, qtype, question = q
    rr = b""
    if qtype == 1:
        rr = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, TTL, 4) + socket.inet_aton(SINK_V4)
    elif qtype == 28:
        rr = b"\xc0\x0c" + struct.pack("!HHIH", 28, 1, TTL, 16) + socket.inet_pton(socket.AF_INET6, SINK_V6)
    rflags = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080   # QR, AA, RD copied, RA; rcode NOERROR
    return struct.pack("!HHHHHH", qid, rflags, 1, 1 if rr else 0, 0, 0) + question + rr


def dns_record(q, dst, size):
    return {"kind": "dns", "time": time.time(), "address": dst[0], "port": dst[1], "dnsName": clip(q[2], 512),
            "dnsType": QTYPES.get(q[3], str(q[3])), "bytesSent": size}


def serve_dns_udp(sock, port):
    while True:
        msg, peer = sock.recvfrom(4096)
        q = parse_query(msg)
        dst = original_udp(peer, port)
        if q is None:
            record({"kind": "udp", "time": time.time(), "address": dst[0], "port": dst[1], "bytesSent": len(msg),
                    "payloadBase64": base64.b64encode(msg[:KEEP]).decode()})
            continue
        record(dns_record(q, dst, len(msg)))
        try:
            sock.sendto(answer(q), peer)
        except OSError:
            pass


def serve_dns_tcp(conn, peer):
    dst = original_tcp(conn, peer)
    buf = b""
    total = 0
    deadline = time.time() + CONN_SECONDS
    while time.time() < deadline and total < READ_LIMIT:
        while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
            n = struct.unpack("!H", buf[:2])[0]
            msg, buf = buf[2:2 + n], buf[2 + n:]
            q = parse_query(msg)
            if q is None:
                return
            record(dns_record(q, dst, n + 2))
            a = answer(q)
            conn.sendall(struct.pack("!H", len(a)) + a)
        chunk = recv(conn, deadline)
        if not chunk:
            return
        total += len(chunk)
        buf += chunk


# --- TCP ---------------------------------------------------------------------------------------

METHODS = (b"GET", b"POST", b"PUT", b"HEAD", b"DELETE", b"OPTIONS", b"PATCH", b"CONNECT", b"TRACE")


def recv(conn, deadline, idle=IDLE):
    wait = min(idle, deadline - time.time())
    if wait <= 0:
        return b""
    conn.settimeout(wait)
    try:
        return conn.recv(65536)
    except OSError:
        return b""


def sni_of(hello):
    """The server name of a TLS ClientHello record, or None."""
    try:
        i = 5 + 4 + 2 + 32          # record header, handshake header, version, random
        i += 1 + hello[i]           # session id
        i += 2 + struct.unpack("!H", hello[i:i + 2])[0]   # cipher suites
        i += 1 + hello[i]           # compression methods
        end = i + 2 + struct.unpack("!H", hello[i:i + 2])[0]
        i += 2
        while i + 4 <= min(end, len(hello)):
            etype, elen = struct.unpack("!HH", hello[i:i + 4])
            if etype == 0:
                j = i + 4 + 2
                if hello[j] == 0:
                    n = struct.unpack("!H", hello[j + 1:j + 3])[0]
                    return text(hello[j + 3:j + 3 + n], 256)
                return None
            i += 4 + elen
    except (IndexError, struct.error):
        return None
    return None


def serve_tcp(conn, peer, rec):
    deadline = time.time() + CONN_SECONDS
    data = recv(conn, deadline, FIRST_BYTE)
    rec["bytesSent"] = len(data)
    if data[:1] == b"\x16" and data[1:2] == b"\x03":
        while len(data) < 5 + struct.unpack("!H", data[3:5])[0] and len(data) < 16384:
            more = recv(conn, deadline)
            if not more:
                break
            data += more
            rec["bytesSent"] = len(data)
        sni = sni_of(data)
        if sni is not None:
            rec["sni"] = sni
        rec["payloadBase64"] = base64.b64encode(data[:KEEP]).decode()
        return
    if data.split(b" ", 1)[0] in METHODS:
        while b"\r\n\r\n" not in data and len(data) < 16384:
            more = recv(conn, deadline)
            if not more:
                break
            data += more
            rec["bytesSent"] = len(data)
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        headers = []
        length = 0
        for ln in lines[1:65]:
            k, _, v = ln.partition(b":")
            headers.append([text(k.strip(), 128), text(v.strip(), 1024)])
            if k.strip().lower() == b"content-length":
                try:
                    length = min(int(v.strip()), READ_LIMIT)
                except ValueError:
                    pass
        http = {"method": text(parts[0], 16), "path": text(parts[1] if len(parts) > 1 else b"", 2048), "headers": headers}
        host = [v for k, v in headers if k.lower() == "host"]
        if host:
            http["host"] = host[0]
        rec["http"] = http
        while len(body) < min(length, KEEP):
            more = recv(conn, deadline)
            if not more:
                break
            body += more
            rec["bytesSent"] += len(more)
        if body:
            rec["payloadBase64"] = base64.b64encode(body[:KEEP]).decode()
        payload = b"" if http["method"] == "HEAD" else BODY
        try:
            conn.sendall(b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/octet-stream\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(BODY) + payload)
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            return
    kept = data[:KEEP] if "http" not in rec else None
    if kept:
        rec["payloadBase64"] = base64.b64encode(kept).decode()
    # Whatever else it sends is counted, until it stops, the time is up or the limit is reached.
    while rec["bytesSent"] < READ_LIMIT:
        more = recv(conn, deadline)
        if not more:
            break
        rec["bytesSent"] += len(more)
        if kept is not None and len(kept) < KEEP:
            kept = (kept + more)[:KEEP]
            rec["payloadBase64"] = base64.b64encode(kept).decode()


def handle(conn, peer, dns):
    try:
        if dns:
            serve_dns_tcp(conn, peer)
            return
        dst = original_tcp(conn, peer)
        rec = {"kind": "tcp", "time": time.time(), "address": dst[0], "port": dst[1], "bytesSent": 0}
        with _state_lock:
            _open[id(rec)] = rec
        try:
            serve_tcp(conn, peer, rec)
        finally:
            with _state_lock:
                mine = _open.pop(id(rec), None) is not None
            if mine:
                record(rec)
    except Exception as err:  # a hostile peer must not end the sinkhole
        sys.stderr.write("sinkhole: %s\n" % err)
    finally:
        conn.close()


_active = threading.BoundedSemaphore(MAX_CONNS)


def accept_loop(sock, dns):
    while True:
        conn, peer = sock.accept()
        if not _active.acquire(blocking=False):
            dst = original_tcp(conn, peer)
            record({"kind": "tcp", "time": time.time(), "address": dst[0], "port": dst[1], "bytesSent": 0})
            conn.close()
            continue

        def run(c=conn, p=peer):
            try:
                handle(c, p, dns)
            finally:
                _active.release()
        threading.Thread(target=run, daemon=True).start()


def serve_udp(sock, port):
    while True:
        msg, peer = sock.recvfrom(65536)
        dst = original_udp(peer, port)
        record({"kind": "udp", "time": time.time(), "address": dst[0], "port": dst[1], "bytesSent": len(msg),
                "payloadBase64": base64.b64encode(msg[:KEEP]).decode()})


def flush(ident):
    """Records the connections still open as they stand, then says so."""
    with _state_lock:
        pending = list(_open.values())
        _open.clear()
    for rec in pending:
        record(dict(rec))
    with _state_lock:
        suppressed = _window["suppressed"]
        _window["records"] = 0
        _window["suppressed"] = 0
    emit({"ctl": "flushed", "id": ident, "suppressed": suppressed})


def bind(kind, port):
    try:
        s = socket.socket(socket.AF_INET6, kind)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        addr = ("::", port)
    except OSError:
        s = socket.socket(socket.AF_INET, kind)
        addr = ("0.0.0.0", port)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(addr)
    if kind == socket.SOCK_STREAM:
        s.listen(128)
    return s


def main(argv):
    global _conntrack_fd
    opts = dict(zip(argv[0::2], argv[1::2]))
    uid = int(opts.get("--uid", "1999"))
    dns_port = int(opts.get("--dns-port", "19053"))
    tcp_port = int(opts.get("--tcp-port", "19080"))
    udp_port = int(opts.get("--udp-port", "19081"))
    dns_udp, dns_tcp = bind(socket.SOCK_DGRAM, dns_port), bind(socket.SOCK_STREAM, dns_port)
    tcp, udp = bind(socket.SOCK_STREAM, tcp_port), bind(socket.SOCK_DGRAM, udp_port)
    try:
        _conntrack_fd = os.open("/proc/net/nf_conntrack", os.O_RDONLY)
    except OSError as err:
        sys.stderr.write("sinkhole: no conntrack table (%s): UDP destinations unknown\n" % err)
    if os.getuid() == 0:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    for target, args in ((serve_dns_udp, (dns_udp, dns_port)), (accept_loop, (dns_tcp, True)),
                         (accept_loop, (tcp, False)), (serve_udp, (udp, udp_port))):
        threading.Thread(target=target, args=args, daemon=True).start()
    emit({"ctl": "ready", "uid": os.getuid(), "conntrack": _conntrack_fd is not None})
    buf = b""
    while True:
        r, _, _ = select.select([0], [], [])
        chunk = os.read(0, 4096)
        if not chunk:
            return 0
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            cmd = line.decode("latin-1").split()
            if len(cmd) == 2 and cmd[0] == "flush":
                flush(clip(cmd[1], 64))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""A simulated network link: TCP proxies sharing one bandwidth cap per direction and a round-trip delay.

Every server the benchmark starts sits behind a `LinkProxy` port; clients only ever see the proxy ports. All
proxies of one `Link` share one downstream and one upstream token bucket (the link rate), and every chunk in
each direction is delivered RTT/2 after it was read (order preserved), so:

- a new connection pays one RTT before its first byte reaches the server (the TCP handshake), then RTT/2 more;
- each request/response pays one RTT;
- all connections together never exceed the link rate.

The link counts bytes down (server to client), bytes up and accepted connections; `reset_counters()` starts a
new run. The shaping can be switched off and on at run time (`set_shape`), so the untimed preparation of a run
(a first sync, a shallow clone of commit A) goes through the same ports at loopback speed.
"""
import asyncio
import socket
import threading
import time

CHUNK = 16384


class Pacer:
    """A FIFO serializer at `rate` bytes/s shared by all connections in one direction: each chunk occupies the
    link for len/rate seconds, in arrival order. A token bucket `DEPTH` seconds deep: a late wake-up of the
    event loop is made up for instead of lowering the rate."""

    DEPTH = 0.02

    def __init__(self):
        self.next_free = 0.0

    async def send(self, n, rate):
        if not rate:
            return
        now = time.monotonic()
        start = max(now - self.DEPTH, self.next_free)
        self.next_free = start + n / rate
        wait = self.next_free - now
        if wait > 0:
            await asyncio.sleep(wait)


class Link:
    """One simulated link: the shared buckets, the delay, the counters, and an event loop thread for the proxies."""

    def __init__(self, rate=None, rtt=0.0):
        self.rate, self.rtt = rate, rtt
        self.shaping = True
        self.down, self.up = Pacer(), Pacer()
        self.reset_counters()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.servers, self.live = [], set()

    def reset_counters(self):
        """Zero the byte and connection counters (the start of a measured run)."""
        self.bytes_down = self.bytes_up = self.connections = 0

    def counters(self):
        return {"bytes_down": self.bytes_down, "bytes_up": self.bytes_up, "connections": self.connections}

    def set_shape(self, on):
        """Turn the rate cap and delay on (measured runs) or off (untimed preparation)."""
        self.shaping = on

    def proxy(self, upstream_port):
        """Start a proxy to 127.0.0.1:`upstream_port`; returns the proxy's port."""
        fut = asyncio.run_coroutine_threadsafe(self._listen(upstream_port), self.loop)
        return fut.result(10)

    def close(self):
        async def shutdown():
            for s in self.servers:
                s.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    async def _listen(self, upstream_port):
        server = await asyncio.start_server(
            lambda r, w: self._connection(r, w, upstream_port), "127.0.0.1", 0, backlog=256)
        self.servers.append(server)
        return server.sockets[0].getsockname()[1]

    async def _connection(self, client_r, client_w, upstream_port):
        # asyncio holds tasks weakly and an aborted transport lets go of this one: keep it until it ends.
        self.live.add(asyncio.current_task())
        try:
            await self._proxy(client_r, client_w, upstream_port)
        finally:
            self.live.discard(asyncio.current_task())

    async def _proxy(self, client_r, client_w, upstream_port):
        self.connections += 1
        opened = time.monotonic()
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", upstream_port)
        except OSError:
            client_w.close()
            return
        for w in (client_w, server_w):
            w.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Client to server waits for the simulated handshake (one RTT after the connection opened).
        handshake = opened + (self.rtt if self.shaping else 0.0)
        def abort():  # one side reset: drop the other too, as a dead client's server would see
            for w in (client_w, server_w):
                w.transport.abort()

        try:
            await asyncio.gather(
                self._pump(client_r, server_w, upward=True, not_before=handshake, abort=abort),
                self._pump(server_r, client_w, upward=False, not_before=0.0, abort=abort),
                return_exceptions=True)
        except asyncio.CancelledError:  # the link is closing
            pass
        for w in (client_w, server_w):
            w.close()

    async def _pump(self, reader, writer, upward, not_before, abort):
        """Copy one direction: read, pace through the shared bucket, deliver RTT/2 later, in order."""
        queue = asyncio.Queue()
        deliver = asyncio.ensure_future(self._deliver(queue, writer, abort))
        pacer = self.up if upward else self.down
        try:
            while True:
                data = await reader.read(CHUNK)
                if not data:
                    break
                if upward:
                    self.bytes_up += len(data)
                else:
                    self.bytes_down += len(data)
                if self.shaping:
                    await pacer.send(len(data), self.rate)
                    due = max(time.monotonic(), not_before) + self.rtt / 2
                else:
                    due = 0.0
                queue.put_nowait((due, data))
        except (ConnectionError, OSError):
            abort()
        queue.put_nowait((0.0, None))
        await deliver

    @staticmethod
    async def _deliver(queue, writer, abort):
        try:
            while True:
                due, data = await queue.get()
                if data is None:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            abort()


LINKS = {
    "slow": {"rate": 1_000_000, "rtt": 0.100, "label": "1 MB/s, 100 ms RTT"},
    "medium": {"rate": 10_000_000, "rtt": 0.020, "label": "10 MB/s, 20 ms RTT"},
    "loopback": {"rate": None, "rtt": 0.0, "label": "loopback (counting proxy only)"},
}


def self_check(rate=1_000_000, rtt=0.1):
    """Measure a 2 MB download at `rate` and a tiny request through a fresh link; returns (bulk s, tiny s)."""
    import http.server

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            body = b"x" * (2_000_000 if self.path == "/big" else 1)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    link = Link(rate, rtt)
    port = link.proxy(httpd.server_address[1])
    try:
        import http.client
        times = []
        for path in ("/big", "/tiny"):
            conn = http.client.HTTPConnection("127.0.0.1", port)
            conn.connect()
            time.sleep(rtt * 1.5)  # let the handshake delay pass: time the request alone
            t = time.monotonic()
            conn.request("GET", path)
            conn.getresponse().read()
            times.append(time.monotonic() - t)
            conn.close()
        return times
    finally:
        link.close()
        httpd.shutdown()

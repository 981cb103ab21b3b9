#!/usr/bin/env python3
"""A hostile UPnP "device" for the lab: answers every M-SEARCH with malformed, huge and malicious
SSDP replies whose LOCATIONs serve hostile descriptions (entity expansion, external entities,
megabytes, deep nesting, wrong types). Runs inside a lab network namespace only.

usage: hostile_upnp_device.py ADDRESS HTTP_PORT
Prints one line per M-SEARCH received and per description fetched (the test reads them)."""
import http.server
import socket
import sys
import threading

addr, http_port = sys.argv[1], int(sys.argv[2])
ST = "urn:schemas-upnp-org:device:MediaRenderer:1"
NS = 'xmlns="urn:schemas-upnp-org:device-1-0"'

laughs = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + "".join('<!ENTITY lol%d "%s">' % (i, ("&lol%d;" % (i - 1) if i > 1 else "&lol;") * 10) for i in range(1, 10))
          + ']><root %s><device><deviceType>%s</deviceType><friendlyName>&lol9;</friendlyName><UDN>uuid:evil-laughs</UDN></device></root>' % (NS, ST))
xxe = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><root %s><device><deviceType>%s</deviceType>'
       '<friendlyName>&x;</friendlyName><UDN>uuid:evil-xxe</UDN></device></root>' % (NS, ST))
wrong = ('<?xml version="1.0"?><root %s><device><deviceType>%s</deviceType><friendlyName><b>nested</b></friendlyName>'
         '<UDN>uuid:evil-wrong</UDN><serviceList><service><serviceType>urn:schemas-upnp-org:service:AVTransport:1</serviceType>'
         '<controlURL>javascript:alert(1)</controlURL><eventSubURL>ftp://x/</eventSubURL></service></serviceList></device></root>' % (NS, ST))
files = {
    "/laughs.xml": laughs.encode(),
    "/xxe.xml": xxe.encode(),
    "/wrong.xml": wrong.encode(),
    "/big.xml": b'<?xml version="1.0"?><root><device><friendlyName>' + b"a" * (8 << 20) + b"</friendlyName></device></root>",
    "/deep.xml": b'<?xml version="1.0"?>' + b"<a>" * 200000 + b"</a>" * 200000,
    "/truncated.xml": ('<?xml version="1.0"?><root %s><device><deviceType>%s</deviceType><UDN>uuid:evil-trunc' % (NS, ST)).encode(),
}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = files.get(self.path)
        print("GET %s" % self.path, flush=True)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", 'text/xml; charset="utf-8"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the driver stops reading at its size cap: exactly what we want

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer((addr, http_port), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()


def reply(location, usn, extra=""):
    return ("HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nLOCATION: %s\r\nST: %s\r\nUSN: %s\r\n%s\r\n"
            % (location, ST, usn, extra)).encode()


listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("", 1900))
listener.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton("239.255.255.250") + socket.inet_aton(addr))
print("ready", flush=True)
while True:
    data, peer = listener.recvfrom(65535)
    if not data.startswith(b"M-SEARCH"):
        continue
    print("M-SEARCH from %s:%d" % peer, flush=True)
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    out.bind((addr, 0))
    answers = [
        b"\x00\xff\xfe not ssdp at all",
        b"HTTP/1.1 200 OK\r\nX-PADDING: " + b"y" * 60000 + b"\r\n\r\n",
        reply("https://%s/secure.xml" % addr, "uuid:evil-https::" + ST),
        reply("http://%s:%d/laughs.xml" % (addr, http_port), ""),  # no USN
        reply("file:///etc/passwd", "uuid:evil-file::" + ST),
        b"HTTP/1.1 200 OK\r\nLOCATION: http://%s:%d/xxe.xml\r\nST: %s\r\nUSN: uuid:evil\x01ctl\r\n\r\n" % (addr.encode(), http_port, ST.encode()),
    ]
    for name in ("laughs", "xxe", "wrong", "big", "deep", "truncated"):
        answers.append(reply("http://%s:%d/%s.xml" % (addr, http_port, name), "uuid:evil-%s::%s" % (name, ST)))
    for answer in answers:
        try:
            out.sendto(answer, peer)
        except OSError as error:
            print("send failed: %s" % error, flush=True)
    out.close()

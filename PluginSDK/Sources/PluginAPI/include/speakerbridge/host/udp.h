/*
 * Host service: UDP sockets, multicast included.
 * Part of the speakerbridge plugin ABI; plugins include speakerbridge_plugin.h.
 */
#ifndef SPEAKERBRIDGE_HOST_UDP_H
#define SPEAKERBRIDGE_HOST_UDP_H

#include "../core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* UDP, including multicast on a chosen interface (SSDP discovery). IPv4 only.
 * Every socket of an instance is closed when it is destroyed (unload, hot reload). */
#define SB_HOST_EXT_UDP "speakerbridge.host.udp/1"
/* Called on the instance's executor. `from_address` is dotted IPv4 text; it and `data` live for the
 * call. A datagram is read into at most 64 KiB; at most 256 datagrams per socket wait for the
 * executor, later ones are dropped (and counted in the host's log) until the plugin catches up. */
typedef void (*sb_udp_receive_fn)(void *user, const char *from_address, uint16_t from_port,
                                  const void *data, size_t size);
typedef struct sb_host_udp {
    uint32_t struct_size;
    /* [any-thread] Opens a socket bound to `interface` ("" = the configured default) and port
     * (0 = any); joins `multicast_group` when not NULL. Datagrams arrive through `receive`.
     * `interface` is a name ("eth0") or one of its IPv4 addresses; "" is the daemon's
     * `network.interface` setting, itself by default the first up, non-loopback, multicast-capable
     * IPv4 interface. Without a group the socket binds the interface's address:port (answers to
     * an M-SEARCH sent from it come back to it); with a group it binds 0.0.0.0:port
     * (SO_REUSEADDR) and joins the group on that interface only. Outgoing multicast always leaves
     * on the interface, with TTL 2 and without looping back to the host's own sockets.
     * Binding takes a few milliseconds, during which the call blocks.
     * Errors: SB_ERR_INVALID (unknown interface, not a multicast group), SB_ERR_FAILED (cannot
     * bind or join), SB_ERR_BUSY (more than 32 sockets); the reason goes to `err`, e.g.
     * "no interface named eth7", "cannot bind 10.0.0.2:1900: address in use". */
    sb_status (*open)(const sb_host *host, const char *interface, uint16_t port,
                      const char *multicast_group, sb_udp_receive_fn receive, void *user,
                      uint64_t *out_socket_id, char *err, size_t err_size);
    /* [any-thread] Sends one datagram (at most 65507 bytes) to an IPv4 address (dotted text),
     * multicast groups included. Waits until the kernel took it. SB_OK, SB_ERR_INVALID (not an
     * IPv4 address, port 0, too big), SB_ERR_NOT_FOUND (unknown or closed socket) or
     * SB_ERR_FAILED (the kernel refused, e.g. no route). */
    sb_status (*send)(const sb_host *host, uint64_t socket_id, const char *address, uint16_t port,
                      const void *data, size_t size);
    /* [any-thread] No effect on an unknown socket. Datagrams still waiting for the executor are
     * dropped: called on the executor, no `receive` for this socket follows. */
    void (*close)(const sb_host *host, uint64_t socket_id);
} sb_host_udp;

#ifdef __cplusplus
}
#endif

#endif /* SPEAKERBRIDGE_HOST_UDP_H */

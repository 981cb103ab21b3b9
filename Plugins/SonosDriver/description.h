/* UPnP device descriptions (the XML at an SSDP LOCATION). Control and event URLs are read from
 * here and resolved against URLBase or the LOCATION — never assumed. Services of embedded devices
 * (a Sonos player keeps AVTransport inside its MediaRenderer device) are collected too. */
#ifndef SONOS_DESCRIPTION_H
#define SONOS_DESCRIPTION_H

#include <stdbool.h>
#include <stddef.h>

#define SN_MAX_SERVICES 24

typedef struct sn_service {
    char type[160];        /* "urn:schemas-upnp-org:service:AVTransport:1" */
    char control_url[512]; /* absolute */
    char event_url[512];   /* absolute, "" when the service has no events */
} sn_service;

typedef struct sn_description {
    char udn[128];          /* root device UDN without "uuid:" (RINCON_… on Sonos) */
    char device_type[160];
    char friendly_name[160];
    char room_name[128];    /* Sonos <roomName>; "" elsewhere */
    char manufacturer[128];
    char model_name[128];
    char model_number[64];
    char display_name[128]; /* Sonos <displayName> ("One", "Arc"); "" elsewhere */
    bool is_sonos;          /* device type ZonePlayer or manufacturer Sonos */
    sn_service services[SN_MAX_SERVICES];
    size_t service_count;
} sn_description;

/* 0 or -1 with a reason (XML errors, missing <device>, missing UDN, unresolvable URLs). */
int sn_description_parse(const char *xml, size_t size, const char *location, sn_description *out,
                         char *err, size_t err_size);
/* The service whose type is "urn:*:service:<name>:<n>" for any version n, or NULL. */
const sn_service *sn_description_service(const sn_description *d, const char *name);

#endif

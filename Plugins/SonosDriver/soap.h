/* SOAP 1.1 as UPnP uses it: the request envelope, and reading the answer or the UPnP fault. */
#ifndef SONOS_SOAP_H
#define SONOS_SOAP_H

#include "text.h"
#include "xml.h"

#include <stdbool.h>
#include <stddef.h>

/* Appends the envelope for `action` of `service_type`; `args` is name, value, name, value, …, NULL
 * (values are escaped here; order is kept, as UPnP requires). */
void sn_soap_envelope(sn_text *out, const char *service_type, const char *action, const char *const *args);

typedef struct sn_soap_result {
    int upnp_code;        /* UPnPError errorCode, 0 when none */
    bool unanswered;      /* no answer at all (timeout, refused, reset): set by sn_soap (soap_call.c) */
    char reason[320];     /* readable failure ("714 Illegal MIME-type (AVTransport)") when != 0 */
    sn_xml_node *doc;     /* owned; freed by sn_soap_result_free */
    const sn_xml_node *response; /* the <ActionResponse> element on success */
} sn_soap_result;

/* 0: success (`response` set). -1: failure with `reason` (HTTP error, UPnP fault with its code
 * mapped by sn_upnp_error_text, malformed XML, missing <ActionResponse>). */
int sn_soap_parse_response(int http_status, const void *body, size_t size, const char *action,
                           sn_soap_result *out);
void sn_soap_result_free(sn_soap_result *r);
/* Output argument of a successful response, NULL when absent. */
const char *sn_soap_out(const sn_soap_result *r, const char *name);

/* Readable meaning of a UPnP error code for a service ("AVTransport", "RenderingControl", …);
 * the UDA common codes (401, 402, 501 …) and AVTransport 7xx ones (701 transition not available,
 * 714 illegal MIME type …), Sonos-specific ones where known (GroupRenderingControl 701 "player
 * isn't the coordinator", 800, AlarmClock 801). A fault's reason prefers what the code means for
 * its action where Sonos gives it one (Seek 701 and SetPlayMode 712 on a group member,
 * RemoveAllTracksFromQueue 804). Never NULL. */
const char *sn_upnp_error_text(const char *service, int code);

#endif

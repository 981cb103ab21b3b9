/* The devices' side for unit tests: descriptions of a plain UPnP renderer and of a Sonos player as
 * the parser would return them, speakers made from them, and SOAP answers and faults as devices
 * send them. */
#ifndef SONOS_FAKE_DEVICES_H
#define SONOS_FAKE_DEVICES_H

#include "fake_host.h"

/* A renderer (AVTransport, RenderingControl) or, with `sonos`, a Sonos player (those and
 * ZoneGroupTopology, GroupRenderingControl), at http://<ip>:1400/… (Sonos) or :49152/… . */
void fake_description(sn_description *d, const char *uuid, const char *room, const char *ip, bool sonos);
/* The description URL fake_description's services hang off. */
void fake_location(char *out, size_t size, const char *ip, bool sonos);
/* Adds (or updates) the speaker and applies that description: a renderer is online at once, a
 * Sonos player waits for its topology (NEEDS_TOPOLOGY). */
sn_speaker *fake_speaker(sb_instance *inst, const char *uuid, const char *room, const char *ip, bool sonos);

/* The SOAP action a request asks for ("GetVolume"), from its SOAPACTION header; "" when none. */
const char *fake_soap_action(const fake_request *r);
/* Answers a SOAP request with <ActionResponse> holding the NULL-terminated name, value pairs. */
void fake_soap_answer(fake_host *f, fake_request *r, const char *const *out_args);
/* Answers it with a UPnP fault (HTTP 500, UPnPError `code`). */
void fake_soap_fault(fake_host *f, fake_request *r, int code);

#endif

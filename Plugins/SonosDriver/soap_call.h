/* One SOAP action on one speaker, asynchronously, through the host's HTTP client. A request that
 * gets no answer makes the speaker UNREACHABLE on the lifecycle hub; a UPnP fault does not. */
#ifndef SONOS_SOAP_CALL_H
#define SONOS_SOAP_CALL_H

#include "instance.h"
#include "soap.h"

typedef void (*sn_soap_fn)(sb_instance *inst, void *ctx, int ok, sn_soap_result *result);

/* Sends `action` to the speaker's `kind` service; `done` gets ok=1 and the parsed answer, or ok=0
 * and the reason in result->reason. Returns false (and `done` does not run) when the speaker has
 * no such service or the request could not start; `err` says which. */
bool sn_soap(sb_instance *inst, sn_speaker *s, sn_service_kind kind, const char *action,
             const char *const *args, sn_soap_fn done, void *ctx, char *err, size_t err_size);

#endif

/* One SOAP action (soap_call.c over the model, with a fake host): what is sent, the answer and a
 * fault handed back, and a request without an answer making the speaker UNREACHABLE. */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "fake_devices.h"
#include "soap_call.h"

static fake_host f;

typedef struct outcome {
    int calls;
    int ok;
    int upnp_code;
    char reason[320];
    char value[64];
} outcome;

static void done(sb_instance *inst, void *ctx, int ok, sn_soap_result *result)
{
    (void)inst;
    outcome *o = ctx;
    o->calls++;
    o->ok = ok;
    o->upnp_code = result->upnp_code;
    snprintf(o->reason, sizeof o->reason, "%s", result->reason);
    const char *v = ok ? sn_soap_out(result, "CurrentVolume") : NULL;
    snprintf(o->value, sizeof o->value, "%s", v != NULL ? v : "");
}

int main(void)
{
    fake_host_init(&f);
    sb_instance *inst = fake_instance(&f, "{\"soap_timeout\": 3}");
    fake_listen(&f, inst);
    sn_speaker *s = fake_speaker(inst, "uuid-1", "Study", "10.0.0.5", false);
    char err[200] = "";
    outcome o = { 0 };
    const char *const args[] = { "InstanceID", "0", "Channel", "Master", NULL };

    /* An answer: the out arguments come back. */
    CHECK(sn_soap(inst, s, SN_RC, "GetVolume", args, done, &o, err, sizeof err));
    fake_request *r = fake_http_find(&f, "POST", NULL);
    CHECK(r != NULL);
    if (r == NULL) return CHECK_DONE("test_soap_call");
    CHECK_STR(r->url, "http://10.0.0.5:49152/MediaRenderer/RenderingControl/Control");
    CHECK(strstr(r->headers, "SOAPACTION: \"urn:schemas-upnp-org:service:RenderingControl:1#GetVolume\"") != NULL);
    CHECK(strstr(r->body, "<u:GetVolume") != NULL && strstr(r->body, "<Channel>Master</Channel>") != NULL);
    s->last_seen_ms = 0;
    fake_soap_answer(&f, r, (const char *const[]){ "CurrentVolume", "31", NULL });
    CHECK(o.calls == 1 && o.ok == 1);
    CHECK_STR(o.value, "31");
    CHECK(s->last_seen_ms > 0);

    /* A UPnP fault: the device answered, so it is not suspect. */
    o = (outcome){ 0 };
    CHECK(sn_soap(inst, s, SN_AVT, "SetAVTransportURI", (const char *const[]){ "InstanceID", "0", NULL }, done, &o,
                  err, sizeof err));
    fake_soap_fault(&f, fake_http_find(&f, "POST", NULL), 714);
    CHECK(o.calls == 1 && o.ok == 0 && o.upnp_code == 714);
    CHECK(strstr(o.reason, "SetAVTransportURI") != NULL && strstr(o.reason, "714") != NULL);
    CHECK_STR(f.events, "online:study:found;");

    /* No answer: the reason names the action, and the hub hears the speaker may be gone. */
    o = (outcome){ 0 };
    CHECK(sn_soap(inst, s, SN_AVT, "Play", (const char *const[]){ "InstanceID", "0", "Speed", "1", NULL }, done, &o,
                  err, sizeof err));
    fake_http_fail(&f, fake_http_find(&f, "POST", NULL), "timed out");
    CHECK(o.calls == 1 && o.ok == 0 && o.upnp_code == 0);
    CHECK_STR(o.reason, "AVTransport Play: timed out");
    CHECK_STR(f.events, "online:study:found;unreachable:study:AVTransport Play: timed out;");

    /* A service the device does not have: nothing is sent, `done` never runs. */
    o = (outcome){ 0 };
    CHECK(!sn_soap(inst, s, SN_ZGT, "GetZoneGroupState", (const char *const[]){ NULL }, done, &o, err, sizeof err));
    CHECK(strstr(err, "not supported by this device") != NULL);
    CHECK(o.calls == 0 && fake_http_open_count(&f) == 0);

    /* Destroy with a request in flight: cancelled, `done` never runs. */
    CHECK(sn_soap(inst, s, SN_RC, "GetVolume", args, done, &o, err, sizeof err));
    CHECK(fake_http_open_count(&f) == 1);
    fake_instance_free(inst);
    CHECK(fake_http_open_count(&f) == 0 && o.calls == 0);
    return CHECK_DONE("test_soap_call");
}

/* Settings (config.c through a fake host's settings service): defaults, every key, and refusals
 * that name the key: unknown keys, wrong types, values out of range; nothing to drive is no error. */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "fake_host.h"

static fake_host f;
static char err[512];

/* The reason `json` is refused, or "" when it is accepted. */
static const char *refusal(const char *json)
{
    fake_host_init(&f);
    err[0] = '\0';
    sb_instance *inst = fake_instance_err(&f, json, err, sizeof err);
    if (inst != NULL) fake_instance_free(inst);
    return err;
}

static bool refused(const char *json, const char *part)
{
    const char *why = refusal(json);
    bool ok = why[0] != '\0' && strstr(why, part) != NULL;
    if (!ok) fprintf(stderr, "%s: expected a refusal with \"%s\", got \"%s\"\n", json, part, why);
    return ok;
}

int main(void)
{
    fake_host_init(&f);
    sb_instance *inst = fake_instance(&f, "{}");
    CHECK(inst != NULL);
    if (inst == NULL) return CHECK_DONE("test_config");
    const sn_config *c = &inst->config;
    CHECK(c->discovery && c->renderers && c->interrupt_unrestorable && c->audio_clip);
    CHECK(c->search_interval_ms == 60000 && c->probe_interval_ms == 10000 && c->offline_after_ms == 180000);
    CHECK(c->subscription_s == 1800 && c->soap_timeout_ms == 5000 && c->announce_margin_ms == 2000);
    CHECK_STR(c->api_key, "123e4567-e89b-12d3-a456-426655440000");
    CHECK(c->audio_clip_port == 1443 && c->static_count == 0);
    CHECK_STR(c->interface, "");
    fake_instance_free(inst);

    fake_host_init(&f);
    inst = fake_instance(&f, "{\"discovery\": false, \"interface\": \"eth1\", \"household\": \"Sonos_H\","
                             "\"speakers\": [\"192.168.1.30\", \"http://10.0.0.9:49152/d.xml\"], \"renderers\": false,"
                             "\"search_interval\": 30, \"probe_interval\": 5, \"subscription_timeout\": 600,"
                             "\"soap_timeout\": 0.5, \"announce_margin\": 0, \"interrupt_unrestorable\": false,"
                             "\"audio_clip\": false, \"api_key\": \"k\", \"audio_clip_port\": 11443, \"offline_after\": null}");
    CHECK(inst != NULL);
    if (inst == NULL) return CHECK_DONE("test_config");
    c = &inst->config;
    CHECK(!c->discovery && !c->renderers && !c->interrupt_unrestorable && !c->audio_clip);
    CHECK_STR(c->interface, "eth1");
    CHECK_STR(c->household, "Sonos_H");
    CHECK(c->static_count == 2);
    CHECK_STR(c->static_speakers[1], "http://10.0.0.9:49152/d.xml");
    CHECK(c->search_interval_ms == 30000 && c->offline_after_ms == 90000 && c->probe_interval_ms == 5000);
    CHECK(c->subscription_s == 600 && c->soap_timeout_ms == 500 && c->announce_margin_ms == 0);
    CHECK_STR(c->api_key, "k");
    CHECK(c->audio_clip_port == 11443);
    fake_instance_free(inst);

    CHECK(refused("{\"serach_interval\": 30}", "unknown setting \"serach_interval\""));
    CHECK(refused("[1]", "settings must be a JSON object"));
    CHECK(refused("{\"discovery\": \"yes\"}", "setting \"discovery\""));
    CHECK(refused("{\"speakers\": \"192.168.1.30\"}", "setting \"speakers\""));
    CHECK(refused("{\"speakers\": [\"\"]}", "\"speakers\"[0] must be an address"));
    CHECK(refused("{\"search_interval\": 0}", "\"search_interval\" must be between 1 and 86400, got 0"));
    CHECK(refused("{\"offline_after\": 0}", "\"offline_after\" must be between 1 and 86400, got 0"));
    CHECK(refused("{\"soap_timeout\": 121}", "\"soap_timeout\""));
    CHECK(refused("{\"audio_clip_port\": 70000}", "\"audio_clip_port\" must be between 1 and 65535"));
    CHECK(refused("{\"audio_clip_port\": 1.5}", "setting \"audio_clip_port\""));
    CHECK(refused("{\"api_key\": \"\"}", "\"api_key\" must not be empty"));
    CHECK(refused("{\"api_key\": \"a\\nb\"}", "\"api_key\" must not contain control characters"));
    CHECK(refused("{\"interface\": \"0123456789012345678901234567890123456789012345678901234567890123456789\"}",
                  "\"interface\" is longer than 63 characters"));
    /* Nothing to drive is no error: the driver loads and says so (driver.c). */
    fake_host_init(&f);
    inst = fake_instance(&f, "{\"discovery\": false}");
    CHECK(inst != NULL && !inst->config.discovery && inst->config.static_count == 0);
    if (inst != NULL) fake_instance_free(inst);
    /* Absent, offline_after is three search intervals, even past the limit of an explicit value. */
    fake_host_init(&f);
    inst = fake_instance(&f, "{\"search_interval\": 40000}");
    CHECK(inst != NULL && inst->config.offline_after_ms == 120000000u);
    if (inst != NULL) fake_instance_free(inst);
    CHECK(refused("{\"speakers\": [\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\",\"12\",\"13\",\"14\","
                  "\"15\",\"16\",\"17\",\"18\",\"19\",\"20\",\"21\",\"22\",\"23\",\"24\",\"25\",\"26\",\"27\",\"28\",\"29\","
                  "\"30\",\"31\",\"32\",\"33\"]}", "lists 33 addresses; at most 32"));
    return CHECK_DONE("test_config");
}

/* The raw `upnp` command: one action of one service of the named room, for what the typed
 * commands do not cover (sonos2mqtt and node-sonos-ts offer the same escape hatch). The answer's
 * output arguments come back as the `command` event's values, as the device wrote them.
 *
 * `args` is a JSON object in a string ("{\"InstanceID\":0,\"EQType\":\"NightMode\"}"): the host's
 * typed commands take scalars only. Its members are sent in their order (UPnP wants the order of
 * the service description); numbers and booleans become their UPnP text (7, 1/0). */
#define _POSIX_C_SOURCE 200809L

#include "commands_raw.h"
#include "commands_send.h"
#include "json.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FN(f) ((void (*)(void))(f))
#define MAX_ARGS 32

/* "AVTransport" (any case) or a short name ("avt", "rc", …). */
static bool service_kind(const char *name, sn_service_kind *out)
{
    static const struct { const char *alias; sn_service_kind kind; } aliases[] = {
        { "avt", SN_AVT }, { "rc", SN_RC }, { "grc", SN_GRC }, { "zgt", SN_ZGT }, { "cd", SN_CD }, { "alarm", SN_ALARM },
    };
    for (int k = 0; k < SN_SERVICE_COUNT; k++) {
        if (strcasecmp(name, sn_service_name((sn_service_kind)k)) == 0) {
            *out = (sn_service_kind)k;
            return true;
        }
    }
    for (size_t k = 0; k < sizeof aliases / sizeof aliases[0]; k++) {
        if (strcasecmp(name, aliases[k].alias) == 0) {
            *out = aliases[k].kind;
            return true;
        }
    }
    return false;
}

static bool valid_action(const char *a)
{
    if (a[0] == '\0' || strlen(a) > 60) return false;
    for (const char *p = a; *p != '\0'; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) return false;
    }
    return true;
}

static void answered(sb_instance *inst, sn_command *c, sn_soap_result *result)
{
    sn_command_add_outputs(c, result);
    sn_command_finish(inst, c, true, NULL);
}

static sb_status cmd_upnp(sb_instance *i, char *r, size_t n, const char *speaker, const char *service, const char *action,
                          const char *args)
{
    sn_service_kind kind;
    if (!service_kind(service, &kind)) {
        sn_text names = { 0 };
        for (int k = 0; k < SN_SERVICE_COUNT; k++) sn_text_printf(&names, "%s%s", k > 0 ? ", " : "", sn_service_name((sn_service_kind)k));
        sb_status st = sn_command_refuse(r, n, SB_ERR_INVALID, "unknown service \"%s\" (one of %s)", service, sn_text_str(&names));
        sn_text_free(&names);
        return st;
    }
    if (!valid_action(action)) return sn_command_refuse(r, n, SB_ERR_INVALID, "action must be a UPnP action name (letters, digits, _)");
    char err[200] = "";
    sn_json *json = NULL;
    if (args != NULL && args[0] != '\0') {
        json = sn_json_parse(args, strlen(args), err, sizeof err);
        if (json == NULL) return sn_command_refuse(r, n, SB_ERR_INVALID, "args is not JSON: %s", err);
        if (json->type != SN_JSON_OBJECT || json->count > MAX_ARGS) {
            sn_json_free(json);
            return sn_command_refuse(r, n, SB_ERR_INVALID, "args must be a JSON object of at most %d arguments "
                                                           "(\"{\\\"InstanceID\\\":0}\")", MAX_ARGS);
        }
    }
    const char *list[2 * MAX_ARGS + 1];
    char numbers[MAX_ARGS][32];
    size_t count = json != NULL ? json->count : 0, k = 0;
    for (; k < count; k++) {
        const sn_json *v = &json->items[k];
        list[2 * k] = json->keys[k];
        if (!valid_action(json->keys[k])) break;
        if (v->type == SN_JSON_STRING) list[2 * k + 1] = v->string;
        else if (v->type == SN_JSON_BOOL) list[2 * k + 1] = v->boolean ? "1" : "0";
        else if (v->type == SN_JSON_NUMBER && v->number == (double)(long long)v->number) {
            snprintf(numbers[k], sizeof numbers[k], "%lld", (long long)v->number);
            list[2 * k + 1] = numbers[k];
        } else break;
    }
    if (k < count) {
        char bad[80];
        sn_copy(bad, sizeof bad, json->keys[k]);
        sn_json_free(json);
        return sn_command_refuse(r, n, SB_ERR_INVALID, "args \"%s\": names are letters, digits and _, values strings, "
                                                       "whole numbers or booleans", bad);
    }
    list[2 * count] = NULL;
    sn_command *c;
    sb_status status = sn_command_start(i, r, n, "upnp", speaker, SN_CMD_ROOM, kind, action, list, &c);
    sn_json_free(json); /* the envelope is built: the values are no longer needed */
    if (status == SB_OK) c->then = answered;
    return status;
}

const sb_command sn_raw_commands[] = {
    { sizeof(sb_command), "upnp", "speaker:str service:str action:str args:str?",
      "Any UPnP action of the room (args: a JSON object in a string); the answer's values come in the command event",
      FN(cmd_upnp) },
};
const size_t sn_raw_command_count = sizeof sn_raw_commands / sizeof sn_raw_commands[0];

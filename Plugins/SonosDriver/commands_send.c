/* A typed command's exchange with the players (commands_send.h).
 *
 * A command call may not block (the SOAP answer arrives later on this same executor), so a
 * command answers once its first action is sent — with an error right away when it cannot work
 * (unknown or offline speaker, a Sonos-only command on another renderer, a fixed-volume output) —
 * and the device's verdict follows as the plugin event `command`:
 * {"speaker","command","ok","reason"}, with "values" when the command reads something (favorites,
 * alarms, the raw `upnp` command's output arguments). */
#define _POSIX_C_SOURCE 200809L

#include "commands_send.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sb_status sn_command_refuse(char *reply, size_t reply_size, sb_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (reply != NULL && reply_size > 0) vsnprintf(reply, reply_size, fmt, ap);
    va_end(ap);
    return status;
}

sn_speaker *sn_command_room(sb_instance *inst, const char *key, char *reply, size_t reply_size, sb_status *status)
{
    sn_speaker *s = sn_speaker_find(inst, key);
    if (s == NULL) {
        *status = sn_command_refuse(reply, reply_size, SB_ERR_NOT_FOUND, "unknown speaker %s", key != NULL ? key : "");
        return NULL;
    }
    if (!s->online) {
        *status = sn_command_refuse(reply, reply_size, SB_ERR_FAILED, "%s is offline", s->id);
        return NULL;
    }
    *status = SB_OK;
    return s;
}

sn_command *sn_command_new(sn_speaker *speaker, const char *name)
{
    sn_command *c = calloc(1, sizeof *c);
    if (c == NULL) return NULL;
    c->speaker = speaker;
    sn_copy(c->name, sizeof c->name, name);
    return c;
}

bool sn_command_keep(sn_command *c, int i, const char *value)
{
    char *copy = sn_strdup(value != NULL ? value : "");
    if (copy == NULL) return false;
    free(c->text[i]);
    c->text[i] = copy;
    return true;
}

void sn_command_add_outputs(sn_command *c, const sn_soap_result *result)
{
    const sn_xml_node *response = result->response;
    for (size_t i = 0; response != NULL && i < response->child_count; i++) {
        const sn_xml_node *arg = response->children[i];
        if (c->values.len > 0) sn_text_puts(&c->values, ",");
        sn_text_json_string(&c->values, arg->name);
        sn_text_puts(&c->values, ":");
        sn_text_json_string(&c->values, arg->text);
    }
}

void sn_command_finish(sb_instance *inst, sn_command *c, bool ok, const char *reason)
{
    if (!ok) sn_log(inst, SB_LOG_WARNING, "%s %s: %s", c->name, c->speaker->id, reason);
    if (inst->publish != NULL) {
        sn_text t = { 0 };
        sn_text_puts(&t, "{\"speaker\":");
        sn_text_json_string(&t, c->speaker->id);
        sn_text_puts(&t, ",\"command\":");
        sn_text_json_string(&t, c->name);
        sn_text_printf(&t, ",\"ok\":%s,\"reason\":", ok ? "true" : "false");
        sn_text_json_string(&t, ok ? NULL : reason);
        if (ok && c->values.len > 0 && !c->values.failed) sn_text_printf(&t, ",\"values\":{%s}", c->values.data);
        sn_text_puts(&t, "}");
        if (!t.failed) inst->publish->event(inst->host, "command", t.data);
        else sn_log(inst, SB_LOG_ERROR, "%s %s: out of memory for the command event", c->name, c->speaker->id);
        sn_text_free(&t);
    }
    sn_text_free(&c->values);
    for (size_t i = 0; i < sizeof c->text / sizeof c->text[0]; i++) free(c->text[i]);
    free(c);
}

static void answered(sb_instance *inst, void *ctx, int ok, sn_soap_result *result)
{
    sn_command *c = ctx;
    if (!ok && c->tolerated != 0 && result->upnp_code == c->tolerated) ok = 1;
    c->tolerated = 0;
    if (!ok) {
        char reason[400];
        /* 401 from a renderer means it does not implement the action at all. */
        if (result->upnp_code == 401) snprintf(reason, sizeof reason, "not supported by this device (%s)", result->reason);
        else sn_copy(reason, sizeof reason, result->reason);
        sn_command_finish(inst, c, false, reason);
        return;
    }
    sn_command_then then = c->then;
    c->then = NULL;
    if (then != NULL) then(inst, c, result);
    else sn_command_finish(inst, c, true, NULL);
}

bool sn_command_send(sb_instance *inst, sn_command *c, sn_speaker *target, sn_service_kind kind, const char *action,
                     const char *const *args)
{
    char err[300];
    c->target = target;
    sn_copy(c->action, sizeof c->action, action);
    if (sn_soap(inst, target, kind, action, args, answered, c, err, sizeof err)) return true;
    sn_command_finish(inst, c, false, err);
    return false;
}

sb_status sn_command_start(sb_instance *inst, char *reply, size_t reply_size, const char *name, const char *speaker,
                           int flags, sn_service_kind kind, const char *action, const char *const *args,
                           sn_command **out)
{
    if (out != NULL) *out = NULL;
    sb_status status;
    sn_speaker *s = sn_command_room(inst, speaker, reply, reply_size, &status);
    if (s == NULL) return status;
    if ((flags & SN_CMD_SONOS_ONLY) && !s->desc.is_sonos) {
        return sn_command_refuse(reply, reply_size, SB_ERR_UNSUPPORTED,
                                 "not supported by this device: %s is not a Sonos player (%s needs one)", s->name, name);
    }
    sn_speaker *target = (flags & SN_CMD_COORDINATOR) ? sn_speaker_coordinator(inst, s) : s;
    if (target->services[kind] == NULL) {
        return sn_command_refuse(reply, reply_size, SB_ERR_UNSUPPORTED, "not supported by this device: %s has no %s service",
                                 target->name, sn_service_name(kind));
    }
    sn_command *c = sn_command_new(s, name);
    if (c == NULL) return sn_command_refuse(reply, reply_size, SB_ERR_FAILED, "out of memory");
    char err[300];
    c->target = target;
    sn_copy(c->action, sizeof c->action, action);
    if (!sn_soap(inst, target, kind, action, args, answered, c, err, sizeof err)) {
        free(c);
        return sn_command_refuse(reply, reply_size, SB_ERR_FAILED, "%s", err);
    }
    if (out != NULL) *out = c;
    snprintf(reply, reply_size, "{\"sent\":\"%s\",\"to\":\"%s\"}", action, target->id);
    return SB_OK;
}

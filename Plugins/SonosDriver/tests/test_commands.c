/* Typed commands (commands.c over soap_call and the model, with a fake host): the reply says what
 * was sent and to whom, the device's verdict follows as the `command` event, and commands that
 * cannot work are refused at once. */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "commands.h"
#include "fake_devices.h"

static fake_host f;

typedef sb_status (*speaker_fn)(sb_instance *, char *, size_t, const char *);
typedef sb_status (*level_fn)(sb_instance *, char *, size_t, const char *, int32_t);
typedef sb_status (*text_fn)(sb_instance *, char *, size_t, const char *, const char *);

/* The command called `name`, as the host finds it. */
static void (*command(sb_instance *inst, const char *name))(void)
{
    for (uint32_t i = 0; i < sn_commands_table.count(inst); i++) {
        const sb_command *c = sn_commands_table.get(inst, i);
        if (strcmp(c->name, name) == 0) return c->function;
    }
    return NULL;
}

int main(void)
{
    fake_host_init(&f);
    sb_instance *inst = fake_instance(&f, "{}");
    sn_speaker *kitchen = fake_speaker(inst, "uuid-k", "Kitchen", "10.0.0.5", false);
    sn_speaker *den = fake_speaker(inst, "uuid-d", "Den", "10.0.0.6", false);
    char reply[512];
    CHECK(sn_commands_table.get(inst, sn_commands_table.count(inst)) == NULL);

    /* Transport commands go to the group's coordinator; the device's answer becomes the event. */
    snprintf(den->coordinator, sizeof den->coordinator, "uuid-k");
    speaker_fn pause = (speaker_fn)command(inst, "pause");
    CHECK(pause != NULL);
    if (pause == NULL) return CHECK_DONE("test_commands");
    CHECK(pause(inst, reply, sizeof reply, "den") == SB_OK);
    CHECK_STR(reply, "{\"sent\":\"Pause\",\"to\":\"kitchen\"}");
    fake_request *r = fake_http_find(&f, "POST", "10.0.0.5");
    CHECK(r != NULL && strcmp(fake_soap_action(r), "Pause") == 0);
    if (r != NULL) fake_soap_answer(&f, r, NULL);
    CHECK_STR(f.last_event, "command {\"speaker\":\"den\",\"command\":\"pause\",\"ok\":true,\"reason\":null}");

    /* Volume goes to the room; a renderer's "invalid action" reads "not supported by this device". */
    level_fn volume = (level_fn)command(inst, "volume");
    CHECK(volume(inst, reply, sizeof reply, "den", 30) == SB_OK);
    r = fake_http_find(&f, "POST", "10.0.0.6");
    CHECK(r != NULL && strstr(r->body, "<DesiredVolume>30</DesiredVolume>") != NULL);
    if (r != NULL) fake_soap_fault(&f, r, 401);
    CHECK(strstr(f.last_event, "\"ok\":false,\"reason\":\"not supported by this device (") != NULL);

    /* Refused at once: unknown, offline, a Sonos-only command on a renderer, an unknown mode. */
    CHECK(pause(inst, reply, sizeof reply, "attic") == SB_ERR_NOT_FOUND);
    CHECK_STR(reply, "unknown speaker attic");
    sn_speaker_set_online(inst, kitchen, false, "gone");
    CHECK(pause(inst, reply, sizeof reply, "kitchen") == SB_ERR_FAILED);
    CHECK_STR(reply, "kitchen is offline");
    /* (to the group: the den follows the kitchen) */
    level_fn groupvolume = (level_fn)command(inst, "groupvolume");
    CHECK(groupvolume(inst, reply, sizeof reply, "den", 20) == SB_ERR_UNSUPPORTED);
    CHECK(strstr(reply, "not supported by this device: Kitchen has no GroupRenderingControl service") != NULL);
    text_fn playmode = (text_fn)command(inst, "playmode");
    CHECK(playmode(inst, reply, sizeof reply, "den", "sideways") == SB_ERR_INVALID);
    CHECK(strstr(reply, "unknown play mode \"sideways\"") != NULL);
    CHECK(fake_http_open_count(&f) == 0);
    fake_instance_free(inst);
    return CHECK_DONE("test_commands");
}

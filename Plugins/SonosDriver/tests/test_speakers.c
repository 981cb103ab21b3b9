/* The model alone (with the hub and a fake host): ids from room names, lookups, availability, and
 * the events it publishes instead of calling feature modules. */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "fake_devices.h"

#include <stdlib.h>

static fake_host f;

static void test_renderer_goes_online(void)
{
    fake_host_init(&f);
    sb_instance *inst = fake_instance(&f, "{}");
    fake_listen(&f, inst);
    sn_speaker *s = fake_speaker(inst, "uuid-1", "Living Room", "10.0.0.5", false);
    CHECK(s != NULL && s->online);
    CHECK_STR(s->id, "living_room");
    CHECK_STR(s->address, "10.0.0.5");
    CHECK_STR(s->model, "gmediarender");
    CHECK(s->services[SN_AVT] != NULL && s->services[SN_RC] != NULL && s->services[SN_ZGT] == NULL);
    CHECK_STR(f.events, "online:living_room:found;");
    CHECK_STR(f.last_availability, "living_room online");
    CHECK(inst->visible_count == 1 && inst->visible[0] == s);

    /* The same description again: nothing happens. */
    f.events[0] = '\0';
    fake_speaker(inst, "uuid-1", "Living Room", "10.0.0.5", false);
    CHECK_STR(f.events, "");
    CHECK(f.availability_count == 1);

    /* A second room of the same name keeps its own topic. */
    sn_speaker *twin = fake_speaker(inst, "uuid-2", "Living Room", "10.0.0.6", false);
    CHECK_STR(twin->id, "living_room_2");
    CHECK(inst->visible_count == 2);

    sn_speaker_set_online(inst, s, false, "it said goodbye");
    CHECK_STR(f.last_availability, "living_room offline");
    CHECK(strstr(f.events, "offline:living_room:it said goodbye;") != NULL);
    /* Offline speakers stay listed: announcements to them fail with "offline", not "unknown". */
    CHECK(inst->visible_count == 2);
    f.events[0] = '\0';
    sn_speaker_set_online(inst, s, false, "again");
    CHECK_STR(f.events, "");
    fake_instance_free(inst);
}

static void test_find(void)
{
    fake_host_init(&f);
    sb_instance *inst = fake_instance(&f, "{}");
    /* A uuid that reads like another speaker's id: the id wins (the host passes ids). */
    sn_speaker *den = fake_speaker(inst, "office", "Den", "10.0.0.7", false);
    sn_speaker *office = fake_speaker(inst, "uuid-office", "Office", "10.0.0.8", false);
    CHECK(sn_speaker_find(inst, "office") == office);
    CHECK(sn_speaker_find(inst, "den") == den);
    CHECK(sn_speaker_find(inst, "DEN") == den);          /* the room name, any case */
    CHECK(sn_speaker_find(inst, "uuid-office") == office); /* the uuid */
    CHECK(sn_speaker_find(inst, "attic") == NULL);
    CHECK(sn_speaker_find(inst, NULL) == NULL);
    CHECK(sn_speaker_by_uuid(inst, "office") == den);
    /* An undescribed speaker is not found by name or id. */
    sn_speaker *bare = sn_speaker_add(inst, "uuid-bare");
    CHECK(bare != NULL && sn_speaker_find(inst, "uuid-bare") == NULL);
    fake_instance_free(inst);
}

static void test_sonos_waits_for_topology(void)
{
    fake_host_init(&f);
    sb_instance *inst = fake_instance(&f, "{}");
    fake_listen(&f, inst);
    sn_speaker *s = fake_speaker(inst, "RINCON_1", "Kitchen", "10.0.0.9", true);
    CHECK(s != NULL && !s->online && s->awaiting_topology);
    CHECK_STR(f.events, "needs_topology:RINCON_1:found;");
    CHECK(inst->visible_count == 0); /* no id until it is known to be a room */
    CHECK(f.availability_count == 0);
    /* Asked once: a repeated description while the answer is awaited asks nothing more. */
    fake_speaker(inst, "RINCON_1", "Kitchen", "10.0.0.9", true);
    CHECK_STR(f.events, "needs_topology:RINCON_1:found;");
    /* The topology said it is a room (state.c does this). */
    s->awaiting_topology = false;
    sn_speaker_set_online(inst, s, true, "found");
    CHECK_STR(s->id, "kitchen");
    CHECK(inst->visible_count == 1);
    fake_instance_free(inst);
}

static void test_moved(void)
{
    fake_host_init(&f);
    sb_instance *inst = fake_instance(&f, "{}");
    fake_listen(&f, inst);
    sn_speaker *s = fake_speaker(inst, "uuid-1", "Bedroom", "10.0.0.5", false);
    f.events[0] = '\0';
    unsigned reported = f.availability_count;
    fake_speaker(inst, "uuid-1", "Bedroom", "10.0.0.50", false);
    CHECK_STR(f.events, "moved:bedroom:http://10.0.0.50:49152/description.xml;");
    CHECK_STR(s->address, "10.0.0.50");
    CHECK(s->online);
    /* Moved while online: reported again, so the host reads the new address. */
    CHECK(f.availability_count == reported + 1);
    CHECK_STR(f.last_availability, "bedroom online");
    CHECK(fake_logged(&f, "bedroom moved to http://10.0.0.50:49152/description.xml"));

    /* Moved while offline: MOVED, then it is online again at the new place. */
    sn_speaker_set_online(inst, s, false, "gone");
    f.events[0] = '\0';
    fake_speaker(inst, "uuid-1", "Bedroom", "10.0.0.51", false);
    CHECK_STR(f.events, "moved:bedroom:http://10.0.0.51:49152/description.xml;online:bedroom:found at a new address;");

    /* Renamed: a new id once it is online (the topic follows the room). */
    reported = f.availability_count;
    fake_speaker(inst, "uuid-1", "Guest Room", "10.0.0.51", false);
    CHECK_STR(s->id, "guest_room");
    CHECK(f.availability_count == reported + 1);
    CHECK_STR(f.last_availability, "guest_room online");
    /* The same description again changes nothing, so nothing is reported. */
    reported = f.availability_count;
    fake_speaker(inst, "uuid-1", "Guest Room", "10.0.0.51", false);
    CHECK(f.availability_count == reported);
    fake_instance_free(inst);
}

static void forgotten(sb_instance *inst, sn_speaker *s, const char *why, void *user)
{
    (void)inst;
    (void)why;
    snprintf(user, 128, "%s", s->uuid);
}

static void test_coordinator_and_limits(void)
{
    fake_host_init(&f);
    sb_instance *inst = fake_instance(&f, "{\"forget_after\": 60}");
    char forgot[128] = "";
    sn_lifecycle_on(&inst->hub, SN_EV_FORGOTTEN, forgotten, forgot);
    sn_speaker *a = fake_speaker(inst, "uuid-a", "A", "10.0.0.1", false);
    sn_speaker *b = fake_speaker(inst, "uuid-b", "B", "10.0.0.2", false);
    CHECK(sn_speaker_coordinator(inst, b) == b);
    snprintf(b->coordinator, sizeof b->coordinator, "uuid-a");
    CHECK(sn_speaker_coordinator(inst, b) == a);
    snprintf(b->coordinator, sizeof b->coordinator, "uuid-unknown");
    CHECK(sn_speaker_coordinator(inst, b) == b);
    CHECK_STR(sn_service_name(SN_ZGT), "ZoneGroupTopology");

    while (inst->speaker_count < SN_MAX_SPEAKERS) {
        char uuid[32];
        snprintf(uuid, sizeof uuid, "uuid-%zu", inst->speaker_count);
        CHECK(sn_speaker_add(inst, uuid) != NULL);
    }
    /* A table of live devices (online, or offline but seen within forget_after) refuses more. */
    sn_speaker_set_online(inst, b, false, "gone");
    CHECK(sn_speaker_add(inst, "uuid-too-many") == NULL);
    CHECK(fake_logged(&f, "64 speakers, all online or seen within forget_after: uuid-too-many is ignored"));
    CHECK(sn_speaker_by_uuid(inst, "uuid-b") == b);
    /* One gone for longer gives its slot up; the hub hears it first; the online one is kept even
     * when it has been quiet longer. */
    a->last_seen_ms = sn_now_ms() - 600000;
    b->last_seen_ms = sn_now_ms() - 61000;
    b->requests = 1; /* a request still points at it: kept */
    CHECK(sn_speaker_add(inst, "uuid-new") == NULL);
    b->requests = 0;
    sn_speaker *c = sn_speaker_add(inst, "uuid-new");
    CHECK(c != NULL && inst->speaker_count == SN_MAX_SPEAKERS);
    CHECK_STR(forgot, "uuid-b");
    CHECK(sn_speaker_by_uuid(inst, "uuid-b") == NULL && sn_speaker_by_uuid(inst, "uuid-a") == a);
    CHECK(sn_speaker_by_uuid(inst, "uuid-new") == c);
    CHECK(fake_logged(&f, "forgetting b (B, 10.0.0.2), offline and unseen for 61 s, for the new device uuid-new"));
    for (uint32_t i = 0; i < inst->visible_count; i++) CHECK(strcmp(inst->visible[i]->uuid, "uuid-b") != 0);
    fake_instance_free(inst);
}

int main(void)
{
    test_renderer_goes_online();
    test_find();
    test_sonos_waits_for_topology();
    test_moved();
    test_coordinator_and_limits();
    return CHECK_DONE("test_speakers");
}

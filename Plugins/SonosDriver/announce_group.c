/* Group mode: the rooms of one announcement gathered into a temporary group for its clip.
 * Part of the announce layer (announce_run.h). */
#define _POSIX_C_SOURCE 200809L

#include "announce_run.h"

#include <stdlib.h>
#include <string.h>

/* How long the rooms of a group-mode announcement are collected before the clip starts: the host
 * calls play_clip for each room within a few milliseconds; one that comes later plays alone. */
#define GATHER_MS 500u

/* ---- Group mode (SB_CLIP_GROUP) ------------------------------------------------------------
 * As node-sonos-http-api's `sayall`: the rooms of one announcement form a temporary group. The
 * host calls play_clip once per room, a few milliseconds apart, so the calls are collected by
 * announcement id for GATHER_MS (or until every room of the request that this driver can play on
 * has arrived). Then the first of them in the request's order leads: it snapshots, waits until
 * the others have joined it and plays the clip. Each other room snapshots, joins the leader
 * (SetAVTransportURI x-rincon:<leader>, its own volume) and waits for the leader's clip to end;
 * then every room restores itself (its own source, group, volume). A room that arrives after the
 * collection closed plays alone, as in parallel mode. */

struct sn_gathering {
    sb_instance *inst;
    char id[128];
    sn_announcement *rooms[SN_MAX_SPEAKERS];
    size_t count;
    size_t expected;
    uint64_t timer;
    bool closed;
    bool starting;   /* close() is starting the rooms: a room leaving must not free it */
};

bool announce_gathering_closed(const sn_gathering *g) { return g->closed; }

/* Every room of the request that can come has come: the gathering may close now. */
bool announce_gathering_full(const sn_gathering *g) { return g->count >= g->expected; }

static bool in_gathering(const sn_gathering *g, const sn_announcement *a)
{
    for (size_t i = 0; i < g->count; i++) {
        if (g->rooms[i] == a) return true;
    }
    return false;
}

/* A member is in the leader's group (or will never be): the leader may play once all are. */
void announce_member_in(sn_announcement *a)
{
    sn_announcement *leader = a->leader;
    if (a->joined || leader == NULL) return;
    a->joined = true;
    if (leader->joining > 0) leader->joining--;
    if (leader->joining == 0 && leader->step == A_LEAD_WAIT && !leader->in_call && !leader->finishing &&
        (leader->gathering == NULL || !leader->gathering->starting)) {
        announce_advance(leader);
    }
}

/* A member is done with its leader (restoring, failed, gone). */
void announce_member_out(sn_announcement *a)
{
    if (!a->member) return;
    announce_member_in(a);
    a->leader = NULL;
}

/* The leader's clip is over (or the leader is gone): every member that joined restores itself. */
void announce_leader_done(sn_announcement *leader)
{
    sn_gathering *g = leader->gathering;
    if (g == NULL || leader->member) return;
    sn_announcement *rooms[SN_MAX_SPEAKERS];
    size_t n = g->count;
    memcpy(rooms, g->rooms, n * sizeof rooms[0]);
    for (size_t i = 0; i < n; i++) {
        sn_announcement *r = rooms[i];
        if (!in_gathering(g, r) || r->leader != leader) continue;
        r->leader = NULL;
        if (r->step == A_WAIT) announce_start_restore(r);
    }
}

/* Takes `a` out of its gathering (release); frees the gathering with its last room. */
void announce_gathering_leave(sn_announcement *a)
{
    sn_gathering *g = a->gathering;
    if (g == NULL) return;
    if (a->member) announce_member_out(a);
    else announce_leader_done(a);
    for (size_t i = 0; i < g->count; i++) {
        if (g->rooms[i] == a) {
            g->rooms[i] = g->rooms[--g->count];
            break;
        }
    }
    a->gathering = NULL;
    if (g->count == 0 && !g->starting) {
        sn_timer_cancel(g->inst, &g->timer);
        free(g);
    }
}

/* Picks the leader and starts every room's snapshot. */
void announce_gathering_close(sn_gathering *g)
{
    sn_timer_cancel(g->inst, &g->timer);
    g->closed = true;
    if (g->count == 0) {
        free(g);
        return;
    }
    sn_announcement *leader = g->rooms[0];
    for (size_t i = 1; i < g->count; i++) {
        if (g->rooms[i]->group_index < leader->group_index) leader = g->rooms[i];
    }
    for (size_t i = 0; i < g->count; i++) {
        sn_announcement *r = g->rooms[i];
        if (r == leader) continue;
        r->member = true;
        r->leader = leader;
        leader->joining++;
    }
    if (g->count > 1) {
        sn_log(g->inst, SB_LOG_INFO, "announcement %s: %s leads a group of %zu rooms", g->id, leader->speaker->id, g->count);
    }
    sn_announcement *rooms[SN_MAX_SPEAKERS];
    size_t n = g->count;
    memcpy(rooms, g->rooms, n * sizeof rooms[0]);
    g->starting = true;
    for (size_t i = 0; i < n; i++) {
        if (in_gathering(g, rooms[i]) && rooms[i]->step == A_GATHER) {
            rooms[i]->step = A_TRANSPORT;
            announce_advance(rooms[i]);
        }
    }
    g->starting = false;
    if (g->count == 0) {
        free(g);
        return;
    }
    /* Members that failed at once have left; the leader may not need to wait any more. */
    if (in_gathering(g, leader) && leader->joining == 0 && leader->step == A_LEAD_WAIT && !leader->in_call &&
        !leader->finishing) {
        announce_advance(leader);
    }
}

static void gather_tick(void *user, uint64_t timer_id)
{
    (void)timer_id;
    sn_gathering *g = user;
    g->timer = 0;
    announce_gathering_close(g);
}

/* Adds a group-mode announcement to the open gathering of its id (or a new one). False when it
 * plays alone: no other room can come. A room busy with the same announcement counts as one that
 * can come: an announcement of several clips (a chime, then the words) gathers again for each;
 * a room that comes after its gathering closed waits for the others of the next one, or for
 * GATHER_MS. */
bool announce_gathering_join(sn_announcement *a, const sb_clip *clip)
{
    sb_instance *inst = a->inst;
    const char *id = clip->announcement_id;
    for (sn_announcement *o = inst->announcements; o != NULL; o = o->next) {
        if (o == a || o->gathering == NULL || strcmp(o->gathering->id, id) != 0) continue;
        if (o->gathering->closed) continue;
        sn_gathering *g = o->gathering;
        if (g->count >= SN_MAX_SPEAKERS) return false;
        g->rooms[g->count++] = a;
        a->gathering = g;
        return true; /* sn_announce_start closes it when this was the last room */
    }
    /* The rooms that can still come: known, online and not busy with another announcement. */
    size_t expected = 1;
    for (uint32_t i = 0; i < clip->group_count; i++) {
        sn_speaker *s = clip->group[i] != NULL ? sn_speaker_find(inst, clip->group[i]) : NULL;
        if (s == NULL || s == a->speaker || !s->online) continue;
        if (s->announcement == NULL || strcmp(s->announcement->announcement_id, id) == 0) expected++;
    }
    if (expected < 2 || strlen(id) >= sizeof ((sn_gathering *)0)->id) return false;
    sn_gathering *g = calloc(1, sizeof *g);
    if (g == NULL) return false;
    g->inst = inst;
    sn_copy(g->id, sizeof g->id, id);
    g->expected = expected;
    g->rooms[g->count++] = a;
    a->gathering = g;
    g->timer = sn_timer_start(inst, GATHER_MS, 0, gather_tick, g);
    if (g->timer == 0) {
        a->gathering = NULL;
        free(g);
        return false;
    }
    return true;
}

/* SOAP 1.1 the way UPnP control uses it (UDA 1.1 §3.2): one action per POST, arguments as child
 * elements in the order the service description lists them, failures as HTTP 500 with a
 * <UPnPError> inside the SOAP fault detail. */
#include "soap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sn_soap_envelope(sn_text *out, const char *service_type, const char *action, const char *const *args) {
    if (out == NULL || service_type == NULL || action == NULL) return;
    sn_text_puts(out,
                 "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
                 "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\""
                 " s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body><u:");
    sn_text_puts(out, action);
    sn_text_puts(out, " xmlns:u=\"");
    sn_text_xml_escaped(out, service_type);
    sn_text_puts(out, "\">");
    /* Values are escaped here, once: metadata arguments (DIDL-Lite) are XML themselves and must
     * arrive as text, not as nested elements. A NULL value ends the list (as an empty value)
     * rather than reading past a caller's short array. */
    for (size_t i = 0; args != NULL && args[i] != NULL; i += 2) {
        const char *value = args[i + 1];
        sn_text_printf(out, "<%s>", args[i]);
        sn_text_xml_escaped(out, value);
        sn_text_printf(out, "</%s>", args[i]);
        if (value == NULL) break;
    }
    sn_text_puts(out, "</u:");
    sn_text_puts(out, action);
    sn_text_puts(out, "></s:Body></s:Envelope>");
}

/* Which service an action belongs to, for naming UPnP errors: 7xx codes mean different things
 * per service (701 is "transition not available" in AVTransport, "invalid name" in
 * RenderingControl), and the response parser is only given the action. Unknown actions get no
 * service, and then only the UDA common codes are named. */
static const char *service_of_action(const char *action) {
    static const char *const rendering[] = {
        "GetVolume", "SetVolume", "SetRelativeVolume", "GetVolumeDB", "SetVolumeDB", "GetVolumeDBRange",
        "GetMute", "SetMute", "GetBass", "SetBass", "GetTreble", "SetTreble", "GetLoudness", "SetLoudness",
        "GetEQ", "SetEQ", "RampToVolume", "RestoreVolumePriorToRamp", "ListPresets", "SelectPreset",
        "GetOutputFixed", "SetOutputFixed", "GetSupportsOutputFixed", "SetChannelMap",
        "GetHeadphoneConnected", "ResetBasicEQ", "ResetExtEQ", "GetRoomCalibrationStatus",
        "SetRoomCalibrationStatus", "SetRoomCalibrationX", NULL};
    static const char *const group_rendering[] = {"GetGroupVolume", "SetGroupVolume", "SetRelativeGroupVolume",
                                                  "GetGroupMute", "SetGroupMute", "SnapshotGroupVolume", NULL};
    static const char *const topology[] = {"GetZoneGroupState", "GetZoneGroupAttributes", "CheckForUpdate",
                                           "BeginSoftwareUpdate", "ReportUnresponsiveDevice",
                                           "ReportAlarmStartedRunning", "SubmitDiagnostics",
                                           "RegisterMobileDevice", NULL};
    static const char *const connection[] = {"GetProtocolInfo", "GetCurrentConnectionIDs",
                                             "GetCurrentConnectionInfo", "PrepareForConnection",
                                             "ConnectionComplete", NULL};
    static const char *const content[] = {"Browse", "Search", "GetSearchCapabilities", "GetSortCapabilities",
                                          "GetSystemUpdateID", "CreateObject", "DestroyObject",
                                          "UpdateObject", NULL};
    static const char *const transport[] = {
        "SetAVTransportURI", "SetNextAVTransportURI", "GetMediaInfo", "GetTransportInfo", "GetPositionInfo",
        "GetDeviceCapabilities", "GetTransportSettings", "Stop", "Play", "Pause", "Record", "Seek", "Next",
        "Previous", "SetPlayMode", "SetRecordQualityMode", "GetCurrentTransportActions", "AddURIToQueue",
        "AddMultipleURIsToQueue", "RemoveAllTracksFromQueue", "RemoveTrackFromQueue",
        "RemoveTrackRangeFromQueue", "ReorderTracksInQueue", "SaveQueue", "BackupQueue",
        "CreateSavedQueue", "BecomeCoordinatorOfStandaloneGroup", "BecomeGroupCoordinator",
        "DelegateGroupCoordinationTo", "ConfigureSleepTimer", "GetRemainingSleepTimerDuration",
        "SetCrossfadeMode", "GetCrossfadeMode", "SnoozeAlarm", "GetRunningAlarmProperties",
        "NotifyDeletedURI", NULL};
    static const char *const alarm_clock[] = {"ListAlarms", "CreateAlarm", "UpdateAlarm", "DestroyAlarm",
                                              "GetTimeNow", "SetTimeNow", "GetTimeZone", "SetTimeZone",
                                              "GetTimeServer", "SetTimeServer", "GetFormat", "SetFormat",
                                              "GetDailyIndexRefreshTime", "SetDailyIndexRefreshTime",
                                              "GetHouseholdTimeAtStamp", "GetTimeZoneAndRule",
                                              "GetTimeZoneRule", NULL};
    static const struct {
        const char *service;
        const char *const *actions;
    } table[] = {{"AVTransport", transport},           {"RenderingControl", rendering},
                 {"GroupRenderingControl", group_rendering}, {"ZoneGroupTopology", topology},
                 {"ConnectionManager", connection},    {"ContentDirectory", content},
                 {"AlarmClock", alarm_clock}};
    if (action == NULL) return NULL;
    for (size_t t = 0; t < sizeof table / sizeof table[0]; t++) {
        for (const char *const *a = table[t].actions; *a != NULL; a++) {
            if (strcmp(*a, action) == 0) return table[t].service;
        }
    }
    return NULL;
}

typedef struct code_name {
    int code;
    const char *text;
} code_name;

static const char *lookup(const code_name *table, size_t n, int code) {
    for (size_t i = 0; i < n; i++) {
        if (table[i].code == code) return table[i].text;
    }
    return NULL;
}

#define LOOKUP(table, code) lookup((table), sizeof(table) / sizeof((table)[0]), (code))

/* "AVTransport" from either "AVTransport" or "urn:schemas-upnp-org:service:AVTransport:1". */
static int service_is(const char *service, const char *name) {
    if (service == NULL) return 0;
    size_t n = strlen(name);
    if (strcmp(service, name) == 0) return 1;
    const char *p = strstr(service, ":service:");
    return p != NULL && strncmp(p + 9, name, n) == 0 && p[9 + n] == ':';
}

const char *sn_upnp_error_text(const char *service, int code) {
    /* UDA 1.1 §3.2.2 (606-612 are the UDA 1.0 security codes, still sent by some stacks). */
    static const code_name common[] = {
        {401, "invalid action"},
        {402, "invalid args"},
        {403, "out of sync"},
        {501, "action failed"},
        {600, "argument value invalid"},
        {601, "argument value out of range"},
        {602, "optional action not implemented"},
        {603, "out of memory"},
        {604, "human intervention required"},
        {605, "string argument too long"},
        {606, "action not authorized"},
        {607, "signature failure"},
        {608, "signature missing"},
        {609, "not encrypted"},
        {610, "invalid sequence"},
        {611, "invalid control URL"},
        {612, "no such session"},
    };
    /* AVTransport:1 service template §2.4. */
    static const code_name avtransport[] = {
        {701, "transition not available"},
        {702, "no contents"},
        {703, "read error"},
        {704, "format not supported for playback"},
        {705, "transport is locked"},
        {706, "write error"},
        {707, "media is protected or not writable"},
        {708, "format not supported for recording"},
        {709, "media is full"},
        {710, "seek mode not supported"},
        {711, "illegal seek target"},
        {712, "play mode not supported"},
        {713, "record quality not supported"},
        {714, "illegal MIME-type"},
        {715, "content busy"},
        {716, "resource not found"},
        {717, "play speed not supported"},
        {718, "invalid InstanceID"},
    };
    /* RenderingControl:1 service template §2.4. */
    static const code_name rendering[] = {
        {701, "invalid name"},
        {702, "invalid InstanceID"},
    };
    /* Sonos's GroupRenderingControl (node-sonos-ts's error table): 701 is its answer on a group
     * member, not RenderingControl's "invalid name". */
    static const code_name group_rendering[] = {
        {701, "player isn't the coordinator"},
    };
    /* ConnectionManager:1 §2.4. */
    static const code_name connection[] = {
        {701, "incompatible protocol info"},
        {702, "incompatible directions"},
        {703, "insufficient network resources"},
        {704, "local restrictions"},
        {705, "access denied"},
        {706, "invalid connection reference"},
        {707, "not in network"},
    };
    /* ContentDirectory:1 §2.5. */
    static const code_name content[] = {
        {701, "no such object"},
        {702, "invalid CurrentTagValue"},
        {703, "invalid NewTagValue"},
        {704, "required tag"},
        {705, "read only tag"},
        {706, "parameter mismatch"},
        {708, "unsupported or invalid search criteria"},
        {709, "unsupported or invalid sort criteria"},
        {710, "no such container"},
        {711, "restricted object"},
        {712, "bad metadata"},
        {713, "restricted parent object"},
        {714, "no such source resource"},
        {715, "source resource access denied"},
        {716, "transfer busy"},
        {717, "no such file transfer"},
        {718, "no such destination resource"},
        {719, "destination resource access denied"},
        {720, "cannot process the request"},
    };

    const char *text = LOOKUP(common, code);
    if (text != NULL) return text;
    if (code >= 700 && code < 800) {
        if (service_is(service, "AVTransport")) text = LOOKUP(avtransport, code);
        else if (service_is(service, "RenderingControl")) text = LOOKUP(rendering, code);
        else if (service_is(service, "GroupRenderingControl")) text = LOOKUP(group_rendering, code);
        else if (service_is(service, "ConnectionManager")) text = LOOKUP(connection, code);
        else if (service_is(service, "ContentDirectory")) text = LOOKUP(content, code);
        return text != NULL ? text : "service-specific error";
    }
    /* Sonos answers 800 to commands a player cannot take in its role: transport commands sent to a
     * group member instead of the coordinator (node-sonos-ts words AVTransport's 800 so), volume
     * on a fixed-level line output. */
    if (code == 800 && service_is(service, "AVTransport")) return "command not supported or not a coordinator";
    if (code == 800) return "not possible on this player in its current role (e.g. a group member or fixed-volume output)";
    /* AlarmClock (node-sonos-ts's error table). */
    if (code == 801 && service_is(service, "AlarmClock")) return "duplicate alarm time";
    if (code >= 800 && code < 900) return "vendor-specific error";
    return "unknown error";
}

/* What a code means for one action where Sonos gives it a meaning of its own (the service's
 * table would mislead): NULL when the action has none. */
static const char *action_error_text(const char *action, int code) {
    static const struct {
        const char *action;
        int code;
        const char *text;
    } table[] = {
        /* A group member answers Seek with 701 on real players: only the coordinator seeks. */
        {"Seek", 701, "transition not available (a group member cannot seek: its coordinator does)"},
        /* 712 on a member, or when the group plays no queue (a stream has no play mode). */
        {"SetPlayMode", 712, "play mode not supported (a group member, or no queue is playing)"},
        /* node-sonos-ts: "If queue is already empty it throw error 804". */
        {"RemoveAllTracksFromQueue", 804, "the queue is already empty"},
    };
    if (action == NULL) return NULL;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (table[i].code == code && strcmp(table[i].action, action) == 0) return table[i].text;
    }
    return NULL;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* A decimal errorCode, surrounding whitespace allowed; -1 for anything else (including values
 * that would overflow, so hostile digits cannot become a misleading small code). */
static int parse_code(const char *s) {
    if (s == NULL) return -1;
    while (is_space(*s)) s++;
    int v = 0, digits = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (++digits > 6) return -1;
        v = v * 10 + (*s - '0');
    }
    while (is_space(*s)) s++;
    return digits > 0 && *s == '\0' ? v : -1;
}

/* Device-supplied text for a reason string: first line, printable ASCII only, bounded. */
static void clean_copy(char *dst, size_t dst_size, const char *src) {
    size_t j = 0;
    if (dst_size == 0) return;
    if (src != NULL) {
        while (is_space(*src)) src++;
        for (; *src != '\0' && *src != '\n' && *src != '\r' && j + 1 < dst_size; src++) {
            unsigned char c = (unsigned char)*src;
            dst[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
        }
    }
    while (j > 0 && dst[j - 1] == ' ') j--;
    dst[j] = '\0';
}

/* Fills `out->reason` from a <Fault>: the UPnP code when there is a usable one, else what the
 * fault says. */
static void read_fault(const sn_xml_node *fault, int http_status, const char *action, sn_soap_result *out) {
    /* The UPnPError belongs in <detail>; looking anywhere in the fault also accepts stacks that
     * wrap it differently. */
    const sn_xml_node *error = sn_xml_find(fault, "UPnPError");
    const char *code_text = sn_xml_child_text(error, "errorCode");
    char quoted[48];
    char detail[96];
    clean_copy(detail, sizeof detail, sn_xml_child_text(error, "errorDescription"));

    if (code_text == NULL) {
        clean_copy(quoted, sizeof quoted, sn_xml_child_text(fault, "faultstring"));
        snprintf(out->reason, sizeof out->reason, "HTTP %d: SOAP fault without a UPnP error code%s%s%s", http_status,
                 quoted[0] ? " (" : "", quoted, quoted[0] ? ")" : "");
        return;
    }
    int code = parse_code(code_text);
    if (code <= 0) {
        clean_copy(quoted, sizeof quoted, code_text);
        snprintf(out->reason, sizeof out->reason, "HTTP %d: SOAP fault with an invalid UPnP errorCode \"%s\"",
                 http_status, quoted);
        return;
    }
    out->upnp_code = code;
    const char *service = service_of_action(action);
    const char *meaning = action_error_text(action, code);
    if (meaning == NULL) meaning = sn_upnp_error_text(service, code);
    /* Our table is the reliable source (devices often send no or a useless description); the
     * device's own words are shown only for codes the table cannot name. */
    if ((strcmp(meaning, "unknown error") == 0 || strcmp(meaning, "service-specific error") == 0 ||
         strcmp(meaning, "vendor-specific error") == 0) &&
        detail[0] != '\0')
        meaning = detail;
    if (service != NULL)
        snprintf(out->reason, sizeof out->reason, "UPnP error %d: %s (%s)", code, meaning, service);
    else
        snprintf(out->reason, sizeof out->reason, "UPnP error %d: %s", code, meaning);
}

int sn_soap_parse_response(int http_status, const void *body, size_t size, const char *action,
                           sn_soap_result *out) {
    char xml_err[160] = "";
    if (out == NULL) return -1;
    memset(out, 0, sizeof *out);
    if (action == NULL) action = "";

    sn_xml_node *doc = NULL;
    if (body != NULL && size > 0) doc = sn_xml_parse((const char *)body, size, xml_err, sizeof xml_err);
    const sn_xml_node *envelope = doc != NULL && strcmp(doc->name, "Envelope") == 0 ? doc : NULL;
    const sn_xml_node *soap_body = sn_xml_child(envelope, "Body");
    const sn_xml_node *fault = sn_xml_child(soap_body, "Fault");

    if (http_status != 200) {
        if (fault != NULL) read_fault(fault, http_status, action, out);
        else if (http_status == 500)
            snprintf(out->reason, sizeof out->reason, "HTTP 500 (the body is not a SOAP fault)");
        else
            snprintf(out->reason, sizeof out->reason, "HTTP %d", http_status);
        sn_xml_free(doc);
        return -1;
    }
    if (doc == NULL) {
        snprintf(out->reason, sizeof out->reason, "malformed SOAP response: %s",
                 xml_err[0] ? xml_err : "empty body");
        return -1;
    }
    if (soap_body == NULL) {
        snprintf(out->reason, sizeof out->reason, "malformed SOAP response: no <Envelope><Body>");
        sn_xml_free(doc);
        return -1;
    }
    /* Some stacks send their faults with 200; a fault is a failure whatever the status says. */
    if (fault != NULL) {
        read_fault(fault, http_status, action, out);
        sn_xml_free(doc);
        return -1;
    }
    char expected[128];
    int n = snprintf(expected, sizeof expected, "%sResponse", action);
    const sn_xml_node *response = NULL;
    if (n > 0 && (size_t)n < sizeof expected) response = sn_xml_child(soap_body, expected);
    if (response == NULL) {
        snprintf(out->reason, sizeof out->reason, "SOAP response has no <%.100sResponse>", action);
        sn_xml_free(doc);
        return -1;
    }
    out->doc = doc;
    out->response = response;
    return 0;
}

void sn_soap_result_free(sn_soap_result *r) {
    if (r == NULL) return;
    sn_xml_free(r->doc);
    r->doc = NULL;
    r->response = NULL;
}

const char *sn_soap_out(const sn_soap_result *r, const char *name) {
    if (r == NULL || name == NULL) return NULL;
    return sn_xml_child_text(r->response, name);
}

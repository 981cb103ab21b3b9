import Foundation

/// Home Assistant's owner, as the tests act for it: made through the onboarding API, then using the
/// REST API (states, services, config flows) and, for the registries, the WebSocket API.
public struct HomeAssistantClient: Sendable {
    public let ha: HomeAssistant
    /// An access token of the owner (valid 30 minutes; HA keeps its key across restarts).
    public let token: String

    /// Creates the owner on a fresh HA (POST /api/onboarding/users gives an authorization code)
    /// and trades the code for a token at /auth/token, as the frontend does on first start.
    public static func onboard(_ ha: HomeAssistant) throws -> HomeAssistantClient {
        let clientID = ha.url + "/"
        let user = try ha.request("POST", "/api/onboarding/users", body: [
            "client_id": clientID, "name": "Test Owner", "username": "owner",
            "password": "speakerbridge-test", "language": "en",
        ])
        guard user.status == 200, let code = (user.json as? [String: Any])?["auth_code"] as? String else {
            throw LabError("onboarding the owner: HTTP \(user.status): \(user.body)")
        }
        let grant = try ha.request("POST", "/auth/token", form: [
            "grant_type": "authorization_code", "code": code, "client_id": clientID,
        ])
        guard grant.status == 200, let token = (grant.json as? [String: Any])?["access_token"] as? String else {
            throw LabError("trading the authorization code for a token: HTTP \(grant.status): \(grant.body)")
        }
        return HomeAssistantClient(ha: ha, token: token)
    }

    /// The REST API's answer for `path`; anything but 200 throws with HA's text.
    public func get(_ path: String) throws -> Any? {
        let response = try ha.get(path, token: token)
        guard response.status == 200 else { throw LabError("GET \(path): HTTP \(response.status): \(response.body)") }
        return response.json
    }

    public func post(_ path: String, _ body: Any) throws -> Any? {
        let response = try ha.request("POST", path, token: token, body: body)
        guard response.status == 200 else { throw LabError("POST \(path): HTTP \(response.status): \(response.body)") }
        return response.json
    }

    /// Waits until HA reports `RUNNING` (every integration and config entry set up) and checks that
    /// nothing that scans the network got loaded.
    public func waitUntilRunning(timeout: Double = 90) throws {
        var config: [String: Any] = [:]
        let running = waitUntil(timeout: timeout, interval: 0.25) {
            config = ((try? get("/api/config")) as? [String: Any]) ?? [:]
            return config["state"] as? String == "RUNNING"
        }
        guard running else {
            throw LabError("Home Assistant not RUNNING after \(Int(timeout)) s (state \(config["state"] ?? "none"))\n\(tail(of: ha.logPath))")
        }
        let loaded = Set((config["components"] as? [String]) ?? [])
        let scanners = loaded.intersection(HomeAssistant.networkScanners)
        guard scanners.isEmpty else {
            throw LabError("Home Assistant loaded integrations that search the network: \(scanners.sorted())")
        }
    }

    /// Adds the MQTT integration for a broker through its config flow (`broker` step), as a user
    /// does in the UI; returns the config entry once HA reports it `loaded`.
    @discardableResult
    public func addMQTTBroker(host: String, port: Int) throws -> [String: Any] {
        let flow = try post("/api/config/config_entries/flow", ["handler": "mqtt"]) as? [String: Any] ?? [:]
        guard let flowID = flow["flow_id"] as? String, flow["step_id"] as? String == "broker" else {
            throw LabError("the MQTT config flow did not start at its broker step: \(flow)")
        }
        let done = try post("/api/config/config_entries/flow/\(flowID)", ["broker": host, "port": port]) as? [String: Any] ?? [:]
        guard done["type"] as? String == "create_entry", let entry = done["result"] as? [String: Any] else {
            throw LabError("the MQTT config flow did not create an entry: \(done)")
        }
        guard entry["state"] as? String == "loaded" else { throw LabError("the MQTT entry is not loaded: \(entry)") }
        return entry
    }

    /// Every entity's state (GET /api/states).
    public func states() throws -> [[String: Any]] {
        try get("/api/states") as? [[String: Any]] ?? []
    }

    /// One entity's state, nil when HA does not know it (404).
    public func state(_ entityID: String) throws -> [String: Any]? {
        let response = try ha.get("/api/states/\(entityID)", token: token)
        if response.status == 404 { return nil }
        guard response.status == 200 else { throw LabError("GET state of \(entityID): HTTP \(response.status): \(response.body)") }
        return response.json as? [String: Any]
    }

    /// Calls a service (POST /api/services/<domain>/<service>); HA answers 400 with its reason
    /// for bad data, which this throws.
    @discardableResult
    public func call(_ domain: String, _ service: String, _ data: [String: Any]) throws -> Any? {
        try post("/api/services/\(domain)/\(service)", data)
    }

    /// One WebSocket command's result (`Tests/HomeAssistant/ha_ws.py` with the venv's Python).
    public func websocket(_ message: [String: Any]) throws -> Any? {
        let text = String(decoding: try JSONSerialization.data(withJSONObject: message), as: UTF8.self)
        let out = try Shell.runChecked([ha.venv + "/bin/python", PluginBuild.root + "/Tests/HomeAssistant/ha_ws.py",
                                        ha.url, token, text])
        return try JSONSerialization.jsonObject(with: Data(out.utf8), options: [.fragmentsAllowed])
    }

    /// The entity registry: entity_id, unique_id, platform, device_id, … of every registered entity.
    public func entityRegistry() throws -> [[String: Any]] {
        try websocket(["type": "config/entity_registry/list"]) as? [[String: Any]] ?? []
    }

    /// The device registry: id, name, manufacturer, model, via_device_id, identifiers, …
    public func deviceRegistry() throws -> [[String: Any]] {
        try websocket(["type": "config/device_registry/list"]) as? [[String: Any]] ?? []
    }
}

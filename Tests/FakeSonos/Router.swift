import Foundation
import NIOHTTP1

/// Routes one player's HTTP requests: the description, SOAP control, GENA.
extension HouseholdCore {
    func handle(player i: Int, _ request: HTTPRequest) async -> HTTPResponse {
        let delay = read { $0.players[i].responseDelay }
        if delay > 0 { try? await Task.sleep(for: .milliseconds(Int(delay * 1000))) }
        switch request.method {
        case .GET, .HEAD:
            guard request.path == "/xml/device_description.xml" else { return .status(.notFound) }
            return .xml(read { deviceDescription(player: $0.players[i], roomName: $0.roomName(of: i), host: $0.hosts[i]) })
        case .POST:
            guard let service = UPnPService.byControlURL(request.path, model: read { $0.players[i].model }) else { return .status(.notFound) }
            return soap(player: i, service: service, request)
        case .SUBSCRIBE, .UNSUBSCRIBE:
            guard let service = UPnPService.byEventURL(request.path, model: read { $0.players[i].model }) else { return .status(.notFound) }
            return GENA.handle(core: self, player: i, service: service, request: request)
        default:
            return .status(.methodNotAllowed)
        }
    }

    private func soap(player i: Int, service: UPnPService, _ request: HTTPRequest) -> HTTPResponse {
        let header = SOAP.parseSOAPAction(request.headers.first(name: "SOAPACTION"))
        let parsed = SOAP.parse(request.body)
        let action = parsed?.action ?? header?.action ?? "?"
        let args = parsed?.args ?? [:]
        let now = self.now
        return mutate { m -> HTTPResponse in
            var fault: UPnPError?
            var out: [(String, String)] = []
            if let header, let parsed, header.serviceType == service.serviceType, header.action == parsed.action,
               parsed.namespace == nil || parsed.namespace == service.serviceType {
                if var codes = m.players[i].pendingFaults[action], !codes.isEmpty {
                    fault = UPnPError(codes.removeFirst())
                    m.players[i].pendingFaults[action] = codes.isEmpty ? nil : codes
                } else {
                    do {
                        let a = ActionArgs(args: args)
                        switch service {
                        case .avTransport: out = try AVTransportService.call(action, a, player: i, model: &m, now: now)
                        case .renderingControl: out = try RenderingControlService.call(action, a, player: i, model: &m)
                        case .groupRenderingControl: out = try GroupRenderingControlService.call(action, a, player: i, model: &m)
                        case .zoneGroupTopology: out = try ZoneGroupTopologyService.call(action, a, player: i, model: &m)
                        case .contentDirectory: out = try ContentDirectoryService.call(action, a, player: i, model: &m)
                        case .alarmClock: out = try AlarmClockService.call(action, a, player: i, model: &m)
                        default: throw UPnPError(401)
                        }
                    } catch let e as UPnPError {
                        fault = e
                    } catch {
                        fault = UPnPError(402)
                    }
                }
            } else {
                // Missing/mismatched SOAPACTION or an unparsable envelope: Invalid Action.
                fault = UPnPError(401)
            }
            m.players[i].soapLog.append(SOAPCall(service: service.name, action: action, args: args, faultCode: fault?.code))
            if let reason = fault?.violation {
                m.players[i].violations.append(Violation(action: action, reason: reason))
            }
            if let fault { return .xml(SOAP.fault(code: fault.code), status: .internalServerError) }
            var response = HTTPResponse.xml(SOAP.response(service: service, action: action, out))
            response.headers.add(name: "EXT", value: "")
            return response
        }
    }
}

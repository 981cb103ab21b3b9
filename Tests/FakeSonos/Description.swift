import Foundation

/// The UPnP services of a Sonos player, with the paths real players use. Only the first four
/// are modelled (actions + events); the rest are listed in the description like on a real player
/// and answer every action with UPnP error 401. HTControl and AudioIn only on the models that
/// have them (see FakeSonosModel).
enum UPnPService: String, CaseIterable, Sendable {
    case avTransport, renderingControl, groupRenderingControl, zoneGroupTopology
    case alarmClock, musicServices, deviceProperties, systemProperties, groupManagement, qplay
    case contentDirectory, serverConnectionManager
    case rendererConnectionManager, queue, virtualLineIn
    case htControl, audioIn

    enum Device { case root, mediaServer, mediaRenderer }

    var name: String {
        switch self {
        case .avTransport: return "AVTransport"
        case .renderingControl: return "RenderingControl"
        case .groupRenderingControl: return "GroupRenderingControl"
        case .zoneGroupTopology: return "ZoneGroupTopology"
        case .alarmClock: return "AlarmClock"
        case .musicServices: return "MusicServices"
        case .deviceProperties: return "DeviceProperties"
        case .systemProperties: return "SystemProperties"
        case .groupManagement: return "GroupManagement"
        case .qplay: return "QPlay"
        case .contentDirectory: return "ContentDirectory"
        case .serverConnectionManager, .rendererConnectionManager: return "ConnectionManager"
        case .queue: return "Queue"
        case .virtualLineIn: return "VirtualLineIn"
        case .htControl: return "HTControl"
        case .audioIn: return "AudioIn"
        }
    }

    var device: Device {
        switch self {
        case .contentDirectory, .serverConnectionManager: return .mediaServer
        case .avTransport, .renderingControl, .groupRenderingControl, .rendererConnectionManager, .queue, .virtualLineIn:
            return .mediaRenderer
        default: return .root
        }
    }

    var serviceType: String {
        switch self {
        case .queue: return "urn:schemas-sonos-com:service:Queue:1"
        case .qplay: return "urn:schemas-tencent-com:service:QPlay:1"
        default: return "urn:schemas-upnp-org:service:\(name):1"
        }
    }

    var serviceID: String {
        switch self {
        case .queue: return "urn:sonos-com:serviceId:Queue"
        case .qplay: return "urn:tencent-com:serviceId:QPlay"
        default: return "urn:upnp-org:serviceId:\(name)"
        }
    }

    private var pathPrefix: String {
        switch device {
        case .root: return "/\(name)"
        case .mediaServer: return "/MediaServer/\(name)"
        case .mediaRenderer: return "/MediaRenderer/\(name)"
        }
    }

    var controlURL: String { pathPrefix + "/Control" }
    var eventSubURL: String { pathPrefix + "/Event" }
    var scpdURL: String { "/xml/\(name)1.xml" }

    /// Services whose state the fake models and sends GENA events for.
    var isModelled: Bool {
        [.avTransport, .renderingControl, .groupRenderingControl, .zoneGroupTopology].contains(self)
    }

    /// Whether a player of this model has the service: soundbars HTControl, line-in models
    /// AudioIn, a Boost/Bridge nothing of the media devices.
    func available(on model: FakeSonosModel) -> Bool {
        switch self {
        case .htControl: return model.htControl
        case .audioIn: return model.audioIn
        default: return !model.isZoneBridge || device == .root
        }
    }

    static func byControlURL(_ path: String, model: FakeSonosModel) -> UPnPService? {
        allCases.first { $0.controlURL == path && $0.available(on: model) }
    }
    static func byEventURL(_ path: String, model: FakeSonosModel) -> UPnPService? {
        allCases.first { $0.eventSubURL == path && $0.available(on: model) }
    }
}

/// Identity values shared by the description and the topology.
enum SonosIdentity {
    static let softwareVersion = "80.1-55240"

    /// MAC-like hex for player `index` of household `seed`: RINCON_<12 hex>01400.
    static func uuid(seed: UInt32, index: Int) -> String {
        let mac = String(format: "48A6B8%06X", (seed &+ UInt32(index) &* 0x1001) & 0xFFFFFF)
        return "RINCON_\(mac)01400"
    }

    static func mac(of uuid: String) -> String {
        let hex = Array(uuid.dropFirst("RINCON_".count).prefix(12))
        return stride(from: 0, to: 12, by: 2).map { String(hex[$0..<$0 + 2]) }.joined(separator: ":")
    }
}

/// GET /xml/device_description.xml in the shape of a real player of the player's model.
func deviceDescription(player p: PlayerModel, roomName: String, host: String) -> String {
    let mac = SonosIdentity.mac(of: p.uuid)
    let model = p.model.number
    let modelName = p.model.name
    func services(_ device: UPnPService.Device) -> String {
        UPnPService.allCases.filter { $0.device == device && $0.available(on: p.model) }.map { s in
            "<service><serviceType>\(s.serviceType)</serviceType><serviceId>\(s.serviceID)</serviceId>"
                + "<controlURL>\(s.controlURL)</controlURL><eventSubURL>\(s.eventSubURL)</eventSubURL>"
                + "<SCPDURL>\(s.scpdURL)</SCPDURL></service>"
        }.joined()
    }
    func common(_ description: String) -> String {
        "<manufacturer>Sonos, Inc.</manufacturer><manufacturerURL>http://www.sonos.com</manufacturerURL>"
            + "<modelNumber>\(model)</modelNumber><modelDescription>\(description)</modelDescription>"
            + "<modelName>\(modelName)</modelName>"
            + "<modelURL>http://www.sonos.com/products/zoneplayers/\(model)</modelURL>"
    }
    // A Boost/Bridge plays nothing: it has neither media device.
    var mediaDevices: String {
        "<deviceList>"
            + "<device><deviceType>urn:schemas-upnp-org:device:MediaServer:1</deviceType>"
            + "<friendlyName>\(xmlEscape(host)) - \(modelName) Media Server</friendlyName>"
            + common("\(modelName) Media Server") + "<UDN>uuid:\(p.uuid)_MS</UDN>"
            + "<serviceList>\(services(.mediaServer))</serviceList></device>"
            + "<device><deviceType>urn:schemas-upnp-org:device:MediaRenderer:1</deviceType>"
            + "<friendlyName>\(xmlEscape(roomName)) - \(modelName) Media Renderer</friendlyName>"
            + common("\(modelName) Media Renderer") + "<UDN>uuid:\(p.uuid)_MR</UDN>"
            + "<serviceList>\(services(.mediaRenderer))</serviceList>\(icon)</device>"
            + "</deviceList>"
    }
    let icon = "<iconList><icon><id>0</id><mimetype>image/png</mimetype><width>48</width><height>48</height>"
        + "<depth>24</depth><url>/img/icon-\(model).png</url></icon></iconList>"
    return """
        <?xml version="1.0" encoding="utf-8" ?>\
        <root xmlns="urn:schemas-upnp-org:device-1-0"><specVersion><major>1</major><minor>0</minor></specVersion>\
        <device><deviceType>urn:schemas-upnp-org:device:ZonePlayer:1</deviceType>\
        <friendlyName>\(xmlEscape(host)) - \(modelName) - \(p.uuid)</friendlyName>\
        \(common(modelName))\
        <softwareVersion>\(SonosIdentity.softwareVersion)</softwareVersion><swGen>2</swGen>\
        <hardwareVersion>1.20.1.6-2.1</hardwareVersion><serialNum>\(mac.replacingOccurrences(of: ":", with: "-")):E</serialNum>\
        <MACAddress>\(mac)</MACAddress><UDN>uuid:\(p.uuid)</UDN>\(icon)\
        <minCompatibleVersion>79.0-00000</minCompatibleVersion><legacyCompatibleVersion>58.0-00000</legacyCompatibleVersion>\
        <apiVersion>1.40.0</apiVersion><minApiVersion>1.1.0</minApiVersion><displayVersion>16.3</displayVersion>\
        <extraVersion></extraVersion><nsVersion>42</nsVersion>\
        <roomName>\(xmlEscape(roomName))</roomName><displayName>\(p.model.displayName)</displayName>\
        <zoneType>20</zoneType><feature1>0x00000000</feature1><feature2>0x05c18332</feature2><feature3>0x0541580e</feature3>\
        <feature4>0x00000000</feature4><seriesid>A100</seriesid><variant>0</variant><internalSpeakerSize>5</internalSpeakerSize>\
        <memory>1024</memory><flash>1024</flash><ampOnTime>10</ampOnTime><retailMode>0</retailMode>\
        <SSLPort>1443</SSLPort><securehhSSLPort>1843</securehhSSLPort>\
        <serviceList>\(services(.root))</serviceList>\
        \(p.model.isZoneBridge ? "" : mediaDevices)</device></root>
        """
}

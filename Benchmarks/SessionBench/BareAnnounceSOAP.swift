import LabKit

// The requests of the Sonos benches' bare baseline: what a plain control point sends to announce
// (SetAVTransportURI, then Play), written as files for curl's --data-binary.

/// One AVTransport SOAP envelope for `action` with its argument elements `args`.
func avTransportEnvelope(_ action: String, _ args: String) -> String {
    #"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" "#
        + #"s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>"#
        + "<u:\(action) xmlns:u=\"urn:schemas-upnp-org:service:AVTransport:1\">\(args)</u:\(action)></s:Body></s:Envelope>"
}

/// Writes SetAVTransportURI of `clipURL` and Play into `scratch`; returns their paths.
func writeBareAnnounceRequests(clipURL: String, in scratch: TempDirectory) throws -> (set: String, play: String) {
    let setFile = scratch.file("set.xml"), playFile = scratch.file("play.xml")
    try avTransportEnvelope("SetAVTransportURI", "<InstanceID>0</InstanceID><CurrentURI>\(clipURL)</CurrentURI><CurrentURIMetaData></CurrentURIMetaData>")
        .write(toFile: setFile, atomically: true, encoding: .utf8)
    try avTransportEnvelope("Play", "<InstanceID>0</InstanceID><Speed>1</Speed>").write(toFile: playFile, atomically: true, encoding: .utf8)
    return (setFile, playFile)
}

import LabKit
import XCTest

/// Skips a test that needs network namespaces (root, ip, a kernel that allows them), saying why.
func requireRoot(_ what: String) throws {
    if let reason = NetnsLab.unavailableReason {
        print("SKIPPED \(what): \(reason)")
        throw XCTSkip("\(what): \(reason)")
    }
}

import Synchronization
import XCTest

@testable import SpeakerbridgeHost

final class SpeakerDirectoryTests: XCTestCase {
    let kitchen = speaker("uuid-k", "Kitchen", group: "Downstairs")
    let hall = speaker("uuid-h", "Hall", group: "Downstairs")
    let office = speaker("uuid-o", "Office")

    func directory(_ drivers: InMemoryDrivers, changed: @escaping @Sendable () -> Void = {}) async -> SpeakerDirectory {
        let d = SpeakerDirectory(drivers: drivers, changed: changed)
        await d.refresh()
        return d
    }

    func ids(_ handles: [SpeakerHandle]) -> [String] { handles.map(\.speaker.id) }

    func testResolvesByIdNameGroupAndAll() async throws {
        let drivers = InMemoryDrivers(["sonos": [kitchen, hall], "log": [office]])
        let d = await directory(drivers)
        let byID = try await d.resolve(["uuid-o"])
        XCTAssertEqual(byID, [SpeakerHandle(speaker: office, driver: "log")], "the handle names the driver")
        let byName = try await d.resolve(["kITCHEN"])
        XCTAssertEqual(ids(byName), ["uuid-k"], "names match in any case")
        let byGroup = try await d.resolve(["downstairs"])
        XCTAssertEqual(ids(byGroup), ["uuid-k", "uuid-h"])
        let all = try await d.resolve(["all"])
        XCTAssertEqual(ids(all), ["uuid-o", "uuid-k", "uuid-h"], "drivers by id, each in its own order")
        let overlapping = try await d.resolve(["Hall", "Downstairs"])
        XCTAssertEqual(ids(overlapping), ["uuid-h", "uuid-k"], "in the order asked, each once")
    }

    func testAnIdWinsOverANameAndANameOverAGroup() async throws {
        let confusing = speaker("Office", "Attic", group: "Kitchen")
        let d = await directory(InMemoryDrivers(["a": [confusing], "b": [kitchen, office]]))
        let byID = try await d.resolve(["Office"])
        XCTAssertEqual(ids(byID), ["Office"])
        let byName = try await d.resolve(["kitchen"])
        XCTAssertEqual(ids(byName), ["uuid-k"])
    }

    func testUnknownNamesAndNoSpeakersAreErrorsWithTheAnswersText() async throws {
        let d = await directory(InMemoryDrivers(["log": [kitchen]]))
        do {
            _ = try await d.resolve(["Kitchen", "Attic", "Garage"])
            XCTFail("unknown names resolve to nothing")
        } catch {
            XCTAssertEqual(error, .unknown(names: ["Attic", "Garage"], known: ["Kitchen"]))
            XCTAssertEqual(error.description, "unknown speaker 'Attic', 'Garage'; known speakers: Kitchen")
        }
        do {
            _ = try await d.resolve(one: "Attic")
            XCTFail("unknown")
        } catch {
            XCTAssertEqual(error.description, "unknown speaker 'Attic'", "a single speaker's answer names no list")
        }
        let empty = await directory(InMemoryDrivers())
        do {
            _ = try await empty.resolve(["all"])
            XCTFail("no speakers")
        } catch {
            XCTAssertEqual(error, .noSpeakers)
        }
    }

    func testOneSpeakerMustBeOne() async throws {
        let d = await directory(InMemoryDrivers(["sonos": [kitchen, hall]]))
        let one = try await d.resolve(one: "hall")
        XCTAssertEqual(one, SpeakerHandle(speaker: hall, driver: "sonos"))
        do {
            _ = try await d.resolve(one: "Downstairs")
            XCTFail("a group of two is not one speaker")
        } catch {
            XCTAssertEqual(error.description, "'Downstairs' names 2 speakers (Kitchen [uuid-k], Hall [uuid-h]); name one by its id")
        }
    }

    func testAnUnknownNameOrAllAsksTheDriversFirst() async throws {
        let drivers = InMemoryDrivers(["sonos": [kitchen]])
        let d = await directory(drivers)
        let before = drivers.reports
        _ = try await d.resolve(["Kitchen"])
        XCTAssertEqual(drivers.reports, before, "a known name is answered from the list")
        // Found by its driver a moment ago: not in the list yet.
        drivers.set("sonos", [kitchen, hall])
        let found = try await d.resolve(["Hall"])
        XCTAssertEqual(ids(found), ["uuid-h"])
        drivers.set("log", [office])
        let all = try await d.resolve(["all"])
        XCTAssertEqual(ids(all), ["uuid-o", "uuid-k", "uuid-h"], "all means every speaker now")
    }

    func testADriverEventRefreshesTheListAndSaysSo() async throws {
        let changes = Mutex(0)
        let drivers = InMemoryDrivers(["sonos": [kitchen]])
        let d = await directory(drivers) { changes.withLock { $0 += 1 } }
        XCTAssertEqual(changes.withLock { $0 }, 1)
        drivers.set("sonos", [kitchen, hall])
        d.driversChanged()
        d.driversChanged()
        let seen = await eventually { d.speakers(of: "sonos").count == 2 }
        XCTAssertTrue(seen)
        XCTAssertEqual(changes.withLock { $0 }, 2, "one change, said once")
        // An unchanged list says nothing.
        await d.refresh()
        XCTAssertEqual(changes.withLock { $0 }, 2)
        // A driver that went away takes its speakers with it.
        drivers.set("sonos", [])
        await d.refresh()
        XCTAssertEqual(d.speakers, [])
    }
}

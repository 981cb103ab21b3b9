import FakeSonos
import Foundation
import LabKit
import XCTest

/// The status page in a real browser: Debian's headless Chromium, driven over WebDriver by
/// chromedriver, both inside a network namespace of their own that reaches nothing but one veth
/// pair (Chromium calls Google's servers when it starts; here it cannot). The daemon listens on our
/// end of the pair, a non-loopback address, so it needs and gets an admin token; its speakers are
/// the log speaker's Kitchen and Office, its voice the espeak-ng TTS plugin, its broker a real
/// mosquitto on 127.0.0.1. The test logs in (after a wrong token), moves a volume slider with the
/// keyboard, says a sentence, reloads a plugin and reads the health view, each checked where it
/// lands (the log speaker's file, the page), and takes the screenshots the README shows.
/// Needs root and chromium/chromium-driver (`make test` and `make test-browser` install them as root);
/// skipped with the reason otherwise.
final class WebPageTests: XCTestCase {
    private let logSpeakerID = "org.speakerbridge.example.log-speaker"
    /// The log speaker's ids for the names Kitchen and Office (ids are "log-" + the name in lower case).
    private let kitchen = "log-kitchen", office = "log-office"

    /// `SB_SCREENSHOTS_DIR` (`make screenshots`: docs/screenshots), else out/screenshots.
    private var screenshots: String {
        let dir = ProcessInfo.processInfo.environment["SB_SCREENSHOTS_DIR"] ?? ""
        return dir.isEmpty ? PluginBuild.root + "/out/screenshots" : dir
    }

    /// A 32-character admin token in a file of mode 0600: the daemon listens on the browser pair's
    /// address, not loopback, so without a token it would refuse to start.
    private func adminToken() throws -> (token: String, file: String, secrets: TempDirectory) {
        let secrets = try TempDirectory(prefix: "sbtoken")
        let token = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let file = secrets.file("admin-token")
        guard FileManager.default.createFile(atPath: file, contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            secrets.remove()
            throw LabError("cannot write the admin token to \(file)")
        }
        return (token, file, secrets)
    }

    private func requireBrowser() throws {
        if let reason = HeadlessBrowser.unavailableReason {
            print("SKIPPED WebPageTests: \(reason)")
            throw XCTSkip("the browser test: \(reason)")
        }
    }

    // MARK: the browser's own namespace

    /// The lab part alone, against a static page: the namespace routes nothing beyond its /30, the
    /// browser in it loads a page from our end of the pair and takes a screenshot, and afterwards no
    /// process and no namespace is left.
    func testTheBrowserReachesOnlyItsPairAndLeavesNothingBehind() throws {
        try requireBrowser()
        let browser = try HeadlessBrowser()
        let namespace = browser.namespace
        defer { browser.close() }

        let routes = try Shell.runChecked(["ip", "-n", namespace.name, "-4", "route", "show"])
        XCTAssertEqual(routes.split(separator: "\n").count, 1, "only the pair's /30 is routable: \(routes)")
        XCTAssertFalse(routes.contains("default"), routes)
        let outside = try Shell.run(["ip", "netns", "exec", namespace.name, "ip", "-4", "route", "get", "198.51.100.1"])
        XCTAssertNotEqual(outside.status, 0, "an address beyond the pair must be unreachable: \(outside.out)")
        XCTAssertTrue(outside.err.contains("unreachable"), outside.err)

        let site = try TempDirectory(prefix: "sbstatic")
        defer { site.remove() }
        try "<!doctype html><title>static</title><h1>Hello from the root namespace</h1>"
            .write(toFile: site.file("index.html"), atomically: true, encoding: .utf8)
        let port = freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["python3", "-m", "http.server", "--bind", namespace.hostAddress, "--directory", site.path, "\(port)"]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.terminate(); server.waitUntilExit() }

        let session = browser.session
        try session.wait(for: "the static page from http://\(namespace.hostAddress):\(port)/", timeout: 20) {
            try session.navigate(to: "http://\(namespace.hostAddress):\(port)/")
            return try session.find("h1").text() == "Hello from the root namespace"
        }
        let png = site.file("static.png")
        try session.screenshot(to: png)
        let head = try Data(contentsOf: URL(fileURLWithPath: png)).prefix(8)
        XCTAssertEqual(Array(head), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "a PNG")

        browser.close()
        XCTAssertEqual(browser.leftovers(), [], "no browser process may outlive the test")
        let namespaces = try Shell.runChecked(["ip", "netns", "list"])
        XCTAssertFalse(namespaces.contains(namespace.name), namespaces)
    }

    // MARK: the page

    func testThePageInARealBrowser() throws {
        try requireBrowser()
        let namespace = try BrowserNamespace()
        defer { namespace.destroy() }
        let (token, tokenFile, secrets) = try adminToken()
        defer { secrets.remove() }
        // And a file in the plugin folder that is no plugin, for the list of refused files.
        let lab = try PluginDaemon.speech(settings: ["admin.bind": namespace.hostAddress, "admin.token_file": tokenFile],
                                          speakers: ["Kitchen", "Office"]) { dir, _ in
            try "not a shared object".write(toFile: dir + "/not-a-plugin.so", atomically: true, encoding: .utf8)
        }
        let port = try lab.daemon.adminPort(host: namespace.hostAddress)
        let origin = "http://\(namespace.hostAddress):\(port)"
        let speakersFile = lab.scratch.path + "/speakers.txt"

        let browser = try HeadlessBrowser(namespace: namespace)
        defer { browser.close() }
        let page = browser.session
        try page.setViewportSize(width: 1280, height: 900)
        let failureShot = PluginBuild.root + "/out/screenshots/failure.png"
        try? FileManager.default.removeItem(atPath: failureShot)

        /// What every failure adds: the daemon's log tail, the log speaker's file, the driver's log.
        func context() -> String {
            "\n--- daemon log (tail):\n\(tail(of: lab.daemon.logPath, lines: 40))"
                + "\n--- the log speaker's file:\n\(lab.log(speakersFile).suffix(10).joined(separator: "\n"))"
                + "\n--- chromedriver (tail):\n\(browser.driverLog(lines: 10))"
        }
        do {
            try wrongTokensAreRefused(host: namespace.hostAddress, port: port, token: token)
            try logIn(page, origin: origin, token: token)
            try speakers(page, lab: lab, speakersFile: speakersFile)
            let announced = try announce(page, lab: lab, speakersFile: speakersFile)
            try plugins(page)
            try health(page)
            try replayAfterReload(page, origin: origin, announced: announced)
            try daemonStopsWithThePageOpen(page, lab: lab)
        } catch {
            try? page.screenshot(to: failureShot)
            XCTFail("\(error)\(context())\n(the page at the failure: out/screenshots/failure.png)")
        }

        browser.close()
        XCTAssertEqual(browser.leftovers(), [], "chromedriver, Chromium and their helpers are gone")
        let namespaces = (try? Shell.runChecked(["ip", "netns", "list"])) ?? ""
        XCTAssertFalse(namespaces.contains(namespace.name), "the browser's namespace is gone: \(namespaces)")
    }

    /// The Speakers view with Sonos players (the Sonos driver against the fake household, real UPnP
    /// and GENA on loopback): a group of two, the coordinator playing a track of its queue. Each card
    /// shows what the driver reports (transport state, group name, mute, title — artist, the volume
    /// on the slider; the member shows its coordinator's music and its own volume); a change on a
    /// player reaches the card live through the driver's event subscription; the slider moved with
    /// the keyboard sets the player's volume with a real SetVolume.
    func testTheSpeakersViewShowsSonosPlayersLive() async throws {
        try requireBrowser()
        let namespace = try BrowserNamespace()
        defer { namespace.destroy() }
        let (token, tokenFile, secrets) = try adminToken()
        defer { secrets.remove() }
        let lab = try await sonosLab([.init(name: "Living Room", volume: 20), .init(name: "Kitchen", volume: 35)], quirks: .real,
                                     daemonSettings: ["admin.bind": namespace.hostAddress, "admin.token_file": tokenFile])
        let (living, kitchen) = (lab.household.players[0], lab.household.players[1])
        living.setState(.queue(tracks: [QueueTrack(uri: "x-sonos-http:so-what.mp3", title: "So What", duration: 562, artist: "Miles Davis"),
                                        QueueTrack(uri: "x-sonos-http:freddie.mp3", title: "Freddie Freeloader", artist: "Miles Davis")],
                               track: 1, position: 10), transport: .playing)
        lab.household.join(kitchen, to: living)
        for speaker in ["living_room", "kitchen"] {
            _ = try lab.state(speaker, timeout: 20) { $0["group_name"] as? String == "Living Room + 1" && $0["title"] as? String == "So What" }
        }
        let port = try lab.daemon.daemon.adminPort(host: namespace.hostAddress)
        let origin = "http://\(namespace.hostAddress):\(port)"

        let browser = try HeadlessBrowser(namespace: namespace)
        defer { browser.close() }
        let page = browser.session
        try page.setViewportSize(width: 1280, height: 900)
        let failureShot = PluginBuild.root + "/out/screenshots/failure-sonos.png"
        do {
            try logIn(page, origin: origin, token: token, screenshot: false)
            try show(page, "speakers")
            /// The card's fields as the page shows them.
            func card(_ id: String) throws -> [String: String] {
                let fields = try page.execute("""
                    const card = document.querySelector(`[data-speaker="${arguments[0]}"]`);
                    if (!card) return null;
                    const text = sel => (card.querySelector(sel) || {}).textContent || '';
                    const slider = card.querySelector('input[type=range][name=volume]');
                    return {availability: text('.availability'), state: text('.transport'), group: text('.group'),
                            mute: text('.mute'), playing: text('.now-playing'), volume: slider ? slider.value : '',
                            result: text('.command-result')};
                    """, [id]) as? [String: Any] ?? [:]
                return fields.mapValues { "\($0)" }
            }
            let wanted: [String: [String: String]] = [
                "living_room": ["availability": "online", "state": "playing", "group": "Living Room + 1", "mute": "not muted",
                                "playing": "So What — Miles Davis", "volume": "20"],
                "kitchen": ["availability": "online", "state": "playing", "group": "Living Room + 1", "mute": "not muted",
                            "playing": "So What — Miles Davis", "volume": "35"],
            ]
            for (id, fields) in wanted.sorted(by: { $0.key < $1.key }) {
                var shown: [String: String] = [:]
                do {
                    try page.wait(for: "\(id)'s card to show \(fields)", timeout: 20) {
                        shown = try card(id)
                        return fields.allSatisfy { shown[$0.key] == $0.value }
                    }
                } catch {
                    throw LabError("\(error); the card shows \(shown)")
                }
            }

            // Live: the kitchen is muted on the player itself (its app, a button); the driver hears
            // it by its GENA subscription and the card follows without a reload.
            kitchen.mute = true
            try page.wait(for: "Kitchen's card to say muted after the player was muted", timeout: 15) {
                try card("kitchen")["mute"] == "muted"
            }

            // The slider, by keyboard: End sends volume 100 to the living room, a real SetVolume.
            let slider = try page.find("[data-speaker=\"living_room\"] input[type=range][name=volume]")
            try slider.focus()
            try page.press([WebDriverSession.Key.end])
            try page.wait(for: "the Living Room player at volume 100 after End on its slider", timeout: 15) { living.volume == 100 }
            try page.wait(for: "Living Room's card to say \"volume 100: ok\"") { try card("living_room")["result"] == "volume 100: ok" }
            XCTAssertEqual(kitchen.volume, 35, "a member's volume is its own")
            try page.screenshot(to: screenshots + "/speakers-sonos.png")
        } catch {
            try? page.screenshot(to: failureShot)
            XCTFail("\(error)\n--- daemon log (tail):\n\(tail(of: lab.daemon.daemon.logPath, lines: 40))\n(the page at the failure: out/screenshots/failure-sonos.png)")
        }
        browser.close()
        XCTAssertEqual(browser.leftovers(), [], "chromedriver, Chromium and their helpers are gone")
        XCTAssertEqual(living.violations + kitchen.violations, [])
    }

    // MARK: steps

    /// Raw HTTP from the test: a wrong Bearer token and a wrong cookie get 401 on the page and the
    /// API; the right token gets the page; /healthz stays public.
    private func wrongTokensAreRefused(host: String, port: Int, token: String) throws {
        func get(_ path: String, _ headers: [(String, String)]) throws -> NamespaceHTTP.Answer {
            try NamespaceHTTP.request(host: host, port: port, method: "GET", path: path, headers: headers, timeout: 10)
        }
        let wrong = String(token.reversed())
        for (path, headers) in [("/", [("Authorization", "Bearer \(wrong)")]), ("/", [("Cookie", "speakerbridge_admin=\(wrong)")]),
                                ("/", []), ("/api/events", [("Authorization", "Bearer \(wrong)")]),
                                ("/metrics", [("Cookie", "speakerbridge_admin=\(wrong)")])] {
            let answer = try get(path, headers)
            guard answer.status == 401 else {
                throw LabError("GET \(path) with \(headers.map { $0.0 }.joined()) (wrong or no token): \(answer.status), not 401: \(answer.text.prefix(300))")
            }
            if path == "/" {
                guard answer.text.contains("login-form") else { throw LabError("GET / without the token: 401 but no login form: \(answer.text.prefix(500))") }
            }
        }
        let right = try get("/", [("Authorization", "Bearer \(token)")])
        guard right.status == 200, right.text.contains("view-speakers") else {
            throw LabError("GET / with the right Bearer token: \(right.status): \(right.text.prefix(300))")
        }
        let healthz = try get("/healthz", [])
        guard healthz.status == 200 || healthz.status == 503 else { throw LabError("GET /healthz without a token: \(healthz.status), it is public") }
    }

    /// The login page for `/` without a cookie; a wrong token says so; the right one opens the page,
    /// whose event stream goes live.
    private func logIn(_ page: WebDriverSession, origin: String, token: String, screenshot: Bool = true) throws {
        try page.navigate(to: origin + "/")
        try page.wait(for: "the login form at / without a cookie") { try page.find("form#login-form input#token").isDisplayed() }
        try page.find("input#token").type("not-the-token-\(UUID().uuidString)")
        try page.find("form#login-form [type=submit]").click()
        try page.wait(for: "\"That token is not right.\" in #login-message") {
            try page.find("#login-message").text().contains("That token is not right.")
        }
        if screenshot { try page.screenshot(to: screenshots + "/login.png") }

        try page.find("input#token").type(token)
        try page.find("form#login-form [type=submit]").click()
        try page.wait(for: "#live-status to say live (data-live=true) after the right token", timeout: 20) {
            let status = try page.find("#live-status")
            return try status.text() == "live" && status.attribute("data-live") == "true"
        }
    }

    private func show(_ page: WebDriverSession, _ view: String) throws {
        try page.find("nav a[href=\"#\(view)\"], a[href=\"#\(view)\"]").click()
        try page.wait(for: "#view-\(view) shown after its nav link") {
            try page.find("#view-\(view)").isDisplayed() && page.find("#view-\(view)").attribute("hidden") == nil
        }
    }

    /// Both speakers online with their driver; Kitchen's volume slider moved with the keyboard
    /// reaches the log speaker as the typed `volume` command, and the page shows the answer.
    private func speakers(_ page: WebDriverSession, lab: PluginDaemon, speakersFile: String) throws {
        try show(page, "speakers")
        for (id, name) in [(kitchen, "Kitchen"), (office, "Office")] {
            try page.wait(for: "speaker \(id) (\(name)) online with its driver shown", timeout: 20) {
                let card = "[data-speaker=\"\(id)\"]"
                let availability = try page.find("\(card) .availability")
                let driver = try page.find("\(card) .driver").text()
                return try availability.text() == "online" && availability.attribute("data-available") == "true"
                    && !driver.isEmpty && driver != "—" && page.find("\(card) .speaker-name").text() == name
            }
        }

        let sliderSelector = "[data-speaker=\"\(kitchen)\"] input[type=range][name=volume]"
        try page.wait(for: "Kitchen's volume slider (the log speaker has a volume command)") { try page.find(sliderSelector).isDisplayed() }
        let slider = try page.find(sliderSelector)
        let label = try page.execute("return Array.from(arguments[0].labels).map(l => l.textContent.replace(/\\s+/g, ' ').trim())", [slider]) as? [String]
        guard label == ["Volume of Kitchen"], try slider.attribute("min") == "0", try slider.attribute("max") == "100" else {
            throw LabError("Kitchen's slider: labels \(String(describing: label)), min \(String(describing: try slider.attribute("min"))), max \(String(describing: try slider.attribute("max"))); wanted \"Volume of Kitchen\", 0…100")
        }
        try slider.focus()
        // Home, two steps right, End: each key is a change, each change one command. The driver's
        // file then has level 2 and, after it, 100; the page shows the answer to the last.
        try page.press([WebDriverSession.Key.home, WebDriverSession.Key.arrowRight, WebDriverSession.Key.arrowRight])
        try page.wait(for: "\"command volume \(kitchen) 2\" in the log speaker's file after Home, →, →") {
            lab.log(speakersFile).contains { $0.hasPrefix("command volume \(self.kitchen) 2 ") }
        }
        try page.press([WebDriverSession.Key.end])
        try page.wait(for: "\"command volume \(kitchen) 100\" in the log speaker's file after End") {
            lab.log(speakersFile).contains { $0.hasPrefix("command volume \(self.kitchen) 100 ") }
        }
        guard (try slider.property("value")).map({ "\($0)" }) == "100" else {
            throw LabError("Kitchen's slider after End: \(String(describing: try slider.property("value"))), not 100")
        }
        try page.wait(for: "Kitchen's .command-result to say \"volume 100: ok\"") {
            let result = try page.find("[data-speaker=\"\(self.kitchen)\"] .command-result").text()
            return result == "volume 100: ok"
        }
        // After the slider, so that the pictures show a command's answer.
        try page.screenshot(to: screenshots + "/speakers.png")
        try page.setViewportSize(width: 412, height: 915)
        try page.screenshot(to: screenshots + "/speakers-phone.png")
        try page.setViewportSize(width: 1280, height: 900)
    }

    /// A sentence said through the form to Kitchen reaches `done` in the list, and the log speaker played it.
    /// Returns the final state of each announcement it made, by id.
    private func announce(_ page: WebDriverSession, lab: PluginDaemon, speakersFile: String) throws -> [String: String] {
        try show(page, "announce")
        let text = "Dinner is ready, said the web page."
        let playsBefore = lab.log(speakersFile).filter { $0.hasPrefix("play \(kitchen) ") }.count
        try page.wait(for: "\(kitchen) among #say-speakers' options") { try !page.findAll("#say-speakers option[value=\"\(self.kitchen)\"]").isEmpty }
        try page.wait(for: "the TTS engine's voices in #say-voice after the default") {
            let values = try page.execute("return Array.from(document.querySelectorAll('#say-voice option')).map(o => o.value)") as? [String] ?? []
            return values.first == "" && values.count > 1
        }
        // Another MQTT client's announcement, refused at intake (larger than mqtt.max_payload): the
        // list shows it live as failed, and the daemon logs a warning the health view shows later.
        let refused = "from-mqtt-too-long"
        let oversized = #"{"id":"\#(refused)","speakers":["\#(kitchen)"],"text":""# + String(repeating: "x", count: 300 << 10) + #""}"#
        try lab.client.publish(topic: "\(lab.base)/speak", payload: Array(oversized.utf8), qos: 1)
        try page.wait(for: "the refused announcement \(refused) in the list as failed") {
            try page.find("#announcement-list li[data-announcement=\"\(refused)\"]").attribute("data-state") == "failed"
        }
        // Another client's markup is shown as text, never run: an announcement whose id, speaker
        // and text are HTML fails (no such speaker) and is listed with them as typed, and nothing
        // in it became an element or a script.
        let hostileID = #"<img src=x onerror="document.title='owned'">"#
        let hostile = try JSONSerialization.data(withJSONObject: [
            "id": hostileID, "speakers": ["<b>nobody</b>"], "text": "<script>document.title='owned'</script>"])
        try lab.client.publish(topic: "\(lab.base)/speak", payload: Array(hostile), qos: 1)
        let probe = """
            const li = Array.from(document.querySelectorAll('#announcement-list li')).find(li => li.dataset.announcement === arguments[0]);
            if (!li) return null;
            return {state: li.dataset.state, id: li.querySelector('.id').textContent, speakers: li.querySelector('.speakers').textContent,
                    elements: document.querySelectorAll('#announcement-list img, #announcement-list script, #announcement-list b').length,
                    title: document.title};
            """
        var seen: [String: Any] = [:]
        try page.wait(for: "the announcement with markup in its id listed as failed") {
            seen = try page.execute(probe, [hostileID]) as? [String: Any] ?? [:]
            return seen["state"] as? String == "failed"
        }
        guard seen["id"] as? String == hostileID, seen["speakers"] as? String == "<b>nobody</b>", seen["elements"] as? Int == 0,
              seen["title"] as? String != "owned" else {
            throw LabError("markup from MQTT became more than text: \(seen)")
        }

        let text0 = try page.find("#say-text")
        try text0.clear()
        try text0.type(text)
        // Kitchen alone: clicks on the options of a multiple select toggle them, as a user's would.
        for option in try page.findAll("#say-speakers option") {
            let selected = try option.property("selected") as? Bool ?? false
            let wanted = try option.attribute("value") == kitchen
            if selected != wanted { try option.click() }
        }
        let chosen = try page.execute("return Array.from(document.querySelector('#say-speakers').selectedOptions).map(o => o.value)") as? [String]
        guard chosen == [kitchen] else { throw LabError("#say-speakers: selected \(String(describing: chosen)), wanted \(kitchen) alone") }
        try page.find("#say-priority option[value=\"high\"]").click()
        let volume = try page.find("#say-volume")
        try volume.clear()
        try volume.type("35")
        try page.find("form#say-form button[type=submit]").click()

        var id = ""
        try page.wait(for: "#say-result to say \"sent as <id>\"") {
            let result = try page.find("#say-result").text()
            guard let range = result.range(of: "sent as ") else { return false }
            id = String(result[range.upperBound...]).trimmingCharacters(in: .whitespacesAndNewlines.union(.punctuationCharacters.subtracting(["-", "_"])))
            return !id.isEmpty
        }
        let item = "#announcement-list li[data-announcement=\"\(id)\"]"
        try page.wait(for: "\(item) to reach data-state=done", timeout: 60) {
            try page.find(item).attribute("data-state") == "done"
        }
        let shown = try page.find("\(item) .text").text()
        guard shown == text else { throw LabError("\(item) .text: \(shown.debugDescription), not the text it was sent with") }
        try page.wait(for: "a new \"play \(kitchen) …\" in the log speaker's file") {
            lab.log(speakersFile).filter { $0.hasPrefix("play \(self.kitchen) ") }.count > playsBefore
        }
        try page.screenshot(to: screenshots + "/announce.png")
        return [id: "done", refused: "failed"]
    }

    /// The page loaded again: the event stream's replay brings back the announcements with their
    /// final states, and the stream goes live again.
    private func replayAfterReload(_ page: WebDriverSession, origin: String, announced: [String: String]) throws {
        try page.navigate(to: origin + "/#announce")
        try page.wait(for: "#live-status live again after loading the page again", timeout: 20) {
            try page.find("#live-status").attribute("data-live") == "true"
        }
        for (id, state) in announced.sorted(by: { $0.key < $1.key }) {
            try page.wait(for: "announcement \(id) replayed as \(state) after loading the page again") {
                try page.find("#announcement-list li[data-announcement=\"\(id)\"]").attribute("data-state") == state
            }
        }
    }

    /// The log speaker's reload button gives it a new generation, and the page says how the reload went.
    private func plugins(_ page: WebDriverSession) throws {
        try show(page, "plugins")
        let card = "[data-plugin=\"\(logSpeakerID)\"]"
        var before = -1
        try page.wait(for: "\(card) .generation as a number", timeout: 20) {
            before = Int(try page.find("\(card) .generation").text().trimmingCharacters(in: .whitespaces)) ?? -1
            return before >= 0
        }
        let speakers = try page.find("\(card) .speakers").text(), commands = try page.find("\(card) .commands").text()
        guard speakers.contains("Kitchen"), speakers.contains("Office"), commands.contains("volume"),
              commands.contains("level:i32[0..100]") else {
            throw LabError("\(card): .speakers \(speakers.debugDescription), .commands \(commands.debugDescription)")
        }
        try page.wait(for: "not-a-plugin.so in #rejected-list with its reason") {
            let refused = try page.findAll("#rejected-list li").map { try $0.text() }
            return refused.contains { $0.contains("not-a-plugin.so") && $0.count > "not-a-plugin.so".count + 5 }
        }
        try page.find("button[data-reload=\"\(logSpeakerID)\"]").click()
        // Generations are numbered across all of the daemon's plugins (the TTS plugin's load took
        // one too): the reload's is the next free number, larger than the one it replaces.
        var after = -1
        try page.wait(for: "\(card) .generation to grow past \(before) after its reload button", timeout: 30) {
            after = Int(try page.find("\(card) .generation").text().trimmingCharacters(in: .whitespaces)) ?? -1
            return after > before
        }
        try page.wait(for: "#reload-result to report the reload (…: ok, generation \(after))") {
            let result = try page.find("#reload-result").text()
            return result.contains("reloaded") && result.contains("ok") && result.contains("\(after)")
        }
        try page.screenshot(to: screenshots + "/plugins.png")
    }

    /// The health view says healthy and lists log lines; at level warning only warning and above.
    private func health(_ page: WebDriverSession) throws {
        try show(page, "health")
        try page.wait(for: "#health-status healthy", timeout: 20) {
            let status = try page.find("#health-status")
            return try status.text() == "healthy" && status.attribute("data-status") == "healthy"
        }
        try page.wait(for: "log lines in #log-lines at level info", timeout: 10) { try !page.findAll("#log-lines li").isEmpty }
        try page.find("select#log-level option[value=\"warning\"]").click()
        let levels = "return Array.from(document.querySelectorAll('#log-lines li')).map(li => li.dataset.level)"
        try page.wait(for: "#log-lines to hold only warning and above after choosing warning, the intake's refusal among them", timeout: 10) {
            let shown = try page.execute(levels) as? [String] ?? ["?"]
            return try !shown.isEmpty && shown.allSatisfy { ["warning", "error", "critical"].contains($0) }
                && page.find("#log-lines").text().contains("intake: refused a message")
        }
        try page.screenshot(to: screenshots + "/health.png")
    }

    /// SIGTERM with the page's event stream open: the daemon still stops within its 10 s, cleanly,
    /// and the page notices.
    private func daemonStopsWithThePageOpen(_ page: WebDriverSession, lab: PluginDaemon) throws {
        lab.daemon.process.terminate()
        guard let status = lab.daemon.process.waitForExit(timeout: 10) else {
            throw LabError("the daemon did not stop within 10 s of SIGTERM with the page's event stream open")
        }
        guard status == 0 else { throw LabError("the daemon exited \(status) on SIGTERM with the page open") }
        try page.wait(for: "#live-status to leave live once the daemon is gone", timeout: 15) {
            try page.find("#live-status").attribute("data-live") == "false"
        }
    }
}

import Foundation
import LabKit
import XCTest

/// The plugin ABI's promises to plugin authors: the header compiles as strict C11 and C++, and
/// plugins built against an older minor of the ABI keep loading and working.
final class ABICompatibilityTests: XCTestCase {
    /// The umbrella header and every part of it on its own, with warnings as errors: a plugin author
    /// compiling with -Werror must never be broken by the header.
    func testHeaderCompilesAsStrictC11AndCxx() throws {
        let include = PluginBuild.header
        let parts = try FileManager.default.subpathsOfDirectory(atPath: include)
            .filter { $0.hasSuffix(".h") }.sorted()
        XCTAssertTrue(parts.contains("speakerbridge_plugin.h") && parts.contains("speakerbridge/host/settings.h"), "\(parts)")
        let scratch = try TempDirectory()
        for part in parts {
            let source = scratch.path + "/check.c"
            // A second include proves the guards; the declaration keeps the unit non-empty (-pedantic).
            try "#include \"\(part)\"\n#include \"\(part)\"\nint speakerbridge_header_check;\n"
                .write(toFile: source, atomically: true, encoding: .utf8)
            for (compiler, standard, language) in [("cc", "-std=c11", "c"), ("c++", "-std=c++17", "c++")] {
                let result = try Shell.run([compiler, standard, "-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only",
                                            "-I", include, "-x", language, source])
                XCTAssertEqual(result.status, 0, "\(compiler) \(standard) \(part): \(result.err)")
            }
        }
    }
}

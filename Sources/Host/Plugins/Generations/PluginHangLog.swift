import Logging

/// The log lines of a hung call: one error when a call misses its deadline (so a hang is never
/// silent: calls after it fail fast, and health reports it until it returns), one notice when it
/// returns after all. Used for both modes so the lines read the same.
enum PluginHangLog {
    static func events(plugin id: String, generation: Int, logger: Logger) -> PluginExecutor.HangEvents {
        PluginExecutor.HangEvents(
            began: { what, deadline in
                logger.error("plugin \(id)#\(generation): \(what) has not returned after \(seconds(deadline)) s; the plugin is not responding")
            },
            ended: { what, ran in
                logger.notice("plugin \(id)#\(generation): \(what) returned after \(seconds(ran)) s; the plugin responds again")
            })
    }

    /// 5 for 5.0, 1.5 for 1.5: seconds as people write them.
    static func seconds(_ s: Double) -> String {
        let tenths = (s * 10).rounded() / 10
        return tenths == tenths.rounded() ? String(Int(tenths)) : String(tenths)
    }
}

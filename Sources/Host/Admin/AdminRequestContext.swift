import Hummingbird
import NIOCore

/// Hummingbird's basic request context plus the client's address, which the sign-in throttle
/// counts wrong tokens by.
struct AdminRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

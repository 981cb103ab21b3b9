/// The status page's files (Admin/Page), compiled into the daemon's binary.
/// SKELETON (#14): helper S1 fills this in.
enum PageAssets {}

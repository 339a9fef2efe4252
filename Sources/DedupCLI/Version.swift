/// The release this `dedup` was built from, shown by `dedup --version`; kept equal to the git tag
/// of the release (README: "Using the library").
enum DedupVersion {
    static let string = "0.1.0"
}
